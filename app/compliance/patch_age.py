"""Patch age, judged the same way on macOS and Windows: when each pending update was first seen
(Strongroom's memory), what the install records say, and the verdict against the policy window.

Pure, like parsing.py: it reads evidence already gathered and never touches the machine.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from .first_seen import SINCE_KEY as MEMORY_STARTED
from .model import CheckResult, Confidence, EvidenceBundle, Policy, Status
from .parsing import Verdict, days_since, describe_age, file, joined, load_json, parse_iso

FIRST_SEEN = "state.first-seen"  # Strongroom's memory of pending updates (see model.py)


def first_seen(bundle: EvidenceBundle) -> dict[str, dt.datetime]:
    """When Strongroom first saw each pending update key pending, from ``state.first-seen``
    (the key ``(memory started)`` holds when the memory itself began)."""
    item = file(bundle, FIRST_SEEN)
    data = load_json(item.content or "") if item is not None and item.error is None else None
    if not isinstance(data, dict):
        return {}
    seen = {str(k): parse_iso(v) for k, v in data.items()}
    return {k: v for k, v in seen.items() if v is not None}


def remembered(memory: dict[str, dt.datetime], key: str) -> tuple[dt.datetime | None, bool]:
    """When Strongroom first saw ``key`` pending, and whether that is when it became pending as
    far as anyone can tell (False: it was seen when the memory began, so it may be older)."""
    seen = memory.get(key)
    started = memory.get(MEMORY_STARTED)
    return seen, seen is not None and (started is None or seen > started)


@dataclass(frozen=True)
class PendingUpdate:
    name: str
    since: dt.datetime | None  # when it was first offered / published / seen; None: not known
    exact: bool = True  # False: ``since`` is only a lower bound (it may have waited longer)


@dataclass(frozen=True)
class PatchFacts:
    """What the evidence says about OS patching, before any policy is applied."""

    last_patch: dt.datetime | None  # newest successful OS patch install
    last_patch_name: str
    pending: list[PendingUpdate] | None  # None: the pending list could not be read
    last_check: dt.datetime | None  # when the OS last looked for updates successfully
    excerpt: str
    confidence: Confidence = Confidence.High
    pending_problem: str = ""  # why the pending list could not be read
    history_problem: str = ""  # a record of installs that could not be read (a newer patch
    #                            may be in it), "" when every record was read


def _age_unknown(updates: list[PendingUpdate], now: dt.datetime) -> str:
    """What is known about pending updates whose age is not: since when they were seen."""
    lower = [p.since for p in updates if p.since is not None]
    names = joined(p.name for p in updates)
    if not lower:
        return f"{names} pending with no offer or publication date and not in Strongroom's " \
               "first-seen memory"
    first = min(lower)
    hours = max(0, int(days_since(now, first) * 24))
    waited = f"{hours} h" if hours < 48 else f"{hours // 24} days"
    return (f"{names} pending with no offer or publication date; Strongroom first saw "
            f"{'it' if len(updates) == 1 else 'them'} {first:%Y-%m-%d %H:%M} UTC ({waited} ago), "
            "when its memory of pending updates began, so how long before that "
            f"{'it was' if len(updates) == 1 else 'they were'} pending is not known")


def judge_patch_age(facts: PatchFacts, policy: Policy, now: dt.datetime, verdict: Verdict,
                    remediation: str) -> CheckResult:
    """Patches applied within the policy window: an update waiting longer than that fails.

    The install history says when the OS was last patched; the pending list (with the date
    each update was first offered or published) says whether anything is overdue. An update
    whose age is not known (no date, or only "first seen when Strongroom's memory began") is
    no evidence either way: UNKNOWN, unless nothing was installed for longer than the window.
    A pending list or install record that could not be read is UNKNOWN, never FAIL.
    """
    limit = policy.max_patch_age_days
    age = days_since(now, facts.last_patch) if facts.last_patch else None
    checked = facts.last_check
    fresh_check = checked is not None and days_since(now, checked) <= max(limit, 1)
    pending = facts.pending or []
    overdue = [(p.since, p.name, p.exact) for p in pending
               if p.since and days_since(now, p.since) > limit]
    undated = [p for p in pending if p.since is None or not p.exact]
    installed = (f"last OS update ({facts.last_patch_name}) installed "
                 f"{facts.last_patch:%Y-%m-%d}" if facts.last_patch else "no OS update recorded")
    window = f"policy allows {limit} day{'s' if limit != 1 else ''}"
    history = f"; the last patch may be newer: {facts.history_problem}" \
        if facts.history_problem else ""

    if overdue:
        since, name, exact = min(overdue)
        waited = int(days_since(now, since))
        when = (f"available since {since:%Y-%m-%d} ({waited} days)" if exact else
                f"pending since at least {since:%Y-%m-%d} ({waited} days; first seen when "
                "Strongroom's memory of pending updates began)")
        return verdict(
            Status.Fail, f"{len(overdue)} update{'s' if len(overdue) != 1 else ''} overdue",
            f"{name} {when}, not installed; {window}", facts.excerpt, remediation,
            facts.confidence)
    if undated:
        if age is not None and age > limit and not facts.history_problem:
            return verdict(
                Status.Fail, f"{len(undated)} pending, last patched {describe_age(age)}",
                f"{joined(p.name for p in undated)} pending (offer date not recorded) and no OS "
                f"update installed for {int(age)} days; {window}", facts.excerpt, remediation,
                Confidence.Medium)
        return verdict(Status.Unknown, f"{len(undated)} pending, age unknown",
                       f"{_age_unknown(undated, now)}; {installed}{history}", facts.excerpt,
                       remediation, Confidence.Low)
    if age is not None and age <= limit:
        extra = f"; {len(pending)} more pending within the window" if pending else ""
        return verdict(Status.Pass, f"patched {describe_age(age)}",
                       f"{installed}, within {limit} days{extra}", facts.excerpt,
                       confidence=facts.confidence)
    if facts.pending is not None and not pending and checked is not None and fresh_check:
        return verdict(
            Status.Pass, "up to date",
            f"no OS updates pending as of the check on {checked:%Y-%m-%d}; {installed}",
            facts.excerpt, confidence=facts.confidence)
    if pending:
        return verdict(Status.Pass, f"{len(pending)} pending within the window",
                       f"{joined(p.name for p in pending)} offered within the last {limit} days; "
                       f"{installed}", facts.excerpt, confidence=Confidence.Medium)
    if age is not None and facts.pending is None:
        return verdict(
            Status.Unknown, f"patched {describe_age(age)}, pending not known",
            f"{installed}, more than {limit} days ago, and whether an update is pending is not "
            f"known: {facts.pending_problem or 'the pending list was not read'}{history}",
            facts.excerpt, remediation, Confidence.Low)
    if age is not None and facts.history_problem:
        return verdict(
            Status.Unknown, f"newest patch found {describe_age(age)}",
            f"{installed} by the records that could be read, more than {limit} days ago, and "
            f"no recent update check shows that nothing is pending{history}",
            facts.excerpt, remediation, Confidence.Low)
    if age is not None:
        return verdict(
            Status.Fail, f"patched {describe_age(age)}",
            f"{installed}, more than {limit} days ago, and no recent update check shows that "
            "nothing is pending", facts.excerpt, remediation, Confidence.Medium)
    return verdict(Status.Unknown, "no patch record",
                   "no OS update in the install history and no pending-update record"
                   + (f" ({facts.pending_problem})" if facts.pending_problem else "") + history,
                   facts.excerpt, remediation, Confidence.Low)
