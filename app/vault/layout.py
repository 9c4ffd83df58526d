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
import time
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
WORK_PREFIX = ".backup-"  # + the pid of the process writing a backup's working copy
STALE_AFTER_S = 3600


@dataclass
class VaultKeys:
    """The keys an unlocked vault holds; dropped (and the DEK cache emptied) when it locks."""

    master: bytes = field(repr=False)
    slot_id: str
    kek: bytes = field(repr=False)  # the unlocking slot's KEK, to re-wrap at master-key rotation
    deks: dict[tuple[str, int], bytes] = field(default_factory=dict, repr=False)
    # Who unlocked: the operator whose slot it was, and their operator key (X25519 private).
    operator_id: str = ""
    operator_key: bytes = field(default=b"", repr=False)
    # Shares of dual-control level keys that a second operator's approval brought, for the
    # operation it approved: (level, generation) -> (their operator id, SLIP-39 share).
    co_shares: dict[tuple[str, int], tuple[str, str]] = field(default_factory=dict, repr=False)


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
    """SQLCipher's page-HMAC problems, else SQLite's structural ones; empty when sound."""
    problems = [str(r[0]) for r in conn.execute("PRAGMA cipher_integrity_check").fetchall()]
    if problems:
        return problems  # the structural check would stop at the first damaged page it reads
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


def remove_stale_work(folder: Path) -> None:
    """Delete the working copies of backups whose process is gone (killed mid-backup)."""
    for work in folder.glob(f"{WORK_PREFIX}*"):
        pid_text = work.name[len(WORK_PREFIX):].split("-", 1)[0]
        if _writer_gone(pid_text, work):
            shutil.rmtree(work, ignore_errors=True)


def _writer_gone(pid_text: str, work: Path) -> bool:
    """Whether the process that made ``work`` has ended. POSIX asks the pid in its name;
    without one (Windows, where os.kill(pid, 0) would send CTRL_C_EVENT, or an older name)
    a copy untouched for an hour is taken as abandoned."""
    if pid_text.isdigit() and os.name == "posix":
        try:
            os.kill(int(pid_text), 0)
        except ProcessLookupError:
            return True
        except OSError:  # another user's process
            return False
        return False
    try:
        return time.time() - work.stat().st_mtime > STALE_AFTER_S
    except OSError:
        return False
