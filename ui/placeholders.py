"""Honest empty states for the sections later issues build."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from .base import Section, Services
from .widgets.common import heading


class EmptySection(Section):
    """A section that is not built yet, saying what will be there."""

    promise = ""

    def __init__(self, services: Services, parent: QWidget | None = None) -> None:
        super().__init__(services, parent)
        title = heading(self.title)
        body = QLabel(self.promise)
        body.setWordWrap(True)
        body.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        body.setAccessibleName(f"{self.title}: not available yet")
        note = QLabel("Not available in this version of Strongroom.")
        note.setProperty("role", "muted")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(32, 32, 32, 32)
        lay.addWidget(title)
        lay.addWidget(note)
        lay.addSpacing(8)
        lay.addWidget(body)
        lay.addStretch(1)
