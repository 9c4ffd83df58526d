"""Check results as JUnit XML (the schema Jenkins and GitLab read): one test case per check.

PASS is a plain test case, FAIL a ``<failure>``, UNKNOWN an ``<error>``, NOT_APPLICABLE and
EXCEPTED ``<skipped>``. Built with ElementTree, so markup in evidence is escaped; characters
XML 1.0 cannot hold (most control characters, lone surrogates) are dropped first.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET  # builds XML only; nothing is parsed here

from .fleet_formats import Run
from .model import CheckResult, Status

SUITE = "strongroom check"
# Everything outside XML 1.0's Char production (#x9 | #xA | #xD | [#x20-#xD7FF] |
# [#xE000-#xFFFD] | [#x10000-#x10FFFF]).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(text: str) -> str:
    """``text`` as XML character data keeps it: disallowed characters dropped, and line ends as
    "\\n" (a parser turns a bare "\\r" into "\\n" anyway)."""
    return _NOT_XML.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def _line(text: str) -> str:
    """One line for an attribute (a message), whitespace collapsed."""
    return " ".join(xml_text(text).split())


def _body(result: CheckResult) -> str:
    parts = [f"observed: {result.observed}", f"reason: {result.reason}",
             f"method: {result.method}"]
    if result.evidence_excerpt:
        parts.append(f"evidence:\n{result.evidence_excerpt}")
    if result.remediation:
        parts.append(f"fix: {result.remediation}")
    return xml_text("\n".join(parts))


def _case(suite: ET.Element, run: Run, result: CheckResult) -> None:
    case = ET.SubElement(suite, "testcase", {
        "classname": f"strongroom.check.{run.os.value}", "name": xml_text(result.check_id),
        "time": f"{result.duration:.3f}"})
    required = "" if run.is_required(result) else " (optional)"
    if result.status is Status.Fail:
        ET.SubElement(case, "failure", {"message": _line(result.reason),
                                        "type": f"FAIL{required}"}).text = _body(result)
    elif result.status is Status.Unknown:
        ET.SubElement(case, "error", {"message": _line(result.reason),
                                      "type": f"UNKNOWN{required}"}).text = _body(result)
    elif result.status in (Status.NotApplicable, Status.Excepted):
        ET.SubElement(case, "skipped", {"message": _line(
            f"{result.status.value}: {result.reason}")})
    else:
        ET.SubElement(case, "system-out").text = _body(result)


def counts(run: Run) -> dict[str, int]:
    """The suite's tests/failures/errors/skipped, from the results' statuses."""
    statuses = [r.status for r in run.results]
    return {"tests": len(statuses), "failures": statuses.count(Status.Fail),
            "errors": statuses.count(Status.Unknown),
            "skipped": statuses.count(Status.NotApplicable) + statuses.count(Status.Excepted)}


def junit_xml(run: Run) -> str:
    """One ``<testsuite name="strongroom check">`` inside ``<testsuites>``, as a string."""
    totals = {k: str(v) for k, v in counts(run).items()}
    elapsed = f"{run.duration:.3f}"
    root = ET.Element("testsuites", {"name": SUITE, **totals, "time": elapsed})
    suite = ET.SubElement(root, "testsuite", {
        "name": SUITE, **totals, "time": elapsed,
        "timestamp": run.time.strftime("%Y-%m-%dT%H:%M:%S"),
        "hostname": _line(run.host) or "unknown"})
    props = ET.SubElement(suite, "properties")
    for name, value in (("strongroom_version", run.strongroom_version),
                        ("platform", run.os.value),
                        ("required", ",".join(sorted(run.required)))):
        ET.SubElement(props, "property", {"name": name, "value": _line(value)})
    for result in run.results:
        _case(suite, run, result)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode")
