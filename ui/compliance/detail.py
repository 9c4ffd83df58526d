"""The detail pane of one check (why, evidence, how to fix, the exception) and the accept-risk
dialog."""

from __future__ import annotations

import datetime as dt

from PySide6.QtCore import QDate, Qt, Signal
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from strongroom.app.compliance.model import CheckResult, Status
from strongroom.app.compliance.registry import ComplianceException
from strongroom.app.compliance.storage import MAX_REASON_CHARS

from .data import WORDS, label
from .tiles import LIGHT, Theme

SELECTABLE = Qt.TextInteractionFlag.TextSelectableByMouse


def _value(name: str) -> QLabel:
    value = QLabel()
    value.setWordWrap(True)
    value.setTextFormat(Qt.TextFormat.PlainText)
    value.setTextInteractionFlags(SELECTABLE)
    value.setAccessibleName(name)
    value.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
    return value


class CheckDetail(QFrame):
    """Everything about the selected check; the exception buttons ask the section to act."""

    accept_requested = Signal(str)
    remove_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("card")
        self.setAccessibleName("Check details")
        self.check_id: str | None = None
        self.current_status: Status | None = None
        self.theme: Theme = LIGHT
        self.heading = QLabel()
        self.heading.setWordWrap(True)
        font = self.heading.font()
        font.setPointSizeF(font.pointSizeF() * 1.15)
        font.setBold(True)
        self.heading.setFont(font)
        self.heading.setAccessibleName("Check")
        self.chip = QLabel()
        self.chip.setAccessibleName("Status")
        self.observed = _value("Observed")
        self.reason = _value("Reason")
        self.remediation = _value("How to fix")
        self.method = _value("Method")
        self.confidence = _value("Confidence")
        self.duration = _value("Duration")
        self.required = _value("Required by the policy")
        self.exception = _value("Exception")
        self.evidence = QPlainTextEdit()
        self.evidence.setReadOnly(True)
        self.evidence.setAccessibleName("Evidence excerpt")
        self.evidence.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.evidence.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.evidence.setTextInteractionFlags(
            SELECTABLE | Qt.TextInteractionFlag.TextSelectableByKeyboard)
        self.evidence.setMinimumHeight(110)
        self.accept_button = QPushButton("Accept risk…")
        self.accept_button.setAccessibleName("Accept risk")
        self.accept_button.setToolTip("Record an accepted risk for this check until a date")
        self.accept_button.clicked.connect(self._accept_clicked)
        self.remove_button = QPushButton("Remove exception")
        self.remove_button.setAccessibleName("Remove exception")
        self.remove_button.clicked.connect(self._remove_clicked)
        self.empty = QLabel("Select a check to see its evidence and how to fix it.")
        self.empty.setProperty("role", "muted")
        self.empty.setWordWrap(True)

        body = QWidget()
        grid = QGridLayout(body)
        grid.setContentsMargins(0, 0, 6, 0)
        grid.setHorizontalSpacing(12)
        grid.setVerticalSpacing(6)
        rows = (("Observed", self.observed), ("Reason", self.reason),
                ("How to fix", self.remediation), ("Evidence", self.evidence),
                ("Method", self.method), ("Confidence", self.confidence),
                ("Duration", self.duration), ("Policy", self.required),
                ("Exception", self.exception))
        for row, (caption, widget) in enumerate(rows):
            grid.addWidget(self._caption(caption), row, 0, Qt.AlignmentFlag.AlignTop)
            grid.addWidget(widget, row, 1)
        grid.setColumnStretch(1, 1)
        grid.setRowStretch(3, 1)  # the evidence takes the room there is
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(body)
        self.body = scroll

        head = QHBoxLayout()
        head.addWidget(self.heading, 1)
        head.addWidget(self.chip, 0, Qt.AlignmentFlag.AlignTop)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.accept_button)
        buttons.addWidget(self.remove_button)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(16, 14, 16, 12)
        lay.addLayout(head)
        lay.addWidget(self.empty)
        lay.addWidget(scroll, 1)
        lay.addLayout(buttons)
        self.show_result(None)

    def _caption(self, text: str) -> QLabel:
        caption = QLabel(text)
        caption.setProperty("role", "muted")
        caption.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        return caption

    def _accept_clicked(self) -> None:
        if self.check_id is not None:
            self.accept_requested.emit(self.check_id)

    def _remove_clicked(self) -> None:
        if self.check_id is not None:
            self.remove_requested.emit(self.check_id)

    def set_theme(self, theme: Theme) -> None:
        self.theme = theme
        self.evidence.setStyleSheet(f"QPlainTextEdit {{ background-color: {theme.sunken}; }}")
        self._colour_chip()

    def _colour_chip(self) -> None:
        status = self.current_status
        if status is None:
            self.chip.setStyleSheet("")
            return
        self.chip.setStyleSheet(
            f"background-color: {self.theme.status[status]}; color: {self.theme.chip_text}; "
            "border-radius: 9px; padding: 2px 10px; font-weight: bold;")

    def show_result(self, result: CheckResult | None, *, required: bool = True,
                    exception: ComplianceException | None = None,
                    stored: Status | None = None, now: dt.datetime | None = None) -> None:
        """Show one check (None clears the pane and drops the evidence text)."""
        self.check_id = result.check_id if result else None
        self.current_status = result.status if result else None
        self.body.setVisible(result is not None)
        self.empty.setVisible(result is None)
        if result is None:
            self.heading.setText("Details")
            self.chip.setText("")
            for field in (self.observed, self.reason, self.remediation, self.method,
                          self.confidence, self.duration, self.required, self.exception):
                field.setText("")
            self.evidence.setPlainText("")
            self._colour_chip()
            return
        self.heading.setText(result.title)
        self.chip.setText(label(result.status))
        self.observed.setText(result.observed or "—")
        self.reason.setText(result.reason or "—")
        self.remediation.setText(result.remediation or "Nothing to do.")
        self.evidence.setPlainText(result.evidence_excerpt or "(no evidence excerpt)")
        self.method.setText(result.method or "—")
        self.confidence.setText(result.confidence.value)
        self.duration.setText(f"{result.duration * 1000:.0f} ms")
        self.required.setText("Required" if required else
                              "Optional: it does not change the overall result")
        self.exception.setText(exception_text(result, exception, stored, now))
        self._colour_chip()

    def set_actions(self, *, can_accept: bool, can_remove: bool) -> None:
        self.accept_button.setEnabled(can_accept and self.check_id is not None)
        self.remove_button.setEnabled(can_remove and self.check_id is not None)


def exception_text(result: CheckResult, exception: ComplianceException | None,
                   stored: Status | None, now: dt.datetime | None) -> str:
    if exception is None:
        return "None recorded."
    when = f"until the end of {exception.until.isoformat()} (UTC)"
    who = f", recorded by {exception.actor}" if exception.actor else ""
    text = f"Accepted risk {when}{who}: {exception.reason}"
    if now is not None and not exception.active(now):
        return f"Expired {exception.until.isoformat()}: {exception.reason}"
    if result.status is Status.Excepted and stored is not None and stored is not Status.Excepted:
        text += (f" — recorded after this run, which stored {WORDS[stored]}; the next run is "
                 "stored as EXCEPTED.")
    elif result.status not in (Status.Excepted,):
        text += f" — not applied: the check is {WORDS[result.status]}."
    return text


class AcceptRiskDialog(QDialog):
    """Why the risk is accepted and until when (the last day it applies)."""

    def __init__(self, title: str, today: dt.date, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Accept risk")
        self.setModal(True)
        intro = QLabel(f"Accept the risk of “{title}” failing or being unknown. The check then "
                       "reports EXCEPTED until the end of the chosen day (UTC); adding and "
                       "removing an exception are recorded in the audit log.")
        intro.setWordWrap(True)
        self.reason = QPlainTextEdit()
        self.reason.setAccessibleName("Reason for accepting the risk")
        self.reason.setPlaceholderText("Why the risk is acceptable, and what is done instead")
        self.reason.setTabChangesFocus(True)
        self.reason.setFixedHeight(80)
        self.until = QDateEdit()
        self.until.setCalendarPopup(True)
        self.until.setDisplayFormat("yyyy-MM-dd")
        self.until.setAccessibleName("Accepted until (last day)")
        first = QDate(today.year, today.month, today.day)
        self.until.setMinimumDate(first)
        self.until.setDate(first.addDays(30))
        self.note = QLabel()
        self.note.setProperty("role", "error")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        self.ok_button = buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText("Accept risk")
        buttons.accepted.connect(self._check)
        buttons.rejected.connect(self.reject)
        form = QFormLayout()
        form.addRow("Reason", self.reason)
        form.addRow("Until", self.until)
        lay = QVBoxLayout(self)
        lay.addWidget(intro)
        lay.addLayout(form)
        lay.addWidget(self.note)
        lay.addWidget(buttons)
        self.resize(460, 260)

    def values(self) -> tuple[str, dt.date]:
        d = self.until.date()
        return " ".join(self.reason.toPlainText().split()), dt.date(d.year(), d.month(), d.day())

    def _check(self) -> None:
        reason, _ = self.values()
        if not reason:
            self.note.setText("Give a reason.")
        elif len(reason) > MAX_REASON_CHARS:
            self.note.setText(f"The reason is longer than {MAX_REASON_CHARS} characters.")
        else:
            self.accept()
