"""``strongroom audit …``: verify the hash chain and its signed checkpoints, show events.
"""

from __future__ import annotations

from typing import Any

from ..audit import AuditEvent
from ..errors import UsageError
from . import audit_forward
from . import checkpoints as cli_checkpoints
from .common import EXIT_INTEGRITY, EXIT_OK, AddCommand, Context, subcommands

MAX_LIMIT = 10**9  # events in one 'audit show'


def cmd_audit_verify(ctx: Context) -> int:
    loaded = cli_checkpoints.load_files(ctx)
    with ctx.unlocked() as vault:
        vault.check_pages()  # the whole file, pages no command reads too (exit 3)
        report = vault.audit_verify()
        checks = cli_checkpoints.checkpoint_report(ctx, vault)
        files = cli_checkpoints.file_checks(vault, loaded)
    if report.ok:
        head = report.head
        text = f"Audit log intact: {report.events} events"
        if head is not None:
            text += f", head {head.seq} {head.hash.hex()[:16]}"
        if report.anchor.value != "match":
            text += f" ({report.reason})"
    else:
        text = f"Audit log BROKEN at event {report.first_bad_seq}: {report.reason}"
    if checks.results:
        text += "\n" + cli_checkpoints.checkpoint_text(checks)
    text += "".join(f"\nCheckpoint file: {f.status.value.upper()}: {f.reason}" for f in files)
    ctx.out.emit({**report.to_json(), "checkpoints": checks.to_json(),
                  "checkpoint_files": [f.to_json() for f in files]}, text)
    passed = report.ok and cli_checkpoints.checkpoints_pass(ctx, checks) \
        and all(f.ok for f in files)
    return EXIT_OK if passed else EXIT_INTEGRITY


def cmd_audit_show(ctx: Context) -> int:
    args = ctx.args
    if args.limit is not None and not 1 <= args.limit <= MAX_LIMIT:
        raise UsageError(f"--limit must be at least 1 and at most {MAX_LIMIT}")
    with ctx.unlocked() as vault:
        events = vault.audit_events(limit=args.limit, action=args.action, target=args.target)
    ctx.out.emit(
        [e.to_json() for e in events],
        lambda: "\n".join(_event_line(e) for e in events) or "(no events)",
    )
    return EXIT_OK


def _event_line(e: AuditEvent) -> str:
    details = " ".join(f"{k}={v}" for k, v in sorted(e.details.items()))
    return (
        f"{e.seq:>7}  {e.ts[:19].replace('T', ' ')}  {e.actor}  {e.action}  {e.target}  "
        f"{e.outcome}{('  ' + details) if details else ''}"
    )


def register(sub: Any, command: AddCommand) -> None:
    """``strongroom audit verify|show|checkpoint|forward|export``."""
    audit = sub.add_parser("audit", help="verify, show, export and forward the audit log")
    asub = subcommands(audit, "audit_command")
    verify = command(asub, "verify", cmd_audit_verify,
                     "check every page of the database, walk the hash chain, check the anchor "
                     "and the signed checkpoints")
    show = command(asub, "show", cmd_audit_show, "show recent events")
    show.add_argument("--limit", type=int, default=50, metavar="N")
    show.add_argument("--action")
    show.add_argument("--target")
    cli_checkpoints.register(asub, verify, command)
    audit_forward.register(asub, command)
