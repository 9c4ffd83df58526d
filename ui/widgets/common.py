"""The small widgets every section builds the same way: a named button, a heading, a paragraph,
a note that takes no room while empty."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QLabel, QPushButton, QWidget

HEADING_SCALE = 1.4  # a section's or a page's title, relative to the body font


class SteadyButton(QPushButton):
    """Keeps keyboard focus while its operation runs with it disabled: Qt would move focus to the
    next widget (Run now → the schedule's spin box, where arrow keys change the schedule)."""

    def focusNextPrevChild(self, next_: bool) -> bool:  # noqa: N802 - Qt API
        if not self.isEnabled() and self.hasFocus() and self.isVisible():
            return True  # stay: disabled, it takes no keys; enabled again, it has focus still
        return super().focusNextPrevChild(next_)


def button(text: str, slot: Callable[[], object], tip: str = "") -> QPushButton:
    """A push button running ``slot``; screen readers hear its text without a trailing "…"."""
    b = SteadyButton(text)
    b.setAccessibleName(text.rstrip("…"))
    if tip:
        b.setToolTip(tip)
    b.clicked.connect(slot)
    return b


def heading(text: str, scale: float = HEADING_SCALE) -> QLabel:
    """A bold title, ``scale`` times the body font."""
    label = QLabel(text)
    font = label.font()
    font.setPointSizeF(font.pointSizeF() * scale)
    font.setBold(True)
    label.setFont(font)
    return label


def paragraph(text: str) -> QLabel:
    """Text that wraps to the width it is given."""
    label = QLabel(text)
    label.setWordWrap(True)
    return label


class Note(QLabel):
    """A wrapped line that is hidden while its text is empty: an empty label still takes a row
    and paints its background (a grey bar inside a group box)."""

    def __init__(self, name: str, role: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWordWrap(True)
        self.setAccessibleName(name)
        self.setProperty("role", role)
        self.hide()

    def setText(self, text: str) -> None:  # noqa: N802 - Qt API
        super().setText(text)
        self.setVisible(bool(text))
