"""``strongroom backup …``: one verified file holding the database and the keyslot header.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..vault import Vault
from ..vault import backup as backups
from ..vault.restore import restore_backup
from .common import EXIT_OK, AddCommand, Context, subcommands


def cmd_backup_create(ctx: Context) -> int:
    with ctx.unlocked() as vault:
        report = backups.create_backup(vault, Path(ctx.args.file))
    ctx.out.emit(
        report.to_json(),
        f"Wrote backup {report.path} ({report.counts['secrets']} secrets, "
        f"{report.counts['audit_events']} audit events).",
    )
    return EXIT_OK


def _report_text(verb: str, r: backups.BackupReport) -> str:
    return (
        f"{verb} {r.path.name}: vault {r.vault_id[:8]}…, made {r.created[:19].replace('T', ' ')}, "
        f"{r.counts['secrets']} secrets, {r.counts['versions']} versions, "
        f"{r.counts['audit_events']} audit events; pages, chain and every value check out."
    )


def cmd_backup_verify(ctx: Context) -> int:
    expect = None
    if (ctx.args.vault or os.environ.get("STRONGROOM_VAULT")) and Vault.exists(ctx.vault_dir):
        expect = Vault.open(ctx.vault_dir).vault_id
    report = backups.verify_backup(Path(ctx.args.file), ctx.unlocker(), expect_vault_id=expect)
    ctx.out.emit(report.to_json(), _report_text("Verified", report))
    return EXIT_OK


def cmd_backup_restore(ctx: Context) -> int:
    name = Path(ctx.args.file).name
    report = restore_backup(Path(ctx.args.file), ctx.unlocker(), Path(ctx.args.to),
                            approve=lambda vault: ctx.approval(vault, "backup.restore", name))
    ctx.out.emit(
        {**report.to_json(), "restored_to": ctx.args.to},
        _report_text("Restored", report) + f" New vault at {ctx.args.to}.",
    )
    return EXIT_OK


def register(sub: Any, command: AddCommand) -> None:
    """``strongroom backup create|verify|restore``."""
    bk = sub.add_parser("backup", help="create, verify and restore backups")
    bsub = subcommands(bk, "backup_command")
    command(bsub, "create", cmd_backup_create, "write a backup file").add_argument("file")
    command(bsub, "verify", cmd_backup_verify, "check a backup thoroughly").add_argument("file")
    res = command(bsub, "restore", cmd_backup_restore, "restore a backup into a new directory")
    res.add_argument("file")
    res.add_argument("--to", required=True, metavar="DIR")
