"""``strongroom export kdbx|archive FILE``: secrets out to KeePass KDBX 4 or a Strongroom archive.

Each value is read with purpose "export" (a ``secret.export`` audit event each) and the file
written is one ``secret.export.file`` event (format, count, SHA-256, filters; never a value).
Where the policy makes exporting a level two-person (Critical by default), ``--approver NAME``
approves the whole export once; without it nothing is read or written (exit 6).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..model import Classification
from ..passphrase_strength import require_strong
from ..transfer import archive, exporting, kdbx_export
from .common import EXIT_OK, AddCommand, Context, Prompter, bounded_int, have_terminal, subcommands

WHAT = {"kdbx": "password for the KDBX file", "archive": "passphrase for the archive"}


def _filters(ctx: Context) -> exporting.Filters:
    args = ctx.args
    level = Classification.parse(args.classification) if args.classification else None
    return exporting.Filters(classification=level, tag=args.tag, search=args.search)


def new_password(ctx: Context, what: str) -> str:
    """The file's password from ``--password-fd N`` (line 1) or asked twice on the terminal."""
    fd = ctx.args.password_fd
    if fd is not None and fd == ctx.args.passphrase_fd:
        raise UsageError("--password-fd and --passphrase-fd must be different descriptors")
    if fd is None and not have_terminal():
        raise UsageError(f"no terminal to ask for the {what}; use --password-fd N")
    password = Prompter(fd, what=what).ask(0, f"New {what}: ", confirm=True)
    require_strong(password)
    return password


def cmd_export(ctx: Context) -> int:
    args = ctx.args
    fmt, path = args.export_format, Path(args.file)
    filters = _filters(ctx)
    exporting.refuse_existing(path, args.force)  # before any prompt
    password = new_password(ctx, WHAT[fmt])
    write = kdbx_export.export_kdbx if fmt == "kdbx" else archive.export_archive
    with ctx.unlocked() as vault:
        export = exporting.plan(vault, fmt, filters)
        approval = ctx.approval(vault, export.operation, export.target)
        result = write(vault, export, path, password, approval=approval, force=args.force,
                       kdf_time_ms=args.kdf_time_ms)
    for warning in result.warnings:
        print(f"strongroom: warning: {warning}", file=sys.stderr)
    ctx.out.emit(result.to_json(),
                 f"Exported {result.count} secret(s) to {path} ({fmt}, SHA-256 {result.sha256}).")
    return EXIT_OK


def register(sub: Any, command: AddCommand) -> None:
    """``strongroom export kdbx|archive FILE``."""
    parser = sub.add_parser("export", help="export secrets to KeePass KDBX 4 or an archive")
    esub = subcommands(parser, "export_command")
    levels = "|".join(c.value for c in Classification)
    helps = {"kdbx": "write secrets to a new KeePass KDBX 4 file (KeePassXC opens it)",
             "archive": "write secrets with all their metadata to an encrypted Strongroom "
                        "archive (import it with 'strongroom import archive')"}
    for fmt, text in helps.items():
        cp = command(esub, fmt, cmd_export, text)
        cp.set_defaults(export_format=fmt)
        cp.add_argument("file", metavar="FILE")
        cp.add_argument("--password-fd", type=bounded_int(0, 2**31 - 1), metavar="N",
                        help=f"read the {WHAT[fmt]} from file descriptor N")
        cp.add_argument("--classification", metavar=levels, help="only secrets of this level")
        cp.add_argument("--tag", metavar="T", help="only secrets with this tag")
        cp.add_argument("--search", metavar="TERM", help="only secrets matching, as secret list")
        cp.add_argument("--force", action="store_true", help="replace an existing FILE")
        cp.add_argument("--kdf-time-ms", type=bounded_int(1, 60_000), default=1000, metavar="MS",
                        help="Argon2id time for the file's key (at least 64 MiB, 3 passes)")
