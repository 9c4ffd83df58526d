"""Accepting a rollback on purpose: the vault folder as it is now becomes the truth.

Unlock refuses a database or header older than the other, and a folder behind the witness of
what this machine last saw. When the copy was put back deliberately (an old folder restored from
backup media, a disk image), ``strongroom vault accept-rollback`` opens it anyway, re-anchors the
header and the witness at its audit head, and records the acceptance as an audit event.
"""

from __future__ import annotations

from ..errors import RollbackDetected
from ..keyslots import KeyslotUnlocker
from .session import VaultSession


def accept_rollback(vault: VaultSession, unlocker: KeyslotUnlocker, *,
                    operator: str | None = None) -> RollbackDetected | None:
    """Unlock (as ``operator``, when named) past a detected rollback and record what was
    accepted; None if there was none."""
    vault._accepting_rollback = True
    vault.accepted_rollback = None
    try:
        vault.unlock(unlocker, operator=operator)
    finally:
        vault._accepting_rollback = False
    accepted = vault.accepted_rollback
    if accepted is not None:
        vault.record("vault.rollback.accept", vault.vault_id,
                     details={"behind": accepted.behind, "events": accepted.events,
                              "reason": str(accepted)})
    return accepted
