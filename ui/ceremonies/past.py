"""Past ceremonies: every run in this vault with its status and head; a transcript opened to read;
Verify (offline, with the run's output files) naming the first problem or saying it holds; a
running ceremony resumed, or a finished one whose transcript was never saved signed and saved."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from strongroom.app.ceremony import run_store, verify
from strongroom.app.ceremony.script import parse
from strongroom.app.ceremony.transcript import Fido2Signature, Transcript
from strongroom.app.ceremony.transcript_pdf import summary
from strongroom.app.ceremony.verify import VerifyReport
from strongroom.app.errors import NotFound
from strongroom.app.keys.fingerprints import fingerprint_words, grouped_hex
from strongroom.app.vault import Vault

from ..access.table import Cell, RowsTable
from ..widgets.common import button
from ..workers import user_message
from .host import CeremonyHost
from .look import label, mono_font, set_role
from .session import TRANSCRIPT

HEADERS = ["Ceremony", "Status", "Started", "Finished", "Records", "Head", "Transcript"]


@dataclass(frozen=True)
class PastRun:
    id: str
    name: str
    status: str
    started: str
    finished: str | None
    records: int
    head: str
    folder: Path
    saved: bool


def load(vault: Vault) -> list[PastRun]:
    return [PastRun(r["id"], r["name"], r["status"], r["started"], r["finished"], r["records"],
                    r["head"], Path(r["folder"]), (Path(r["folder"]) / TRANSCRIPT).exists())
            for r in reversed(run_store.listing(vault))]


def verify_run(vault: Vault, ceremony_id: str) -> VerifyReport:
    """The saved transcript checked offline with the run's output files."""
    row = run_store.get(vault, ceremony_id)
    path = Path(row.folder) / TRANSCRIPT
    if not path.exists():
        raise NotFound(f"no transcript is saved in {row.folder}; "
                       + ("finish the ceremony first" if row.status == run_store.RUNNING
                          else "sign and save it first"))
    out = Path(row.folder) / parse(row.script).preflight.output
    return verify.verify_file(path, out if out.is_dir() else None)


def transcript_text(vault: Vault, ceremony_id: str) -> str:
    """The saved transcript (or, unsaved, the records the vault keeps) as lines to read."""
    row = run_store.get(vault, ceremony_id)
    path = Path(row.folder) / TRANSCRIPT
    lines = [f"{row.name}  ·  ceremony {row.id}", f"Folder: {row.folder}", ""]
    records: list[dict[str, Any]]
    signatures: list[str] = []
    if path.exists():
        made = Transcript.load(path)
        lines.insert(1, f"Transcript: {path}")
        records = [r.to_json() for r in made.records]
        head = made.head
        signatures = [f"  {s.role}: {s.operator} (security key)" if isinstance(s, Fido2Signature)
                      else f"  key {s.key} ({s.algorithm}) on its token" for s in made.signatures]
    else:
        lines.insert(1, "No transcript is saved yet: these are the records the vault keeps.")
        records = run_store.records(vault, ceremony_id)
        head = row.head
    for r in records:
        lines.append(f"{r['seq']:>3}  {str(r['ts'])[:19]}  {r['type']:<9} {r['step'] or '-':<18}"
                     f" {r['actor'] or '-':<8} {summary(r['data'])}")
    lines += ["", f"Head: {grouped_hex(head)}", f"      {' '.join(fingerprint_words(head))}",
              "", "Signatures over the head:", *(signatures or ["  none"])]
    return "\n".join(lines)


class TranscriptDialog(QDialog):
    def __init__(self, title: str, text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setAccessibleName(title)
        self.text = QPlainTextEdit(text)
        self.text.setReadOnly(True)
        self.text.setFont(mono_font())
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.text.setAccessibleName("The transcript")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(self.text)
        lay.addWidget(buttons)
        self.resize(1000, 620)


class PastTab(QWidget):
    def __init__(self, host: CeremonyHost, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.host = host
        self.runs: list[PastRun] = []
        self.table = RowsTable(HEADERS, "Past ceremonies", widths=[220, 80, 130, 130, 70, 150])
        self.table.selectionModel().selectionChanged.connect(lambda *_a: self._update())
        self.open_button = button("Open transcript", self._open)
        self.verify_button = button("Verify", self._verify,
                                    "Check the saved transcript offline, with the output files")
        self.resume_button = button("Resume", self._resume)
        self.result = label(name="Verification result", selectable=True)
        row = QHBoxLayout()
        row.addWidget(self.open_button)
        row.addWidget(self.verify_button)
        row.addStretch(1)
        row.addWidget(self.resume_button)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 8, 0, 0)
        lay.addWidget(self.table, 1)
        lay.addLayout(row)
        lay.addWidget(self.result)
        self._update()

    def refresh(self) -> None:
        vault = self.host.vault
        if vault is None:
            return
        self.host.submit("ceremony.past", "Reading past ceremonies…",
                         lambda _c, _p: load(vault), self._show)

    def clear(self) -> None:
        self._show([])
        self.result.setText("")

    def _show(self, runs: list[PastRun]) -> None:
        chosen = self.table.selected_key()
        self.runs = runs
        self.table.rows.set_rows([[
            Cell(r.name, tip=r.id, strong=r.status == "running"),
            Cell(r.status, problem=r.status == "abandoned"),
            Cell(r.started[:16].replace("T", " ")),
            Cell((r.finished or "")[:16].replace("T", " ")),
            Cell(str(r.records)),
            Cell(grouped_hex(r.head)[:19] + " …", tip=r.head),
            Cell("saved" if r.saved else "not saved", muted=not r.saved),
        ] for r in runs], [r.id for r in runs])
        if chosen is not None:
            self.table.select_key(chosen)
        self._update()

    def current(self) -> PastRun | None:
        key = self.table.selected_key()
        return next((r for r in self.runs if r.id == key), None)

    def _update(self) -> None:
        run = self.current()
        self.open_button.setEnabled(run is not None)
        self.verify_button.setEnabled(run is not None and run.saved)
        resumable = run is not None and (run.status == "running"
                                         or (run.status == "finished" and not run.saved))
        self.resume_button.setEnabled(resumable)
        self.resume_button.setText("Sign and save…" if run is not None and run.status ==
                                   "finished" and not run.saved else "Resume")

    def _open(self) -> None:
        run, vault = self.current(), self.host.vault
        if run is None or vault is None:
            return
        self.host.submit(
            "ceremony.transcript", "Reading the transcript…",
            lambda _c, _p: transcript_text(vault, run.id),
            lambda text: self.host.open_dialog(TranscriptDialog(
                f"Transcript: {run.name}", text, self.window())),
            lambda exc: self._say(user_message(exc), "error"))

    def _verify(self) -> None:
        run, vault = self.current(), self.host.vault
        if run is None or vault is None:
            return

        def done(report: VerifyReport) -> None:
            if report.ok:
                self._say(f"✓ OK: the transcript of {run.name} verifies — {report.records} "
                          f"records, {report.signatures_checked} signatures, "
                          f"{report.files_checked} output files; head "
                          f"{grouped_hex(report.head)}.", "ok")
            else:
                self._say(f"✗ The transcript of {run.name} does not verify: "
                          f"{report.first_problem}", "error")

        self.host.submit("ceremony.verify", "Verifying the transcript…",
                         lambda _c, _p: verify_run(vault, run.id), done,
                         lambda exc: self._say(user_message(exc), "error"))

    def _resume(self) -> None:
        run = self.current()
        if run is not None:
            self.host.resume_run(run.id)

    def _say(self, text: str, role: str = "") -> None:
        self.result.setText(text)
        set_role(self.result, role)
