"""``strongroom import kdbx|bitwarden|csv FILE``: secrets in from KeePass, Bitwarden or a CSV.

The file is read and checked before the vault is unlocked, so a bad file or a wrong KDBX password
leaves every vault file as it was. Then the preview (app/transfer/apply.py): the items, the
names the vault already has and what ``--on-conflict`` makes of each. ``--dry-run`` stops there:
it unlocks the vault to see its names (the unlock is audited, as every unlock is) and writes
nothing else. Without it everything is written in one transaction with one ``secret.import``
audit event; at a level under dual control ``--approver NAME`` (a second holder) approves it.

Each format is one :class:`ImportFormat` in ``FORMATS``: its own options and how it reads FILE.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..model import Classification
from ..transfer import apply, archive, bitwarden, csv_import, kdbx
from ..transfer.model import ImportPlan, ImportResult, OnConflict, ParsedFile
from .common import (
    EXIT_OK,
    AddCommand,
    Context,
    Prompter,
    bounded_int,
    have_terminal,
    subcommands,
)


@dataclass(frozen=True)
class ImportFormat:
    """One ``strongroom import NAME``: its help, its own options, and how it reads FILE."""

    name: str
    help: str
    options: Callable[[Any], None]
    read: Callable[[Context, Path], ParsedFile]


def file_password(ctx: Context, what: str) -> str:
    """A file's password from ``--password-fd N`` (line 1) or a hidden prompt."""
    fd = ctx.args.password_fd
    if fd is not None and fd == ctx.args.passphrase_fd:
        raise UsageError("--password-fd and --passphrase-fd must be different descriptors")
    if fd is None and not have_terminal():
        raise UsageError(f"no terminal to ask for the {what}; use --password-fd N")
    return Prompter(fd, what=what).ask(0, f"The {what}: ")


def _kdbx_options(cp: Any) -> None:
    cp.add_argument("--password-fd", type=bounded_int(0, 2**31 - 1), metavar="N",
                    help="read the KDBX file's password from file descriptor N")
    cp.add_argument("--key-file", type=Path, metavar="F", help="the KDBX file's key file")
    cp.add_argument("--no-password", action="store_true",
                    help="the KDBX file opens with its key file alone")


def _read_kdbx(ctx: Context, path: Path) -> ParsedFile:
    args = ctx.args
    if args.no_password and not args.key_file:
        raise UsageError("--no-password needs --key-file")
    password = None if args.no_password else file_password(ctx, "password of the KDBX file")
    return kdbx.read_kdbx(path, password, args.key_file)


def _csv_options(cp: Any) -> None:
    cp.add_argument("--preset", choices=sorted(csv_import.PRESETS),
                    help="the columns of a KeePassXC or Bitwarden CSV export (detected from "
                    "the header when not given)")
    cp.add_argument("--map", action="append", metavar="COLUMN=FIELD", default=[],
                    help="what a column is: " + ", ".join(csv_import.FIELDS) + " (columns not "
                    "mapped become custom fields)")


def _read_csv(ctx: Context, path: Path) -> ParsedFile:
    mapping = {}
    for text in ctx.args.map:
        column, sep, target = text.rpartition("=")
        if not sep or not column:
            raise UsageError(f"--map takes COLUMN=FIELD, not {text!r}")
        mapping[column] = target
    return csv_import.read_csv(path, mapping, ctx.args.preset)


def _archive_options(cp: Any) -> None:
    cp.add_argument("--password-fd", type=bounded_int(0, 2**31 - 1), metavar="N",
                    help="read the archive's passphrase from file descriptor N")


def _read_archive(ctx: Context, path: Path) -> ParsedFile:
    return archive.read_archive_file(path, file_password(ctx, "passphrase of the archive"))


FORMATS = [
    ImportFormat("kdbx", "import a KeePass KDBX 3.1 or 4 file (KeePassXC, KeePass 2)",
                 _kdbx_options, _read_kdbx),
    ImportFormat("bitwarden", "import a Bitwarden unencrypted JSON export",
                 lambda cp: None, lambda ctx, path: bitwarden.read_bitwarden(path)),
    ImportFormat("csv", "import a CSV file, its columns mapped to fields", _csv_options,
                 _read_csv),
    ImportFormat("archive", "import a Strongroom archive ('strongroom export archive'); each "
                 "secret keeps its own classification", _archive_options, _read_archive),
]


def cmd_import(fmt: ImportFormat, ctx: Context) -> int:
    args = ctx.args
    level = Classification.parse(args.classification)
    choice = OnConflict(args.on_conflict)
    parsed = fmt.read(ctx, Path(args.file))
    for warning in parsed.warnings:
        print(f"strongroom: warning: {warning}", file=sys.stderr)
    if not parsed.items:
        ctx.out.emit(_preview_json(ImportPlan(parsed, level.value, choice, ()), args.file),
                     f"{args.file} holds nothing to import; nothing was written.")
        return EXIT_OK
    with ctx.unlocked() as vault:
        preview = apply.plan(vault, parsed, level, choice)
        if args.dry_run:
            ctx.out.emit(_preview_json(preview, args.file) | {"dry_run": True},
                         _preview_text(preview, args.file) + "\nDry run: nothing was written.")
            return EXIT_OK
        approval = ctx.approval(vault, "secret.write", apply.approval_target(parsed))
        result = apply.apply(vault, preview, approval=approval, progress=_progress())
    ctx.out.emit(_preview_json(preview, args.file) | {"result": _result_json(result)},
                 _preview_text(preview, args.file) + "\n" + _result_text(result))
    return EXIT_OK


def _progress() -> Callable[[int, int], bool]:
    """Progress on a terminal's stderr, every 500 secrets; never cancels (Ctrl-C does)."""
    shown = sys.stderr.isatty()

    def report(done: int, total: int) -> bool:
        if shown and (done % 500 == 0 or done == total) and total >= 500:
            print(f"\rImporting… {done}/{total}", end="\n" if done == total else "",
                  file=sys.stderr, flush=True)
        return True

    return report


_ACTIONS = {OnConflict.skip: "skipped (the vault's secret stays)",
            OnConflict.rename: "added as {renamed}",
            OnConflict.version: "a new version of the vault's secret"}


def _preview_json(preview: ImportPlan, path: str) -> dict[str, Any]:
    parsed = preview.parsed
    return {"file": path, "format": parsed.format, "sha256": parsed.sha256,
            "size": parsed.size, "counts": parsed.counts(),
            "classification": preview.classification,
            "on_conflict": preview.on_conflict.value, "summary": preview.summary(),
            "conflicts": [{"name": c.name, "renamed": c.renamed,
                           "action": preview.on_conflict.value} for c in preview.conflicts],
            "warnings": list(parsed.warnings)}


def _preview_text(preview: ImportPlan, path: str) -> str:
    parsed = preview.parsed
    kinds = ", ".join(f"{n} {k}" for k, n in parsed.counts().items()
                      if k not in ("items", "warnings"))
    lines = [f"{path}: {parsed.format}, {parsed.size:,} bytes, SHA-256 {parsed.sha256}",
             f"{len(parsed.items)} item(s) ({kinds}) at level {preview.classification}; "
             f"{len(parsed.warnings)} warning(s)"]
    if preview.conflicts:
        lines.append(f"{len(preview.conflicts)} name(s) the vault already has "
                     f"(--on-conflict {preview.on_conflict.value}):")
        action = _ACTIONS[preview.on_conflict]
        lines += [f"  {c.name}: {action.format(renamed=c.renamed)}" for c in preview.conflicts]
    plan = preview.summary()
    lines.append(f"Would add {plan['add']}, rename {plan['rename']}, version {plan['version']}, "
                 f"skip {plan['skip']}.")
    return "\n".join(lines)


def _result_json(result: ImportResult) -> dict[str, Any]:
    return {"added": result.added, "versioned": result.versioned, "renamed": result.renamed,
            "skipped": result.skipped, "audit_seq": result.audit_seq}


def _result_text(result: ImportResult) -> str:
    return (f"Imported: {result.added} added, {result.renamed} renamed, {result.versioned} new "
            f"version(s), {result.skipped} skipped (audit event {result.audit_seq}).")


def register(sub: Any, command: AddCommand) -> None:
    """``strongroom import FORMAT FILE`` for each of ``FORMATS``."""
    parser = sub.add_parser("import", help="import secrets from KeePass, Bitwarden or CSV")
    isub = subcommands(parser, "import_format")
    levels = "|".join(c.value for c in Classification)
    for fmt in FORMATS:
        cp = command(isub, fmt.name, partial(cmd_import, fmt), fmt.help)
        cp.add_argument("file", metavar="FILE")
        cp.add_argument("--classification", metavar=levels, default="moderate",
                        help="the level of every imported secret (default moderate)")
        cp.add_argument("--on-conflict", choices=[c.value for c in OnConflict], default="skip",
                        help="for a name the vault already has: keep the vault's (skip, the "
                        "default), add as 'NAME (2)' (rename), or add a version (version)")
        cp.add_argument("--dry-run", action="store_true",
                        help="show what would be imported and write nothing")
        fmt.options(cp)
