"""Windows patch-age check: OS patches installed within the policy window."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from ..model import CheckResult, Confidence, EvidenceBundle, Policy, Status
from ..parsing import (
    FunctionCheck,
    Verdict,
    as_bool,
    as_int,
    as_list,
    joined,
    parse_iso,
    parse_short_date,
)
from ..patch_age import PatchFacts, PendingUpdate, first_seen, judge_patch_age, remembered
from .common import _ps_json
from .evidence_ids import HOTFIX, UPDATE_HISTORY, UPDATE_PENDING

# --- patch age -------------------------------------------------------------------------------
#
# Method: the Windows Update Agent COM API (Microsoft.Update.Session), documented in MS-UAMG:
# IUpdateSearcher::QueryHistory returns entries "sorted by date in descending order" (3.38.4.10)
# whose Date is "the date-time, in UTC, that the operation was performed" (3.32.4.4);
# Operation 1 = installation, ResultCode 2 = succeeded (OperationResultCode). Defender
# definition/platform updates (KB2267602, KB4052623, KB2461484, KB915597, KB5007651) and the
# Malicious Software Removal Tool (KB890830) are data, not OS patches, as are drivers and
# firmware; an OS patch is a successful install whose title names Windows, .NET or the
# servicing stack. Pending updates: an offline search (IUpdateSearcher.Online = false: "uses
# local data only", 3.38.4.13) for IsInstalled=0 and IsHidden=0 and Type='Software', each with
# LastDeploymentChangeTime ("the date-time, in UTC, when the update was last published",
# 3.20.4.23); optional (BrowseOnly) updates, previews and feature upgrades are not required.
# The last successful search is IAutomaticUpdatesResults::LastSearchSuccessDate. Fallback and
# complement: Win32_QuickFixEngineering (what Get-HotFix reads), whose InstalledOn is a free-form
# string — US M/d/yyyy, the machine's short date ("23.11.2026") or a hex FILETIME; it also lists
# updates installed offline (wusa/DISM) that the WU history never saw.

_PATCH_TITLE = "OS patch age"
_PATCH_FIX = ("Install the pending updates in Settings > Windows Update (Check for updates, "
              "then restart).")
_NOT_PATCH = re.compile(
    r"KB2267602|KB4052623|KB2461484|KB915597|KB5007651|KB890830|Security Intelligence|"
    r"Definition Update|Malicious Software Removal|antimalware platform|Security platform|"
    r"Defender|Feature update|Upgrade to Windows|\bPreview\b", re.IGNORECASE)
_OS_TITLE = re.compile(r"\bWindows\b|\.NET|Servicing Stack", re.IGNORECASE)
_NOT_PATCH_CATEGORIES = {"definition updates", "drivers", "upgrades", "feature packs"}


def _os_update(title: str, categories: list[Any]) -> bool:
    cats = {str(c).strip().lower() for c in categories}
    return bool(_OS_TITLE.search(title)) and not _NOT_PATCH.search(title) \
        and not cats & _NOT_PATCH_CATEGORIES


def _pending_list(bundle: EvidenceBundle) -> tuple[list[tuple[str, str, dt.datetime | None]] | None,
                                                   dt.datetime | None, str | None]:
    """Pending OS patches as (key, title, published), the last successful search, why unknown."""
    payload, why = _ps_json(bundle, UPDATE_PENDING, "Windows Update offline search")
    if not isinstance(payload, dict):
        return None, None, why
    found: list[tuple[str, str, dt.datetime | None]] = []
    for u in as_list(payload.get("pending")):
        if not isinstance(u, dict) or as_bool(u.get("BrowseOnly")):
            continue
        title = str(u.get("Title", ""))
        if not _os_update(title, as_list(u.get("Categories"))):
            continue
        kbs = [str(k) for k in as_list(u.get("KB")) if str(k)]
        key = f"KB{kbs[0]}" if kbs else title
        found.append((key, title, parse_iso(u.get("Published"))))
    return found, parse_iso(payload.get("lastSearchSuccess")), None


def pending_security_updates(bundle: EvidenceBundle) -> list[str] | None:
    """Keys (KB numbers) of the pending OS patches, for Strongroom's first-seen memory."""
    found, _, _ = _pending_list(bundle)
    return None if found is None else [key for key, _, _ in found]


def _history_patches(bundle: EvidenceBundle) -> tuple[list[tuple[dt.datetime, str]] | None,
                                                      str | None]:
    payload, why = _ps_json(bundle, UPDATE_HISTORY, "Windows Update history")
    if not isinstance(payload, dict):
        return None, why
    patches: list[tuple[dt.datetime, str]] = []
    for e in as_list(payload.get("history")):
        if not isinstance(e, dict):
            continue
        when = parse_iso(e.get("Date"))
        title = str(e.get("Title", ""))
        if when and as_int(e.get("Operation")) == 1 and as_int(e.get("ResultCode")) == 2 \
                and _os_update(title, as_list(e.get("Categories"))):
            patches.append((when, title))
    return sorted(patches), None


def _hotfixes(bundle: EvidenceBundle, now: dt.datetime
              ) -> tuple[list[tuple[list[dt.date], str, str]] | None, str | None]:
    """QFE entries as (possible install dates, id, raw InstalledOn); future readings dropped."""
    payload, why = _ps_json(bundle, HOTFIX, "Win32_QuickFixEngineering")
    if not isinstance(payload, dict):
        return None, why
    pattern = payload.get("shortDatePattern")
    found = []
    for h in as_list(payload.get("hotfixes")):
        if not isinstance(h, dict):
            continue
        raw = str(h.get("InstalledOn") or "")
        latest = (now + dt.timedelta(days=1)).date()  # a day of slack for time zones
        dates = [d for d in parse_short_date(raw, pattern if isinstance(pattern, str) else None)
                 if d <= latest]
        if dates:
            found.append((dates, str(h.get("HotFixID", "")), raw))
    return found, None


def _patch_age(bundle: EvidenceBundle, policy: Policy, now: dt.datetime) -> CheckResult:
    v = Verdict("patch-age", _PATCH_TITLE, "Microsoft.Update.Session QueryHistory and offline "
                "Search; Win32_QuickFixEngineering")
    history, history_why = _history_patches(bundle)
    hotfixes, hotfix_why = _hotfixes(bundle, now)
    pending_raw, last_search, pending_why = _pending_list(bundle)
    if history is None and hotfixes is None and pending_raw is None:
        return v(Status.Unknown, "not determined",
                 "; ".join(w for w in (history_why, hotfix_why, pending_why) if w),
                 remediation="Run the check on Windows (the Windows Update service must run).",
                 confidence=Confidence.Low)
    memory = first_seen(bundle)
    pending = None if pending_raw is None else [
        PendingUpdate(title, published, True) if published
        else PendingUpdate(title, *remembered(memory, key))
        for key, title, published in pending_raw]
    # Both install records can hold the newest patch (offline installs reach only one).
    history_problem = "; ".join(w for w in (history_why if history is None else None,
                                            hotfix_why if hotfixes is None else None) if w)
    newest = history[-1] if history else None
    lines = [f"{when:%Y-%m-%d} {title}" for when, title in (history or [])[-3:]]
    lines += [f"pending: {title}" + (f" published {p:%Y-%m-%d}" if p else "")
              for _, title, p in (pending_raw or [])[:3]]
    if last_search:
        lines.append(f"last successful update search: {last_search:%Y-%m-%d %H:%M} UTC")
    if history_why:
        lines.append(history_why)

    def facts(pick: int) -> PatchFacts:
        """The facts with each hotfix read as its earliest (0) or latest (-1) possible date."""
        last, name = (newest if newest else (None, ""))
        confidence = Confidence.High if history is not None else Confidence.Medium
        for dates, hotfix_id, _ in hotfixes or []:
            when = dt.datetime.combine(sorted(dates)[pick], dt.time(), dt.UTC)
            if last is None or when.date() > last.date():
                last, name = when, f"{hotfix_id} (Get-HotFix)"
                confidence = Confidence.Medium
        extra = [f"newest hotfix: {name}"] if name.endswith("(Get-HotFix)") else []
        return PatchFacts(last, name, pending, last_search, "\n".join(lines + extra), confidence,
                          pending_problem=pending_why or "", history_problem=history_problem)

    early = judge_patch_age(facts(0), policy, now, v, _PATCH_FIX)
    late = judge_patch_age(facts(-1), policy, now, v, _PATCH_FIX)
    if early.status is late.status:
        return late
    ambiguous = [raw for dates, _, raw in hotfixes or [] if len(dates) > 1]
    return v(Status.Unknown, "ambiguous install date",
             f"Get-HotFix date {joined(ambiguous, 2)} can be read day-first or month-first and "
             "the answer depends on which", late.evidence_excerpt, _PATCH_FIX, Confidence.Low)


PATCH_AGE_CHECK = FunctionCheck("patch-age", _PATCH_TITLE, _patch_age)
