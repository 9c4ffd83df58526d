"""The small widgets every section builds the same way: a named button, a heading, a paragraph."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QLabel, QPushButton

HEADING_SCALE = 1.4  # a section's or a page's title, relative to the body font


def button(text: str, slot: Callable[[], object], tip: str = "") -> QPushButton:
    """A push button running ``slot``; screen readers hear its text without a trailing "…"."""
    b = QPushButton(text)
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
