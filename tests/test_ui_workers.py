"""The task runner: results, errors, progress and cancel arrive by signal in the GUI thread."""

from __future__ import annotations

import os
import threading

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from strongroom.app.errors import NotFound, UserCancelled
from strongroom.ui.workers import TaskRunner, user_message


def test_success_progress_and_thread(qtbot) -> None:
    runner = TaskRunner()
    seen: dict[str, object] = {}
    gui = threading.get_ident()

    def work(cancel, progress):
        progress("half way")
        seen["worker_thread"] = threading.get_ident()
        return 42

    def done(value) -> None:
        seen["value"] = value
        seen["slot_thread"] = threading.get_ident()

    task = runner.submit("t", work, on_success=done,
                         on_progress=lambda s: seen.setdefault("progress", s))
    qtbot.waitUntil(lambda: task.done, timeout=5000)
    assert seen["value"] == 42 and seen["progress"] == "half way"
    assert seen["worker_thread"] != gui and seen["slot_thread"] == gui
    assert not runner.busy


def test_errors_and_cancel(qtbot) -> None:
    runner = TaskRunner()
    errors: list[BaseException] = []
    cancelled: list[bool] = []

    def fail(cancel, progress):
        raise NotFound("no secret named 'x'")

    task = runner.submit("f", fail, on_error=errors.append)
    qtbot.waitUntil(lambda: task.done, timeout=5000)
    assert isinstance(errors[0], NotFound)

    gate = threading.Event()

    def blocked(cancel, progress):
        gate.wait(5)
        if cancel.is_set():
            raise UserCancelled()
        return "finished"

    first = runner.submit("b", blocked, on_cancel=lambda: cancelled.append(True))
    queued = runner.submit("q", lambda c, p: "never", on_cancel=lambda: cancelled.append(True))
    runner.cancel_all()
    gate.set()
    qtbot.waitUntil(lambda: first.done and queued.done, timeout=5000)
    assert cancelled == [True, True]


def test_finished_work_is_reported_even_if_cancel_came_late(qtbot) -> None:
    runner = TaskRunner()
    results: list[object] = []
    cancelled: list[bool] = []
    started, release = threading.Event(), threading.Event()

    def work(cancel, progress):  # an operation that cannot stop half way
        started.set()
        release.wait(5)
        return "rotated"

    task = runner.submit("w", work, on_success=results.append,
                         on_cancel=lambda: cancelled.append(True))
    assert started.wait(5)
    task.cancel()
    release.set()
    qtbot.waitUntil(lambda: task.done, timeout=5000)
    assert results == ["rotated"] and cancelled == []


def test_user_message_keeps_file_names() -> None:
    assert user_message(NotFound("no secret named 'x'")) == "No secret named 'x'"
    assert user_message(NotFound("o.srbk is a backup of another vault")).startswith("o.srbk")
    assert "RuntimeError" in user_message(RuntimeError("secret-value-here"))
    assert "secret-value-here" not in user_message(RuntimeError("secret-value-here"))
