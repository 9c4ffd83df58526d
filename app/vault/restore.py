"""Restoring a backup as a new vault: verified first, unlocked (and migrated) as any vault is.

The restored folder is a copy of its own: it is not bound to the original's monotonic counter
(which the original keeps moving); ``vault counter enable`` gives it one."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path

from ..access import approvals
from ..access import policy as access_policy
from ..access.approvals import Approval
from ..audit import Outcome
from ..errors import Refused
from ..keyslots import KeyslotUnlocker
from . import Vault, counter, witness
from .backup import BackupReport, parse, verify_backup, write_new
from .layout import DB_FILE, HEADER_FILE, remove_vault_files


def restore_backup(path: Path, unlocker: KeyslotUnlocker, dest: Path,
                   approve: Callable[[Vault], Approval | None] | None = None) -> BackupReport:
    """Verify a backup, then write it as a new vault at ``dest`` (which must be new or empty).

    Restoring is a two-person operation under the restored vault's policy: ``approve(vault)``
    (the restored copy, unlocked) returns a second operator's approval of ``backup.restore``;
    refused, nothing is left at ``dest``."""
    dest = Path(dest)
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise Refused(f"{dest} is not an empty directory; restore only into a new directory")
    report = verify_backup(path, unlocker)
    parsed = parse(Path(path))
    made_dir = not dest.exists()
    try:
        dest.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_new(dest / DB_FILE, parsed.db_bytes)
        write_new(dest / HEADER_FILE, parsed.header_bytes)
        with Vault.open(dest) as vault:
            bound = vault.header.counter
            counter.detach(vault)
            vault.unlock(unlocker)
            approval = None if approve is None else approve(vault)
            with vault._write() as conn:
                extra = approvals.check(
                    vault, conn, "backup.restore", Path(path).name, approval,
                    critical=access_policy.load(conn).critical("backup.restore"))
                vault._event("backup.restore", Path(path).name, Outcome.Ok,
                             {"events_in_backup": report.audit_head, **extra,
                              **({} if bound is None else {"counter_unbound": bound.ref.label})})
    except BaseException:
        remove_vault_files(dest, remove_dir=made_dir)
        # The attempt's unlock left this machine's witness of the folder ahead of the backup:
        # a retry into the same folder must not look like a rollback.
        with contextlib.suppress(OSError):
            witness.witness_file(parsed.header.vault_id, dest).unlink()
        raise
    return report
