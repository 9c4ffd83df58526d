"""The ``strongroom`` command line: a contract scripts rely on (names, output, exit codes).

Exit codes: 0 ok · 1 failed · 2 usage error · 3 integrity failure · 4 authentication failed or
backing off. Every expected failure is one line on stderr. Passphrases come from a terminal prompt
or ``--passphrase-fd N``; secret values from stdin; never from argv or the environment.

``strongroom check`` (endpoint compliance) needs no vault and has its own results: 0 every
required check passes · 1 a required check FAILs · 5 no FAIL but a required check is UNKNOWN
(2, 3 and 4 as above). It opens the vault only when asked with ``--store``: then the vault's
accepted-risk exceptions apply, the results are stored and the run is an audit event. Without
``--store`` exceptions are not applied (the report says so) and the first-seen memory of pending
updates lives in the user's state directory.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import getpass
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any, NoReturn, TextIO

from ..audit import AuditEvent
from ..compliance import evidence_io, registry, storage
from ..compliance import service as compliance
from ..compliance.model import CheckResult, Status
from ..compliance.policy import describe as describe_policy
from ..compliance.policy import load_policy, policy_to_json
from ..errors import StrongroomError, UsageError, UserCancelled
from ..keyslots import PassphraseUnlocker, normalize_passphrase
from ..model import Classification, SecretInfo, parse_date
from ..passphrase_strength import require_strong
from ..paths import resolve_vault_dir
from ..vault import NewSecret, Vault
from ..vault import backup as backups

log = logging.getLogger("strongroom")

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTEGRITY, EXIT_AUTH = 0, 1, 2, 3, 4
FRONTEND_GROUP = "strongroom.frontends"
UNLOCK_CHOICES = ("fido2", "tpm", "keyring")


def version() -> str:
    try:
        return metadata.version("strongroom")
    except metadata.PackageNotFoundError:
        return "unknown"


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line and exit code 2."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see '{self.prog} --help')")


# ----- input -----------------------------------------------------------------------------------


class Prompter:
    """Reads passphrases from ``--passphrase-fd`` (one per line) or asks on the terminal."""

    def __init__(self, fd: int | None, what: str = "passphrase") -> None:
        self.fd = fd
        self.what = what
        self._lines: list[str] | None = None

    def _fd_lines(self) -> list[str]:
        if self._lines is None:
            assert self.fd is not None  # noqa: S101 - only called when an fd was given
            try:
                with os.fdopen(os.dup(self.fd), "rb") as f:
                    data = f.read(64 * 1024)
            except OSError:
                raise UsageError(f"file descriptor {self.fd} is not open for reading") from None
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                raise UsageError(f"the {self.what} is not valid UTF-8") from None
            self._lines = text.splitlines()
        return self._lines

    def ask(self, index: int, prompt: str, *, confirm: bool = False) -> str:
        """The ``index``-th passphrase (0-based line on the fd), or prompted on the terminal."""
        if self.fd is not None:
            lines = self._fd_lines()
            if index >= len(lines) or not lines[index]:
                raise UsageError(
                    f"expected {'a' if index == 0 else 'a second'} {self.what} on line "
                    f"{index + 1} of file descriptor {self.fd}"
                )
            return lines[index]
        if not _have_terminal():
            option = "--pin-fd" if self.what == "PIN" else "--passphrase-fd"
            raise UsageError(f"no terminal to ask for the {self.what}; use {option} N")
        first = getpass.getpass(prompt)
        if not first:
            raise UsageError(f"no {self.what} given")
        if confirm and getpass.getpass("Repeat to confirm: ") != first:
            raise UsageError("the two passphrases differ")
        return first


def _have_terminal() -> bool:
    try:
        with open("/dev/tty", "rb"):
            return True
    except OSError:
        return sys.stdin.isatty()


def read_value(stdin: Any) -> bytes:
    """The secret value: stdin byte-for-byte when piped, or a hidden prompt on a terminal."""
    if stdin.isatty():
        first = getpass.getpass("Secret value: ")
        if getpass.getpass("Repeat: ") != first:
            raise UsageError("the two values differ")
        return first.encode()
    data: bytes = stdin.buffer.read()
    if not data:
        raise UsageError("no secret value on standard input")
    return data


# ----- output ----------------------------------------------------------------------------------


class Output:
    def __init__(self, json_mode: bool, out: TextIO) -> None:
        self.json = json_mode
        self.out = out

    def emit(self, obj: Any, text: str | Callable[[], str]) -> None:
        if self.json:
            self.out.write(json.dumps(obj, ensure_ascii=False) + "\n")
        else:
            self.out.write((text() if callable(text) else text) + "\n")


def _secret_table(items: Sequence[SecretInfo]) -> str:
    if not items:
        return "(no secrets)"
    rows = [("NAME", "CLASS", "VER", "UPDATED", "EXPIRES", "TAGS")]
    for s in items:
        rows.append(
            (s.name, s.classification.value, str(s.version), s.updated[:19].replace("T", " "),
             s.expires or "-", ",".join(s.tags) or "-")
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(r)).rstrip() for r in rows
    )


def _event_line(e: AuditEvent) -> str:
    details = " ".join(f"{k}={v}" for k, v in sorted(e.details.items()))
    return (
        f"{e.seq:>7}  {e.ts[:19].replace('T', ' ')}  {e.actor}  {e.action}  {e.target}  "
        f"{e.outcome}{('  ' + details) if details else ''}"
    )


# ----- commands --------------------------------------------------------------------------------


class Context:
    def __init__(self, args: argparse.Namespace, stdin: Any, stdout: TextIO) -> None:
        self.args = args
        self.stdin = stdin
        self.stdout = stdout
        self.vault_dir = resolve_vault_dir(args.vault)
        self.prompter = Prompter(args.passphrase_fd)
        self._pins: Prompter | None = None
        self._pins_asked = 0
        self.out = Output(args.json, stdout)

    def next_pin(self, prompt: str, *, confirm: bool = False) -> str:
        """The next PIN: ``--pin-fd`` gives one per line in the order they are asked (the
        unlock device's first, then the token's), or a hidden prompt asks for each."""
        if self._pins is None:
            self._pins = Prompter(self.args.pin_fd, what="PIN")
        pin = self._pins.ask(self._pins_asked, prompt, confirm=confirm)
        self._pins_asked += 1
        return pin

    def unlocked(self) -> Vault:
        vault = Vault.open(self.vault_dir)
        if self.args.unlock:
            from .unlock import hardware_unlocker

            unlocker = hardware_unlocker(self, vault)
            try:
                vault.unlock(unlocker)
            except UserCancelled:
                raise
            finally:
                unlocker.passphrase = None
            return vault
        passphrase = self.prompter.ask(0, "Vault passphrase: ")
        vault.unlock(PassphraseUnlocker.from_text(passphrase))
        return vault

    def unlocker(self) -> PassphraseUnlocker:
        return PassphraseUnlocker.from_text(self.prompter.ask(0, "Passphrase of the backup: "))


def cmd_init(ctx: Context) -> int:
    if Vault.exists(ctx.vault_dir):
        raise StrongroomError(f"a vault already exists at {ctx.vault_dir}")
    passphrase = ctx.prompter.ask(0, "New vault passphrase: ", confirm=True)
    require_strong(passphrase)
    vault = Vault.create(
        ctx.vault_dir, normalize_passphrase(passphrase), kdf_time_ms=ctx.args.kdf_time_ms
    )
    with vault:
        slot = vault.header.slots[0]
        ctx.out.emit(
            {"vault": str(ctx.vault_dir), "vault_id": vault.vault_id, "keyslot": slot.to_json()},
            f"Created a vault at {ctx.vault_dir} (passphrase keyslot {slot.id}: Argon2id, "
            f"{slot.params['memory_kib'] // 1024} MiB, {slot.params['iterations']} iterations).",
        )
    return EXIT_OK


def _dates(args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if getattr(args, "expires", None):
        out["expires"] = parse_date(args.expires, "expiry date")
    if getattr(args, "rotate_by", None):
        out["rotation_due"] = parse_date(args.rotate_by, "rotation date")
    return out


def cmd_secret_add(ctx: Context) -> int:
    a = ctx.args
    dates = _dates(a)
    classification = Classification.parse(a.classification)
    # A piped value is read first, so empty input fails before the KDF and the audit log run.
    value = None if ctx.stdin.isatty() else read_value(ctx.stdin)
    with ctx.unlocked() as vault:
        value = value or read_value(ctx.stdin)
        info = vault.add_secret(
            NewSecret(
                name=a.name, value=value, classification=classification, tags=tuple(a.tag or ()),
                note=a.note or "", owner=a.owner, **dates,
            )
        )
    ctx.out.emit(info.to_json(), f"Added {info.name} ({info.classification.value}, version 1).")
    return EXIT_OK


def cmd_secret_get(ctx: Context) -> int:
    with ctx.unlocked() as vault:
        info = vault.secret_info(ctx.args.name)
        value = vault.get_secret(ctx.args.name, ctx.args.version)
    if ctx.out.json:
        obj: dict[str, Any] = {"name": info.name, "version": ctx.args.version or info.version}
        try:
            obj["value"] = value.decode("utf-8")
        except UnicodeDecodeError:
            obj["value_base64"] = base64.b64encode(value).decode()
        ctx.out.emit(obj, "")
    else:
        ctx.stdout.flush()
        sys.stdout.buffer.write(value)
        sys.stdout.buffer.flush()
    return EXIT_OK


def cmd_secret_update(ctx: Context) -> int:
    a = ctx.args
    dates = _dates(a)
    classification = Classification.parse(a.classification) if a.classification else None
    with ctx.unlocked() as vault:
        vault.secret_info(a.name)  # not found before asking for a value
        value = None if a.keep_value else read_value(ctx.stdin)
        info = vault.update_secret(
            a.name, value, classification=classification,
            tags=a.tag, note=a.note, owner=a.owner, **dates,
        )
    ctx.out.emit(info.to_json(), f"Updated {info.name} (now version {info.version}).")
    return EXIT_OK


def cmd_secret_rm(ctx: Context) -> int:
    with ctx.unlocked() as vault:
        vault.delete_secret(ctx.args.name)
    ctx.out.emit({"name": ctx.args.name, "deleted": True}, f"Deleted {ctx.args.name}.")
    return EXIT_OK


def cmd_secret_history(ctx: Context) -> int:
    with ctx.unlocked() as vault:
        versions = vault.history(ctx.args.name)
    ctx.out.emit(
        {"name": ctx.args.name, "versions": [v.to_json() for v in versions]},
        lambda: "\n".join(
            f"v{v.version}  {v.created[:19].replace('T', ' ')}  {v.actor}  "
            f"{v.classification.value}" for v in versions
        ),
    )
    return EXIT_OK


def cmd_secret_list(ctx: Context) -> int:
    a = ctx.args
    level = Classification.parse(a.classification) if a.classification else None
    with ctx.unlocked() as vault:
        items = vault.list_secrets(search=a.search, classification=level, tag=a.tag)
    ctx.out.emit([s.to_json() for s in items], lambda: _secret_table(items))
    return EXIT_OK


def cmd_passphrase_change(ctx: Context) -> int:
    vault = Vault.open(ctx.vault_dir)
    old = ctx.prompter.ask(0, "Current passphrase: ")
    new = ctx.prompter.ask(1, "New passphrase: ", confirm=True)
    require_strong(new)
    vault.unlock(PassphraseUnlocker.from_text(old))
    with vault:
        vault.change_passphrase(normalize_passphrase(old), normalize_passphrase(new))
    ctx.out.emit({"changed": True}, "Passphrase changed.")
    return EXIT_OK


def cmd_rotate(ctx: Context) -> int:
    with ctx.unlocked() as vault:
        if ctx.args.level:
            level = Classification.parse(ctx.args.level)
            n = vault.rotate_dek(level)
            ctx.out.emit(
                {"rotated": [level.value], "reencrypted_versions": n},
                f"Rotated the {level.value} data key; re-encrypted {n} stored value(s).",
            )
        else:
            vault.rotate_all()
            ctx.out.emit(
                {"rotated": ["master"] + [c.value for c in Classification]},
                "Rotated the master key (database rekeyed) and every level's data key.",
            )
    return EXIT_OK


def cmd_audit_verify(ctx: Context) -> int:
    from .keys import checkpoint_report, checkpoint_text, checkpoints_pass

    with ctx.unlocked() as vault:
        report = vault.audit_verify()
        checks = checkpoint_report(ctx, vault)
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
        text += "\n" + checkpoint_text(checks)
    ctx.out.emit({**report.to_json(), "checkpoints": checks.to_json()}, text)
    return EXIT_OK if report.ok and checkpoints_pass(ctx, checks) else EXIT_INTEGRITY


def cmd_audit_show(ctx: Context) -> int:
    a = ctx.args
    if a.limit is not None and a.limit < 1:
        raise UsageError("--limit must be at least 1")
    with ctx.unlocked() as vault:
        events = vault.audit_events(limit=a.limit, action=a.action, target=a.target)
    ctx.out.emit(
        [e.to_json() for e in events],
        lambda: "\n".join(_event_line(e) for e in events) or "(no events)",
    )
    return EXIT_OK


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
    report = backups.restore_backup(Path(ctx.args.file), ctx.unlocker(), Path(ctx.args.to))
    ctx.out.emit(
        {**report.to_json(), "restored_to": ctx.args.to},
        _report_text("Restored", report) + f" New vault at {ctx.args.to}.",
    )
    return EXIT_OK


def cmd_console(ctx: Context) -> int:
    """Open the desktop console, which a front-end package registers as an entry point."""
    entry = next(
        (e for e in metadata.entry_points(group=FRONTEND_GROUP) if e.name == "console"), None
    )
    if entry is None:
        raise UsageError(
            "the console is not installed (no strongroom.frontends entry point); use the "
            "commands ('strongroom --help')"
        )
    launch: Callable[[Path], int] = entry.load()
    return launch(ctx.vault_dir)


# ----- compliance ------------------------------------------------------------------------------


def _short(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _check_table(report: dict[str, Any], results: Sequence[CheckResult],
                 required: set[str]) -> str:
    when = report["time"][:16].replace("T", " ")
    lines = [
        f"Strongroom {report['strongroom_version']} compliance check · host {report['host'] or '?'}"
        f" · {report['os']} · {when} UTC"
        + (f" · evidence from {report['evidence']}" if report["source"] == "evidence" else ""),
        report["policy_line"],
    ]
    if not report["exceptions_applied"]:
        lines.append("Exceptions: not applied (no vault opened; use --store)")
    rows = [("CHECK", "STATUS", "OBSERVED", "REASON")]
    for r in results:
        status = r.status.value + ("" if r.check_id in required else " (optional)")
        rows.append((r.check_id, status, _short(r.observed, 46), _short(r.reason, 110)))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:3]))
                     + "  " + row[3])
    fixes = [r for r in results if r.remediation and r.status in (Status.Fail, Status.Unknown)]
    if fixes:
        lines.append("")
        lines.append("To fix:")
        lines += [f"  {r.check_id}: {r.remediation}" for r in fixes]
    summary = ", ".join(f"{n} {s}" for s, n in report["summary"].items() if n)
    meaning = {0: "all required checks pass", 1: "a required check failed",
               5: "no failure, but some required checks are unknown"}[report["exit_code"]]
    lines.append("")
    lines.append(f"Result: {summary} · exit {report['exit_code']} ({meaning}) · "
                 f"{report['duration']:.2f} s")
    if report.get("stored_run") is not None:
        lines.append(f"Stored as run {report['stored_run']} in the vault (audit: compliance.check)")
    if report.get("dumped_to"):
        lines.append(f"Evidence written to {report['dumped_to']} (redacted)")
    return "\n".join(lines)


def cmd_check(ctx: Context) -> int:
    a = ctx.args
    start = time.perf_counter()
    policy, policy_source = load_policy(a.policy)
    only = registry.parse_only(a.only)
    now = dt.datetime.now(dt.UTC)
    # Evidence to replay is read before any prompt: bad input fails fast.
    replayed = evidence_io.load_bundle(a.evidence) if a.evidence else None
    vault = ctx.unlocked() if a.store else None
    try:
        evaluation = compliance.evaluate(vault, policy, only, now, bundle=replayed)
        bundle, results = evaluation.bundle, evaluation.results
        code, source = evaluation.exit_code, evaluation.source
        dumped = evidence_io.dump_bundle(bundle, a.dump_evidence) if a.dump_evidence else None
        policy_json = policy_to_json(policy, policy_source)
        run_id = None
        if vault is not None:
            run_id = compliance.store(vault, evaluation, policy_json)
    finally:
        if vault is not None:
            vault.lock()
    required = set(policy.required)
    report: dict[str, Any] = {
        "strongroom_version": version(),
        "host": bundle.host,
        "os": bundle.os.value,
        "time": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "collected": bundle.collected,
        "source": source,
        "evidence": str(a.evidence) if a.evidence else None,
        "policy": policy_json,
        "policy_line": describe_policy(policy, policy_source),
        "exceptions_applied": vault is not None,
        "exit_code": code,
        "summary": registry.counts(results),
        "stored_run": run_id,
        "dumped_to": str(dumped) if dumped else None,
        "duration": round(time.perf_counter() - start, 4),
        "checks": [{**r.to_json(), "required": r.check_id in required} for r in results],
    }
    ctx.out.emit(report, lambda: _check_table(report, results, required))
    return code


def cmd_exception_add(ctx: Context) -> int:
    a = ctx.args
    until = parse_date(a.until, "--until date")
    if a.id not in registry.CHECK_IDS:
        raise UsageError(f"unknown check {a.id!r} (known: {', '.join(registry.CHECK_IDS)})")
    with ctx.unlocked() as vault:
        exception = storage.add_exception(vault, a.id, a.reason, until)
    ctx.out.emit(exception.to_json(),
                 f"Recorded an exception for {exception.check_id} until "
                 f"{exception.until.isoformat()}: {exception.reason}")
    return EXIT_OK


def cmd_exception_list(ctx: Context) -> int:
    with ctx.unlocked() as vault:
        items = storage.list_exceptions(vault)
    today = dt.datetime.now(dt.UTC)

    def table() -> str:
        if not items:
            return "(no exceptions)"
        return "\n".join(
            f"{e.check_id:<16} until {e.until.isoformat()}"
            f"{'' if e.active(today) else ' (expired)'}  {e.actor}  {e.reason}" for e in items
        )

    ctx.out.emit([{**e.to_json(), "active": e.active(today)} for e in items], table)
    return EXIT_OK


def cmd_exception_rm(ctx: Context) -> int:
    with ctx.unlocked() as vault:
        storage.remove_exception(vault, ctx.args.id)
    ctx.out.emit({"check_id": ctx.args.id, "removed": True},
                 f"Removed the exception for {ctx.args.id}.")
    return EXIT_OK


# ----- parser ----------------------------------------------------------------------------------


def _globals(parser: argparse.ArgumentParser, *, top: bool) -> None:
    default = None if top else argparse.SUPPRESS
    parser.add_argument("--vault", metavar="DIR", default=default, help="vault directory")
    parser.add_argument(
        "--json", action="store_true", default=False if top else argparse.SUPPRESS,
        help="machine-readable output on stdout",
    )
    parser.add_argument(
        "--passphrase-fd", type=int, metavar="N", default=default,
        help="read the passphrase from file descriptor N (one per line)",
    )
    parser.add_argument(
        "--pin-fd", type=int, metavar="N", default=default,
        help="read a device or token PIN from file descriptor N (one per line)",
    )
    parser.add_argument(
        "--unlock", metavar="METHOD", default=default, choices=UNLOCK_CHOICES,
        help="open the vault with fido2, tpm or keyring instead of the passphrase",
    )


def build_parser() -> argparse.ArgumentParser:
    common = _Parser(add_help=False)
    _globals(common, top=False)
    p = _Parser(prog="strongroom", description="Strongroom: a local secrets and key custodian.")
    _globals(p, top=True)
    p.add_argument("--version", action="version", version=f"strongroom {version()}")
    p.set_defaults(func=cmd_console)
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    def command(parent: Any, name: str, func: Callable[[Context], int], help: str) -> Any:
        cp = parent.add_parser(name, help=help, parents=[common], description=help)
        cp.set_defaults(func=func)
        return cp

    init = command(sub, "init", cmd_init, "create a vault")
    init.add_argument("--kdf-time-ms", type=int, default=1000, metavar="MS",
                      help="target unlock time for Argon2id (default 1000)")

    secret = sub.add_parser("secret", help="add, read, change and list secrets")
    ssub = secret.add_subparsers(dest="secret_command", metavar="ACTION", required=True,
                                 parser_class=_Parser)
    levels = "|".join(c.value for c in Classification)

    def meta_options(cp: Any, *, defaults: bool) -> None:
        cp.add_argument("--classification", metavar=levels,
                        default="moderate" if defaults else None)
        cp.add_argument("--tag", action="append", metavar="T", help="repeatable")
        cp.add_argument("--note", metavar="TEXT")
        cp.add_argument("--owner", metavar="WHO")
        cp.add_argument("--expires", metavar="YYYY-MM-DD")
        cp.add_argument("--rotate-by", metavar="YYYY-MM-DD", help="rotation due date")

    add = command(ssub, "add", cmd_secret_add, "add a secret; its value is read from stdin")
    add.add_argument("name")
    meta_options(add, defaults=True)
    get = command(ssub, "get", cmd_secret_get, "print a secret's value")
    get.add_argument("name")
    get.add_argument("--version", type=int, metavar="N")
    upd = command(ssub, "update", cmd_secret_update, "new version from stdin, or metadata")
    upd.add_argument("name")
    meta_options(upd, defaults=False)
    upd.add_argument("--keep-value", action="store_true", help="change metadata only")
    rm = command(ssub, "rm", cmd_secret_rm, "delete a secret and its history")
    rm.add_argument("name")
    hist = command(ssub, "history", cmd_secret_history, "list a secret's versions")
    hist.add_argument("name")
    lst = command(ssub, "list", cmd_secret_list, "list secrets (never values)")
    lst.add_argument("--search", metavar="TERM")
    lst.add_argument("--classification", metavar=levels)
    lst.add_argument("--tag", metavar="T")

    pw = sub.add_parser("passphrase", help="change the passphrase")
    pwsub = pw.add_subparsers(dest="pw_command", metavar="ACTION", required=True,
                              parser_class=_Parser)
    command(pwsub, "change", cmd_passphrase_change,
            "change it (with --passphrase-fd: old on line 1, new on line 2)")

    rot = command(sub, "rotate", cmd_rotate, "rotate the master key and data keys")
    rot.add_argument("--level", metavar=levels, help="rotate only this level's data key")

    audit = sub.add_parser("audit", help="verify and show the audit log")
    asub = audit.add_subparsers(dest="audit_command", metavar="ACTION", required=True,
                                parser_class=_Parser)
    verify = command(asub, "verify", cmd_audit_verify,
                     "walk the hash chain, check the anchor and the signed checkpoints")
    show = command(asub, "show", cmd_audit_show, "show recent events")
    show.add_argument("--limit", type=int, default=50, metavar="N")
    show.add_argument("--action")
    show.add_argument("--target")

    bk = sub.add_parser("backup", help="create, verify and restore backups")
    bsub = bk.add_subparsers(dest="backup_command", metavar="ACTION", required=True,
                             parser_class=_Parser)
    command(bsub, "create", cmd_backup_create, "write a backup file").add_argument("file")
    command(bsub, "verify", cmd_backup_verify, "check a backup thoroughly").add_argument("file")
    res = command(bsub, "restore", cmd_backup_restore, "restore a backup into a new directory")
    res.add_argument("file")
    res.add_argument("--to", required=True, metavar="DIR")

    from . import unlock as cli_unlock

    cli_unlock.register(sub, command)

    from . import keys as cli_keys

    cli_keys.register(sub, command)
    cli_keys.register_audit(asub, verify, command)

    chk = command(sub, "check", cmd_check,
                  "endpoint compliance self-checks (no vault needed; exit 0 pass, 1 fail, "
                  "5 unknown)")
    chk.add_argument("--policy", metavar="FILE", help="policy TOML (default: built-in defaults)")
    chk.add_argument("--only", metavar="ID,...",
                     help=f"run only these checks ({', '.join(registry.CHECK_IDS)})")
    chk.add_argument("--dump-evidence", metavar="DIR",
                     help="also write the raw evidence, redacted, to DIR/evidence.json")
    chk.add_argument("--evidence", metavar="DIR",
                     help="judge evidence dumped earlier instead of collecting")
    chk.add_argument("--store", action="store_true",
                     help="open the vault: apply its exceptions, store the results, audit the run")
    csub = chk.add_subparsers(dest="check_command", metavar="ACTION", parser_class=_Parser)
    exc = csub.add_parser("exception", help="accepted-risk exceptions (stored in the vault)")
    esub = exc.add_subparsers(dest="exception_command", metavar="ACTION", required=True,
                              parser_class=_Parser)
    ea = command(esub, "add", cmd_exception_add,
                 "accept the risk of one check until a date (an audit event)")
    ea.add_argument("id", metavar="ID")
    ea.add_argument("--reason", required=True, metavar="TEXT")
    ea.add_argument("--until", required=True, metavar="YYYY-MM-DD", help="last day it applies")
    command(esub, "list", cmd_exception_list, "list the recorded exceptions")
    command(esub, "rm", cmd_exception_rm, "remove a check's exception").add_argument(
        "id", metavar="ID")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="strongroom: %(levelname)s: %(message)s")
    try:
        args = build_parser().parse_args(argv)
        ctx = Context(args, sys.stdin, sys.stdout)
        return int(args.func(ctx))
    except UserCancelled:
        return EXIT_FAILED
    except StrongroomError as e:
        print(f"strongroom: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("strongroom: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_FAILED
    except Exception as e:
        if os.environ.get("STRONGROOM_DEBUG"):
            raise
        print(f"strongroom: internal error ({type(e).__name__}); rerun with "
              "STRONGROOM_DEBUG=1 for details", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
