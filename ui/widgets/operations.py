"""The busy row and the runner of a section's long operations (Settings, Audit Log, Compliance).

An operation runs in the task runner with its button disabled and the busy row showing, and ends
in one sentence: the result in the status bar, or the error.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget

from ..base import Section
from ..workers import Task, Work, user_message


class BusyRow(QWidget):
    """An indeterminate bar and a line of text, shown while any operation of a section runs."""

    def __init__(self, name: str, parent: QWidget | None = None, *,
                 hide_when_idle: bool = False) -> None:
        super().__init__(parent)
        self.hide_when_idle = hide_when_idle  # take no room at all while nothing runs
        self.bar = QProgressBar()
        self.bar.setRange(0, 0)
        self.bar.setMaximumWidth(140)
        self.bar.setTextVisible(False)
        self.bar.setAccessibleName(f"{name} in progress")
        self.label = QLabel()
        self.label.setAccessibleName(f"{name} progress")
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.bar)
        row.addWidget(self.label, 1)
        self._running = 0
        self.bar.hide()
        if hide_when_idle:
            self.hide()

    def start(self, text: str) -> None:
        self._running += 1
        self.bar.show()
        if self.hide_when_idle:
            self.show()
        self.label.setText(text)

    def progress(self, text: str) -> None:
        self.label.setText(text)

    def stop(self) -> None:
        self._running = max(0, self._running - 1)
        if not self._running:
            self.bar.hide()
            self.label.setText("")
            if self.hide_when_idle:
                self.hide()


class Operations:
    """Runs a section's long operations: button off, busy row on, one sentence at the end."""

    def __init__(self, section: Section, busy: BusyRow, buttons: list[QPushButton]) -> None:
        self.section = section
        self.busy = busy
        self.buttons = buttons
        self.running: set[QPushButton] = set()

    def update(self) -> None:
        """Enable the buttons that need an open vault and are not already running."""
        is_open = self.section.vault is not None
        for button in self.buttons:
            button.setEnabled(is_open and button not in self.running)

    def run(self, button: QPushButton, name: str, text: str, work: Work,
            on_success: Callable[[Any], None]) -> Task:
        services = self.section.services
        self.running.add(button)
        self.update()
        self.busy.start(text)
        services.activity()

        def finished() -> None:
            self.running.discard(button)
            self.busy.stop()
            self.update()

        task = services.runner.submit(
            name, work, on_success=on_success,
            on_error=lambda exc: services.error(user_message(exc)),
            on_progress=self.busy.progress,
            on_cancel=lambda: services.status(f"{text.rstrip('…')} was cancelled."),
        )
        task.finished.connect(finished)
        return task
