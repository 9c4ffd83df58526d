"""The end: the head of the transcript (hex and PGP words), the Ceremony Administrator and the
Witness signing it with their security keys (when they have one; otherwise the screen says the
transcript is saved without their signature), then the transcript written to the run folder as
JSON and as the binder's PDF, and checked as ``ceremony verify`` would check it."""

from __future__ import annotations

import threading

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QPushButton, QScrollArea, QVBoxLayout, QWidget

from ..unlock.hw_prompts import hardware_message
from ..widgets.common import button, heading
from ..workers import Progress, user_message
from .factor import touch_label
from .host import CeremonyHost
from .look import STEP_SCALE, Fingerprint, card, empty, label, scaled, set_role
from .session import FinishState, RunSession, Signer


class FinishPage(QWidget):
    leave = Signal()

    def __init__(self, host: CeremonyHost, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.host = host
        self.session: RunSession | None = None
        self.finish: FinishState | None = None
        self.sign_buttons: dict[str, QPushButton] = {}
        self.title = heading("The ceremony is done")
        self.head_box, head = card("The transcript's head")
        self.head_holder = QVBoxLayout()
        head.addLayout(self.head_holder)
        self.key_note = label(scale=STEP_SCALE, name="The ceremony key's signature")
        head.addWidget(self.key_note)
        self.signers_box, signers = card("Signatures over the head")
        signers.addWidget(label("The Ceremony Administrator and the Witness sign the head with "
                                "their own security keys.", scale=STEP_SCALE))
        self.signer_rows = QVBoxLayout()
        signers.addLayout(self.signer_rows)
        self.touch = touch_label()
        signers.addWidget(self.touch)
        host.prompts.touch_changed.connect(self._touch)
        self.unsigned = label(role="warning", scale=STEP_SCALE, name="Unsigned")
        self.save_button = button("Save the transcript (JSON and PDF)", self._save)
        self.save_button.setDefault(True)
        scaled(self.save_button, STEP_SCALE, bold=True)
        self.saved = label(scale=STEP_SCALE, name="Where the transcript is", selectable=True)
        self.message = label(name="Finish status", selectable=True)
        self.back_button = button("Back to the ceremonies", self.leave.emit)
        body = QWidget()
        column = QVBoxLayout(body)
        column.setContentsMargins(24, 16, 24, 16)
        column.addWidget(self.title)
        column.addWidget(self.head_box)
        column.addWidget(self.signers_box)
        column.addWidget(self.unsigned)
        column.addWidget(self.saved)
        column.addWidget(self.message)
        column.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(body)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        footer = QHBoxLayout()
        footer.setContentsMargins(24, 0, 24, 12)
        footer.addWidget(self.back_button)
        footer.addStretch(1)
        footer.addWidget(self.save_button)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(scroll, 1)
        lay.addLayout(footer)

    def show_finish(self, session: RunSession, finish: FinishState) -> None:
        first = self.session is not session or self.finish is None \
            or self.finish.head != finish.head
        self.session, self.finish = session, finish
        if first:
            empty(self.head_holder)
            self.head_holder.addWidget(Fingerprint(
                "The transcript's head: every signature is over it", finish.head))
        self.key_note.setText(finish.key_signature)
        self.key_note.setVisible(bool(finish.key_signature))
        empty(self.signer_rows)
        self.sign_buttons.clear()
        for signer in finish.signers:
            self.signer_rows.addWidget(self._signer_row(signer))
        missing = [s for s in finish.signers if not s.signed]
        keyless = [s.name for s in missing if not s.has_key]
        if keyless:
            self.unsigned.setText(
                f"{' and '.join(keyless)} {'has' if len(keyless) == 1 else 'have'} no security "
                "key enrolled, so the transcript is saved without "
                f"{'that signature' if len(keyless) == 1 else 'those signatures'}: it does not "
                "verify as signed until it is signed.")
        elif missing:
            self.unsigned.setText("Not everyone has signed yet; saving now keeps the transcript "
                                  "without the missing signatures.")
        self.unsigned.setVisible(bool(missing))
        self.save_button.setText("Save the transcript (JSON and PDF)" if not missing else
                                 "Save the transcript unsigned (JSON and PDF)")
        self.save_button.setEnabled(not finish.saved)
        if finish.saved:
            report = finish.report
            verdict = ("It verifies: " f"{report.records} records, {report.signatures_checked} "
                       f"signatures, {report.files_checked} output files." if report and report.ok
                       else f"It does not verify: {report.first_problem if report else '?'}")
            self.saved.setText("Saved " + " and ".join(str(p) for p in finish.saved) + ". "
                               + verdict)
            set_role(self.saved, "ok" if report and report.ok else "warning")
        else:
            self.saved.setText("")

    def _signer_row(self, signer: Signer) -> QWidget:
        row = QWidget()
        lay = QHBoxLayout(row)
        lay.setContentsMargins(0, 2, 0, 2)
        lay.addWidget(label(f"{signer.name} ({signer.role})", scale=STEP_SCALE, bold=True), 1)
        if signer.signed:
            lay.addWidget(label("✓ signed with their security key", scale=STEP_SCALE, role="ok",
                                name=f"{signer.name} signed"), 2)
        elif not signer.has_key:
            lay.addWidget(label("no security key enrolled: not signed", scale=STEP_SCALE,
                                role="warning", name=f"{signer.name} did not sign"), 2)
        else:
            made = button(f"{signer.name}: sign with security key",
                          lambda _on=False, s=signer: self._sign(s))
            scaled(made, STEP_SCALE)
            self.sign_buttons[signer.name] = made
            lay.addWidget(made, 2)
        return row

    def _touch(self, text: str) -> None:
        self.touch.setText(text)
        self.touch.setVisible(bool(text) and self.isVisible())

    def _sign(self, signer: Signer) -> None:
        session = self.session
        if session is None:
            return
        for made in self.sign_buttons.values():
            made.setEnabled(False)
        prompts = self.host.prompts
        self.say(f"Waiting for {signer.name}'s security key…", "muted")

        def work(cancel: threading.Event, progress: Progress) -> FinishState:
            return session.sign(signer.name, signer.role, prompts, cancel, progress)

        def failed(exc: BaseException) -> None:
            for made in self.sign_buttons.values():
                made.setEnabled(True)
            self.say(hardware_message(exc) or "The security key was not used; nothing was "
                     "signed.", "error")

        def done(finish: FinishState) -> None:
            self.say(f"{signer.name} signed the head.", "ok")
            self.show_finish(session, finish)

        self.host.submit("ceremony.sign", f"Signing with {signer.name}'s security key…", work,
                         done, failed, hardware=True)

    def _save(self) -> None:
        session = self.session
        if session is None:
            return
        self.save_button.setEnabled(False)

        def failed(exc: BaseException) -> None:
            self.save_button.setEnabled(True)
            self.say(user_message(exc), "error")

        def done(finish: FinishState) -> None:
            self.say("")
            self.show_finish(session, finish)
            self.host.refresh_lists()

        self.host.submit("ceremony.save", "Saving the transcript…",
                         lambda _c, _p: session.save(), done, failed)

    def say(self, text: str, role: str = "") -> None:
        self.message.setText(text)
        set_role(self.message, role)

