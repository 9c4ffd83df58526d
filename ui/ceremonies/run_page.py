"""A ceremony run: the preflight, then the steps one at a time, the share screens while a step hands
out or checks shares, and the end. "Full screen" makes the console fill the screen (Escape leaves
it); leaving keeps the run in the vault to resume later."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QHBoxLayout, QPushButton, QStackedWidget, QVBoxLayout, QWidget

from ..workers import user_message
from .finish_page import FinishPage
from .handover import AskSharePage, Handover, HandoverRequest, SharePage
from .host import CeremonyHost
from .look import STEP_SCALE, label
from .preflight_page import PreflightPage
from .session import FinishState, RunSession, RunState
from .step_page import StepPage


class RunPage(QWidget):
    def __init__(self, host: CeremonyHost, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.host = host
        self.session: RunSession | None = None
        self.handover = Handover(self)
        self.name = label(scale=STEP_SCALE, bold=True, name="The ceremony running")
        self.full_screen = QPushButton("Full screen")
        self.full_screen.setCheckable(True)
        self.full_screen.setAccessibleName("Full screen (Escape leaves it)")
        self.full_screen.setToolTip("Fill the screen for the room to read; Escape leaves")
        self.full_screen.toggled.connect(self._full_screen)
        self.preflight = PreflightPage(host)
        self.steps = StepPage(host, self.handover)
        self.share = SharePage(self.handover)
        self.ask = AskSharePage(self.handover)
        self.finish = FinishPage(host)
        self.stack = QStackedWidget()
        for page in (self.preflight, self.steps, self.share, self.ask, self.finish):
            self.stack.addWidget(page)
        self.preflight.passed.connect(self.refresh)
        self.preflight.leave.connect(self.leave)
        self.steps.leave.connect(self.leave)
        self.steps.finish_wanted.connect(self._finish)
        self.finish.leave.connect(self.leave)
        self.handover.shares_wanted.connect(self._show_shares)
        self.handover.share_asked.connect(self._ask_share)
        self.share.finished.connect(lambda: self.stack.setCurrentWidget(self.steps))
        self.ask.finished.connect(lambda: self.stack.setCurrentWidget(self.steps))
        top = QHBoxLayout()
        top.setContentsMargins(24, 12, 24, 0)
        top.addWidget(self.name, 1)
        top.addWidget(self.full_screen)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(top)
        lay.addWidget(self.stack, 1)

    # ----- the run --------------------------------------------------------------------------------

    def open(self, session: RunSession) -> None:
        self.session = session
        self.name.setText(f"{session.script.name} · ceremony {session.run.row.id[:12]}")
        self.refresh()

    def refresh(self) -> None:
        """Read the run's state (in the runner) and show the page it is at."""
        session = self.session
        if session is None:
            return
        self.host.submit("ceremony.state", "Reading the ceremony…",
                         lambda _c, _p: session.state(), self._route)

    def _route(self, state: RunState) -> None:
        session = self.session
        if session is None or state.run_id != session.run.row.id:
            return
        if not state.token_open and not state.token and state.preflight_done:
            # a store opened without a PIN (the TPM): open it and look again
            self.host.submit("ceremony.token", "Opening the key store…",
                             lambda _c, _p: session.open_token(""), lambda _r: self.refresh())
            return
        login = bool(state.token) and not state.token_open
        if state.ended and not (login and session.script.sign_with):
            self.host.submit("ceremony.end", "Reading the end of the ceremony…",
                             lambda _c, _p: session.finish(), self._finished)
        elif not state.preflight_done or login:
            self.preflight.show_session(session, state)
            self.stack.setCurrentWidget(self.preflight)
        else:
            self.steps.show_state(session, state)
            self.stack.setCurrentWidget(self.steps)

    def _finish(self) -> None:
        session = self.session
        if session is None:
            return
        self.steps.finish_button.setEnabled(False)

        def failed(exc: BaseException) -> None:
            self.steps.finish_button.setEnabled(True)
            self.steps.say(user_message(exc), "error")

        self.host.submit("ceremony.finish", "Writing the end record…",
                         lambda _c, _p: session.finish(), self._finished, failed)

    def _finished(self, finish: FinishState) -> None:
        session = self.session
        if session is None:
            return
        self.steps.finish_button.setEnabled(True)
        self.finish.show_finish(session, finish)
        self.stack.setCurrentWidget(self.finish)
        self.host.refresh_lists()

    # ----- shares -------------------------------------------------------------------------------

    def _show_shares(self, request: HandoverRequest) -> None:
        view = self.steps.view
        threshold = view.step.params.get("threshold") if view is not None else None
        self.share.start(request, f"Any {threshold} shares open the vault." if threshold else "")
        self.stack.setCurrentWidget(self.share)

    def _ask_share(self, request: HandoverRequest) -> None:
        self.ask.start(request)
        self.stack.setCurrentWidget(self.ask)

    # ----- leaving ------------------------------------------------------------------------------

    def _full_screen(self, on: bool) -> None:
        window = self.window()
        if on and not window.isFullScreen():
            window.showFullScreen()
        elif not on and window.isFullScreen():
            window.showNormal()
        self.full_screen.setText("Leave full screen (Esc)" if on else "Full screen")

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt API
        """Escape, pressed anywhere in the run that does not use it itself, leaves full screen."""
        if event.key() == Qt.Key.Key_Escape and self.full_screen.isChecked():
            self.full_screen.setChecked(False)
            event.accept()
            return
        super().keyPressEvent(event)

    def leave(self) -> None:
        """Back to the library; the run stays in the vault and resumes where it stopped."""
        session = self.drop()
        if session is not None:
            self.host.services.runner.submit("ceremony.close", lambda _c, _p: session.close())
        self.host.show_home()
        self.host.refresh_lists()

    def drop(self) -> RunSession | None:
        """Forget the run here (its token is closed by the caller, in the runner)."""
        self.full_screen.setChecked(False)
        self.handover.drop()
        self.share.clear()
        self.ask.field.clear()
        self.steps.wipe()
        session, self.session = self.session, None
        self.preflight.session = None
        self.preflight.ticker.stop()
        self.finish.session = None
        return session
