"""``strongroom check``: endpoint compliance self-checks, and accepted-risk exceptions.

It needs no vault and has its own results: 0 every required check passes · 1 a required check
FAILs · 5 no FAIL but a required check is UNKNOWN (2, 3 and 4 as for every command). It opens the
vault only when asked with ``--store``: then the vault's accepted-risk exceptions apply, the results
are stored and the run is an audit event. Without ``--store`` exceptions are not applied (the
report says so) and the first-seen memory of pending updates lives in the user's state directory.
``--format`` also gives osquery rows, OCSF findings or JUnit XML (docs/fleet.md), ``--output``
a file instead of stdout; the exit code is the same in every format.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..compliance import evidence_io, fleet_formats, registry
from ..compliance import service as compliance
from ..compliance.model import CheckResult, Status
from ..compliance.policy import describe as describe_policy
from ..compliance.policy import load_policy, policy_to_json
from ..errors import UsageError
from ..fsutil import atomic_write
from ..model import parse_date
from .common import EXIT_OK, AddCommand, Context, Parser, subcommands, version


def cmd_check(ctx: Context) -> int:
    args = ctx.args
    start = time.perf_counter()
    fmt = _format(args)
    if args.output is not None:
        _output_path(args)  # refused before anything runs or is stored
    policy, policy_source = load_policy(args.policy)
    only = registry.parse_only(args.only)
    now = dt.datetime.now(dt.UTC)
    at = compliance.parse_at(args.at) if args.at is not None else None
    if at is not None and not args.evidence:
        raise UsageError(compliance.AT_NEEDS_EVIDENCE)
    # Evidence to replay is read before any prompt: bad input fails fast.
    replayed = evidence_io.load_bundle(args.evidence) if args.evidence else None
    vault = ctx.unlocked() if args.store else None
    try:
        evaluation = compliance.evaluate(vault, policy, only, now, bundle=replayed, at=at)
        bundle, results = evaluation.bundle, evaluation.results
        code, source = evaluation.exit_code, evaluation.source
        dumped = evidence_io.dump_bundle(bundle, args.dump_evidence) if args.dump_evidence else None
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
        "time": compliance.stamp(now),
        "judged_at": compliance.stamp(evaluation.judged_at),
        "judged_at_source": evaluation.judged_at_source,
        "collected": bundle.collected,
        "source": source,
        "evidence": str(args.evidence) if args.evidence else None,
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
    run = fleet_formats.Run(host=bundle.host, os=bundle.os, time=now,
                            strongroom_version=report["strongroom_version"],
                            results=tuple(results), required=frozenset(required),
                            duration=report["duration"])
    _deliver(ctx, _render(fmt, report, run))
    return code


def _format(args: Any) -> str:
    """``--format``, with ``--json`` as another name for ``--format json``."""
    if args.json and args.format not in (None, "json"):
        raise UsageError(f"--json and --format {args.format} ask for two formats; give one")
    return "json" if args.json else args.format or "text"


def _render(fmt: str, report: dict[str, Any], run: fleet_formats.Run) -> str:
    if fmt == "json":
        return json.dumps(report, ensure_ascii=False)
    if fmt == "osquery-json":
        return fleet_formats.osquery_json(run)
    if fmt == "ocsf":
        return fleet_formats.ocsf_lines(run)
    if fmt == "junit":
        from ..compliance import junit_format  # xml.etree only when asked for

        return junit_format.junit_xml(run)
    return _check_table(report, run.results, set(run.required))


def _deliver(ctx: Context, text: str) -> None:
    """On stdout, or with ``--output FILE`` replacing FILE atomically (for a reader that polls)."""
    if ctx.args.output is None:
        ctx.stdout.write(text + "\n")
    else:
        atomic_write(_output_path(ctx.args), (text + "\n").encode(), mode=0o644)


def _output_path(args: Any) -> Path:
    path = Path(args.output)
    if not path.parent.is_dir() or path.is_dir():
        raise UsageError(f"--output {path}: not a file in an existing directory")
    return path


def _check_table(report: dict[str, Any], results: Sequence[CheckResult],
                 required: set[str]) -> str:
    when = report["time"][:16].replace("T", " ")
    lines = [
        f"Strongroom {report['strongroom_version']} compliance check · host {report['host'] or '?'}"
        f" · {report['os']} · {when} UTC"
        + (f" · evidence from {report['evidence']}" if report["source"] == "evidence" else ""),
        report["policy_line"],
    ]
    if report["source"] == "evidence":
        lines.append(_judged_line(report))
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


def _judged_line(report: dict[str, Any]) -> str:
    """Which clock a replay was judged by: patch ages are counted up to that time."""
    judged = report["judged_at"][:16].replace("T", " ") + " UTC"
    collected = report["collected"] or "not recorded"
    if report["judged_at_source"] == compliance.AT_COLLECTED:
        return f"Judged at {judged}, when the evidence was collected (--at TIME to choose another)"
    if report["judged_at_source"] == compliance.AT_OPTION:
        return f"Judged at {judged} (--at); the evidence was collected {collected}"
    return f"Judged at {judged} (now): the evidence does not say when it was collected"


def _short(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def cmd_exception_add(ctx: Context) -> int:
    from ..compliance import storage  # the vault's tables: only these commands

    args = ctx.args
    until = parse_date(args.until, "--until date")
    if args.id not in registry.CHECK_IDS:
        raise UsageError(f"unknown check {args.id!r} (known: {', '.join(registry.CHECK_IDS)})")
    with ctx.unlocked() as vault:
        exception = storage.add_exception(
            vault, args.id, args.reason, until,
            approval=ctx.approval(vault, "policy.change", f"exception:{args.id}"))
    ctx.out.emit(exception.to_json(),
                 f"Recorded an exception for {exception.check_id} until "
                 f"{exception.until.isoformat()}: {exception.reason}")
    return EXIT_OK


def cmd_exception_list(ctx: Context) -> int:
    from ..compliance import storage  # the vault's tables: only these commands

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
    from ..compliance import storage  # the vault's tables: only these commands

    with ctx.unlocked() as vault:
        storage.remove_exception(
            vault, ctx.args.id,
            approval=ctx.approval(vault, "policy.change", f"exception:{ctx.args.id}"))
    ctx.out.emit({"check_id": ctx.args.id, "removed": True},
                 f"Removed the exception for {ctx.args.id}.")
    return EXIT_OK


def register(sub: Any, command: AddCommand) -> None:
    """``strongroom check`` and ``check exception add|list|rm``."""
    chk = command(sub, "check", cmd_check,
                  "endpoint compliance self-checks (no vault needed; exit 0 pass, 1 fail, "
                  "5 unknown)")
    chk.add_argument("--policy", metavar="FILE", help="policy TOML (default: built-in defaults)")
    chk.add_argument("--only", metavar="ID,...",
                     help=f"run only these checks ({', '.join(registry.CHECK_IDS)})")
    chk.add_argument("--dump-evidence", metavar="DIR",
                     help="also write the raw evidence, redacted, to DIR/evidence.json")
    chk.add_argument("--evidence", metavar="DIR",
                     help="judge evidence dumped earlier instead of collecting (at the time it "
                          "was collected, unless --at)")
    chk.add_argument("--at", metavar="TIME",
                     help="with --evidence: judge as of this ISO 8601 time (e.g. "
                          "2026-11-23T10:00:00Z; no offset means UTC)")
    chk.add_argument("--store", action="store_true",
                     help="open the vault: apply its exceptions, store the results, audit the run")
    chk.add_argument("--format", choices=fleet_formats.FORMATS, default=None,
                     help="text (default), json (as --json), osquery-json, ocsf (JSON lines of "
                          "OCSF Compliance Findings) or junit (XML); see docs/fleet.md")
    chk.add_argument("--output", metavar="FILE",
                     help="write the report to FILE (replaced atomically) instead of stdout")
    csub = chk.add_subparsers(dest="check_command", metavar="ACTION", parser_class=Parser)
    exc = csub.add_parser("exception", help="accepted-risk exceptions (stored in the vault)")
    esub = subcommands(exc, "exception_command")
    ea = command(esub, "add", cmd_exception_add,
                 "accept the risk of one check until a date (an audit event)")
    ea.add_argument("id", metavar="ID")
    ea.add_argument("--reason", required=True, metavar="TEXT")
    ea.add_argument("--until", required=True, metavar="YYYY-MM-DD", help="last day it applies")
    command(esub, "list", cmd_exception_list, "list the recorded exceptions")
    command(esub, "rm", cmd_exception_rm, "remove a check's exception").add_argument(
        "id", metavar="ID")
