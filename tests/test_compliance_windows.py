"""Windows checks judged on recorded evidence (tests/fixtures/compliance/<check>/windows/<case>/).

Each case holds evidence.json (a bundle in the format of app/compliance/model.py) and
expected.json ({"status", "observed_contains", "reason_contains", optional "confidence"}).
Every case is judged with a default Policy at a fixed time, on this (Linux) machine. What every
OS shares (the table, case counts, missing or denied evidence, garbage, determinism) is checked by
the contract in tests/test_collector_contract.py.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from strongroom.app.compliance import windows as windows_checks
from strongroom.app.compliance.model import (
    OS,
    CheckResult,
    CommandEvidence,
    EvidenceBundle,
    Policy,
    Status,
)
from strongroom.app.compliance.windows import evidence_ids as windows_ids

from helpers.compliance_cases import FIXTURES, NOW, cases, load_bundle


def judge(folder: Path, policy: Policy | None = None, now: dt.datetime = NOW) -> CheckResult:
    return windows_checks.CHECKS[folder.parent.parent.name](load_bundle(folder),
                                                            policy or Policy(), now)


@pytest.mark.parametrize("expected_path", cases("windows"),
                         ids=lambda p: f"{p.parent.parent.parent.name}/{p.parent.name}")
def test_fixture(expected_path: Path) -> None:
    result = judge(expected_path.parent)
    expected = json.loads(expected_path.read_text())
    shown = f"{result.status.value} | {result.observed} | {result.reason}"
    assert result.check_id == expected_path.parent.parent.parent.name
    assert result.status.value == expected["status"], shown
    assert expected.get("observed_contains", "") in result.observed, shown
    assert expected.get("reason_contains", "") in result.reason, shown
    if "confidence" in expected:
        assert result.confidence.value == expected["confidence"], shown
    assert result.method, "every result names its method"
    if result.status is Status.Fail:
        assert result.remediation and result.evidence_excerpt, shown
    if result.status is Status.Pass:
        assert result.remediation == ""


def test_stricter_screen_lock_policy() -> None:
    folder = FIXTURES / "screen-lock" / "windows" / "screensaver-reg-sz-timeout"
    result = judge(folder, Policy(max_screen_lock_minutes=5))
    assert result.status is Status.Fail and "policy allows 5 min" in result.reason


def test_screen_saver_without_password_counts_when_policy_allows() -> None:
    folder = FIXTURES / "screen-lock" / "windows" / "screensaver-not-secure-sleep-30"
    assert judge(folder, Policy(require_password_on_wake=False)).status is Status.Pass


def test_ambiguous_hotfix_date_that_decides_is_unknown() -> None:
    """"12/05/2026" is 5 Dec (1 day before) or 12 May: with no other record, nobody can say."""
    folder = FIXTURES / "patch-age" / "windows" / "hotfix-us-date-on-german-machine"
    bundle = load_bundle(folder)
    item = bundle.items[windows_ids.HOTFIX]
    assert isinstance(item, CommandEvidence)
    payload = json.loads(item.stdout)
    payload["hotfixes"][0]["InstalledOn"] = "12/05/2026"
    items = {**bundle.items, windows_ids.HOTFIX: CommandEvidence(
        item.argv, 0, json.dumps(payload))}
    result = windows_checks.CHECKS["patch-age"](
        EvidenceBundle(OS.Windows, "", items), Policy(), dt.datetime(2026, 12, 6, tzinfo=dt.UTC))
    assert result.status is Status.Unknown and "12/05/2026" in result.reason


def test_first_seen_memory_dates_an_undated_pending_update() -> None:
    from strongroom.app.compliance.model import FileEvidence

    folder = FIXTURES / "patch-age" / "windows" / "pending-within-window"
    bundle = load_bundle(folder)
    assert windows_checks.pending_security_updates(bundle) == ["KB5070773"]
    item = bundle.items[windows_ids.UPDATE_PENDING]
    assert isinstance(item, CommandEvidence)
    payload = json.loads(item.stdout)
    payload["pending"][0]["Published"] = None
    items = {**bundle.items,
             windows_ids.UPDATE_PENDING: CommandEvidence(item.argv, 0, json.dumps(payload)),
             "state.first-seen": FileEvidence("first-seen.json",
                                              '{"KB5070773": "2026-11-10T09:00:00Z"}')}
    result = windows_checks.CHECKS["patch-age"](EvidenceBundle(OS.Windows, "", items),
                                                Policy(), NOW)
    assert result.status is Status.Fail and "available since 2026-11-10" in result.reason


def test_powershell_five_one_wraps_arrays() -> None:
    """Windows PowerShell 5.1 may print an array property as {"value": [...], "Count": n}."""
    folder = FIXTURES / "firewall" / "windows" / "public-profile-off"
    bundle = load_bundle(folder)
    item = bundle.items[windows_ids.FW_PROFILES]
    assert isinstance(item, CommandEvidence)
    profiles = json.loads(item.stdout)["profiles"]
    wrapped = "\ufeff" + json.dumps({"profiles": {"value": profiles, "Count": len(profiles)}})
    items = {**bundle.items, windows_ids.FW_PROFILES: CommandEvidence(item.argv, 0, wrapped)}
    result = windows_checks.CHECKS["firewall"](EvidenceBundle(OS.Windows, "", items), Policy(), NOW)
    assert result.status is Status.Fail and "Public" in result.observed


# --- the collector -----------------------------------------------------------------------------

def test_collector_imports_and_collects_here_without_raising() -> None:
    from strongroom.backends.compliance.windows import WindowsCollector

    collector = WindowsCollector()
    assert collector.os is OS.Windows
    bundle = collector.collect()
    assert bundle.os is OS.Windows and bundle.items
    if not collector.available().ok:
        assert bundle.items[windows_ids.BITLOCKER_SHELL].error == "missing"
        assert bundle.items["windows.secureboot-state"].error == "not-windows"
    for check_id, check in windows_checks.CHECKS.items():
        assert check(bundle, Policy(), NOW).status is not Status.Fail, check_id


def test_collector_only_gathers_what_is_asked() -> None:
    from strongroom.backends.compliance.windows import WindowsCollector

    bundle = WindowsCollector().collect({"secure-boot"})
    assert set(bundle.items) == {"windows.secureboot-state", "windows.firmware-type"}


def test_collector_runs_tools_by_full_path_and_scripts_survive_quoting() -> None:
    from strongroom.backends.compliance import windows

    assert windows.tool("net.exe").lower().endswith(r"\system32\net.exe")
    for evidence_id, script in windows.SCRIPTS.items():
        assert '"' not in script, f"{evidence_id}: double quotes would break CreateProcess quoting"
        assert "ConvertTo-Json" in script
    item = windows.powershell(windows_ids.TPM_GET)
    assert item.argv[0].endswith("powershell.exe") and item.argv[-2] == "-Command"
    assert item.argv[-1].startswith("$ErrorActionPreference = 'Stop'")


def test_sysnative_from_a_32_bit_python(monkeypatch: pytest.MonkeyPatch) -> None:
    from strongroom.backends.compliance import windows

    monkeypatch.setenv("SYSTEMROOT", r"D:\Win")
    monkeypatch.setenv("PROCESSOR_ARCHITEW6432", "AMD64")
    assert windows.system32() == r"D:\Win\Sysnative"
    monkeypatch.delenv("PROCESSOR_ARCHITEW6432")
    assert windows.system32() == r"D:\Win\System32"
