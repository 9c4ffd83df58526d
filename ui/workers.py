"""Run slow work off the UI thread; results, errors and progress come back by signal.

Every vault call the console makes goes through :class:`TaskRunner`, which runs tasks one at a
time on a single worker thread (the vault's SQLCipher connection and, later, hardware sessions
are used from one thread at a time). A task gets a ``threading.Event`` to watch for cancel and a
``progress(str)`` callback. Results are delivered through Qt signals into the GUI thread; nothing
is left on the worker for a poller to find.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, Signal, Slot

from strongroom.app.errors import StrongroomError, UserCancelled

from . import gc_guard

log = logging.getLogger(__name__)

Progress = Callable[[str], None]
Work = Callable[[threading.Event, Progress], Any]


def user_message(error: BaseException) -> str:
    """One sentence for the user; unexpected errors are logged by type only (no values)."""
    if isinstance(error, StrongroomError):
        text = str(error)
        first = text.split(" ", 1)[0]
        # Capitalise a sentence, not a file name or path that happens to start it.
        return text[:1].upper() + text[1:] if first.isalpha() and first.islower() else text
    log.error("unexpected %s in a background task", type(error).__name__)
    return f"Something went wrong ({type(error).__name__}); nothing was changed."


class Task(QObject):
    """A handle on one submitted job: connect to its signals, or cancel it.

    The worker reports through ``_report`` with a queued connection to a slot of this object,
    which lives in the GUI thread; the public signals are emitted from there, so whatever is
    connected to them (lambdas included) runs in the GUI thread.
    """

    succeeded = Signal(object)
    failed = Signal(object)  # the exception
    cancelled = Signal()
    progress = Signal(str)
    finished = Signal()
    _report = Signal(str, object)

    def __init__(self, name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self.quiet = False  # a background look (the audit log following itself): not "busy"
        self.cancel_event = threading.Event()
        self.done = False
        self._report.connect(self._deliver, Qt.ConnectionType.QueuedConnection)

    def cancel(self) -> None:
        self.cancel_event.set()

    @Slot(str, object)
    def _deliver(self, kind: str, payload: object) -> None:
        if kind == "progress":
            self.progress.emit(payload)
            return
        if kind == "ok":
            self.succeeded.emit(payload)
        elif kind == "error":
            self.failed.emit(payload)
        else:
            self.cancelled.emit()
        self.done = True
        self.finished.emit()


class _Runnable(QRunnable):
    def __init__(self, task: Task, work: Work) -> None:
        super().__init__()
        self.task = task
        self.work = work
        self.setAutoDelete(True)

    def run(self) -> None:
        task = self.task
        report = task._report.emit

        def progress(text: str) -> None:
            report("progress", text)

        try:
            if task.cancel_event.is_set():
                raise UserCancelled()
            result = self.work(task.cancel_event, progress)
        except UserCancelled:
            report("cancel", None)
        except BaseException as e:  # noqa: BLE001 - delivered to the GUI thread as a signal
            report("cancel" if task.cancel_event.is_set() else "error", e)
        else:
            # Work that finished did happen, even if cancel was asked meanwhile: say so.
            report("ok", result)


class TaskRunner(QObject):
    """Submits work to one dedicated worker thread and keeps each Task alive until it finishes."""

    busy_changed = Signal(bool)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        gc_guard.install()  # Python code now runs off the GUI thread: collect only on it
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._live: set[Task] = set()

    def submit(
        self,
        name: str,
        work: Work,
        *,
        on_success: Callable[[Any], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
        on_progress: Callable[[str], None] | None = None,
        on_cancel: Callable[[], None] | None = None,
        quiet: bool = False,
    ) -> Task:
        """Queue ``work``; a ``quiet`` task does not count as :attr:`busy` (no busy bar)."""
        # Owned by the runner, so the worker dropping its reference never destroys the Qt object
        # off the GUI thread; deleteLater() frees it here once it has reported.
        task = Task(name, self)
        task.quiet = quiet
        if on_success is not None:
            task.succeeded.connect(on_success)
        if on_error is not None:
            task.failed.connect(on_error)
        if on_progress is not None:
            task.progress.connect(on_progress)
        if on_cancel is not None:
            task.cancelled.connect(on_cancel)
        task.finished.connect(self._forget)
        self._live.add(task)
        if not quiet:
            self.busy_changed.emit(True)
        self._pool.start(_Runnable(task, work))
        return task

    @Slot()
    def _forget(self) -> None:
        task = self.sender()
        if isinstance(task, Task):
            self._live.discard(task)
            task.deleteLater()
            if task.quiet:
                return
        if not self.busy:
            self.busy_changed.emit(False)

    @property
    def busy(self) -> bool:
        return any(not task.quiet for task in self._live)

    def cancel_all(self) -> None:
        for task in list(self._live):
            task.cancel()

    def wait(self, msecs: int = 30_000) -> bool:
        """Block until queued work is done (shutdown and tests only)."""
        return bool(self._pool.waitForDone(msecs))
