"""macOS checks judged on recorded evidence (tests/fixtures/compliance/<check>/macos/<case>/).

Each case holds evidence.json (a bundle in the format of app/compliance/model.py) and
expected.json ({"status", "observed_contains", "reason_contains", optional "confidence"}).
Every case is judged with a default Policy at a fixed time, on this (Linux) machine. What every
OS shares (the table, case counts, missing or denied evidence, garbage, determinism) is checked by
the contract in tests/test_collector_contract.py.
"""

from __future__ import annotations

import datetime as dt
import json
import plistlib
from pathlib import Path

import pytest

from strongroom.app.compliance import macos as macos_checks
from strongroom.app.compliance.macos import evidence_ids as macos_ids
from strongroom.app.compliance.model import (
    OS,
    CheckResult,
    EvidenceBundle,
    FileEvidence,
    Policy,
    Status,
)
from strongroom.app.compliance.parsing import parse_short_date

from helpers.compliance_cases import FIXTURES, NOW, cases, load_bundle


def judge_case(expected_path: Path) -> tuple[CheckResult, dict[str, str]]:
    folder = expected_path.parent
    check_id = folder.parent.parent.name
    bundle = load_bundle(folder)
    result = macos_checks.CHECKS[check_id](bundle, Policy(), NOW)
    return result, json.loads(expected_path.read_text())


def assert_expected(result: CheckResult, expected: dict[str, str]) -> None:
    shown = f"{result.status.value} | {result.observed} | {result.reason}"
    assert result.status.value == expected["status"], shown
    assert expected.get("observed_contains", "") in result.observed, shown
    assert expected.get("reason_contains", "") in result.reason, shown
    if "confidence" in expected:
        assert result.confidence.value == expected["confidence"], shown
    assert result.method, "every result names its method"
    if result.status is Status.Fail:
        assert result.remediation, "a FAIL says what to do"
        assert result.evidence_excerpt, "a FAIL shows the deciding evidence"
    if result.status is Status.Pass:
        assert result.remediation == ""


@pytest.mark.parametrize("expected_path", cases("macos"),
                         ids=lambda p: f"{p.parent.parent.parent.name}/{p.parent.name}")
def test_fixture(expected_path: Path) -> None:
    result, expected = judge_case(expected_path)
    assert result.check_id == expected_path.parent.parent.parent.name
    assert_expected(result, expected)


def test_stricter_policy_turns_a_pass_into_a_fail() -> None:
    folder = FIXTURES / "screen-lock" / "macos" / "immediate-10-minutes"
    result = macos_checks.CHECKS["screen-lock"](load_bundle(folder),
                                                Policy(max_screen_lock_minutes=5), NOW)
    assert result.status is Status.Fail and "policy allows 5 min" in result.reason


def test_password_not_required_by_policy() -> None:
    folder = FIXTURES / "screen-lock" / "macos" / "screenlock-off"
    result = macos_checks.CHECKS["screen-lock"](load_bundle(folder),
                                                Policy(require_password_on_wake=False), NOW)
    assert result.status is Status.Pass


def test_patch_age_moves_with_now() -> None:
    folder = FIXTURES / "patch-age" / "macos" / "patched-yesterday-xprotect-today"
    later = NOW + dt.timedelta(days=10)
    result = macos_checks.CHECKS["patch-age"](load_bundle(folder), Policy(), later)
    # Ten days on, the last OS patch is old, but the last update check (23 Nov) is stale too.
    assert result.status is Status.Fail and "11 days ago" in result.observed


def test_binary_plist_is_read_as_hex() -> None:
    prefs = {"AutomaticallyInstallMacOSUpdates": False}
    item = FileEvidence("/Library/Preferences/com.apple.SoftwareUpdate.plist",
                        plistlib.dumps(prefs, fmt=plistlib.FMT_BINARY).hex())
    no_profile = FileEvidence("/Library/Managed Preferences/com.apple.SoftwareUpdate.plist",
                              None, "missing")
    bundle = EvidenceBundle(OS.MacOS, "", {macos_ids.SU_PREFS: item,
                                           macos_ids.SU_MANAGED: no_profile})
    result = macos_checks.CHECKS["auto-updates"](bundle, Policy(), NOW)
    assert result.status is Status.Fail
    # A profile would override the local value: one that cannot be read leaves it open.
    denied = FileEvidence(no_profile.path, None, "permission")
    bundle = EvidenceBundle(OS.MacOS, "", {macos_ids.SU_PREFS: item, macos_ids.SU_MANAGED: denied})
    result = macos_checks.CHECKS["auto-updates"](bundle, Policy(), NOW)
    assert result.status is Status.Unknown
    assert "com.apple.SoftwareUpdate.plist: permission denied" in result.reason


def test_pending_security_updates_for_first_seen_memory() -> None:
    folder = FIXTURES / "patch-age" / "macos" / "config-data-recent-os-update-overdue"
    assert macos_checks.pending_security_updates(load_bundle(folder)) == [
        "MSU_UPDATE_25B78_patch_26.1_minor"]
    folder = FIXTURES / "patch-age" / "macos" / "major-upgrade-is-not-a-patch"
    assert macos_checks.pending_security_updates(load_bundle(folder)) == []
    assert macos_checks.pending_security_updates(EvidenceBundle(OS.MacOS, "", {})) is None


def test_short_date_helper() -> None:
    assert parse_short_date("23.11.2026", "dd.MM.yyyy") == [dt.date(2026, 11, 23)]
    assert parse_short_date("11/23/2026") == [dt.date(2026, 11, 23)]
    assert parse_short_date("3/4/2026") == [dt.date(2026, 3, 4), dt.date(2026, 4, 3)]
    assert parse_short_date("03/04/2026", "dd/MM/yyyy") == [dt.date(2026, 4, 3)]
    assert parse_short_date("2026-11-23") == [dt.date(2026, 11, 23)]
    assert parse_short_date("") == []


# --- the collector -----------------------------------------------------------------------------

def test_collector_imports_and_collects_here_without_raising() -> None:
    from strongroom.backends.compliance.macos import MacOSCollector

    collector = MacOSCollector()
    assert collector.os is OS.MacOS
    bundle = collector.collect()
    assert bundle.os is OS.MacOS and bundle.collected.endswith("Z")
    assert bundle.items, "evidence items even where the tools do not exist"
    if not Path("/usr/bin/fdesetup").exists():
        assert bundle.items[macos_ids.FDESETUP].error == "missing"
        assert collector.available().ok is False
    for check_id, check in macos_checks.CHECKS.items():
        assert check(bundle, Policy(), NOW).status is not Status.Fail, check_id


def test_collector_only_gathers_what_is_asked() -> None:
    from strongroom.backends.compliance.macos import MacOSCollector

    bundle = MacOSCollector().collect({"disk-encryption"})
    assert set(bundle.items) == {macos_ids.FDESETUP}
    assert MacOSCollector().collect({"tpm"}).items == {}


def test_collector_runs_per_user_commands_as_the_console_user(monkeypatch) -> None:
    from strongroom.backends.compliance import macos

    monkeypatch.setattr(macos.os, "geteuid", lambda: 0, raising=False)
    argv = macos.as_console_user(["/usr/sbin/sysadminctl", "-screenLock", "status"],
                                 (501, "alice"))
    assert argv[:6] == ["/bin/launchctl", "asuser", "501", "/usr/bin/sudo", "-u", "alice"]
    assert macos.as_console_user(["x"], (0, "root")) == ["x"]
    monkeypatch.setattr(macos.os, "geteuid", lambda: 501, raising=False)
    assert macos.as_console_user(["x"], (501, "alice")) == ["x"]


def test_collector_converts_binary_plists_to_xml(tmp_path: Path) -> None:
    from strongroom.backends.compliance.macos import read_plist

    path = tmp_path / "com.apple.loginwindow.plist"
    path.write_bytes(plistlib.dumps({"GuestEnabled": False}, fmt=plistlib.FMT_BINARY))
    item = read_plist(str(path))
    assert item.error is None and item.content and item.content.startswith("<?xml")
    assert plistlib.loads(item.content.encode()) == {"GuestEnabled": False}
    assert read_plist(str(tmp_path / "absent.plist")).error == "missing"
