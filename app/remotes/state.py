"""Sync state (``remote_sync``) and the facts a plan is made of.

A row says: secret S was last in sync with remote R at path P when the vault held local version
L and the server held remote version V. Publishing or pulling compares both sides with the row:
only the side that changed since is taken; both changed is a conflict.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any


class Action(Enum):
    Create = "create"  # not on the other side yet
    Update = "update"  # changed on one side since the last sync, taken to the other
    Skip = "skip"  # nothing to do (in sync, or not this direction's business)
    Conflict = "conflict"  # both sides changed since the last sync: nothing written
    Invalid = "invalid"  # the server's data cannot be taken: nothing written


@dataclass(frozen=True)
class SyncRow:
    secret_id: int
    path: str
    local_version: int
    remote_version: int
    synced: str


@dataclass(frozen=True)
class Item:
    """One secret in a publish or pull plan, or in a status report."""

    name: str
    secret_id: int
    level: str
    kind: str
    path: str
    action: Action
    local_version: int  # the vault's current version (0: not in the vault)
    remote_version: int  # the server's current version (0: none)
    synced: SyncRow | None = None
    reason: str = ""
    tags: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "path": self.path, "action": self.action.value,
                "classification": self.level, "local_version": self.local_version,
                "remote_version": self.remote_version,
                "synced_local_version": self.synced.local_version if self.synced else None,
                "synced_remote_version": self.synced.remote_version if self.synced else None,
                "reason": self.reason}


def rows(conn: Any, remote: str) -> dict[int, SyncRow]:
    """The remote's sync rows by secret id."""
    return {r[0]: SyncRow(r[0], r[1], r[2], r[3], r[4]) for r in conn.execute(
        "SELECT secret_id, path, local_version, remote_version, synced FROM remote_sync "
        "WHERE remote = ?", (remote,))}


def record(conn: Any, remote: str, secret_id: int, path: str, local_version: int,
           remote_version: int, now: str) -> None:
    """In the caller's transaction: the secret is in sync at these versions."""
    conn.execute(
        "INSERT OR REPLACE INTO remote_sync (remote, secret_id, path, local_version, "
        "remote_version, synced) VALUES (?, ?, ?, ?, ?, ?)",
        (remote, secret_id, path, local_version, remote_version, now))
