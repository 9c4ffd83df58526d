"""Linux compliance: every fixture replayed through the --evidence load path, the policy, the
exceptions, exit codes, evidence dump/load with redaction, the CLI end to end, and the real
collector on this machine. What every OS shares (the table, case counts, missing or denied
evidence, garbage, determinism) is checked by the contract in tests/test_collector_contract.py."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

import pytest

from strongroom.app.compliance import evidence_io, first_seen, registry
from strongroom.app.compliance import linux as linux_checks
from strongroom.app.compliance.linux import evidence_ids as linux_ids
from strongroom.app.compliance.model import (
    OS,
    CheckResult,
    CommandEvidence,
    Confidence,
    EvidenceBundle,
    FileEvidence,
    Policy,
    Status,
)
from strongroom.app.compliance.policy import describe, load_policy, parse_policy, policy_to_json
from strongroom.app.errors import IntegrityError, UsageError

from conftest import PASSPHRASE, make_vault, run_cli
from helpers.compliance_cases import FIXTURES, NOW, cases

LINUX_CASES = [p.parent for p in cases("linux")]


def _expected(case: Path) -> dict:
    return json.loads((case / "expected.json").read_text())


def _policy(exp: dict) -> Policy:
    lines = [f"{k} = {json.dumps(v)}" for k, v in exp.get("policy", {}).items()]
    return parse_policy("\n".join(lines), "fixture policy")


def _judge_case(case: Path, bundle: EvidenceBundle | None = None) -> CheckResult:
    exp = _expected(case)
    bundle = bundle or evidence_io.load_bundle(case)
    now = dt.datetime.fromisoformat(exp["now"].replace("Z", "+00:00"))
    [result] = registry.judge(bundle, _policy(exp), now, only=[exp["check"]])
    return result


def _well_formed(r: CheckResult) -> None:
    assert r.check_id in registry.CHECK_IDS
    assert r.title == registry.TITLES[r.check_id]
    assert isinstance(r.status, Status) and isinstance(r.confidence, Confidence)
    assert r.observed and r.reason and r.method
    assert "\n" not in r.reason, "the reason is one line"
    if r.status in (Status.Fail,):
        assert r.remediation
    json.dumps(r.to_json())


# ----- fixtures --------------------------------------------------------------------------------


@pytest.mark.parametrize("case", LINUX_CASES, ids=lambda p: f"{p.parts[-3]}/{p.name}")
def test_fixture(case: Path) -> None:
    exp = _expected(case)
    assert case.parts[-3] == exp["check"]
    result = _judge_case(case)
    _well_formed(result)
    assert result.status.value == exp["status"], (result.observed, result.reason)
    for text in exp["observed"]:
        assert text in result.observed
    for text in exp["reason"]:
        assert text in result.reason
    if "confidence" in exp:
        assert result.confidence.value == exp["confidence"]
    if result.status is not Status.Unknown:
        assert result.evidence_excerpt, "a decided result quotes its evidence"


@pytest.mark.parametrize("case", LINUX_CASES, ids=lambda p: f"{p.parts[-3]}/{p.name}")
def test_fixture_judges_the_same_after_redaction(case: Path) -> None:
    bundle = evidence_io.load_bundle(case)
    redacted = evidence_io.redact(bundle, users=["alice"], host="alice-laptop")
    assert _judge_case(case, redacted).status == _judge_case(case).status


def test_missing_or_unrecognised_evidence_is_never_fail() -> None:
    empty = EvidenceBundle(OS.Linux, "2026-11-23T12:00:00Z", {})
    for r in registry.judge(empty, Policy(), NOW):
        _well_formed(r)
        assert r.status is Status.Unknown, r
    garbage = {k: CommandEvidence(("x",), 0, stdout="\x00garbage\n{", stderr="") for k in (
        linux_ids.FINDMNT_ROOT, linux_ids.LSBLK, linux_ids.GS_IDLE,
        linux_ids.APT_UPGRADABLE, linux_ids.SYSTEMD_UNITS)}
    bundle = EvidenceBundle(OS.Linux, "", garbage)
    for r in registry.judge(bundle, Policy(), NOW):
        assert r.status is not Status.Fail or r.check_id in ("guest-account",), r


# ----- policy ----------------------------------------------------------------------------------


def test_policy_defaults_and_a_full_file(tmp_path: Path) -> None:
    assert load_policy(None) == (Policy(), "defaults")
    path = tmp_path / "policy.toml"
    path.write_text('max_patch_age_days = 7\nmax_screen_lock_minutes = 5\n'
                    'require_password_on_wake = false\nrequired = ["disk-encryption", "tpm"]\n')
    policy, source = load_policy(path)
    assert policy == Policy(7, 5, False, ("disk-encryption", "tpm"))
    assert source == str(path)
    assert policy_to_json(policy, source)["required"] == ["disk-encryption", "tpm"]
    assert "within 7 d" in describe(policy, source)
    assert "all checks required" in describe(Policy(), "defaults")


@pytest.mark.parametrize(("text", "message"), [
    ("max_patch_age_days = 'two'", "whole number"),
    ("max_patch_age_days = true", "whole number"),
    ("max_screen_lock_minutes = 0", "between 1 and"),
    ("require_password_on_wake = 1", "true or false"),
    ("required = ['disk-encryption', 'bogus']", "unknown check 'bogus'"),
    ("required = 'tpm'", "list of check ids"),
    ("max_patch_age = 3", "unknown key 'max_patch_age'"),
    ("max_patch_age_days = ", "not valid TOML"),
])
def test_bad_policy_is_one_usage_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "p.toml"
    path.write_text(text + "\n")
    with pytest.raises(UsageError, match=message) as info:
        load_policy(path)
    assert "\n" not in str(info.value) and str(path) in str(info.value)


def test_missing_policy_file(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="does not exist"):
        load_policy(tmp_path / "nope.toml")


# ----- registry: exceptions, exit codes, tables ------------------------------------------------


def _result(check_id: str, status: Status) -> CheckResult:
    return CheckResult(check_id, registry.TITLES[check_id], status, "x", "y", "", "fix",
                       Confidence.High, "m")


def test_exit_codes_over_required_checks() -> None:
    policy = Policy(required=("disk-encryption", "tpm"))
    ok = [_result("disk-encryption", Status.Pass), _result("tpm", Status.NotApplicable)]
    assert registry.exit_code(ok, policy) == 0
    assert registry.exit_code([*ok, _result("firewall", Status.Fail)], policy) == 0
    assert registry.exit_code([_result("tpm", Status.Unknown), *ok[:1]], policy) == 5
    assert registry.exit_code([_result("tpm", Status.Unknown),
                               _result("disk-encryption", Status.Fail)], policy) == 1
    assert registry.exit_code([_result("tpm", Status.Excepted), *ok[:1]], policy) == 0


def test_an_unexpired_exception_makes_fail_excepted() -> None:
    case = FIXTURES / "tpm" / "linux" / "vm-without-tpm"
    bundle = evidence_io.load_bundle(case)
    exc = registry.ComplianceException("tpm", "old hardware, replaced in Q1", dt.date(2026, 12, 31))
    [r] = registry.judge(bundle, Policy(), NOW, only=["tpm"], exceptions=[exc])
    assert r.status is Status.Excepted
    assert "until 2026-12-31" in r.reason and "old hardware" in r.reason and "FAIL" in r.reason
    assert r.exception is not None and r.exception["until"] == "2026-12-31"
    assert r.exception["original_status"] == "FAIL"
    # The last day counts; the day after it no longer applies.
    [same_day] = registry.judge(bundle, Policy(), dt.datetime(2026, 12, 31, 23, 0, tzinfo=dt.UTC),
                                only=["tpm"], exceptions=[exc])
    assert same_day.status is Status.Excepted
    [expired] = registry.judge(bundle, Policy(), dt.datetime(2027, 1, 1, 0, 1, tzinfo=dt.UTC),
                               only=["tpm"], exceptions=[exc])
    assert expired.status is Status.Fail


def test_an_exception_does_not_hide_a_pass() -> None:
    bundle = evidence_io.load_bundle(FIXTURES / "tpm" / "linux" / "tpm2")
    exc = registry.ComplianceException("tpm", "r", dt.date(2099, 1, 1))
    [r] = registry.judge(bundle, Policy(), NOW, only=["tpm"], exceptions=[exc])
    assert r.status is Status.Pass and r.exception and r.exception["applied"] == "no"


def test_a_missing_os_table_and_a_crashing_check_are_unknown(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_module(os_: OS) -> None:
        raise ModuleNotFoundError("strongroom.app.compliance.macos")

    monkeypatch.setattr(registry, "_TABLES", {})
    monkeypatch.setattr(registry, "_module", no_module)
    results = registry.judge(EvidenceBundle(OS.MacOS, "", {}), Policy(), NOW)
    assert [r.status for r in results] == [Status.Unknown] * len(registry.CHECK_IDS)
    assert all("no checks for this OS yet" in r.reason for r in results)
    monkeypatch.undo()

    def boom(bundle: EvidenceBundle, policy: Policy, now: dt.datetime) -> CheckResult:
        raise KeyError("bug")

    monkeypatch.setitem(linux_checks.CHECKS, "tpm", linux_checks.LinuxCheck("tpm", boom))
    [r] = registry.judge(EvidenceBundle(OS.Linux, "", {}), Policy(), NOW, only=["tpm"])
    assert r.status is Status.Unknown and "KeyError" in r.reason


def test_parse_only() -> None:
    assert registry.parse_only(None) is None
    assert registry.parse_only("tpm, firewall,tpm") == ["tpm", "firewall"]
    with pytest.raises(UsageError, match="unknown check 'bitlocker'"):
        registry.parse_only("tpm,bitlocker")
    with pytest.raises(UsageError):
        registry.parse_only(" , ")


# ----- first-seen memory -----------------------------------------------------------------------


def test_first_seen_keeps_old_times_and_forgets_installed(tmp_path: Path) -> None:
    t0 = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    first = first_seen.merge({}, ["a 1", "b 2"], t0)
    assert first == {"a 1": "2026-11-01T00:00:00Z", "b 2": "2026-11-01T00:00:00Z",
                     first_seen.SINCE_KEY: "2026-11-01T00:00:00Z"}
    later = first_seen.merge(first, ["b 2", "c 3"], t0 + dt.timedelta(days=3))
    assert later["b 2"] == "2026-11-01T00:00:00Z" and later["c 3"] == "2026-11-04T00:00:00Z"
    assert "a 1" not in later and later[first_seen.SINCE_KEY] == "2026-11-01T00:00:00Z"
    path = tmp_path / "state" / first_seen.STATE_FILE
    assert first_seen.save_file(later, path)
    assert first_seen.load_file(path) == later
    path.write_text("{not json")
    assert first_seen.load_file(path) == {}


def test_a_later_first_sighting_is_judged_from_its_own_time() -> None:
    case = FIXTURES / "patch-age" / "linux" / "debian-first-run-stale"
    bundle = evidence_io.load_bundle(case)
    # Five days later, still pending: now over the limit with full confidence.
    [r] = registry.judge(bundle, Policy(), NOW + dt.timedelta(days=5), only=["patch-age"])
    assert r.status is Status.Fail and r.confidence is Confidence.High
    # With a week's limit and the memory a day old, nothing is provably overdue yet.
    [r] = registry.judge(bundle, Policy(max_patch_age_days=7), NOW + dt.timedelta(days=1),
                         only=["patch-age"])
    assert r.status is Status.Fail and r.confidence is Confidence.Medium


# ----- evidence dump and load ------------------------------------------------------------------


def test_dump_and_load_round_trip_with_redaction(tmp_path: Path) -> None:
    bundle = EvidenceBundle(OS.Linux, "2026-11-23T12:00:00Z", {
        "linux.apt-history": FileEvidence("/var/log/apt/history.log",
                                          "Start-Date: 2026-11-22  10:00:00\nRequested-By: "
                                          "alice (1000)\nCommandline: apt install "
                                          "/home/alice/x.deb\nEnd-Date: 2026-11-22  10:01:00\n"),
        "linux.kscreenlockerrc": FileEvidence("/home/alice/.config/kscreenlockerrc", None,
                                              "missing"),
        "linux.lsblk": CommandEvidence(("lsblk", "-J"), 0, stdout=(
            '{"blockdevices": [{"name": "sda", "serial": "S4EWNX0R123456", '
            '"uuid": "5f3c2a1e-7b8d-4e6f-9a0b-1c2d3e4f5a6b"}]}'), stderr="", duration=0.02),
        "linux.sysfs.dm-0.dm-uuid": FileEvidence(
            "/sys/class/block/dm-0/dm/uuid",
            "CRYPT-LUKS2-5f3c2a1e7b8d4e6f9a0b1c2d3e4f5a6b-luks-x\n"),
        "linux.hostname": CommandEvidence(("hostname",), 0, "alice-laptop\n"),
    }, host="alice-laptop")
    out = evidence_io.dump_bundle(evidence_io.redact(bundle, ["alice"], "alice-laptop"),
                                  tmp_path / "dump", redacted=False)
    assert out == tmp_path / "dump" / "evidence.json"
    text = out.read_text()
    for secret in ("alice", "S4EWNX0R123456", "5f3c2a1e", "alice-laptop"):
        assert secret not in text
    loaded = evidence_io.load_bundle(tmp_path / "dump")
    assert loaded.host == "<host>"
    history = loaded.items["linux.apt-history"]
    assert isinstance(history, FileEvidence) and history.content is not None
    assert "Requested-By: <user> (1000)" in history.content
    assert "/home/<user>/x.deb" in history.content
    assert loaded.items["linux.kscreenlockerrc"] == FileEvidence(
        "/home/<user>/.config/kscreenlockerrc", None, "missing")
    uuid = loaded.items["linux.sysfs.dm-0.dm-uuid"]
    assert isinstance(uuid, FileEvidence) and uuid.content is not None
    assert uuid.content.startswith("CRYPT-LUKS2-" + "0" * 32)
    lsblk = loaded.items["linux.lsblk"]
    assert isinstance(lsblk, CommandEvidence) and lsblk.duration == 0.02
    assert json.loads(lsblk.stdout)["blockdevices"][0]["serial"] == "<serial>"
    # Unredacted, the bundle comes back exactly.
    evidence_io.dump_bundle(bundle, tmp_path / "raw", redacted=False)
    assert evidence_io.load_bundle(tmp_path / "raw") == bundle


def test_bad_evidence_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="does not exist"):
        evidence_io.load_bundle(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError, match=r"no evidence\.json"):
        evidence_io.load_bundle(tmp_path / "empty")
    cases = {
        "notjson": "{oops",
        "format": json.dumps({"format": 99, "os": "linux", "items": {}}),
        "os": json.dumps({"format": 1, "os": "beos", "items": {}}),
        "items": json.dumps({"format": 1, "os": "linux", "items": []}),
        "kind": json.dumps({"format": 1, "os": "linux", "items": {"a": {"kind": "x"}}}),
        "field": json.dumps({"format": 1, "os": "linux", "items": {"a": {"kind": "command"}}}),
    }
    for name, text in cases.items():
        folder = tmp_path / name
        folder.mkdir()
        (folder / "evidence.json").write_text(text)
        with pytest.raises(IntegrityError) as info:
            evidence_io.load_bundle(folder)
        assert info.value.exit_code == 3 and "\n" not in str(info.value)


# ----- the real collector on this machine ------------------------------------------------------


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux only")
def test_the_real_linux_collector_gives_a_well_formed_result_for_every_check() -> None:
    from strongroom.backends.compliance import collector
    from strongroom.backends.compliance.linux import LinuxCollector

    c = collector()
    assert isinstance(c, LinuxCollector) and c.available().ok
    bundle = c.collect()
    assert bundle.os is OS.Linux and bundle.host
    results = registry.judge(bundle, Policy(), dt.datetime.now(dt.UTC))
    assert [r.check_id for r in results] == list(registry.CHECK_IDS)
    for r in results:
        _well_formed(r)
    # Every id the checks read is gathered (directory-style prefixes aside).
    for check_id, keys in linux_ids.EVIDENCE.items():
        for key in keys:
            if key.endswith((".", ":")) or key.startswith(("linux.container.", "state.")):
                continue
            if key in (linux_ids.RPM_INSTALLTIME, linux_ids.DNF_SECURITY,
                       linux_ids.APT_HISTORY, linux_ids.APT_SECURITY_SOURCES,
                       linux_ids.APT_UPGRADABLE, linux_ids.ROOT_UEVENT):
                continue  # per distribution family, or only when the root is a block device
            assert key in bundle.items, (check_id, key)
    # The round trip through a dump judges the same.
    again = evidence_io.bundle_from_json(evidence_io.bundle_to_json(bundle))
    assert [r.status for r in registry.judge(again, Policy(), dt.datetime.now(dt.UTC))] == \
        [r.status for r in results]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux only")
def test_only_collects_what_the_named_checks_need() -> None:
    from strongroom.backends.compliance.linux import LinuxCollector

    bundle = LinuxCollector().collect({"tpm"})
    assert linux_ids.TPM_CLASS in bundle.items
    assert linux_ids.GS_IDLE not in bundle.items
    assert linux_ids.APT_HISTORY not in bundle.items


def test_other_platforms_choose_without_raising_until_used() -> None:
    from strongroom.backends.compliance import UnsupportedCollector, collector

    stub = collector("sunos5")
    assert isinstance(stub, UnsupportedCollector) and not stub.available().ok
    with pytest.raises(NotImplementedError, match="sunos5"):
        stub.collect()
    for platform in ("darwin", "win32"):
        c = collector(platform)  # the other OS's collector or a stub: never an import error
        assert hasattr(c, "collect")


def test_security_sources_keep_only_security_suites() -> None:
    from strongroom.backends.compliance.linux import security_sources

    one_line, deb822 = security_sources([
        ("/etc/apt/sources.list",
         "deb http://deb.debian.org/debian bookworm main\n"
         "deb [arch=amd64 signed-by=/k.gpg] http://security.debian.org/debian-security "
         "bookworm-security main contrib\n# deb http://x bookworm-security main\n"
         "deb-src http://security.debian.org/debian-security bookworm-security main\n"),
        ("/etc/apt/sources.list.d/ubuntu.sources",
         "Types: deb\nURIs: http://archive.ubuntu.com/ubuntu/\nSuites: noble noble-updates "
         "noble-backports\nComponents: main\n\nTypes: deb deb-src\nURIs: "
         "http://security.ubuntu.com/ubuntu/\nSuites: noble-security\nComponents: main "
         "universe\nSigned-By: /usr/share/keyrings/ubuntu-archive-keyring.gpg\n\n"
         "Types: deb\nURIs: http://x/\nSuites: noble-security\nEnabled: no\n"),
    ])
    assert one_line == ("deb [arch=amd64 signed-by=/k.gpg] http://security.debian.org/"
                        "debian-security bookworm-security main contrib")
    assert deb822 == ("Types: deb\nURIs: http://security.ubuntu.com/ubuntu/\nSuites: "
                      "noble-security\nComponents: main universe\nSigned-By: "
                      "/usr/share/keyrings/ubuntu-archive-keyring.gpg")


# ----- the CLI end to end ----------------------------------------------------------------------


@pytest.fixture
def state_env(tmp_path: Path) -> dict[str, str]:
    return {"STRONGROOM_STATE_DIR": str(tmp_path / "state"),
            "STRONGROOM_VAULT": str(tmp_path / "no-vault")}


def _report(out: bytes) -> dict:
    report = json.loads(out)
    for key in ("host", "os", "time", "policy", "strongroom_version", "checks", "exit_code",
                "summary", "duration"):
        assert key in report
    for check in report["checks"]:
        for key in ("check_id", "status", "observed", "reason", "remediation",
                    "evidence_excerpt", "method", "duration", "confidence", "required"):
            assert key in check
    return report


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux only")
def test_cli_check_json_without_a_vault(state_env: dict[str, str], tmp_path: Path) -> None:
    r = run_cli("check", "--json", env=state_env)
    assert r.code in (0, 1, 5), r.err
    report = _report(r.out)
    assert report["exit_code"] == r.code and report["os"] == "linux"
    assert [c["check_id"] for c in report["checks"]] == list(registry.CHECK_IDS)
    assert report["policy"]["source"] == "defaults" and not report["exceptions_applied"]
    assert not (tmp_path / "no-vault").exists()
    memory = tmp_path / "state" / first_seen.STATE_FILE
    patch = next(c for c in report["checks"] if c["check_id"] == "patch-age")
    if "security update(s) pending" in patch["observed"]:  # then there was a list to remember
        assert first_seen.SINCE_KEY in json.loads(memory.read_text())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux only")
def test_cli_only_and_table(state_env: dict[str, str]) -> None:
    r = run_cli("check", "--only", "tpm,firewall", "--json", env=state_env)
    assert [c["check_id"] for c in _report(r.out)["checks"]] == ["tpm", "firewall"]
    r = run_cli("check", "--only", "tpm", env=state_env)
    assert r.code in (0, 1, 5)
    assert "Policy (defaults)" in r.text and "tpm" in r.text and "Result:" in r.text


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux only")
def test_cli_dump_then_replay_judges_the_same(state_env: dict[str, str], tmp_path: Path) -> None:
    dump = tmp_path / "dump"
    first = run_cli("check", "--json", "--dump-evidence", str(dump), env=state_env)
    text = (dump / "evidence.json").read_text()
    import getpass
    import socket

    user = getpass.getuser()
    if user not in ("root",) and len(user) > 2:
        assert f"/{user}/" not in text
    assert f'"{socket.gethostname()}"' not in text
    again = run_cli("check", "--json", "--evidence", str(dump), env=state_env)
    a, b = _report(first.out), _report(again.out)
    assert b["source"] == "evidence" and again.code == first.code
    assert [c["status"] for c in a["checks"]] == [c["status"] for c in b["checks"]]


def test_cli_replays_a_fixture_under_a_new_policy(state_env: dict[str, str],
                                                  tmp_path: Path) -> None:
    case = FIXTURES / "screen-lock" / "linux" / "gnome-20min-too-long"
    r = run_cli("check", "--json", "--evidence", str(case), "--only", "screen-lock",
                env=state_env)
    assert r.code == 1 and _report(r.out)["checks"][0]["status"] == "FAIL"
    policy = tmp_path / "lenient.toml"
    policy.write_text("max_screen_lock_minutes = 30\n")
    r = run_cli("check", "--json", "--evidence", str(case), "--only", "screen-lock",
                "--policy", str(policy), env=state_env)
    report = _report(r.out)
    assert r.code == 0 and report["checks"][0]["status"] == "PASS"
    assert report["policy"]["max_screen_lock_minutes"] == 30
    # A required UNKNOWN with no FAIL exits 5; an optional FAIL does not count.
    unknown = FIXTURES / "tpm" / "linux" / "container"
    assert run_cli("check", "--evidence", str(unknown), "--only", "tpm", env=state_env).code == 5
    policy.write_text('required = ["disk-encryption"]\n')
    r = run_cli("check", "--evidence", str(case), "--only", "screen-lock", "--policy",
                str(policy), env=state_env)
    assert r.code == 0 and "FAIL (optional)" in r.text


@pytest.mark.parametrize(("args", "code", "message"), [
    (["--only", "bogus"], 2, "unknown check 'bogus'"),
    (["--policy", "/nonexistent/p.toml"], 2, "does not exist"),
    (["--evidence", "/nonexistent/dir"], 2, "does not exist"),
])
def test_cli_usage_errors(state_env: dict[str, str], args: list[str], code: int,
                          message: str) -> None:
    r = run_cli("check", *args, env=state_env)
    assert r.code == code and message in r.err and r.err.count("\n") == 1


def test_cli_corrupt_evidence_is_exit_3(state_env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "evidence.json").write_text('{"format": 1, "os": "linux", "items": 3}')
    r = run_cli("check", "--evidence", str(tmp_path / "bad"), env=state_env)
    assert r.code == 3 and "items" in r.err and r.err.count("\n") == 1


# ----- with a vault ----------------------------------------------------------------------------


def test_cli_store_exceptions_and_audit(tmp_path: Path) -> None:
    vault_dir = tmp_path / "vault"
    make_vault(vault_dir).lock()
    env = {"STRONGROOM_STATE_DIR": str(tmp_path / "state")}
    case = FIXTURES / "tpm" / "linux" / "vm-without-tpm"
    r = run_cli("check", "exception", "add", "tpm", "--reason", "VM fleet, no vTPM until Q2",
                "--until", "2099-06-30", "--json", vault=vault_dir, passphrases=[PASSPHRASE],
                env=env)
    assert r.code == 0, r.err
    assert json.loads(r.out)["until"] == "2099-06-30"
    r = run_cli("check", "exception", "add", "tpm", "--reason", "x", "--until", "2001-01-01",
                vault=vault_dir, passphrases=[PASSPHRASE], env=env)
    assert r.code == 2 and "in the past" in r.err
    r = run_cli("check", "exception", "add", "nope", "--reason", "x", "--until", "2099-01-01",
                vault=vault_dir, passphrases=[PASSPHRASE], env=env)
    assert r.code == 2 and "unknown check" in r.err

    r = run_cli("check", "--store", "--json", "--evidence", str(case), "--only", "tpm",
                vault=vault_dir, passphrases=[PASSPHRASE], env=env)
    report = _report(r.out)
    assert r.code == 0, r.err
    [tpm] = report["checks"]
    assert tpm["status"] == "EXCEPTED" and "VM fleet" in tpm["reason"]
    assert tpm["exception"]["until"] == "2099-06-30" and report["exceptions_applied"]
    assert report["stored_run"] == 1

    r = run_cli("check", "exception", "list", "--json", vault=vault_dir,
                passphrases=[PASSPHRASE], env=env)
    assert [e["check_id"] for e in json.loads(r.out)] == ["tpm"]
    r = run_cli("check", "exception", "rm", "tpm", vault=vault_dir, passphrases=[PASSPHRASE],
                env=env)
    assert r.code == 0
    r = run_cli("check", "exception", "rm", "tpm", vault=vault_dir, passphrases=[PASSPHRASE],
                env=env)
    assert r.code == 1 and "no exception" in r.err

    r = run_cli("audit", "show", "--json", vault=vault_dir, passphrases=[PASSPHRASE], env=env)
    events = json.loads(r.out)
    actions = [e["action"] for e in events]
    assert "compliance.exception.add" in actions and "compliance.exception.remove" in actions
    check = next(e for e in events if e["action"] == "compliance.check")
    assert check["details"]["EXCEPTED"] == 1 and check["details"]["exit_code"] == 0
    r = run_cli("audit", "verify", vault=vault_dir, passphrases=[PASSPHRASE], env=env)
    assert r.code == 0, r.err


def test_store_without_a_vault_is_a_clear_error(tmp_path: Path) -> None:
    case = FIXTURES / "tpm" / "linux" / "tpm2"
    r = run_cli("check", "--store", "--evidence", str(case), vault=tmp_path / "none",
                passphrases=[PASSPHRASE])
    assert r.code == 1 and "no vault" in r.err


def test_stored_runs_and_first_seen_in_the_vault(vault, tmp_path: Path) -> None:
    from strongroom.app.compliance import storage

    bundle = evidence_io.load_bundle(FIXTURES / "patch-age" / "linux" / "ubuntu-pending-within-"
                                                             "window")
    results = registry.judge(bundle, Policy(), NOW)
    run = storage.store_run(vault, bundle, results, policy=policy_to_json(Policy(), "defaults"),
                            source="evidence", exit_code=registry.exit_code(results, Policy()))
    [stored] = storage.runs(vault)
    assert stored["id"] == run and len(stored["results"]) == len(registry.CHECK_IDS)
    storage.save_first_seen(vault, {"a 1": "2026-11-01T00:00:00Z"})
    assert storage.load_first_seen(vault) == {"a 1": "2026-11-01T00:00:00Z"}
    assert vault.audit_verify().ok


def test_a_replayed_bundle_keeps_its_memory_and_is_not_updated(state_env: dict[str, str],
                                                               tmp_path: Path) -> None:
    case = FIXTURES / "patch-age" / "linux" / "debian-failed-block-pending-overdue"
    r = run_cli("check", "--json", "--evidence", str(case), "--only", "patch-age", env=state_env)
    assert _report(r.out)["checks"][0]["status"] == "FAIL"
    assert not (tmp_path / "state").exists()

