"""One compliance run for every front end: find the collector, collect, remember, judge, store.

The CLI (``strongroom check``) and the console's Compliance section both run checks through
:func:`evaluate` and :func:`store` (or :func:`run_checks`, which does both), so a run means the
same thing wherever it starts. The platform's collector is found through the
``strongroom.backends`` entry point, never imported by name, so this package stays free of
backends; a caller may pass its own collector (recorded evidence in tests) instead.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Any

from ..errors import StrongroomError, UsageError
from ..plugins import BACKENDS_GROUP, load_backend
from . import evidence_io, registry
from . import first_seen as first_seen_memory
from .model import (
    COLLECTED,
    EVIDENCE,
    CheckResult,
    Collector,
    Confidence,
    EvidenceBundle,
    Policy,
    Status,
)
from .policy import DEFAULTS, policy_to_json
from .registry import ComplianceException

if TYPE_CHECKING:
    from ..vault import Vault

log = logging.getLogger("strongroom.compliance")

# Which clock a run was judged by: a replayed bundle's collection time (the default for
# --evidence), the time asked for with --at, or now (a collection, or a bundle without a time).
AT_COLLECTED, AT_OPTION, AT_NOW = "collected", "--at", "now"
AT_NEEDS_EVIDENCE = ("--at applies only to replayed evidence (--evidence DIR); a collection is "
                     "judged when it runs")


def load_collector() -> Collector:
    """The platform's evidence collector, found through the ``strongroom.backends`` entry point."""
    factory: Callable[[], Collector] = load_backend(BACKENDS_GROUP, "compliance", missing=(
        StrongroomError(
            "no compliance collector is installed (entry point strongroom.backends:compliance)"
        )
    ))
    return factory()


def collect(collector: Collector, only: Sequence[str] | None) -> EvidenceBundle:
    """Gather the evidence ``only`` these checks need (all when None); unsupported is an error."""
    try:
        return collector.collect(set(only) if only else None)
    except NotImplementedError as e:
        raise StrongroomError(str(e)) from None


def remember_pending(bundle: EvidenceBundle, vault: Vault | None,
                     now: dt.datetime) -> EvidenceBundle:
    """Merge the pending security updates into the first-seen memory; attach it as evidence."""
    pending = registry.pending_updates(bundle)
    if vault is not None:
        from . import storage  # the vault's tables (and the vault): only when there is one

        previous, where = storage.load_first_seen(vault), "vault:compliance_first_seen"
    else:
        previous, where = first_seen_memory.load_file(), str(first_seen_memory.state_path())
    if pending is None:
        return first_seen_memory.attach(bundle, previous, where)
    merged = first_seen_memory.merge(previous, pending, now)
    if vault is not None:
        storage.save_first_seen(vault, merged)
    elif not first_seen_memory.save_file(merged):
        log.warning("could not save the first-seen memory to %s", where)
    return first_seen_memory.attach(bundle, merged, where)


def parse_at(text: str) -> dt.datetime:
    """``--at TIME``: ISO 8601 ("2026-11-23T10:00:00Z", "2026-11-23"), UTC when no offset."""
    try:
        moment = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        shown = text if len(text) <= 40 and text.isprintable() else repr(text[:40])
        raise UsageError(f"--at needs an ISO 8601 time such as 2026-11-23T10:00:00Z, not "
                         f"{shown!r}") from None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


def judgement_time(bundle: EvidenceBundle | None, at: dt.datetime | None,
                   now: dt.datetime) -> tuple[dt.datetime, str]:
    """When a run is judged and why: ``at`` if given, else a replayed bundle's collection time,
    else ``now``. A collection is always judged now (its first-seen memory is stamped now)."""
    if bundle is None:
        if at is not None:
            raise UsageError(AT_NEEDS_EVIDENCE)
        return now, AT_NOW
    if at is not None:
        return at, AT_OPTION
    collected = evidence_io.collected_time(bundle.collected)
    return (collected, AT_COLLECTED) if collected is not None else (now, AT_NOW)


@dataclass(frozen=True)
class Evaluation:
    """What one run saw and concluded, before it is stored."""

    bundle: EvidenceBundle
    results: tuple[CheckResult, ...]
    exit_code: int
    source: str  # COLLECTED or EVIDENCE
    exceptions_applied: bool
    judged_at: dt.datetime  # the clock the checks were judged by
    judged_at_source: str  # AT_COLLECTED, AT_OPTION or AT_NOW


@dataclass(frozen=True)
class CheckRun:
    """A finished run: the evaluation, the policy it used, and its id in the vault (if stored)."""

    evaluation: Evaluation
    policy: dict[str, Any]  # policy_to_json(): the values and their "source"
    run_id: int | None

    @property
    def bundle(self) -> EvidenceBundle:
        return self.evaluation.bundle

    @property
    def results(self) -> tuple[CheckResult, ...]:
        return self.evaluation.results


def evaluate(
    vault: Vault | None,
    policy: Policy,
    only: Sequence[str] | None,
    now: dt.datetime,
    *,
    collector: Collector | None = None,
    bundle: EvidenceBundle | None = None,
    at: dt.datetime | None = None,
) -> Evaluation:
    """Collect (or replay ``bundle``), remember pending updates, and judge with the vault's
    exceptions. A collection is judged ``now``; replayed evidence at ``at``, else at the time
    it was collected (so its patch ages do not move with the calendar), and it never updates
    the first-seen memory."""
    when, when_source = judgement_time(bundle, at, now)
    if bundle is None:
        source = COLLECTED
        bundle = collect(collector or load_collector(), only)
        if only is None or "patch-age" in only:
            bundle = remember_pending(bundle, vault, now)
    else:
        source = EVIDENCE
    exceptions: list[ComplianceException] = []
    if vault is not None:
        from . import storage

        exceptions = storage.list_exceptions(vault)
    results = registry.judge(bundle, policy, when, only, exceptions)
    return Evaluation(bundle, tuple(results), registry.exit_code(results, policy), source,
                      vault is not None, when, when_source)


def store(vault: Vault, evaluation: Evaluation, policy: Mapping[str, Any]) -> int:
    """Store the run and its results in the vault, audited as ``compliance.check``."""
    from . import storage

    return storage.store_run(vault, evaluation.bundle, evaluation.results, policy=policy,
                             source=evaluation.source, exit_code=evaluation.exit_code,
                             judged_at=stamp(evaluation.judged_at))


def run_checks(
    vault: Vault | None,
    policy: Policy,
    only: Sequence[str] | None,
    now: dt.datetime,
    *,
    policy_source: str = DEFAULTS,
    collector: Collector | None = None,
    bundle: EvidenceBundle | None = None,
    at: dt.datetime | None = None,
) -> CheckRun:
    """Evaluate, then store the run when there is a vault."""
    evaluation = evaluate(vault, policy, only, now, collector=collector, bundle=bundle, at=at)
    policy_json = policy_to_json(policy, policy_source)
    run_id = store(vault, evaluation, policy_json) if vault is not None else None
    return CheckRun(evaluation, policy_json, run_id)


def stamp(moment: dt.datetime) -> str:
    """A time as the reports write it: "2026-11-23T10:00:00Z"."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ----- stored runs, read back --------------------------------------------------------------------


def policy_from_json(obj: Mapping[str, Any]) -> tuple[Policy, str]:
    """A stored run's policy (unknown keys ignored, missing ones default) and its source."""
    names = {f.name for f in fields(Policy)}
    values = {k: v for k, v in obj.items() if k in names}
    if "required" in values:
        values["required"] = tuple(values["required"])
    return Policy(**values), str(obj.get("source", DEFAULTS))


def result_from_json(obj: Mapping[str, Any]) -> CheckResult:
    """A stored result back as a CheckResult (the inverse of ``CheckResult.to_json``)."""
    return CheckResult(
        check_id=str(obj["check_id"]), title=str(obj["title"]), status=Status(obj["status"]),
        observed=str(obj.get("observed", "")), reason=str(obj.get("reason", "")),
        evidence_excerpt=str(obj.get("evidence_excerpt", "")),
        remediation=str(obj.get("remediation", "")),
        confidence=Confidence(obj.get("confidence", Confidence.Low.value)),
        method=str(obj.get("method", "")), duration=float(obj.get("duration", 0.0)),
        exception=None if obj.get("exception") is None else
        {str(k): str(v) for k, v in obj["exception"].items()},
    )


def without_exception(result: CheckResult) -> CheckResult:
    """The result as it was before an exception was applied (undoes ``apply_exception``)."""
    exc = result.exception
    if exc is None:
        return result
    if result.status is not Status.Excepted or exc.get("applied") != "yes":
        return replace(result, exception=None)
    original = exc.get("original_status", Status.Unknown.value)
    prefix = (f"accepted risk until {exc.get('until', '')}: {exc.get('reason', '')} "
              f"(otherwise {original}: ")
    reason = result.reason
    if reason.startswith(prefix) and reason.endswith(")"):
        reason = reason[len(prefix):-1]
    return replace(result, status=Status(original), reason=reason, exception=None)


def with_exceptions(results: Iterable[CheckResult], exceptions: Iterable[ComplianceException],
                    now: dt.datetime) -> list[CheckResult]:
    """Results re-read under the exceptions recorded now (added or removed since the run)."""
    active = {e.check_id: e for e in exceptions if e.active(now)}
    out = []
    for result in results:
        plain = without_exception(result)
        exception = active.get(plain.check_id)
        out.append(plain if exception is None else registry.apply_exception(plain, exception))
    return out
