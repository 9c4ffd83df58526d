"""An access review's report written as CSV (one row per item) or PDF, from ``reviews.report``.

Both files are written atomically and owner-only: a report names people and what they may open.
CSV cells that a spreadsheet would run as a formula are made inert (``audit_export.csv_cell``).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..audit_export import csv_cell
from ..fsutil import atomic_write
from ..reports.pdf import PdfReport

CSV_COLUMNS = (
    "campaign", "campaign_name", "campaign_status", "due", "item", "kind", "who", "status",
    "scope", "permission", "grantor", "granted", "expires", "age_days", "last_used",
    "recommendation", "reason", "decision", "justification", "decided_by", "decided", "flags",
    "overdue", "change", "remediation",
)


def scope_text(scope: Mapping[str, Any]) -> str:
    if scope.get("all"):
        parts = ["all grants"]
    else:
        parts = [f"{key}: {', '.join(scope[key])}"
                 for key in ("levels", "tags", "keys", "tokens", "operators") if key in scope]
    if scope.get("workstation"):
        parts.append("this workstation's privileged access")
    return "; ".join(parts)


def change_text(change: Mapping[str, Any] | None) -> str:
    """What closing did to an item, in a few words ("" before close or when nothing changed)."""
    if not change:
        return ""
    requested = change.get("requested") or {}
    if "applied" not in change:
        return "requested: " + ", ".join(f"{k} {v}" for k, v in requested.items())
    if not change["applied"]:
        if "remediation" in change:
            return "not changed by Strongroom: run the remediation command"
        return f"not applied: {change.get('note', '')}"
    words = []
    if "revoked" in change:
        words.append("revoked")
    if "permission" in change:
        words.append(f"permission {change['permission']['from']} -> {change['permission']['to']}")
    if "expires" in change:
        words.append(f"expiry {change['expires']['from']} -> {change['expires']['to']}")
    keys = change.get("keys") or {}
    if keys.get("levels_rotated"):
        words.append(f"level keys rotated: {', '.join(keys['levels_rotated'])}")
    if keys.get("rotation_pending"):
        words.append(f"rotation pending: {', '.join(keys['rotation_pending'])}")
    return "; ".join(words)


def _row(report: Mapping[str, Any], item: Mapping[str, Any]) -> list[str]:
    s = item["subject"]
    grant = item["kind"] == "grant"
    values: list[Any] = [
        report["id"], report["name"], report["status"], report["due"], item["id"],
        item["kind"], s.get("operator") if grant else s.get("principal"),
        s.get("operator_status") if grant else s.get("kind"),
        s.get("scope") if grant else s.get("source"), s.get("permission"), s.get("grantor"),
        s.get("created"), s.get("expires"), s.get("age_days"), s.get("last_used"),
        item["recommendation"], item["reason"], item["decision"], item["justification"],
        item["decided_by"], item["decided"], ";".join(item["flags"]),
        "yes" if item["overdue"] else "no",
        "" if item["change"] is None else json.dumps(item["change"], sort_keys=True),
        "" if grant else s.get("remediation"),
    ]
    return [csv_cell("" if v is None else str(v)) for v in values]


def write_report_csv(report: Mapping[str, Any], path: Path | str) -> None:
    """One row per item, the campaign's id, name, status and due date on each (RFC 4180)."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for item in report["items"]:
        writer.writerow(_row(report, item))
    atomic_write(Path(path), out.getvalue().encode("utf-8"))


def _by(item: Mapping[str, Any]) -> str:
    """The decision cell: what, by whom, when, and the item's flags."""
    if item["decision"] is None:
        lines = ["undecided"]
    else:
        lines = [item["decision"], f"by {item['decided_by']}",
                 (item["decided"] or "")[:16].replace("T", " ")]
    return "\n".join([*lines, *item["flags"]])


def _grant_text(s: Mapping[str, Any]) -> str:
    used = (s.get("last_used") or "never")[:10]
    return (f"{s['operator']} ({s['operator_status']})\n{s['permission']} on {s['scope']}\n"
            f"given by {s['grantor']} on {str(s['created'])[:10]}\nlast used {used}")


def write_report_pdf(report: Mapping[str, Any], path: Path | str) -> None:
    """The report as a PDF: the campaign's facts, the grants and workstation items with their
    decisions, overdue items, the remediation commands and the outcome."""
    pdf = PdfReport(f"Access review {report['id']}: {report['name']}",
                    generated=report["generated"])
    closed = (f"{report['closed']} by {report['closed_by']}" if report["closed"]
              else "open" + (", overdue" if report["overdue"] else ""))
    progress = report["progress"]
    pdf.fields([
        ("Scope", scope_text(report["scope"])),
        ("Reviewers", ", ".join(report["reviewers"])),
        ("Created", f"{report['created']} by {report['created_by']}"),
        ("Starts", report["starts"]), ("Due", report["due"]),
        ("Recurrence", report["recurrence"] or "none"),
        ("Default decision", report["default_decision"]),
        ("Justification", "required" if report["justification_required"] else "optional"),
        ("Unused after", f"{report['unused_days']} days"),
        ("Decided", f"{progress['decided']} of {progress['total']}"),
        ("Closed", closed),
    ])
    grants = [i for i in report["items"] if i["kind"] == "grant"]
    pdf.heading(f"Grants ({len(grants)})")
    if grants:
        pdf.table(
            ["Item", "Operator and grant", "Recommendation", "Decision", "Justification",
             "Change"],
            [[str(i["id"]), _grant_text(i["subject"]), f"{i['recommendation']}: {i['reason']}",
              _by(i), i["justification"] or "", change_text(i["change"])] for i in grants],
            widths=[0.55, 2.0, 2.0, 1.75, 1.6, 1.6])
    else:
        pdf.paragraph("No grant was in the campaign's scope.")
    machine = [i for i in report["items"] if i["kind"] == "workstation"]
    if machine:
        pdf.heading(f"Workstation access ({len(machine)})")
        pdf.table(["Item", "Principal", "Kind and source", "Decision", "Justification"],
                  [[str(i["id"]), i["subject"]["principal"],
                    f"{i['subject']['kind']}: {i['subject']['source']}", _by(i),
                    i["justification"] or ""] for i in machine],
                  widths=[0.55, 1.6, 2.4, 1.75, 2.0])
    if report["overdue_items"]:
        pdf.heading("Overdue items")
        pdf.paragraph("Not decided by the due date: items "
                      + ", ".join(str(n) for n in report["overdue_items"]) + ".")
    if report["remediation"]:
        pdf.heading("Remediation commands")
        pdf.paragraph("Strongroom runs none of these; an administrator of this workstation runs "
                      "each by hand.")
        for r in report["remediation"]:
            pdf.paragraph(f"Item {r['item']}: {r['principal']} ({r['source']})\n{r['command']}")
    outcome = report.get("outcome")
    if outcome:
        pdf.heading("Outcome")
        decisions = outcome["decisions"]
        pdf.fields([
            ("Decisions", ", ".join(f"{k} {v}" for k, v in decisions.items())),
            ("By default", str(outcome["defaulted"])), ("Overdue", str(outcome["overdue"])),
            ("Applied", str(outcome["applied"])),
            ("Already revoked", str(outcome["already_revoked"])),
            ("Level keys rotated", ", ".join(outcome["levels_rotated"]) or "none"),
            ("Rotation pending", ", ".join(outcome["rotation_pending"]) or "none"),
            ("Next campaign", "none" if outcome.get("next_campaign") is None
             else str(outcome["next_campaign"])),
        ])
    pdf.save(Path(path))
