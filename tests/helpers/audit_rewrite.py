"""Rewrite a vault's audit log the way someone holding its keys could, for checkpoint tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from strongroom.app.audit import chain_hash, event_bytes, genesis

Change = Callable[[int, str, str], str]  # (seq, action, details JSON) -> new details JSON


def rechain(vault: Any, change: Change | None = None) -> None:
    """Apply ``change`` to the rows' details, recompute every hash and move the header's anchor
    along: the chain itself still verifies; only a checkpoint signed in hardware can tell."""
    with vault._write() as conn:
        rows = conn.execute(
            "SELECT seq, ts, actor, action, target, outcome, details FROM audit ORDER BY seq"
        ).fetchall()
        prev = genesis(vault.vault_id)
        for seq, ts, actor, action, target, outcome, details in rows:
            if change is not None:
                details = change(seq, action, details)
            digest = chain_hash(prev, event_bytes(seq, ts, actor, action, target, outcome,
                                                  details))
            conn.execute("UPDATE audit SET details = ?, hash = ? WHERE seq = ?",
                         (details, digest, seq))
            prev = digest
    assert vault.audit_verify().ok
