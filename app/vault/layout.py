"""What a vault folder holds and what every part of the vault package shares.

A vault is a folder: ``vault.db`` (SQLCipher), ``header.json`` (keyslots and the audit anchor,
MAC'd under the master key), the unlock back-off state, a lock file for writers in other
processes, and ``backups/`` for automatic backups.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DB_FILE = "vault.db"
HEADER_FILE = "header.json"
BACKOFF_FILE = "unlock-backoff.json"
LOCK_FILE = ".lock"
UNLOCK_LOCK_FILE = ".unlock.lock"  # held by one unlock attempt at a time
BACKUP_DIR = "backups"
AUTO_BACKUPS_KEPT = 5


@dataclass
class VaultKeys:
    """The keys an unlocked vault holds; dropped (and the DEK cache emptied) when it locks."""

    master: bytes = field(repr=False)
    slot_id: str
    kek: bytes = field(repr=False)  # the unlocking slot's KEK, to re-wrap at master-key rotation
    deks: dict[tuple[str, int], bytes] = field(default_factory=dict, repr=False)


def current_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry, as in some containers
        return f"uid:{os.getuid()}" if hasattr(os, "getuid") else "unknown"


def counts(conn: Any) -> dict[str, int]:
    return {
        "secrets": int(conn.execute("SELECT count(*) FROM secrets").fetchone()[0]),
        "versions": int(conn.execute("SELECT count(*) FROM versions").fetchone()[0]),
        "audit_events": int(conn.execute("SELECT count(*) FROM audit").fetchone()[0]),
    }


def integrity_problems(conn: Any) -> list[str]:
    problems = [str(r[0]) for r in conn.execute("PRAGMA cipher_integrity_check").fetchall()]
    structural = [str(r[0]) for r in conn.execute("PRAGMA integrity_check").fetchall()]
    if structural != ["ok"]:
        problems += structural
    return problems


def remove_vault_files(path: Path, *, remove_dir: bool) -> None:
    """Delete what a failed restore wrote (only files Strongroom writes) and, if new, the folder."""
    for name in (DB_FILE, f"{DB_FILE}-wal", f"{DB_FILE}-shm", HEADER_FILE, LOCK_FILE,
                 UNLOCK_LOCK_FILE, BACKOFF_FILE):
        with contextlib.suppress(OSError):
            (path / name).unlink()
    with contextlib.suppress(OSError):
        shutil.rmtree(path / BACKUP_DIR)
    if remove_dir:
        with contextlib.suppress(OSError):
            path.rmdir()
