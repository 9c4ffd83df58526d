"""The witness records an exception: what deviated from the script, in their words, confirmed with
their own passphrase or security key (an approval of ``ceremony.exception`` for this run). At a
step it is recorded on the transcript at once; at the preflight it accepts a failed check and is
recorded with the preflight."""

from __future__ import annotations

import threading
from collections.abc import Mapping

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QPlainTextEdit, QVBoxLayout, QWidget

from strongroom.app.access.approvals import Approval
from strongroom.app.ceremony import runner
from strongroom.app.keyslots import PassphraseUnlocker

from ..unlock.hw_prompts import hardware_message
from ..workers import Progress, user_message
from .factor import FactorRow
from .host import CeremonyHost
from .look import label
from .session import RunSession

MAX_TEXT = 4000


class ExceptionDialog(QDialog):
    """What happened: [text]. The witness: [passphrase] [Use security key] [Record]."""

    accepted_with = Signal(str, object)  # the text, the witness's Approval

    def __init__(self, host: CeremonyHost, session: RunSession, witnesses: Mapping[str, bool],
                 *, step: str | None, subject: str, record: bool,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.host, self.session = host, session
        self.step, self.record = step, record
        self.setWindowTitle("Record an exception")
        self.setAccessibleName("Record an exception")
        self.intro = label(subject)
        self.text = QPlainTextEdit()
        self.text.setAccessibleName("The witness's account of the exception")
        self.text.setPlaceholderText("What deviated from the script, and why it was accepted "
                                     "(the witness's words; it goes into the transcript)")
        self.text.setMaximumHeight(140)
        self.rows = [FactorRow(name, "(witness)", has_key, action="Record" if record else "Accept")
                     for name, has_key in witnesses.items()]
        self.message = label("", name="Exception status")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(self.intro)
        lay.addWidget(self.text)
        lay.addWidget(label("The witness confirms it with their own passphrase or security "
                            "key:", role="muted"))
        for row in self.rows:
            row.submitted.connect(self._submit)
            lay.addWidget(row)
        if not self.rows:
            self.message.setText("The script names no witness: no exception can be recorded.")
        lay.addWidget(self.message)
        lay.addWidget(buttons)
        self.setMinimumWidth(720)

    def _submit(self, name: str, secret: PassphraseUnlocker | None) -> None:
        row = next(r for r in self.rows if r.name == name)
        text = " ".join(self.text.toPlainText().split())
        if not text or len(text) > MAX_TEXT:
            row.set_failed(f"The witness writes what happened first (1 to {MAX_TEXT} "
                           "characters).")
            return
        session, step, record = self.session, self.step, self.record
        prompts = self.host.prompts if secret is None else None

        def work(cancel: threading.Event, progress: Progress) -> Approval:
            approval = session.approve(runner.EXCEPTION_OPERATION, step or "ceremony", name,
                                       secret, prompts, cancel, progress)
            if record:
                session.record_exception(text, approval, step)
            return approval

        def ok(approval: Approval) -> None:
            row.set_done(approval, "recorded" if record else "accepted")
            self.accepted_with.emit(text, approval)
            self.accept()

        def failed(exc: BaseException) -> None:
            row.set_failed((hardware_message(exc) if secret is None else user_message(exc))
                           or "The security key was not used; nothing was recorded.")

        self.host.submit("ceremony.exception", "Recording the witness's exception…", work, ok,
                         failed, hardware=secret is None)
