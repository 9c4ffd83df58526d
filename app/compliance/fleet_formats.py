"""Check results in the shapes fleets read: osquery rows, OCSF Compliance Findings (JUnit XML
is in ``junit_format``). Each is a pure function of one run; docs/fleet.md documents them and a
test holds the doc's ``strongroom_checks`` table equal to ``COLUMNS``.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
from dataclasses import dataclass

from .model import OS, CheckResult, Confidence, Status

FORMATS = ("text", "json", "osquery-json", "ocsf", "junit")
TABLE = "strongroom_checks"
EVIDENCE_LIMIT = 2000  # characters of evidence in an osquery row; the JSON report has it all


@dataclass(frozen=True)
class Run:
    """One ``strongroom check`` run: what every format is made from."""

    host: str
    os: OS
    time: dt.datetime  # when the checks ran (UTC)
    strongroom_version: str
    results: tuple[CheckResult, ...]
    required: frozenset[str]
    duration: float = 0.0

    def is_required(self, result: CheckResult) -> bool:
        return result.check_id in self.required


class Severity(enum.Enum):
    """How urgent a result is, shared by every format (OCSF ``severity_id`` in ``value``)."""

    Informational = 1
    Low = 2
    Medium = 3
    High = 4


def severity(result: CheckResult, required: bool) -> Severity:
    """A required FAIL is High, a required UNKNOWN Medium; optional or excepted ones Low."""
    if result.status is Status.Fail:
        return Severity.High if required else Severity.Low
    if result.status is Status.Unknown:
        return Severity.Medium if required else Severity.Low
    if result.status is Status.Excepted:
        return Severity.Low
    return Severity.Informational


# ----- osquery -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """One column of the ``strongroom_checks`` table (every value is TEXT, osquery's STRING)."""

    name: str
    description: str


COLUMNS: tuple[Column, ...] = (
    Column("id", "check id, e.g. disk-encryption"),
    Column("title", "what the check asks"),
    Column("status", "pass, fail, unknown, not_applicable or excepted"),
    Column("required", "1 if the policy requires the check, else 0"),
    Column("severity", "informational, low, medium or high (see the mapping)"),
    Column("platform", "linux, macos or windows"),
    Column("observed", "the value seen, in a few words"),
    Column("reason", "one line: why this status"),
    Column("method", "how it was determined (commands and files read)"),
    Column("evidence", f"the evidence lines that decided it (at most {EVIDENCE_LIMIT} "
                       "characters)"),
    Column("fix", "what to do on this OS (empty when nothing is needed)"),
    Column("confidence", "high, medium or low"),
    Column("exception", "the accepted-risk reason when excepted, else empty"),
    Column("expires", "last day the exception applies (YYYY-MM-DD), else empty"),
    Column("checked_at", "when the check ran, Unix seconds"),
    Column("hostname", "the host name the evidence was collected on"),
    Column("strongroom_version", "the Strongroom that ran the check"),
)
COLUMN_NAMES: tuple[str, ...] = tuple(c.name for c in COLUMNS)


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _exception(result: CheckResult) -> tuple[str, str]:
    """The accepted-risk reason and expiry, only when the exception changed the status."""
    if result.status is not Status.Excepted or not result.exception:
        return "", ""
    return result.exception.get("reason", ""), result.exception.get("until", "")


def osquery_rows(run: Run) -> list[dict[str, str]]:
    """One flat row per check, every value a string, as ``osqueryi --json`` prints a table."""
    rows = []
    for r in run.results:
        required = run.is_required(r)
        reason, until = _exception(r)
        row = {
            "id": r.check_id, "title": r.title, "status": r.status.value.lower(),
            "required": "1" if required else "0",
            "severity": severity(r, required).name.lower(), "platform": run.os.value,
            "observed": r.observed, "reason": r.reason, "method": r.method,
            "evidence": _short(r.evidence_excerpt, EVIDENCE_LIMIT), "fix": r.remediation,
            "confidence": r.confidence.value, "exception": reason, "expires": until,
            "checked_at": str(int(run.time.timestamp())), "hostname": run.host,
            "strongroom_version": run.strongroom_version,
        }
        rows.append({name: row[name] for name in COLUMN_NAMES})
    return rows


def osquery_json(run: Run) -> str:
    return json.dumps(osquery_rows(run), ensure_ascii=False, indent=2)


def schema_markdown() -> str:
    """The ``strongroom_checks`` table as docs/fleet.md shows it."""
    lines = ["| column | type | meaning |", "|---|---|---|"]
    lines += [f"| `{c.name}` | TEXT | {c.description} |" for c in COLUMNS]
    return "\n".join(lines)


# ----- OCSF 1.3.0 Compliance Finding -------------------------------------------------------------

OCSF_VERSION = "1.3.0"
CATEGORY_FINDINGS = 2
CLASS_COMPLIANCE_FINDING = 2003
ACTIVITY_CREATE = 1
TYPE_CREATE = CLASS_COMPLIANCE_FINDING * 100 + ACTIVITY_CREATE  # 200301
STANDARD = "Strongroom endpoint policy"

# compliance.status_id (OCSF 1.3.0 objects/compliance.json): 1 Pass, 2 Warning ("did not yield a
# result due to missing information"), 3 Fail, 99 Other (the caption is the source's own word).
COMPLIANCE_STATUS: dict[Status, tuple[int, str]] = {
    Status.Pass: (1, "Pass"),
    Status.Unknown: (2, "Warning"),
    Status.Fail: (3, "Fail"),
    Status.NotApplicable: (99, "Not Applicable"),
}
# The finding's own status_id (events/findings/finding.json): 1 New; 3 Suppressed when an
# accepted-risk exception stands in for a FAIL or UNKNOWN.
FINDING_NEW, FINDING_SUPPRESSED = (1, "New"), (3, "Suppressed")
CONFIDENCE_ID = {Confidence.Low: 1, Confidence.Medium: 2, Confidence.High: 3}
OS_TYPE = {OS.Windows: (100, "Windows"), OS.Linux: (200, "Linux"), OS.MacOS: (300, "macOS")}


def _compliance_status(result: CheckResult) -> tuple[int, str]:
    """An excepted result keeps the compliance status it had before the exception."""
    if result.status is Status.Excepted:
        original = (result.exception or {}).get("original_status", Status.Fail.value)
        return COMPLIANCE_STATUS.get(Status(original), COMPLIANCE_STATUS[Status.Fail])
    return COMPLIANCE_STATUS[result.status]


def ocsf_finding(run: Run, result: CheckResult) -> dict[str, object]:
    required = run.is_required(result)
    level = severity(result, required)
    status_id, status = _compliance_status(result)
    finding_id, finding = FINDING_SUPPRESSED if result.status is Status.Excepted else FINDING_NEW
    os_type, os_name = OS_TYPE[run.os]
    unmapped: dict[str, object] = {"strongroom_status": result.status.value,
                                   "required": required, "duration": round(result.duration, 4)}
    if result.exception:
        unmapped["exception"] = dict(result.exception)
    compliance: dict[str, object] = {
        "standards": [STANDARD], "control": result.check_id, "requirements": [result.title],
        "status_id": status_id, "status": status, "status_code": result.status.value,
        "status_detail": result.reason,
    }
    out: dict[str, object] = {
        "category_uid": CATEGORY_FINDINGS, "category_name": "Findings",
        "class_uid": CLASS_COMPLIANCE_FINDING, "class_name": "Compliance Finding",
        "activity_id": ACTIVITY_CREATE, "activity_name": "Create",
        "type_uid": TYPE_CREATE, "type_name": "Compliance Finding: Create",
        "severity_id": level.value, "severity": level.name,
        "status_id": finding_id, "status": finding,
        "confidence_id": CONFIDENCE_ID[result.confidence],
        "time": int(run.time.timestamp() * 1000),
        "message": f"{result.check_id}: {result.status.value} - {result.reason}",
        "metadata": {"version": OCSF_VERSION,
                     "product": {"name": "Strongroom", "vendor_name": "Strongroom",
                                 "version": run.strongroom_version}},
        "device": {"hostname": run.host, "type_id": 0, "type": "Unknown",
                   "os": {"name": os_name, "type_id": os_type}},
        "finding_info": {"uid": f"strongroom:{run.host or 'unknown-host'}:{result.check_id}",
                         "title": result.title, "desc": result.reason},
        "compliance": compliance,
        "evidences": [{"data": {"method": result.method, "observed": result.observed,
                                "evidence": result.evidence_excerpt}}],
        "unmapped": unmapped,
    }
    if result.remediation:
        out["remediation"] = {"desc": result.remediation}
    return out


def ocsf_lines(run: Run) -> str:
    """JSON lines, one Compliance Finding per check."""
    return "\n".join(json.dumps(ocsf_finding(run, r), ensure_ascii=False)
                     for r in run.results)
