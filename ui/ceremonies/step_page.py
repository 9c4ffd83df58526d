"""One step at a time, in large type: step n of N, its kind, who must act, what it does; each
confirming person's own factor (the role's quorum, then the witness); the step run in the task
runner; and its result — fingerprints as grouped hex and PGP words, output files with SHA-256."""

from __future__ import annotations

import threading
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QScrollArea, QVBoxLayout, QWidget

from strongroom.app.access.approvals import Approval
from strongroom.app.ceremony import runner
from strongroom.app.ceremony.lint import LintFailed
from strongroom.app.keyslots import PassphraseUnlocker

from ..widgets.common import button
from ..workers import Progress, user_message
from .env import describe
from .exception_dialog import ExceptionDialog
from .factor import FactorRow, confirm, touch_label
from .handover import Handover
from .host import CeremonyHost
from .look import STEP_SCALE, TITLE_SCALE, card, discard, label, scaled, set_role
from .result_view import ResultView
from .session import RunSession, RunState, StepView


class StepPage(QWidget):
    finish_wanted = Signal()
    leave = Signal()

    def __init__(self, host: CeremonyHost, handover: Handover,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.host, self.handover = host, handover
        self.session: RunSession | None = None
        self.state: RunState | None = None
        self.view: StepView | None = None
        self.rows: list[FactorRow] = []
        self.counter = label(scale=TITLE_SCALE, bold=True, name="Step")
        self.kind = label(scale=STEP_SCALE, role="muted", name="Kind of step")
        self.who = label(scale=STEP_SCALE, name="Who must act")
        self.instruction = label(scale=STEP_SCALE * 1.15, bold=True, name="Instruction",
                                 selectable=True)
        self.confirm_box, box = card("Confirmations")
        self.quorum = label(scale=STEP_SCALE, name="Who has confirmed")
        box.addWidget(self.quorum)
        self.rows_box = QVBoxLayout()
        box.addLayout(self.rows_box)
        self.touch = touch_label()
        box.addWidget(self.touch)
        host.prompts.touch_changed.connect(self._touch)
        self.run_button = button("Do the step", self._run)
        self.run_button.setDefault(True)
        scaled(self.run_button, STEP_SCALE, bold=True)
        box.addWidget(self.run_button, 0, Qt.AlignmentFlag.AlignRight)
        self.result_box, result = card("The step's result")
        self.result_title = label("Result", scale=STEP_SCALE, bold=True)
        self.result = ResultView()
        self.next_button = button("Next step →", self._next)
        scaled(self.next_button, STEP_SCALE, bold=True)
        result.addWidget(self.result_title)
        result.addWidget(self.result)
        result.addWidget(self.next_button, 0, Qt.AlignmentFlag.AlignRight)
        self.message = label(name="Step status", selectable=True)
        self.finish_button = button("Finish the ceremony", self.finish_wanted.emit)
        scaled(self.finish_button, STEP_SCALE, bold=True)
        self.exception_button = button("Record exception…", self._exception,
                                       "The witness records a deviation from the script")
        self.leave_button = button("Leave (resume later)", self.leave.emit)

        body = QWidget()
        column = QVBoxLayout(body)
        column.setContentsMargins(24, 16, 24, 16)
        column.addWidget(self.counter)
        column.addWidget(self.kind)
        column.addWidget(self.who)
        column.addSpacing(6)
        column.addWidget(self.instruction)
        column.addSpacing(6)
        column.addWidget(self.confirm_box)
        column.addWidget(self.result_box)
        column.addWidget(self.message)
        column.addWidget(self.finish_button, 0, Qt.AlignmentFlag.AlignLeft)
        column.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(body)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        self.scroll = scroll
        footer = QHBoxLayout()
        footer.setContentsMargins(24, 0, 24, 12)
        footer.addWidget(self.leave_button)
        footer.addStretch(1)
        footer.addWidget(self.exception_button)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(scroll, 1)
        lay.addLayout(footer)

    # ----- showing a step -------------------------------------------------------------------------

    def show_state(self, session: RunSession, state: RunState) -> None:
        self.session, self.state, self.view = session, state, state.step
        self.result.clear()
        self.result_box.hide()
        self.say("")
        self._clear_rows()
        view = state.step
        if view is None:
            self.counter.setText(f"All {state.total} steps are done")
            self.kind.setText("")
            self.who.setText("")
            self.instruction.setText("Finish the ceremony: the end record is written, the "
                                     "administrator and the witness sign its head, and the "
                                     "transcript is saved.")
            self.confirm_box.hide()
            self.finish_button.show()
            return
        self.finish_button.hide()
        self.confirm_box.show()
        step = view.step
        self.counter.setText(f"Step {view.index} of {view.total}: {step.title}")
        self.kind.setText(f"{step.kind} · step id {step.id}")
        how = (f"{view.needed} of them confirm" if view.needed > 1 else
               "one of them confirms" if len(view.people) > 1 else "they confirm")
        witness = (f" The witness ({', '.join(view.witnesses)}) co-confirms."
                   if view.witnesses else "")
        self.who.setText(f"Who acts: {view.role.id} ({view.role.strongroom_role}) — "
                         f"{', '.join(view.people)}: {how}.{witness}")
        self.instruction.setText(describe(step, session.script))
        for name in view.people:
            self._add_row(name, f"({view.role.id})", view.keys.get(name, False))
        for name in view.witnesses:
            self._add_row(name, "(witness)", view.keys.get(name, False))
        self._update()

    def _add_row(self, name: str, what: str, has_key: bool) -> None:
        row = FactorRow(name, what, has_key, scale=STEP_SCALE)
        row.submitted.connect(lambda n, secret, r=row: self._confirm(r, secret))
        self.rows.append(row)
        self.rows_box.addWidget(row)

    def _clear_rows(self) -> None:
        for row in self.rows:
            row.passphrase.clear()
            discard(row)
        self.rows.clear()

    def _touch(self, text: str) -> None:
        self.touch.setText(text)
        self.touch.setVisible(bool(text) and self.isVisible())

    # ----- confirming -----------------------------------------------------------------------------

    def _confirm(self, row: FactorRow, secret: PassphraseUnlocker | None) -> None:
        session, view = self.session, self.view
        if session is None or view is None:
            return
        confirm(self.host, session, row, runner.STEP_OPERATION, view.step.id, secret,
                lambda _a: self._update())

    def confirmed(self) -> tuple[list[str], str | None]:
        """Who of the role has confirmed, and the witness who did (None: not yet)."""
        view = self.view
        if view is None:
            return [], None
        role = [r.name for r in self.rows if r.done and r.name in view.people]
        witness = next((r.name for r in self.rows if r.done and r.name in view.witnesses
                        and r.name not in view.people), None)
        return role, witness

    def ready(self) -> bool:
        view = self.view
        if view is None:
            return False
        role, witness = self.confirmed()
        return len(role) >= view.needed and (witness is not None or not view.witnesses)

    def _update(self) -> None:
        view = self.view
        if view is None:
            return
        role, witness = self.confirmed()
        text = f"Confirmed: {len(role)} of {view.needed} needed"
        text += f" ({', '.join(role)})" if role else ""
        if view.witnesses:
            text += f"; witness: {witness or 'not yet'}"
        self.quorum.setText(text + ".")
        for row in self.rows:
            if row.name in view.people:
                row.set_open(len(role) < view.needed)
        self.run_button.setEnabled(self.ready())

    def approvals(self) -> list[Approval]:
        return [r.approval for r in self.rows if r.approval is not None]

    # ----- running ------------------------------------------------------------------------------

    def _run(self) -> None:
        session, view = self.session, self.view
        if session is None or view is None or not self.ready():
            return
        confirmations = self.approvals()
        handover = self.handover
        step_id = view.step.id
        self.run_button.setEnabled(False)
        self.say(f"Doing step {view.index}…", "muted")

        def work(cancel: threading.Event, _progress: Progress) -> tuple[dict[str, Any], RunState]:
            handover.watch(cancel)
            data = session.run_step(step_id, confirmations, handover.show, handover.ask)
            return data, session.state()

        self.host.submit(f"ceremony.step.{step_id}", f"Doing step {view.index}…", work,
                         self._done, self._failed)

    def _done(self, result: tuple[dict[str, Any], RunState]) -> None:
        data, state = result
        self.state = state
        self.confirm_box.hide()
        self.say("")
        self.result_title.setText(f"Step {self.view.index if self.view else ''} is done and "
                                  "recorded.")
        self.result.show_data(data)
        self.result_box.show()
        self.next_button.setText("Next step →" if state.step is not None else "Go to the finish")
        self.next_button.setFocus()

    def _failed(self, exc: BaseException) -> None:
        for row in self.rows:  # a confirmation is spent by the try it was given for
            row.approval = None
            row.set_failed("")
        self._update()
        text = f"{user_message(exc)} The step was not recorded; everyone confirms again."
        if isinstance(exc, LintFailed):
            codes = ", ".join(sorted({f.code for f in exc.refused}))
            text += (f" Lint errors: {codes}. To go ahead anyway, the witness records an "
                     "exception naming each code it accepts.")
        self.say(text, "error")

    def _next(self) -> None:
        if self.session is not None and self.state is not None:
            self.show_state(self.session, self.state)
            self.scroll.verticalScrollBar().setValue(0)

    def _exception(self) -> None:
        session = self.session
        if session is None:
            return
        step = self.view.step.id if self.view is not None else None
        dialog = ExceptionDialog(
            self.host, session, session.witnesses(), step=step, record=True,
            subject=("The witness records what deviated from the script at step "
                     f"{self.view.index} ({step})." if self.view is not None and step else
                     "The witness records what deviated from the script."),
            parent=self.window())
        dialog.accepted_with.connect(lambda text, _a: self.say(
            f"Exception recorded: {text}", "warning"))
        self.host.open_dialog(dialog)

    def say(self, text: str, role: str = "") -> None:
        self.message.setText(text)
        set_role(self.message, role)

    def wipe(self) -> None:
        """Forget the confirmations and the result (the run is left, or the vault locked)."""
        self._clear_rows()
        self.result.clear()
        self.session = self.state = self.view = None

