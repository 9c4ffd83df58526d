"""The wait after failed unlocks, said every quarter second until the next attempt may run."""

from __future__ import annotations

import math
import time

from PySide6.QtCore import QObject, QTimer, Signal


class Countdown(QObject):
    """Counts down to the next allowed attempt; ``changed(message, role)`` says where it is."""

    changed = Signal(str, str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._deadline = 0.0
        self._prefix = ""
        self._timer = QTimer(self)
        self._timer.setInterval(250)
        self._timer.timeout.connect(self._tick)

    def isActive(self) -> bool:  # noqa: N802 - reads as QTimer's
        return self._timer.isActive()

    def start(self, seconds: float, prefix: str) -> None:
        self._deadline = time.monotonic() + seconds
        self._prefix = prefix
        self._timer.start()
        self._tick()

    def _tick(self) -> None:
        remaining = math.ceil(self._deadline - time.monotonic())
        if remaining <= 0:
            self._timer.stop()
            self.changed.emit("You can try again now.", "")
            return
        self.changed.emit(f"{self._prefix}Wait {remaining} s before trying again.", "warning")
