"""A value shown on demand and hidden again after a delay; a TOTP code shown live."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QScrollArea, QWidget


class RevealField(QWidget):
    """A value shown on demand and hidden again after a delay; dots (not its length) otherwise.

    A label rather than a line edit, so a revealed value cannot be selected and copied past the
    clipboard guard.
    """

    hidden = Signal()
    MASK = "••••••••"

    def __init__(self, what: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.what = what
        self.label = QLabel(self.MASK)
        self.label.setTextFormat(Qt.TextFormat.PlainText)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.NoTextInteraction)
        self.label.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.label.setAccessibleName(what)
        self.countdown = QLabel("")
        self.countdown.setAccessibleName(f"{what}: hidden again in")
        self._revealed = False
        self._render: Callable[[], str] | None = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.hide_value)
        self._tick = QTimer(self)
        self._tick.setInterval(1000)
        self._tick.timeout.connect(self._update_countdown)
        # A multi-line value (a PEM key) scrolls inside a few lines instead of growing the window.
        self.scroll = QScrollArea()
        self.scroll.setWidget(self.label)
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        self._fit()
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.scroll, 1)
        layout.addWidget(self.countdown)

    @property
    def revealed(self) -> bool:
        return self._revealed

    def _fit(self) -> None:
        """One line tall for the mask or a one-line value; up to eight lines, then scroll."""
        line = self.label.fontMetrics().lineSpacing()
        lines = min(max(1, self.label.text().count("\n") + 1), 8)
        self.scroll.setFixedHeight(line * lines + 4)

    def show_value(self, text: str, seconds: int) -> None:
        self._render = None
        self._show(text, seconds)

    def show_live(self, render: Callable[[], str], seconds: int) -> None:
        """Show ``render()``, called again every second while shown (a TOTP code and the
        seconds it has left); the function, and what it holds, is dropped when hidden."""
        self._render = render
        self._show(render(), seconds)

    def _show(self, text: str, seconds: int) -> None:
        self.label.setText(text)
        self._fit()
        self.label.setAccessibleDescription("shown")
        self._revealed = True
        self._timer.start(max(1, seconds) * 1000)
        self._tick.start()
        self._update_countdown()

    @Slot()
    def hide_value(self) -> None:
        self._render = None
        self._timer.stop()
        self._tick.stop()
        self.label.setText(self.MASK)
        self._fit()
        self.label.setAccessibleDescription("hidden")
        self.countdown.setText("")
        if self._revealed:
            self._revealed = False
            self.hidden.emit()

    @Slot()
    def _update_countdown(self) -> None:
        left = max(0, round(self._timer.remainingTime() / 1000))
        self.countdown.setText(f"hidden in {left} s")
        if self._render is not None:
            self.label.setText(self._render())
