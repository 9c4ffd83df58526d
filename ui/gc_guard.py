"""Keep Python's garbage collector on the GUI thread.

Automatic collection runs in whichever thread happens to allocate; if that is the worker thread,
a cycle holding a Qt object is destroyed there, and Qt objects must die in the thread that owns
them (a crash otherwise). So while a worker thread exists, automatic collection is off and a timer
in the GUI thread collects instead, as often as the thresholds would have.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

INTERVAL_MS = 500


class MainThreadCollector(QObject):
    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._threshold = gc.get_threshold()[0] or 700
        self._timer = QTimer(self)
        self._timer.setInterval(INTERVAL_MS)
        self._timer.timeout.connect(self.check)
        gc.disable()
        self._timer.start()

    def check(self) -> None:
        gen0, gen1, gen2 = gc.get_count()
        if gen0 > self._threshold:
            gc.collect(0)
            if gen1 > 10:
                gc.collect(1)
                if gen2 > 10:
                    gc.collect(2)


_installed: MainThreadCollector | None = None


def install() -> MainThreadCollector:
    """Install once per process (from the GUI thread)."""
    global _installed
    if _installed is None:
        _installed = MainThreadCollector()
    gc.disable()
    return _installed
