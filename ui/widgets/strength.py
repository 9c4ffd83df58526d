"""The passphrase strength meter: a thin bar and a word, both coloured by the zxcvbn score.

The colours are the stylesheets' (``QProgressBar#strengthBar[level="N"]`` and
``QLabel#strengthWord[level="N"]`` in resources/style): red, orange, yellow, green.
"""

from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QWidget

STRENGTH_WORDS = ("Very weak", "Weak", "Fair", "Strong", "Very strong")
NO_LEVEL = ""  # nothing typed: no colour


def repolish(widget: QWidget) -> None:
    """Apply the stylesheet again after a property its rules select on changed."""
    widget.style().unpolish(widget)
    widget.style().polish(widget)
    widget.update()


class StrengthMeter(QWidget):
    """Score 0–4 (or nothing typed); the bar shows at least a sliver for "Very weak"."""

    def __init__(self, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName(name)
        self.bar = QProgressBar()
        self.bar.setObjectName("strengthBar")
        self.bar.setRange(0, len(STRENGTH_WORDS))
        self.bar.setTextVisible(False)
        self.bar.setAccessibleName(name)
        self.word = QLabel()
        self.word.setObjectName("strengthWord")
        self.word.setMinimumWidth(self.word.fontMetrics().horizontalAdvance("Very strong") + 12)
        self.word.setAccessibleName(f"{name}: verdict")
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.bar, 1)
        row.addWidget(self.word)
        self._score: int | None = None
        self.set_score(None)

    def set_score(self, score: int | None) -> None:
        """Show ``score`` (0–4), or an empty meter for None."""
        self._score = None if score is None else max(0, min(score, len(STRENGTH_WORDS) - 1))
        level = NO_LEVEL if self._score is None else str(self._score)
        self.bar.setValue(0 if self._score is None else self._score + 1)
        self.word.setText("" if self._score is None else STRENGTH_WORDS[self._score])
        self.bar.setAccessibleDescription(self.word.text())
        for widget in (self.bar, self.word):
            if widget.property("level") != level:
                widget.setProperty("level", level)
                repolish(widget)

    def value(self) -> int:
        """The score shown (0 when nothing is typed)."""
        return self._score or 0

    @property
    def level(self) -> str:
        """The stylesheet level: "0"–"4", or "" when nothing is typed."""
        return str(self.bar.property("level") or "")

    def text(self) -> str:
        return self.word.text()
