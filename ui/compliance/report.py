"""The printable compliance report: an HTML summary laid out by QTextDocument, written as PDF
(QPdfWriter) or sent to a printer (QtPrintSupport, when the Qt build has it)."""

from __future__ import annotations

import datetime as dt
import html
import importlib.util
from pathlib import Path

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QMarginsF
from PySide6.QtGui import QPagedPaintDevice, QPageLayout, QPageSize, QPdfWriter, QTextDocument
from PySide6.QtWidgets import QWidget

from strongroom.app.compliance.model import Status
from strongroom.app.fsutil import atomic_write
from strongroom.app.vault import Vault

from .data import WORDS, RunView, label, local_time
from .tiles import LIGHT

TITLE = "Strongroom compliance report"
EXCERPT_LINES = 24
CSS = """
body { font-family: 'DejaVu Sans', sans-serif; font-size: 9pt; color: #1b2a33; }
h1 { font-size: 17pt; margin-bottom: 2px; }
h2 { font-size: 12pt; margin-top: 16px; margin-bottom: 4px; }
p.meta { color: #5b6b75; margin-top: 0; }
table { border-collapse: collapse; }
th { text-align: left; background-color: #e6e9eb; }
td, th { padding: 3px 6px; vertical-align: top; }
td.k { color: #5b6b75; width: 22%; }
pre { font-family: 'DejaVu Sans Mono', monospace; font-size: 7.5pt; background-color: #f3f5f6;
      padding: 4px; }
"""


def print_supported() -> bool:
    """True when this PySide6 build has QtPrintSupport (PySide6-Essentials does)."""
    try:
        return importlib.util.find_spec("PySide6.QtPrintSupport") is not None
    except (ImportError, ValueError):
        return False


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _excerpt(text: str) -> str:
    lines = text.splitlines()
    if len(lines) > EXCERPT_LINES:
        lines = [*lines[:EXCERPT_LINES], f"… ({len(lines) - EXCERPT_LINES} more lines)"]
    return "\n".join(lines) or "(no evidence excerpt)"


def report_html(view: RunView, generated: dt.datetime) -> str:
    """The report for ``view`` as HTML; every value from the machine is escaped."""
    colours = LIGHT.status
    overall = view.overall

    def status_cell(status: Status) -> str:
        return (f'<b style="color:{colours[status]}">{_e(label(status))}</b>')

    rows = "".join(
        f"<tr><td>{_e(r.title)}</td><td>{status_cell(r.status)}"
        f"{'' if view.required(r.check_id) else ' (optional)'}</td>"
        f"<td>{_e(r.observed)}</td></tr>" for r in view.results
    )
    sections = []
    for r in view.results:
        facts = [("Status", status_cell(r.status)), ("Observed", _e(r.observed)),
                 ("Reason", _e(r.reason)), ("How to fix", _e(r.remediation or "Nothing to do.")),
                 ("Method", _e(r.method)), ("Confidence", _e(r.confidence.value)),
                 ("Required", "yes" if view.required(r.check_id) else "no (optional)")]
        if r.exception:
            facts.append(("Exception", _e(
                f"{r.exception.get('reason', '')} (until {r.exception.get('until', '')}, "
                f"{'applied' if r.exception.get('applied') == 'yes' else 'not applied'})")))
        table = "".join(f'<tr><td class="k">{k}</td><td>{v}</td></tr>' for k, v in facts)
        sections.append(
            f"<h2>{_e(r.title)}</h2><table width=\"100%\">{table}</table>"
            f"<p class=\"meta\">Evidence excerpt</p><pre>{_e(_excerpt(r.evidence_excerpt))}</pre>"
        )
    when = local_time(view.ts, "%Y-%m-%d %H:%M %Z")
    return (
        f"<html><head><style>{CSS}</style></head><body>"
        f"<h1>{TITLE}</h1>"
        f"<p class=\"meta\">Host {_e(view.host or '?')} · {_e(view.os_name)} · checked {when}"
        f" (run {view.run_id}, {_e(view.source_text)}) · report generated "
        f"{generated.astimezone().strftime('%Y-%m-%d %H:%M %Z')}</p>"
        f"<p><b style=\"color:{colours[overall.status]}\">{_e(label(overall.status))}</b> "
        f"{_e(overall.text)}</p>"
        f"<p>{_e(view.policy_line)}.</p>"
        "<table width=\"100%\" border=\"0\"><tr><th>Check</th><th>Status</th><th>Observed</th>"
        f"</tr>{rows}</table>"
        f"{''.join(sections)}"
        f"<p class=\"meta\">Exceptions are those recorded in the vault when the report was made. "
        f"Statuses: {', '.join(WORDS[s] for s in Status)}.</p>"
        "</body></html>"
    )


def document(report: str) -> QTextDocument:
    doc = QTextDocument()
    doc.setDocumentMargin(0)
    doc.setHtml(report)
    return doc


def _layout(device: QPagedPaintDevice) -> None:
    device.setPageLayout(QPageLayout(QPageSize(QPageSize.PageSizeId.A4),
                                     QPageLayout.Orientation.Portrait,
                                     QMarginsF(16, 16, 16, 16), QPageLayout.Unit.Millimeter))


def render_pdf(report: str) -> bytes:
    """The report as PDF bytes (laid out on the GUI thread: fonts and text layout live there)."""
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    writer = QPdfWriter(buffer)
    writer.setTitle(TITLE)
    writer.setCreator("Strongroom")
    writer.setResolution(300)
    _layout(writer)
    document(report).print_(writer)  # laid out at the writer's resolution, page by page
    del writer  # ends the PDF
    buffer.close()
    return bytes(data.data())


def write_report(vault: Vault, path: Path, pdf: bytes, run_id: int) -> None:
    """Write the PDF atomically, then record it; if it cannot be recorded, the file goes."""
    atomic_write(path, pdf, 0o600)
    try:
        vault.record("compliance.report", path.name, details={"run": run_id, "bytes": len(pdf)})
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def print_report(report: str, printer: QPagedPaintDevice) -> None:
    """Lay the report out on ``printer`` (a QPrinter chosen in a QPrintDialog)."""
    document(report).print_(printer)


def print_with_dialog(report: str, parent: QWidget) -> bool:
    """Ask for a printer (QPrintDialog) and print; False if cancelled or printing is missing."""
    if not print_supported():
        return False
    from PySide6.QtPrintSupport import QPrintDialog, QPrinter

    printer = QPrinter(QPrinter.PrinterMode.HighResolution)
    dialog = QPrintDialog(printer, parent)
    dialog.setWindowTitle("Print the compliance report")
    if dialog.exec() != QPrintDialog.DialogCode.Accepted:
        return False
    print_report(report, printer)
    return True
