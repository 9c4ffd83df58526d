"""patch-age on every OS when the age of a pending update is not known, or a record is missing.

An update Strongroom first saw when its first-seen memory began (a first run) may have waited
for any time before: that is no evidence of compliance (UNKNOWN, saying what is known) until the
memory is older than the policy's window, when it is overdue if still pending. A pending list or
install record that could not be read never makes a FAIL. Built on the recorded fixtures in
tests/fixtures/compliance/patch-age/.
"""

from __future__ import annotations

import datetime as dt
import json
import plistlib
from dataclasses import replace

from strongroom.app.compliance import linux as linux_checks
from strongroom.app.compliance import macos as macos_checks
from strongroom.app.compliance import windows as windows_checks
from strongroom.app.compliance.first_seen import SINCE_KEY
from strongroom.app.compliance.macos import evidence_ids as macos_ids
from strongroom.app.compliance.model import (
    CheckResult,
    CommandEvidence,
    Confidence,
    Evidence,
    EvidenceBundle,
    FileEvidence,
    Policy,
    Status,
)
from strongroom.app.compliance.windows import evidence_ids as windows_ids

from helpers.compliance_cases import FIXTURES, NOW, load_bundle

CASES = FIXTURES / "patch-age"
FIRST_SEEN = "state.first-seen"


def memory(started: dt.datetime, seen: dict[str, dt.datetime]) -> FileEvidence:
    """Strongroom's first-seen memory as the runner attaches it."""
    stamp = "%Y-%m-%dT%H:%M:%SZ"
    body = {SINCE_KEY: started.strftime(stamp), **{k: t.strftime(stamp) for k, t in seen.items()}}
    return FileEvidence("compliance-first-seen.json", json.dumps(body))


def with_items(bundle: EvidenceBundle, items: dict[str, Evidence]) -> EvidenceBundle:
    return replace(bundle, items={**bundle.items, **items})


def judge(check: object, bundle: EvidenceBundle, now: dt.datetime = NOW,
          policy: Policy | None = None) -> CheckResult:
    return check(bundle, policy or Policy(), now)  # type: ignore[operator]


# ----- Linux -----------------------------------------------------------------------------------


def test_linux_first_run_after_a_recent_upgrade_is_unknown_until_the_memory_is_old() -> None:
    """Issue 13: 'PASS, 88 pending, first seen 0 h ago' on a first run."""
    bundle = load_bundle(CASES / "linux" / "debian-first-run-age-unknown")
    check = linux_checks.CHECKS["patch-age"]
    result = judge(check, bundle)
    assert result.status is Status.Unknown and result.confidence is Confidence.Low
    assert result.observed == "3 security update(s) pending, age unknown"
    # What is known: which updates, since when at least, and the last upgrade.
    for text in ("apt 2.6.2", "since at least 2026-11-23 11:59 UTC", "last upgrade 1 day ago",
                 "no release date"):
        assert text in result.reason, result.reason
    assert "libc6" in result.evidence_excerpt
    # Still pending once the memory is older than the window: overdue, for certain.
    later = judge(check, bundle, NOW + dt.timedelta(days=3))
    assert later.status is Status.Fail and later.confidence is Confidence.High
    assert "pending since 2026-11-23" in later.reason
    # A wider window keeps it open a little longer.
    assert judge(check, bundle, NOW + dt.timedelta(days=3),
                 Policy(max_patch_age_days=7)).status is Status.Unknown


def test_linux_an_update_first_seen_after_the_memory_began_is_dated_and_passes() -> None:
    result = judge(linux_checks.CHECKS["patch-age"],
                   load_bundle(CASES / "linux" / "ubuntu-pending-within-window"))
    assert result.status is Status.Pass and result.confidence is Confidence.High
    assert "first seen 21 h ago" in result.observed


def test_linux_no_fail_on_an_old_upgrade_when_a_newer_history_log_is_unreadable() -> None:
    """The rotated log says 62 days, but history.log (the newest) could not be read."""
    bundle = load_bundle(CASES / "linux" / "debian-first-run-stale")
    assert judge(linux_checks.CHECKS["patch-age"], bundle).status is Status.Fail
    old = bundle.items["linux.apt-history"]
    assert isinstance(old, FileEvidence)
    rotated = with_items(bundle, {
        "linux.apt-history": FileEvidence("/var/log/apt/history.log", None, "permission"),
        "linux.apt-history.1": FileEvidence("/var/log/apt/history.log.1.gz", old.content)})
    result = judge(linux_checks.CHECKS["patch-age"], rotated)
    assert result.status is Status.Unknown
    assert "/var/log/apt/history.log: permission denied" in result.reason


# ----- Windows ---------------------------------------------------------------------------------


def _windows_pending(bundle: EvidenceBundle, *updates: dict[str, object],
                     searched: str = "2026-11-23T06:00:00Z") -> EvidenceBundle:
    item = bundle.items[windows_ids.UPDATE_PENDING]
    assert isinstance(item, CommandEvidence)
    payload = {"online": False, "lastSearchSuccess": searched, "pending": list(updates)}
    return with_items(bundle, {windows_ids.UPDATE_PENDING: replace(
        item, stdout=json.dumps(payload))})


UNDATED_KB = {"Title": "2026-11 Security Update for Windows 11 Version 24H2 (KB5070773)",
              "KB": ["5070773"], "Published": None, "BrowseOnly": False,
              "Categories": ["Security Updates"]}


def test_windows_an_undated_update_seen_when_the_memory_began_is_unknown_then_overdue() -> None:
    base = load_bundle(CASES / "windows" / "patched-yesterday")
    start = NOW - dt.timedelta(hours=1)
    bundle = with_items(_windows_pending(base, UNDATED_KB),
                        {FIRST_SEEN: memory(start, {"KB5070773": start})})
    check = windows_checks.CHECKS["patch-age"]
    result = judge(check, bundle)
    # Patched yesterday, but that says nothing about how long this one has waited.
    assert result.status is Status.Unknown, result.reason
    assert result.observed == "1 pending, age unknown"
    assert "KB5070773" in result.reason and "memory of pending updates began" in result.reason
    assert "installed 2026-11-22" in result.reason
    later = judge(check, bundle, NOW + dt.timedelta(days=3))
    assert later.status is Status.Fail
    assert "pending since at least 2026-11-23 (3 days" in later.reason
    # Seen after the memory began: its first sighting dates it, within the window.
    dated = with_items(bundle, {FIRST_SEEN: memory(NOW - dt.timedelta(days=30),
                                                   {"KB5070773": start})})
    assert judge(check, dated).status is Status.Pass


def test_windows_a_hotfix_date_still_fails_when_every_record_was_read() -> None:
    """The three hotfix-fallback fixtures are UNKNOWN only because Windows Update failed."""
    base = load_bundle(CASES / "windows" / "hotfix-fallback-german-old")
    history = base.items[windows_ids.UPDATE_HISTORY]
    assert isinstance(history, CommandEvidence)
    read = with_items(_windows_pending(base, searched="2026-10-01T06:00:00Z"), {
        windows_ids.UPDATE_HISTORY: replace(history, exit_code=0,
                                            stdout=json.dumps({"total": 0, "history": []}))})
    result = judge(windows_checks.CHECKS["patch-age"], read)
    assert result.status is Status.Fail and "patched 21 days ago" in result.observed
    assert "no recent update check" in result.reason
    unread = judge(windows_checks.CHECKS["patch-age"], base)
    assert unread.status is Status.Unknown and "0x8024001E" in unread.reason


def test_windows_an_unreadable_pending_list_is_unknown_and_says_why() -> None:
    base = load_bundle(CASES / "windows" / "pending-within-window")
    item = base.items[windows_ids.UPDATE_PENDING]
    assert isinstance(item, CommandEvidence)
    denied = with_items(base, {windows_ids.UPDATE_PENDING: replace(
        item, exit_code=1, stdout=json.dumps({"error": "System.UnauthorizedAccessException",
                                              "hresult": -2147024891,
                                              "message": "Access is denied."}))})
    result = judge(windows_checks.CHECKS["patch-age"], denied)
    assert result.status is Status.Unknown
    assert "whether an update is pending is not known" in result.reason
    assert "Windows Update offline search needs administrator rights" in result.reason


# ----- macOS -----------------------------------------------------------------------------------


def test_macos_an_update_seen_when_the_memory_began_is_not_within_the_window() -> None:
    base = load_bundle(CASES / "macos" / "patched-yesterday-xprotect-today")
    prefs = base.items[macos_ids.SU_PREFS]
    assert isinstance(prefs, FileEvidence) and prefs.content
    plist = plistlib.loads(prefs.content.encode())
    plist["RecommendedUpdates"] = [{"Display Name": "Safari", "Display Version": "26.1.1",
                                    "Identifier": "Safari26.1.1TahoeAuto"}]
    start = NOW - dt.timedelta(minutes=5)
    bundle = with_items(base, {
        macos_ids.SU_PREFS: replace(prefs, content=plistlib.dumps(plist).decode()),
        FIRST_SEEN: memory(start, {"Safari26.1.1TahoeAuto": start})})
    result = judge(macos_checks.CHECKS["patch-age"], bundle)
    assert result.status is Status.Unknown, result.reason
    assert "Safari 26.1.1" in result.reason and "first saw it" in result.reason
    later = judge(macos_checks.CHECKS["patch-age"], bundle, NOW + dt.timedelta(days=3))
    assert later.status is Status.Fail and "Safari 26.1.1 pending since at least" in later.reason
