"""``strongroom audit forward`` (the log to a syslog receiver) and ``audit export`` (JSON lines,
CSV or OCSF): the audit log into a SIEM. docs/audit-forwarding.md describes both.

Exit codes: 0 done (also Ctrl-C under --follow), 1 the receiver could not be reached or did not
take a batch, 2 a bad option, 3 the log under a cursor was rolled back or rewritten, 6 the
operator's roles do not include reading the audit log.
"""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path
from typing import Any

from ..errors import AlreadyExists, NotFound, UsageError
from ..forwarding import forwarder, store
from ..forwarding.forwarder import DEFAULT_BATCH, MAX_BATCH, ForwardReport
from ..forwarding.store import ForwardSettings
from ..forwarding.syslog import FACILITY_AUDIT
from ..forwarding.transport import DEFAULT_TIMEOUT
from .common import EXIT_OK, AddCommand, Context, bounded_int

EXPORT_PAGE = 10_000
EXPORT_FORMATS = ("jsonl", "csv", "ocsf")


def settings_from_args(args: Any) -> ForwardSettings | None:
    """The destination the options describe (None without --to), checked before any unlock."""
    if args.to is None:
        if args.tcp or args.tls or args.ca or args.client_cert or args.client_key:
            raise UsageError("--tcp, --tls, --ca and --client-cert need --to HOST:PORT")
        return None
    if args.tcp and args.tls:
        raise UsageError("--tcp sends in the clear: it takes no --tls")

    def path(text: str | None) -> Path | None:
        return None if text is None else Path(text)

    return store.settings_for(args.to, tcp=args.tcp, ca=path(args.ca),
                              client_cert=path(args.client_cert),
                              client_key=path(args.client_key), timeout=float(args.timeout),
                              app_name=args.app_name, facility=args.facility)


def cmd_audit_forward(ctx: Context) -> int:
    args = ctx.args
    if args.list:
        with ctx.unlocked() as vault:
            saved = store.cursors(vault)
        ctx.out.emit([c.to_json() for c in saved], lambda: "\n".join(
            f"{c.name}  {c.settings.destination.address} ({c.settings.destination.transport})"
            f"  event {c.last_seq}  {c.updated[:19].replace('T', ' ')}" for c in saved)
            or "(no forwarding destinations)")
        return EXIT_OK
    settings = settings_from_args(args)
    if settings is None and args.name is None:
        raise UsageError("give --to HOST:PORT, or --name of a saved destination")
    name = args.name or (settings.destination.address if settings else "")
    if not 0 < len(name) <= 200:
        raise UsageError("--name must be 1 to 200 characters")
    with ctx.unlocked() as vault:
        if settings is None:
            store.cursor(vault, name)  # NotFound (exit 1) for a name never saved
        if args.follow:
            return _follow(ctx, vault, name, settings)
        report = forwarder.forward(vault, name, settings, batch=args.batch)
    ctx.out.emit(report.to_json(), report_text(report))
    return EXIT_OK


def _follow(ctx: Context, vault: Any, name: str, settings: ForwardSettings | None) -> int:
    """Forward until Ctrl-C (SIGINT) or SIGTERM: a batch under way finishes, then exit 0."""
    cancel = threading.Event()
    handlers = {s: signal.signal(s, lambda *_: cancel.set())
                for s in (signal.SIGINT, signal.SIGTERM)}

    def on_report(report: ForwardReport) -> None:
        ctx.out.emit(report.to_json(), report_text(report))
        ctx.stdout.flush()

    def on_status(text: str) -> None:
        print(f"strongroom: {text}", file=sys.stderr, flush=True)

    try:
        forwarder.follow(vault, name, settings, cancel=cancel, interval=ctx.args.interval,
                         batch=ctx.args.batch, on_report=on_report, on_status=on_status)
    finally:
        for s, handler in handlers.items():
            signal.signal(s, handler)
    return EXIT_OK


def report_text(r: ForwardReport) -> str:
    if not r.events:
        return f"Nothing to forward to {r.to}: it has every event up to {r.cursor_seq}."
    return (f"Forwarded {r.events} events ({r.first_seq}-{r.last_seq}) to {r.to} over "
            f"{r.transport.upper()} in {r.batches} batch{'es' if r.batches > 1 else ''}, "
            f"{r.octets} octets; acknowledged up to event {r.cursor_seq}.")


def cmd_audit_export(ctx: Context) -> int:
    args = ctx.args
    path = Path(args.file)
    if path.exists() and not args.force:
        raise AlreadyExists(f"{path} already exists; choose a new file name or give --force")
    if not path.parent.is_dir():
        raise NotFound(f"no directory {path.parent} for {path.name}")
    with ctx.unlocked() as vault:
        count = export_file(vault, path, args.format)
        try:
            vault.record("audit.export", path.name,
                         details={"format": args.format, "events": count})
        except BaseException:
            path.unlink(missing_ok=True)
            raise
    ctx.out.emit({"file": str(path), "format": args.format, "events": count},
                 f"Exported {count} audit events to {path} ({args.format}).")
    return EXIT_OK


def export_file(vault: Any, path: Path, fmt: str) -> int:
    """Every event, oldest first, a page in memory at a time, written atomically."""
    from ..audit_export import ExportFormat, export_events
    from ..forwarding.ocsf import export_ocsf

    def pages() -> Any:
        after = 0
        while page := store.events_after(vault, after, EXPORT_PAGE):
            yield from page
            after = page[-1].seq

    if fmt == "ocsf":
        return export_ocsf(pages(), path)
    return export_events(pages(), path, ExportFormat(fmt))


def register(asub: Any, command: AddCommand) -> None:
    """``audit forward`` and ``audit export``."""
    fwd = command(asub, "forward", cmd_audit_forward,
                  "send the events a syslog receiver has not acknowledged, once each and in "
                  "order (RFC 5424 over TLS, or TCP to a local relay)")
    fwd.add_argument("--to", metavar="HOST:PORT", help="the receiver (saved under --name)")
    fwd.add_argument("--name", help="the destination's name and cursor (default: HOST:PORT)")
    fwd.add_argument("--tls", action="store_true", help="TLS, RFC 5425 (the default)")
    fwd.add_argument("--tcp", action="store_true",
                     help="plain TCP, only to a loopback relay")
    fwd.add_argument("--ca", metavar="FILE", help="PEM CA certificates to trust (default: "
                     "the system's)")
    fwd.add_argument("--client-cert", metavar="FILE", help="PEM client certificate")
    fwd.add_argument("--client-key", metavar="FILE", help="its unencrypted PEM key")
    fwd.add_argument("--app-name", default="strongroom", metavar="NAME",
                     help="RFC 5424 APP-NAME (default strongroom)")
    fwd.add_argument("--facility", type=bounded_int(0, 23), default=FACILITY_AUDIT, metavar="N",
                     help=f"syslog facility (default {FACILITY_AUDIT}, log audit)")
    fwd.add_argument("--batch", type=bounded_int(1, MAX_BATCH), default=DEFAULT_BATCH,
                     metavar="N", help="events per connection (each acknowledged alone)")
    fwd.add_argument("--timeout", type=bounded_int(1, 3600), default=int(DEFAULT_TIMEOUT),
                     metavar="SECONDS", help="for connecting, each write and the receiver's "
                     f"close (default {int(DEFAULT_TIMEOUT)})")
    fwd.add_argument("--follow", action="store_true",
                     help="keep forwarding new events until Ctrl-C")
    fwd.add_argument("--interval", type=bounded_int(1, 3600), default=2, metavar="SECONDS",
                     help="with --follow: how often to look for new events")
    fwd.add_argument("--list", action="store_true",
                     help="list the saved destinations and their cursors")
    export = command(asub, "export", cmd_audit_export,
                     "write every event, oldest first, to a file: JSON lines, CSV or OCSF")
    export.add_argument("file", metavar="FILE")
    export.add_argument("--format", choices=EXPORT_FORMATS, default="jsonl",
                        help="JSON lines (default), CSV, or OCSF 1.3.0 JSON lines")
    export.add_argument("--force", action="store_true", help="replace FILE if it exists")
