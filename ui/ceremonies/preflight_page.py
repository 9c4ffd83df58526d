"""The preflight screen: each finding (offline, endpoint checks, clock, token, output folder) with
ok or failed and why; a failed one is accepted only with the witness's words and their own
factor; then the preflight is recorded and the steps begin. On resume, the token's PIN only."""

from __future__ import annotations

import datetime as dt

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QPushButton, QVBoxLayout, QWidget

from strongroom.app.access.approvals import Approval
from strongroom.app.ceremony import runner
from strongroom.app.ceremony.preflight import Finding
from strongroom.app.keyslots import PassphraseUnlocker

from ..unlock.passphrase_dialog import password_field
from ..widgets.common import button, heading
from ..workers import user_message
from .env import EndpointRun
from .exception_dialog import ExceptionDialog
from .factor import FactorRow, confirm
from .host import CeremonyHost
from .look import STEP_SCALE, card, discard, empty, label, scaled, set_role
from .session import RunSession, RunState

CHECK_NAMES = {"offline": "Offline", "endpoint": "Endpoint checks", "clock": "Clock",
               "token": "Token", "output": "Output folder"}


def verdict(finding: Finding) -> tuple[str, str]:
    """The result in words (never colour alone) and its stylesheet role."""
    if finding.ok is True:
        return "✓ ok", "ok"
    if finding.ok is None:
        return "? cannot tell here", "warning"
    return "✗ FAILED", "error"


class PreflightPage(QWidget):
    passed = Signal()  # the preflight is recorded (and the token open): the steps begin
    leave = Signal()

    def __init__(self, host: CeremonyHost, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.host = host
        self.session: RunSession | None = None
        self.state: RunState | None = None
        self.findings: list[Finding] = []
        self.checks: EndpointRun | None = None
        self.exceptions: dict[str, tuple[str, Approval]] = {}
        self.clock_rows: list[FactorRow] = []
        self.accept_buttons: dict[str, QPushButton] = {}
        self.title = heading("Preflight")
        self.about = label(scale=STEP_SCALE, name="The ceremony")
        self.note = label(role="muted", name="About the preflight")
        self.pin_row = QWidget()
        self.pin_label = label(scale=STEP_SCALE)
        self.pin_label.setWordWrap(False)
        self.pin = password_field("The token's PIN")
        self.pin.setPlaceholderText("The token's user PIN (kept only while the ceremony runs)")
        scaled(self.pin, STEP_SCALE)
        self.pin.setMaximumWidth(460)
        pin_lay = QHBoxLayout(self.pin_row)
        pin_lay.setContentsMargins(0, 0, 0, 0)
        pin_lay.addWidget(self.pin_label)
        pin_lay.addWidget(self.pin, 1)
        pin_lay.addStretch(1)
        self.box, box_lay = card("Preflight findings")
        self.grid = QGridLayout()
        self.grid.setHorizontalSpacing(16)
        self.grid.setVerticalSpacing(10)
        box_lay.addLayout(self.grid)
        self.endpoint_note = label(role="muted", name="Where the endpoint checks come from")
        box_lay.addWidget(self.endpoint_note)
        self.inputs = label(name="Input files", selectable=True)
        self.inputs.hide()
        box_lay.addWidget(self.inputs)
        self.clock_box, clock_lay = card("The witness confirms the clock")
        self.clock_now = label(scale=STEP_SCALE * 1.2, bold=True, name="The console's clock")
        self.clock_note = label(role="muted")
        self.clock_rows_lay = QVBoxLayout()
        clock_lay.addWidget(self.clock_now)
        clock_lay.addWidget(self.clock_note)
        clock_lay.addLayout(self.clock_rows_lay)
        self.ticker = QTimer(self)
        self.ticker.setInterval(1000)
        self.ticker.timeout.connect(self._tick)
        self.message = label(name="Preflight status")
        self.check_button = button("Check again", self.check)
        self.continue_button = button("Continue to the steps", self._continue)
        self.continue_button.setDefault(True)
        scaled(self.continue_button, STEP_SCALE, bold=True)
        self.leave_button = button("Leave (resume later)", self.leave.emit)
        buttons = QHBoxLayout()
        buttons.addWidget(self.leave_button)
        buttons.addStretch(1)
        buttons.addWidget(self.check_button)
        buttons.addWidget(self.continue_button)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(24, 20, 24, 20)
        lay.addWidget(self.title)
        lay.addWidget(self.about)
        lay.addWidget(self.note)
        lay.addWidget(self.pin_row)
        lay.addWidget(self.box)
        lay.addWidget(self.clock_box)
        lay.addWidget(self.message)
        lay.addStretch(1)
        lay.addLayout(buttons)

    # ----- showing ------------------------------------------------------------------------------

    def show_session(self, session: RunSession, state: RunState) -> None:
        self.session, self.state = session, state
        self.exceptions.clear()
        self.pin.clear()
        self.about.setText(f"<b>{_esc(state.name)}</b> — {_esc(state.purpose)}")
        resuming = state.preflight_done or state.ended
        self.title.setText("Token" if resuming else "Preflight")
        self.note.setText(
            f"The ceremony has ended. Log in to the token so {session.script.sign_with} signs "
            "the transcript's head." if state.ended else
            "The preflight was recorded when this ceremony began. Log in to the token to go on."
            if resuming else
            "Each check must pass. A failed one goes ahead only with the witness's exception: "
            "their words and their own passphrase.")
        self.pin_row.setVisible(bool(state.token) and not state.token_open)
        self.pin_label.setText(f"PIN of token {state.token}:")
        self.continue_button.setText("Log in and continue" if resuming
                                     else "Continue to the steps")
        self.box.setVisible(not resuming)
        self.check_button.setVisible(not resuming)
        self._clock_rows(session if not resuming else None)
        self.say("")
        self._show([], None)
        if not resuming:
            self.check()
        self._update()

    def check(self) -> None:
        session = self.session
        if session is None:
            return
        self.check_button.setEnabled(False)
        self.host.submit("ceremony.preflight.check", "Checking this machine…",
                         lambda _c, _p: (*session.check(), session.inputs()), self._checked,
                         self._check_failed)

    def _checked(self, result: tuple[list[Finding], EndpointRun, list[tuple[str, bool]]]
                 ) -> None:
        self.check_button.setEnabled(True)
        findings, checks, inputs = result
        state = self.state
        self.inputs.setVisible(bool(inputs))
        if inputs and state is not None:
            self.inputs.setText(
                f"Input files the steps read — copy them into {state.out} before the first "
                "step: " + ", ".join(f"{name} {'✓ present' if here else '✗ missing'}"
                                     for name, here in inputs))
            set_role(self.inputs, "" if all(here for _n, here in inputs) else "warning")
        self._show(findings, checks)

    def _check_failed(self, exc: BaseException) -> None:
        self.check_button.setEnabled(True)
        self.say(user_message(exc), "error")

    def _show(self, findings: list[Finding], checks: EndpointRun | None) -> None:
        self.findings, self.checks = findings, checks
        self.accept_buttons.clear()
        empty(self.grid)
        for row, finding in enumerate(findings):
            text, role = verdict(finding)
            if finding.check == "clock" and finding.ok is True and self.clock_rows:
                witness = self.clock_confirmation()
                text, role = ((f"✓ confirmed by {witness.approver}", "ok") if witness else
                              ("… the witness confirms it", "warning"))
            name = label(CHECK_NAMES.get(finding.check, finding.check), scale=STEP_SCALE,
                         bold=True)
            result = label(text, scale=STEP_SCALE, role=role,
                           name=f"{finding.check}: {text}")
            detail = label(finding.detail, name=f"{finding.check} detail", selectable=True)
            self.grid.addWidget(name, row, 0, Qt.AlignmentFlag.AlignTop)
            self.grid.addWidget(result, row, 1, Qt.AlignmentFlag.AlignTop)
            self.grid.addWidget(detail, row, 2)
            if finding.ok is not True:
                self.grid.addWidget(self._acceptance(finding), row, 3, Qt.AlignmentFlag.AlignTop)
        self.grid.setColumnStretch(2, 1)
        self.endpoint_note.setText(checks.note if checks is not None else "")
        self._update()

    def _acceptance(self, finding: Finding) -> QWidget:
        taken = self.exceptions.get(finding.check)
        if taken is not None:
            return label(f"accepted by {taken[1].approver}: {taken[0]}", role="warning",
                         name=f"{finding.check}: the witness's exception")
        made = button("Accept with the witness's exception…",
                      lambda _on=False, f=finding: self._ask_witness(f))
        self.accept_buttons[finding.check] = made
        return made

    def _ask_witness(self, finding: Finding) -> None:
        session = self.session
        if session is None:
            return
        dialog = ExceptionDialog(
            self.host, session, session.witnesses(), step=None, record=False,
            subject=f"The preflight check “{CHECK_NAMES.get(finding.check, finding.check)}” "
                    f"failed: {finding.detail}. The ceremony goes on only if the witness "
                    "accepts it in their own words.", parent=self.window())
        dialog.accepted_with.connect(lambda text, approval: self._accepted(
            finding.check, text, approval))
        self.host.open_dialog(dialog)

    def _accepted(self, check: str, text: str, approval: Approval) -> None:
        self.exceptions[check] = (text, approval)
        self._show(self.findings, self.checks)

    # ----- the clock --------------------------------------------------------------------------

    def _clock_rows(self, session: RunSession | None) -> None:
        """The witness confirms the time the console shows (an approval of ``ceremony.clock``),
        within the script's skew; it is spent when the preflight is recorded."""
        for row in self.clock_rows:
            discard(row)
        self.clock_rows.clear()
        witnesses = session.witnesses() if session is not None else {}
        self.clock_box.setVisible(bool(witnesses))
        if not witnesses or session is None:
            self.ticker.stop()
            return
        skew = session.script.preflight.clock_skew_minutes
        self.clock_note.setText(f"The witness compares it with their own watch: it must be "
                                f"within {skew} minutes. Then they confirm it with their own "
                                "passphrase or security key.")
        for name, has_key in witnesses.items():
            row = FactorRow(name, "(witness)", has_key, action="Confirm the time")
            row.submitted.connect(lambda _n, secret, r=row: self._confirm_clock(r, secret))
            self.clock_rows.append(row)
            self.clock_rows_lay.addWidget(row)
        self._tick()
        self.ticker.start()

    def _tick(self) -> None:
        vault = self.host.vault
        if vault is None:
            self.ticker.stop()
            return
        now = self.host.env.now(vault)
        local = now.astimezone()
        self.clock_now.setText(f"The clock says {now.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S} UTC "
                               f"({local:%H:%M:%S} {local.tzname() or 'local'})")

    def _confirm_clock(self, row: FactorRow, secret: PassphraseUnlocker | None) -> None:
        session = self.session
        if session is not None:
            confirm(self.host, session, row, runner.CLOCK_OPERATION, "clock", secret,
                    lambda _a: self._show(self.findings, self.checks),
                    confirmed="confirmed the time")

    def clock_confirmation(self) -> Approval | None:
        return next((r.approval for r in self.clock_rows if r.approval is not None), None)

    # ----- going on -----------------------------------------------------------------------------

    def ready(self) -> bool:
        state = self.state
        if state is None:
            return False
        if state.preflight_done or state.ended:
            return True
        clock_ok = next((f.ok for f in self.findings if f.check == "clock"), None)
        timed = (clock_ok is not True or not self.clock_rows
                 or self.clock_confirmation() is not None)
        return bool(self.findings) and timed and all(
            f.ok is True or f.check in self.exceptions for f in self.findings)

    def _update(self) -> None:
        self.continue_button.setEnabled(self.ready())

    def _continue(self) -> None:
        session, state = self.session, self.state
        if session is None or state is None or not self.ready():
            return
        pin = self.pin.text()
        if self.pin_row.isVisible() and not pin:
            self.say("Type the token's PIN first.", "warning")
            return
        self.pin.clear()
        exceptions = dict(self.exceptions)
        clock = self.clock_confirmation()
        resuming = state.preflight_done or state.ended
        self.continue_button.setEnabled(False)

        recording = []

        def work(_c: object, _p: object) -> None:
            session.open_token(pin)
            if not resuming:
                recording.append(True)
                session.preflight(exceptions, clock)

        def failed(exc: BaseException) -> None:
            self.say(user_message(exc), "error")
            if recording:  # recorded as failed, the confirmations spent: check again
                self.exceptions.clear()
                self._clock_rows(session)
                self.check()
            self._update()

        def done(_r: object) -> None:
            self.ticker.stop()
            self.passed.emit()

        self.host.submit("ceremony.preflight", "Recording the preflight…" if not resuming
                         else "Logging in to the token…", work, done, failed)

    def say(self, text: str, role: str = "") -> None:
        self.message.setText(text)
        set_role(self.message, role)


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
