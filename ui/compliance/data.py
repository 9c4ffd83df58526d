"""What the Compliance section shows, worked out from stored runs (no widgets here).

A stored run keeps the results as they were judged then. The section shows the latest run with
the exceptions recorded *now* applied, so accepting or removing a risk shows at once; the stored
run (and the history chart) stays as it was judged.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from strongroom.app.compliance import registry, service
from strongroom.app.compliance.model import CheckResult, Policy, Status
from strongroom.app.compliance.policy import describe
from strongroom.app.compliance.registry import ComplianceException

WORDS = {
    Status.Pass: "PASS", Status.Fail: "FAIL", Status.Unknown: "UNKNOWN",
    Status.NotApplicable: "NOT APPLICABLE", Status.Excepted: "EXCEPTED",
}
GLYPHS = {
    Status.Pass: "✔", Status.Fail: "✘", Status.Unknown: "?", Status.NotApplicable: "–",
    Status.Excepted: "⚑",
}
OS_NAMES = {"linux": "Linux", "macos": "macOS", "windows": "Windows"}
SOURCES = {service.COLLECTED: "collected on this machine",
           service.EVIDENCE: "judged from recorded evidence"}


def label(status: Status) -> str:
    """The glyph and the word, so a status never depends on colour alone."""
    return f"{GLYPHS[status]} {WORDS[status]}"


def parse_ts(ts: str) -> dt.datetime | None:
    try:
        stamp = dt.datetime.fromisoformat(ts.replace("Z", "+00:00"))
    except ValueError:
        return None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.UTC)


def local_time(ts: str, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A stored UTC timestamp in the machine's local time ("?" if it cannot be read)."""
    stamp = parse_ts(ts)
    return stamp.astimezone().strftime(fmt) if stamp else "?"


def plural(n: int, noun: str, nouns: str | None = None) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {nouns or noun + 's'}"


@dataclass(frozen=True)
class Overall:
    status: Status  # Pass, Fail or Unknown: the colour and glyph of the headline
    text: str


def overall(results: Sequence[CheckResult], policy: Policy) -> Overall:
    """The headline: compliant, not compliant, or incomplete, over the required checks."""
    required = [r for r in results if r.check_id in policy.required]
    fails = sum(r.status is Status.Fail for r in required)
    unknown = sum(r.status is Status.Unknown for r in required)
    excepted = sum(r.status is Status.Excepted for r in required)
    code = registry.exit_code(results, policy)
    if code == registry.EXIT_FAIL:
        text = f"Not compliant: {plural(fails, 'required check fails', 'required checks fail')}"
        if unknown:
            text += f" and {unknown} {'is' if unknown == 1 else 'are'} unknown"
        return Overall(Status.Fail, text + ".")
    if code == registry.EXIT_UNKNOWN:
        verb = "is" if unknown == 1 else "are"
        return Overall(Status.Unknown, "Incomplete: no required check fails, but "
                       f"{plural(unknown, 'check')} {verb} unknown.")
    extra = f" ({plural(excepted, 'accepted risk')})" if excepted else ""
    return Overall(Status.Pass, f"Compliant: every required check passes{extra}.")


@dataclass(frozen=True)
class RunView:
    """The latest stored run as the section shows it."""

    run_id: int
    ts: str
    host: str
    os: str
    source: str
    policy: Policy
    policy_source: str
    results: tuple[CheckResult, ...]  # with the exceptions recorded now
    stored: Mapping[str, Status]  # each check's status as the run stored it

    @property
    def overall(self) -> Overall:
        return overall(self.results, self.policy)

    @property
    def policy_line(self) -> str:
        return describe(self.policy, self.policy_source)

    @property
    def os_name(self) -> str:
        return OS_NAMES.get(self.os, self.os or "?")

    @property
    def source_text(self) -> str:
        return SOURCES.get(self.source, self.source)

    def required(self, check_id: str) -> bool:
        return check_id in self.policy.required

    def result(self, check_id: str) -> CheckResult | None:
        return next((r for r in self.results if r.check_id == check_id), None)


def run_view(run: Mapping[str, Any], exceptions: Iterable[ComplianceException],
             now: dt.datetime) -> RunView:
    """A stored run (``storage.runs()`` item) as shown under today's exceptions."""
    policy, source = service.policy_from_json(run.get("policy") or {})
    stored = [service.result_from_json(r) for r in run.get("results", [])]
    order = {c: i for i, c in enumerate(registry.CHECK_IDS)}
    stored.sort(key=lambda r: order.get(r.check_id, len(order)))
    shown = service.with_exceptions(stored, exceptions, now)
    return RunView(
        run_id=int(run["id"]), ts=str(run.get("ts", "")), host=str(run.get("host", "")),
        os=str(run.get("os", "")), source=str(run.get("source", "")), policy=policy,
        policy_source=source, results=tuple(shown),
        stored={r.check_id: r.status for r in stored},
    )


@dataclass(frozen=True)
class RunPoint:
    """One bar of the history chart."""

    run_id: int
    ts: str
    passed: int  # PASS and NOT_APPLICABLE
    excepted: int
    failed: int
    unknown: int

    @property
    def total(self) -> int:
        return self.passed + self.excepted + self.failed + self.unknown

    def words(self) -> str:
        parts = [f"{self.passed} pass", f"{self.failed} fail", f"{self.unknown} unknown"]
        if self.excepted:
            parts.append(f"{self.excepted} excepted")
        return f"{local_time(self.ts)}: " + ", ".join(parts)


def history_points(runs: Sequence[Mapping[str, Any]]) -> list[RunPoint]:
    """Stored runs (newest first, as ``storage.runs()`` gives them) as points, oldest first."""
    points = []
    for run in reversed(runs):
        c: Mapping[str, int] = run.get("counts") or {}
        points.append(RunPoint(
            run_id=int(run["id"]), ts=str(run.get("ts", "")),
            passed=int(c.get(Status.Pass.value, 0)) + int(c.get(Status.NotApplicable.value, 0)),
            excepted=int(c.get(Status.Excepted.value, 0)),
            failed=int(c.get(Status.Fail.value, 0)),
            unknown=int(c.get(Status.Unknown.value, 0)),
        ))
    return points


def history_summary(points: Sequence[RunPoint], last: int = 5) -> str:
    """The chart in words, for screen readers: the most recent runs, newest first."""
    if not points:
        return "No stored runs yet."
    recent = list(reversed(points))[:last]
    head = (f"{plural(len(points), 'stored run')}; the last {len(recent)}, newest first: "
            if len(points) > 1 else "1 stored run: ")
    return head + "; ".join(p.words() for p in recent) + "."
