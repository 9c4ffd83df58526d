"""``strongroom check --format``: osquery rows, OCSF findings and JUnit XML from real runs over
replayed evidence (recorded fixtures merged into one machine), the exit code in every format,
the usage errors, ``--output``, and docs/fleet.md and the osquery extension against the code."""

from __future__ import annotations

import ast
import json
import re
import xml.etree.ElementTree as ET  # nosec B405 - parses only XML this suite's runs wrote
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from strongroom.app.compliance import fleet_formats, junit_format, registry
from strongroom.app.compliance.model import OS, CheckResult, Confidence, Status

from conftest import PASSPHRASE, make_vault, run_cli
from helpers.compliance_cases import FIXTURES, NOW

ROOT = Path(__file__).parent.parent
DOC = ROOT / "docs" / "fleet.md"
EXTENSION = ROOT / "packaging" / "osquery" / "strongroom_checks_extension.py"

# One Linux machine made of recorded cases whose evidence does not overlap: two PASS, two FAIL,
# a PASS, and the checks with no evidence at all are UNKNOWN.
MIXED_CASES = ("disk-encryption/linux/ubuntu-luks-on-lvm", "screen-lock/linux/gnome-20min-too-long",
               "firewall/linux/ufw-installed-disabled", "guest-account/linux/no-guest-no-lightdm",
               "tpm/linux/tpm2")
MIXED_STATUS = {"disk-encryption": "PASS", "patch-age": "UNKNOWN", "screen-lock": "FAIL",
                "firewall": "FAIL", "guest-account": "PASS", "secure-boot": "UNKNOWN",
                "auto-updates": "UNKNOWN", "tpm": "PASS"}
# OCSF 1.3.0 compliance.status_id: 1 Pass, 2 Warning (no result for missing information), 3 Fail,
# 99 Other; severity_id 1 Informational, 2 Low, 3 Medium, 4 High.
OCSF_COMPLIANCE = {"PASS": 1, "UNKNOWN": 2, "FAIL": 3, "NOT_APPLICABLE": 99}
OCSF_SEVERITY_REQUIRED = {"PASS": 1, "UNKNOWN": 3, "FAIL": 4, "NOT_APPLICABLE": 1}


@pytest.fixture
def state_env(tmp_path: Path) -> dict[str, str]:
    return {"STRONGROOM_STATE_DIR": str(tmp_path / "state"),
            "STRONGROOM_VAULT": str(tmp_path / "no-vault")}


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    items: dict[str, object] = {}
    bundle: dict[str, object] = {}
    for case in MIXED_CASES:
        bundle = json.loads((FIXTURES / case / "evidence.json").read_text())
        for key, item in bundle["items"].items():
            assert items.setdefault(key, item) == item, f"{case} disagrees on {key}"
    folder = tmp_path_factory.mktemp("mixed")
    (folder / "evidence.json").write_text(json.dumps({**bundle, "items": items}))
    return folder


def _check(state_env: dict[str, str], evidence: Path, *args: str):
    return run_cli("check", "--evidence", str(evidence), *args, env=state_env)


def _baseline(state_env: dict[str, str], evidence: Path, *args: str) -> dict:
    r = _check(state_env, evidence, "--json", *args)
    report = json.loads(r.out)
    assert report["exit_code"] == r.code
    return report


def test_the_mixed_machine_is_what_the_fixtures_say(state_env: dict[str, str],
                                                     mixed: Path) -> None:
    report = _baseline(state_env, mixed)
    assert {c["check_id"]: c["status"] for c in report["checks"]} == MIXED_STATUS
    assert report["exit_code"] == 1


def test_json_is_format_json(state_env: dict[str, str], mixed: Path) -> None:
    def stable(out: bytes) -> dict:
        report = json.loads(out)
        for key in ("time", "duration"):
            report.pop(key)
        for check in report["checks"]:
            check.pop("duration")
        return report

    old = _check(state_env, mixed, "--json")
    new = _check(state_env, mixed, "--format", "json")
    assert old.code == new.code == 1
    assert stable(old.out) == stable(new.out)
    assert _check(state_env, mixed, "--json", "--format", "json").code == 1
    text = _check(state_env, mixed, "--format", "text")
    assert text.code == 1 and "Result: 3 PASS, 2 FAIL, 3 UNKNOWN" in text.text


def test_osquery_json_rows(state_env: dict[str, str], mixed: Path) -> None:
    report = _baseline(state_env, mixed)
    r = _check(state_env, mixed, "--format", "osquery-json")
    assert r.code == report["exit_code"] == 1, r.err
    rows = json.loads(r.out)
    assert isinstance(rows, list)
    assert [row["id"] for row in rows] == list(registry.CHECK_IDS)
    by_id = {c["check_id"]: c for c in report["checks"]}
    for row in rows:
        assert list(row) == list(fleet_formats.COLUMN_NAMES)
        assert all(isinstance(value, str) for value in row.values()), row
        check = by_id[row["id"]]
        assert row["status"] == check["status"].lower()
        assert row["required"] == "1" and row["platform"] == "linux"
        assert row["checked_at"].isdigit()
        assert row["strongroom_version"] == report["strongroom_version"]
        assert row["severity"] == {"PASS": "informational", "UNKNOWN": "medium",
                                   "FAIL": "high"}[check["status"]]
    fail = next(row for row in rows if row["id"] == "screen-lock")
    assert "idle-delay" in fail["evidence"] and "uint32 900" in fail["evidence"]
    assert fail["evidence"] == by_id["screen-lock"]["evidence_excerpt"]
    assert fail["fix"] == by_id["screen-lock"]["remediation"] and "gsettings set" in fail["fix"]
    assert fail["reason"] == "over the 15-minute limit"


def test_ocsf_findings(state_env: dict[str, str], mixed: Path) -> None:
    report = _baseline(state_env, mixed)
    r = _check(state_env, mixed, "--format", "ocsf")
    assert r.code == 1, r.err
    lines = r.text.splitlines()
    findings = [json.loads(line) for line in lines]
    assert [f["compliance"]["control"] for f in findings] == list(registry.CHECK_IDS)
    by_id = {c["check_id"]: c for c in report["checks"]}
    for f in findings:
        status = by_id[f["compliance"]["control"]]["status"]
        assert (f["class_uid"], f["category_uid"], f["activity_id"], f["type_uid"]) == (
            2003, 2, 1, 200301)
        assert f["metadata"]["version"] == "1.3.0"
        assert f["metadata"]["product"]["name"] == "Strongroom"
        assert f["compliance"]["status_id"] == OCSF_COMPLIANCE[status]
        assert f["compliance"]["status_code"] == status
        assert f["severity_id"] == OCSF_SEVERITY_REQUIRED[status]
        assert f["status_id"] == 1  # New: nothing was excepted
        assert f["device"]["os"] == {"name": "Linux", "type_id": 200}
        assert isinstance(f["time"], int)
        assert f["finding_info"]["title"] and f["finding_info"]["uid"].endswith(
            ":" + f["compliance"]["control"])
        # What OCSF 1.3.0 requires of a Compliance Finding and of the objects it carries.
        assert {"activity_id", "category_uid", "class_uid", "type_uid", "time", "severity_id",
                "metadata", "finding_info", "compliance"} <= set(f)
        assert f["compliance"]["standards"] and f["metadata"]["product"]["vendor_name"]
        assert {"uid", "title"} <= set(f["finding_info"]) and "type_id" in f["device"]
    fail = next(f for f in findings if f["compliance"]["control"] == "screen-lock")
    assert fail["compliance"]["status"] == "Fail"
    assert fail["evidences"][0]["data"]["evidence"] == by_id["screen-lock"]["evidence_excerpt"]
    assert fail["remediation"]["desc"] == by_id["screen-lock"]["remediation"]
    assert "gsettings" in fail["evidences"][0]["data"]["method"]


def _junit(out: bytes) -> ET.Element:
    root = ET.fromstring(out)  # noqa: S314  # nosec B314 - XML this suite's runs wrote
    assert root.tag == "testsuites"
    [suite] = root.findall("testsuite")
    assert suite.get("name") == "strongroom check"
    return suite


def test_junit_report(state_env: dict[str, str], mixed: Path) -> None:
    report = _baseline(state_env, mixed)
    r = _check(state_env, mixed, "--format", "junit")
    assert r.code == 1, r.err
    suite = _junit(r.out)
    summary = report["summary"]
    assert int(suite.get("tests")) == len(report["checks"]) == 8
    assert int(suite.get("failures")) == summary["FAIL"] == 2
    assert int(suite.get("errors")) == summary["UNKNOWN"] == 3
    assert int(suite.get("skipped")) == summary["NOT_APPLICABLE"] + summary["EXCEPTED"] == 0
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == list(registry.CHECK_IDS)
    by_id = {c["check_id"]: c for c in report["checks"]}
    for case in cases:
        float(case.get("time"))
        assert case.get("classname") == "strongroom.check.linux"
        status = by_id[case.get("name")]["status"]
        tags = [child.tag for child in case if child.tag != "system-out"]
        assert tags == {"PASS": [], "FAIL": ["failure"], "UNKNOWN": ["error"]}[status]
    fail = suite.find("testcase[@name='screen-lock']/failure")
    assert fail is not None and fail.get("message") == "over the 15-minute limit"
    assert fail.get("type") == "FAIL"
    assert by_id["screen-lock"]["evidence_excerpt"] in fail.text
    assert by_id["screen-lock"]["remediation"] in fail.text


def test_not_applicable_in_every_format(state_env: dict[str, str]) -> None:
    case = FIXTURES / "tpm" / "macos" / "not-applicable"
    assert _baseline(state_env, case, "--only", "tpm")["checks"][0]["status"] == "NOT_APPLICABLE"
    r = _check(state_env, case, "--only", "tpm", "--format", "osquery-json")
    [row] = json.loads(r.out)
    assert r.code == 0 and row["status"] == "not_applicable" and row["platform"] == "macos"
    assert row["severity"] == "informational"
    r = _check(state_env, case, "--only", "tpm", "--format", "ocsf")
    [finding] = [json.loads(line) for line in r.text.splitlines()]
    assert r.code == 0 and finding["compliance"]["status_id"] == 99
    assert finding["compliance"]["status"] == "Not Applicable"
    assert finding["device"]["os"] == {"name": "macOS", "type_id": 300}
    r = _check(state_env, case, "--only", "tpm", "--format", "junit")
    suite = _junit(r.out)
    assert r.code == 0 and (suite.get("tests"), suite.get("skipped")) == ("1", "1")
    assert suite.find("testcase[@name='tpm']/skipped") is not None


def test_an_optional_failure_is_low_and_the_exit_code_holds(state_env: dict[str, str],
                                                           mixed: Path, tmp_path: Path) -> None:
    policy = tmp_path / "only-disk.toml"
    policy.write_text('required = ["disk-encryption"]\n')
    args = ("--only", "disk-encryption,screen-lock", "--policy", str(policy))
    r = _check(state_env, mixed, *args, "--format", "osquery-json")
    rows = {row["id"]: row for row in json.loads(r.out)}
    assert r.code == 0, r.err
    assert rows["screen-lock"]["required"] == "0" and rows["screen-lock"]["severity"] == "low"
    r = _check(state_env, mixed, *args, "--format", "ocsf")
    findings = {f["compliance"]["control"]: f for f in map(json.loads, r.text.splitlines())}
    assert r.code == 0 and findings["screen-lock"]["severity_id"] == 2
    assert findings["screen-lock"]["compliance"]["status_id"] == 3
    r = _check(state_env, mixed, *args, "--format", "junit")
    assert r.code == 0
    fail = _junit(r.out).find("testcase[@name='screen-lock']/failure")
    assert fail is not None and fail.get("type") == "FAIL (optional)"


def test_an_exception_is_excepted_in_every_format(tmp_path: Path) -> None:
    vault_dir = tmp_path / "vault"
    make_vault(vault_dir).lock()
    env = {"STRONGROOM_STATE_DIR": str(tmp_path / "state")}
    case = FIXTURES / "tpm" / "linux" / "vm-without-tpm"
    r = run_cli("check", "exception", "add", "tpm", "--reason", "VM fleet, no vTPM",
                "--until", "2099-06-30", vault=vault_dir, passphrases=[PASSPHRASE], env=env)
    assert r.code == 0, r.err
    out = tmp_path / "checks.json"
    r = run_cli("check", "--store", "--evidence", str(case), "--only", "tpm", "--format", "ocsf",
                "--output", str(out), vault=vault_dir, passphrases=[PASSPHRASE], env=env)
    assert r.code == 0, r.err
    assert r.out == b""
    [finding] = [json.loads(line) for line in out.read_text().splitlines()]
    assert finding["unmapped"]["strongroom_status"] == "EXCEPTED"
    assert (finding["status_id"], finding["status"]) == (3, "Suppressed")
    assert finding["compliance"]["status_id"] == 3  # what it was before the exception: FAIL
    assert finding["severity_id"] == 2


def test_excepted_rows_and_cases_from_results() -> None:
    """The exception columns and the skipped case, from a result as ``judge`` makes it."""
    excepted = registry.apply_exception(
        _result("tpm", Status.Unknown, "no TPM visible"),
        registry.ComplianceException("tpm", "VM fleet", NOW.date().replace(year=2099)))
    run = _run(excepted)
    [row] = fleet_formats.osquery_rows(run)
    assert (row["status"], row["exception"], row["expires"]) == ("excepted", "VM fleet",
                                                                 "2099-11-23")
    [finding] = [json.loads(line) for line in fleet_formats.ocsf_lines(run).splitlines()]
    assert finding["compliance"]["status_id"] == 2  # UNKNOWN before the exception
    suite = _junit(junit_format.junit_xml(run).encode())
    assert suite.get("skipped") == "1" and suite.find("testcase/skipped") is not None


def test_the_exit_code_is_the_same_in_every_format(state_env: dict[str, str]) -> None:
    unknown = FIXTURES / "tpm" / "linux" / "container"
    for fmt in fleet_formats.FORMATS:
        assert _check(state_env, unknown, "--only", "tpm", "--format", fmt).code == 5, fmt


@pytest.mark.parametrize(("args", "says"), [
    (("--format", "xml"), "invalid choice: 'xml'"),
    (("--json", "--format", "junit"), "--json and --format junit"),
    (("--format", "ocsf", "--output", "/nonexistent/dir/checks.json"), "existing directory"),
])
def test_usage_errors_are_exit_2_with_one_line(state_env: dict[str, str], mixed: Path,
                                               args: tuple[str, ...], says: str) -> None:
    r = _check(state_env, mixed, *args)
    assert r.code == 2 and says in r.err and r.err.count("\n") == 1, r.err


def test_output_replaces_the_file_and_prints_nothing(state_env: dict[str, str], mixed: Path,
                                                     tmp_path: Path) -> None:
    folder = tmp_path / "lib"
    folder.mkdir()
    out = folder / "checks.json"
    out.write_text("old results\n")
    r = _check(state_env, mixed, "--format", "osquery-json", "--output", str(out))
    assert r.code == 1 and r.out == b""
    assert [row["id"] for row in json.loads(out.read_text())] == list(registry.CHECK_IDS)
    assert [p.name for p in folder.iterdir()] == ["checks.json"]  # no temp file left


# ----- the docs and the extension against the code ----------------------------------------------


def test_the_doc_shows_the_codes_table() -> None:
    doc = DOC.read_text()
    assert fleet_formats.schema_markdown() in doc
    listed = re.findall(r"^\| `([a-z_]+)` \| TEXT \|", doc, flags=re.MULTILINE)
    assert tuple(listed) == fleet_formats.COLUMN_NAMES
    query = f"SELECT * FROM {fleet_formats.TABLE} WHERE status = 'fail';"  # nosec B608 - text
    assert query in doc
    for flag in ("--extensions_autoload", "--extensions_timeout"):
        assert flag in doc


def test_the_extension_compiles_and_has_the_codes_columns() -> None:
    source = EXTENSION.read_text()
    tree = compile(source, str(EXTENSION), "exec", flags=ast.PyCF_ONLY_AST)
    compile(tree, str(EXTENSION), "exec")
    assigned = {node.targets[0].id: node.value for node in tree.body
                if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)}
    assert ast.literal_eval(assigned["COLUMNS"]) == fleet_formats.COLUMN_NAMES
    assert ast.literal_eval(assigned["TABLE"]) == fleet_formats.TABLE
    imported = {alias.name.split(".")[0] for node in ast.walk(tree)
                if isinstance(node, ast.Import) for alias in node.names}
    imported |= {(node.module or "").split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom)}
    assert "osquery" in imported and "strongroom" not in imported
    assert "@osquery.register_plugin" in source and "osquery.TablePlugin" in source


# ----- hostile text in the XML ------------------------------------------------------------------


def _result(check_id: str, status: Status, reason: str, evidence: str = "",
            fix: str = "") -> CheckResult:
    return CheckResult(check_id=check_id, title="a check", status=status, observed="seen",
                       reason=reason, evidence_excerpt=evidence, remediation=fix,
                       confidence=Confidence.High, method="read a file")


def _run(*results: CheckResult, host: str = "host-1") -> fleet_formats.Run:
    return fleet_formats.Run(host=host, os=OS.Linux, time=NOW, strongroom_version="0.1.0",
                             results=results, required=frozenset(r.check_id for r in results))


ANY_CHAR = st.characters(exclude_categories=())  # lone surrogates and controls too
ANY_TEXT = st.text(ANY_CHAR) | st.text(st.sampled_from("\x00\x01\x0b\x1b\r\n\t<>&]]>\ufffe\ud800"))


def _xml_char(c: str) -> bool:
    """XML 1.0's Char production."""
    n = ord(c)
    return (n in (0x9, 0xA, 0xD) or 0x20 <= n <= 0xD7FF or 0xE000 <= n <= 0xFFFD
            or 0x10000 <= n <= 0x10FFFF)


def _expected(text: str) -> str:
    return "".join(c for c in text.replace("\r\n", "\n").replace("\r", "\n") if _xml_char(c))


@settings(max_examples=300, deadline=None)
@given(evidence=ANY_TEXT, reason=st.text(ANY_CHAR, max_size=40),
       host=st.text(ANY_CHAR, max_size=20))
def test_any_evidence_makes_xml_that_parses_and_keeps_the_text(evidence: str, reason: str,
                                                               host: str) -> None:
    run = _run(_result("firewall", Status.Fail, reason, evidence=evidence), host=host)
    suite = _junit(junit_format.junit_xml(run).encode())
    failure = suite.find("testcase/failure")
    assert failure is not None
    body = failure.text or ""
    if evidence:
        assert body.endswith("\nevidence:\n" + _expected(evidence))
    else:
        assert body.endswith("\nmethod: read a file")
    assert failure.get("message") == " ".join(_expected(reason).split())
    assert suite.get("hostname") == (" ".join(_expected(host).split()) or "unknown")
