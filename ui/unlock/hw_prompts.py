"""The console's side of a hardware wait: app.unlock_methods.Prompts for calls on the worker thread.

A backend calls :class:`QtPrompts` from the task runner's worker. ``prompt_touch`` is passed to the
GUI thread by a queued signal and shows "Touch your security key (…)" only if the wait is still
going after :data:`TOUCH_DELAY_MS` (like ykman), and the note goes when the job ends.
``request_pin`` blocks the worker — never the GUI thread — while the GUI thread shows the PIN
dialog; the worker waits on a ``threading.Event`` and gives up when the job's cancel Event is set.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Qt, QThread, QTimer, Signal, Slot
from PySide6.QtWidgets import QWidget

from strongroom.app.errors import (
    DeviceNotFound,
    PinBlocked,
    StrongroomError,
    UserCancelled,
    WrongPin,
)
from strongroom.app.plugins import Availability
from strongroom.app.unlock_methods import SlotSecretSource

from ..workers import Task, TaskRunner, Work, user_message
from .passphrase_dialog import sentence
from .pin_dialog import PinDialog, attempts_text

SourceFactory = Callable[[str], SlotSecretSource]  # kind -> backend (load_source by default)

TOUCH_DELAY_MS = 500
POLL_S = 0.05  # how often a worker waiting for a PIN looks at the cancel Event


class _PinRequest:
    """One PIN question in flight between the worker and the GUI thread."""

    def __init__(self, device: str, retries: int | None, new: bool) -> None:
        self.device = device
        self.retries = retries
        self.new = new
        self.answered = threading.Event()
        self.answer: str | None = None
        self.dialog: PinDialog | None = None

    def give(self, answer: str | None) -> None:
        if not self.answered.is_set():
            self.answer = answer
            self.answered.set()


class QtPrompts(QObject):
    """Prompts for one view's hardware jobs; built on, and living in, the GUI thread."""

    touch_changed = Signal(str)  # the note to show, "" when it goes away
    pin_dialog_shown = Signal(object)  # the PinDialog, for the view (and tests) to see
    _touch_wanted = Signal(str)
    _pin_wanted = Signal(object)
    _pin_dropped = Signal(object)

    def __init__(self, parent: QWidget, *, delay_ms: int = TOUCH_DELAY_MS) -> None:
        super().__init__(parent)
        self._window = parent
        self._active = False
        self._cancel: threading.Event | None = None
        self._device = ""
        self._pending: list[_PinRequest] = []
        self.touch_text = ""
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(delay_ms)
        self._timer.timeout.connect(self._show_touch)
        queued = Qt.ConnectionType.QueuedConnection
        self._touch_wanted.connect(self._touch_requested, queued)
        self._pin_wanted.connect(self._ask_pin, queued)
        self._pin_dropped.connect(self._drop_pin, queued)

    # ----- the job's life (GUI thread) ---------------------------------------------------------

    def begin(self) -> None:
        self._active = True
        self._set_touch("")

    def end(self) -> None:
        """The job is over: hide the touch note, close any PIN dialog (its request gets None)."""
        self._active = False
        self._timer.stop()
        self._set_touch("")
        for request in list(self._pending):
            self._drop_pin(request)

    def watch(self, cancel: threading.Event | None) -> None:
        """The cancel Event of the running job (set from the worker, read by the worker)."""
        self._cancel = cancel

    @property
    def pin_dialog(self) -> PinDialog | None:
        return next((r.dialog for r in self._pending if r.dialog is not None), None)

    # ----- app.unlock_methods.Prompts (worker thread) ----------------------------------------

    def prompt_touch(self, device: str) -> None:
        self._touch_wanted.emit(device)

    def request_pin(self, device: str, retries: int | None, *, new: bool = False) -> str | None:
        if QThread.currentThread() is self.thread():
            raise RuntimeError("request_pin blocks until answered; call it from the worker")
        request = _PinRequest(device, retries, new)
        self._pin_wanted.emit(request)
        while not request.answered.wait(POLL_S):
            cancel = self._cancel
            if cancel is not None and cancel.is_set():
                self._pin_dropped.emit(request)
                return None
        answer, request.answer = request.answer, None
        return answer

    # ----- GUI thread -----------------------------------------------------------------------

    @Slot(str)
    def _touch_requested(self, device: str) -> None:
        if not self._active:
            return
        self._device = device
        if not self.touch_text:
            self._timer.start()  # shown only if the wait for the touch outlasts the delay

    def _show_touch(self) -> None:
        if self._active:
            self._set_touch(f"Touch your security key ({self._device})")

    def _set_touch(self, text: str) -> None:
        if text != self.touch_text:
            self.touch_text = text
            self.touch_changed.emit(text)

    @Slot(object)
    def _ask_pin(self, request: _PinRequest) -> None:
        if not self._active:
            request.give(None)
            return
        self._timer.stop()
        self._set_touch("")
        dialog = PinDialog(request.device, request.retries, new=request.new,
                           parent=self._window.window())
        dialog.setModal(True)
        request.dialog = dialog
        self._pending.append(request)
        dialog.finished.connect(lambda _r: self._answered(request))
        dialog.open()
        self.pin_dialog_shown.emit(dialog)

    def _answered(self, request: _PinRequest) -> None:
        dialog = request.dialog
        if request in self._pending:
            self._pending.remove(request)
        request.dialog = None
        if dialog is not None:
            request.give(dialog.take())
            dialog.deleteLater()
        request.give(None)

    @Slot(object)
    def _drop_pin(self, request: _PinRequest) -> None:
        dialog = request.dialog
        if dialog is not None and dialog.isVisible():
            dialog.reject()  # finished -> _answered -> None
        else:
            self._answered(request)


def run_with_prompts(
    runner: TaskRunner, prompts: QtPrompts, name: str, work: Work,
    **callbacks: Callable[..., Any] | None,
) -> Task:
    """Submit a hardware job: the prompts learn its cancel Event and are reset when it ends.

    A backend's own "Touch …" status is held back: the prompts say it, and only once the wait
    outlasts the delay.
    """

    def wrapped(cancel: threading.Event, progress: Callable[[str], None]) -> Any:
        prompts.watch(cancel)

        def status(text: str) -> None:
            if not text.startswith("Touch "):
                progress(text)

        return work(cancel, status)

    task = runner.submit(name, wrapped, **callbacks)  # type: ignore[arg-type]
    prompts.begin()
    task.finished.connect(prompts.end)
    return task


def hardware_message(error: BaseException) -> str:
    """One sentence for a failed hardware wait ("" for the user's own cancel)."""
    if isinstance(error, UserCancelled):
        return ""
    text = user_message(error)
    if isinstance(error, WrongPin) and error.retries is not None and "left" not in text:
        text += f"; {attempts_text(error.retries)}"
    elif isinstance(error, PinBlocked) and "reset" not in text:
        text += "; the PIN must be reset before this device can be used again"
    elif isinstance(error, DeviceNotFound) and error.hint and error.hint not in text:
        text += f"; {error.hint}"
    elif not isinstance(error, StrongroomError):
        return text
    return sentence(text)


def availability_of(sources: SourceFactory, kind: str) -> Availability:
    """Whether ``kind`` can be used here and why not; never raises (may touch hardware: call it
    in the runner)."""
    try:
        return sources(kind).available()
    except Exception as e:  # noqa: BLE001 - a missing or broken backend is a reason, not a crash
        return Availability(False, str(e) if isinstance(e, StrongroomError)
                            else f"no {kind} backend here ({type(e).__name__}: {e})")
