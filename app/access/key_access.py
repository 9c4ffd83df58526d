"""Access to hardware keys: before a key is used (signing) or managed (generated on a token), the
acting operator needs a Custodian role and a grant on the key (by id, label, or ``key:*``) or on
its token (by serial or label), and, for a key the policy marks high-value, a second operator's
approval. Keys never leave their device, so this is enforced by checks, not by wraps.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import approvals, enforce, health_gate, policy
from .approvals import Approval

if TYPE_CHECKING:
    from ..vault.session import VaultSession


@enforce.denials_audited
def authorize_key(vault: VaultSession, permission: str, key_id: str, label: str,
                  token: str | None, approval: Approval | None = None) -> dict[str, Any]:
    """Check before using (``use``) or managing (``manage``) a key; returns what the operation's
    audit event records (the grant, the approval)."""
    with vault._write() as conn:
        grant = enforce.require_key(vault, conn, permission, key_id, label, token)
        rule = policy.load(conn)
        extra = approvals.check(vault, conn, "key.sign", key_id, approval,
                                critical=permission == "use" and rule.critical(
                                    "key.sign", key=(key_id, label)))
        if permission == "use":
            extra |= health_gate.check(vault, conn, rule, target=label, keys=(key_id, label))
        if "approval" in extra:  # the spent approval must survive the operation's outcome
            vault._event("approval.used", key_id, details={"approval": extra["approval"]})
    return {"grant": grant.id, **extra}
