"""The look of the ceremony pages: large text to read across a table, cards, and fingerprints as
grouped hex to compare by eye and PGP words to read aloud."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont, QFontDatabase
from PySide6.QtWidgets import QFrame, QLabel, QLayout, QVBoxLayout, QWidget

from strongroom.app.keys.fingerprints import fingerprint_words, grouped_hex

STEP_SCALE = 1.35  # the step page's body text, relative to the console's
WORDS_SCALE = 1.5  # PGP words and hex, read aloud across the room
TITLE_SCALE = 1.9


def scaled(widget: QWidget, scale: float, *, bold: bool = False) -> QWidget:
    font = widget.font()
    font.setPointSizeF(font.pointSizeF() * scale)
    font.setBold(bold)
    widget.setFont(font)
    return widget


def label(text: str = "", *, scale: float = 1.0, bold: bool = False, role: str = "",
          name: str = "", selectable: bool = False) -> QLabel:
    """A word-wrapped label; ``role`` is the stylesheet's (muted, ok, warning, error)."""
    made = QLabel(text)
    made.setWordWrap(True)
    if scale != 1.0 or bold:
        scaled(made, scale, bold=bold)
    if role:
        made.setProperty("role", role)
    if name:
        made.setAccessibleName(name)
    if selectable:
        made.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return made


def discard(widget: QWidget) -> None:
    """Out of sight now, deleted when control is back in the event loop."""
    widget.hide()
    widget.deleteLater()


def empty(layout: QLayout) -> None:
    """Take every widget out of ``layout`` and discard it."""
    while layout.count():
        item = layout.takeAt(0)
        widget = item.widget() if item is not None else None
        if widget is not None:
            discard(widget)


def set_role(widget: QLabel, role: str) -> None:
    """Change a label's stylesheet role and repaint it in the new colour."""
    widget.setProperty("role", role)
    widget.style().unpolish(widget)
    widget.style().polish(widget)


def card(name: str = "") -> tuple[QFrame, QVBoxLayout]:
    frame = QFrame()
    frame.setObjectName("card")
    if name:
        frame.setAccessibleName(name)
    lay = QVBoxLayout(frame)
    lay.setContentsMargins(18, 14, 18, 14)
    return frame, lay


def mono_font(scale: float = 1.0) -> QFont:
    font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
    base = QLabel().font().pointSizeF()
    font.setPointSizeF(base * scale)
    return font


class Fingerprint(QWidget):
    """What it is, the SHA-256 as grouped hex (monospaced) and as PGP words, all large."""

    def __init__(self, title: str, digest: str, parent: QWidget | None = None,
                 words: list[str] | None = None) -> None:
        super().__init__(parent)
        self.digest = digest
        self.title = label(title, scale=STEP_SCALE, bold=True)
        self.hex = label(grouped_hex(digest), name=f"{title}: hexadecimal", selectable=True)
        self.hex.setFont(mono_font(WORDS_SCALE))
        self.words_text = " ".join(words or fingerprint_words(digest))
        self.words = label(self.words_text, scale=WORDS_SCALE, name=f"{title}: PGP words",
                           selectable=True)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 4, 0, 8)
        lay.setSpacing(4)
        lay.addWidget(self.title)
        lay.addWidget(self.hex)
        lay.addWidget(label("Read aloud:", role="muted"))
        lay.addWidget(self.words)
