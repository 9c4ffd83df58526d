"""The Qt binding the console runs on keeps Python's reference counts: PySide6 6.12.0 on Python
3.11 dropped a reference to None on every void Qt call and to True/None on every Signal.emit(),
so a console aborted ("Fatal Python error: none_dealloc") after a few thousand repaints. The
locks pin a release without it; this fails if one with it comes back."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import sys

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QLabel

CALLS = 5000


class _Emitter(QObject):
    changed = Signal(bool)


def test_void_qt_calls_keep_the_reference_to_none(qtbot) -> None:
    label = QLabel()
    qtbot.addWidget(label)
    before = sys.getrefcount(None)
    for n in range(CALLS):
        label.setText("x" if n % 2 else "y")
    assert abs(sys.getrefcount(None) - before) < CALLS // 10


def test_signal_emits_keep_the_references_to_true_and_none(qtbot) -> None:
    emitter = _Emitter()
    seen: list[bool] = []
    emitter.changed.connect(seen.append)
    before_true, before_none = sys.getrefcount(True), sys.getrefcount(None)
    for _ in range(CALLS):
        emitter.changed.emit(True)
    seen.clear()
    assert abs(sys.getrefcount(True) - before_true) < CALLS // 10
    assert abs(sys.getrefcount(None) - before_none) < CALLS // 10
