"""Compliance status tiles: one per check, colour *and* glyph *and* word, clickable for details.

Also the section's theme colours (light and dark follow the stylesheets in resources/style), a
label that elides its text to fit one line and one that wraps it (at words, or inside a path).
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QEvent, QPointF, QSize, Qt, Signal
from PySide6.QtGui import (
    QFontMetrics,
    QGuiApplication,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QResizeEvent,
)
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from strongroom.app.compliance.model import CheckResult, Status
from strongroom.app.compliance.registry import CHECK_IDS, TITLES

from ..settings.store import ConsoleSettings
from .data import WORDS, label

REASON_LINES = 3


@dataclass(frozen=True)
class Theme:
    card: str
    border: str
    text: str
    muted: str
    focus: str
    grid: str
    axis: str
    sunken: str  # the evidence box
    chip_text: str
    status: dict[Status, str]


LIGHT = Theme(
    card="#ffffff", border="#dde2e5", text="#1b2a33", muted="#5b6b75", focus="#2f4858",
    grid="#e6e9eb", axis="#9aa4ab", sunken="#f3f5f6", chip_text="#ffffff",
    status={Status.Pass: "#1e7b34", Status.Fail: "#b3261e", Status.Unknown: "#9a5b00",
            Status.Excepted: "#6a4fb3", Status.NotApplicable: "#5b6b75"},
)
DARK = Theme(
    card="#222b31", border="#333f47", text="#e3e7ea", muted="#9aa8b1", focus="#7fa7bf",
    grid="#2e383f", axis="#66737b", sunken="#1b2227", chip_text="#10161a",
    status={Status.Pass: "#7bd88f", Status.Fail: "#f28b82", Status.Unknown: "#f2b134",
            Status.Excepted: "#b9a3f0", Status.NotApplicable: "#9aa8b1"},
)


def theme_for(settings: ConsoleSettings) -> Theme:
    """The theme the console shows: the user's choice, else the system's colour scheme."""
    if settings.theme in ("light", "dark"):
        return DARK if settings.theme == "dark" else LIGHT
    dark = QGuiApplication.styleHints().colorScheme() == Qt.ColorScheme.Dark
    return DARK if dark else LIGHT


class ElidedLabel(QLabel):
    """One line of text that ends in "…" when it does not fit; the full text is the tooltip."""

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(text, parent)
        self.setTextFormat(Qt.TextFormat.PlainText)

    def setText(self, text: str) -> None:  # noqa: N802 - Qt API
        super().setText(text)
        self.setToolTip(text)

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt API
        return QSize(0, self.fontMetrics().height())

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt API
        return QSize(self.fontMetrics().horizontalAdvance(self.text()) + 2,
                     self.fontMetrics().height())

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt API
        painter = QPainter(self)
        rect = self.contentsRect()
        shown = QFontMetrics(self.font()).elidedText(
            self.text(), Qt.TextElideMode.ElideRight, rect.width())
        painter.setPen(self.palette().color(self.foregroundRole()))
        painter.drawText(rect, int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter),
                         shown)


def wrap_lines(text: str, metrics: QFontMetrics, width: int) -> list[str]:
    """``text`` in lines of at most ``width`` pixels: broken between words, and inside a word
    (a path, a package list) only when the word alone is wider than a line."""
    width = max(1, width)
    lines: list[str] = []
    for paragraph in text.split("\n"):
        current = ""
        for word in paragraph.split(" "):
            joined = f"{current} {word}" if current else word
            if metrics.horizontalAdvance(joined) <= width:
                current = joined
                continue
            if current:
                lines.append(current)
            while len(word) > 1 and metrics.horizontalAdvance(word) > width:
                low, high = 1, len(word) - 1  # the longest prefix that fits (at least 1)
                while low < high:
                    mid = (low + high + 1) // 2
                    if metrics.horizontalAdvance(word[:mid]) <= width:
                        low = mid
                    else:
                        high = mid - 1
                lines.append(word[:low])
                word = word[low:]
            current = word
        lines.append(current)
    return lines


class WrappedLabel(QWidget):
    """Text wrapped over up to ``max_lines`` lines (see :func:`wrap_lines`); text beyond them
    ends the last line in "…". Laid out in Python and kept per width: heightForWidth is asked
    often during a layout."""

    def __init__(self, max_lines: int = 0, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._text = ""
        self._wrapped: dict[int, list[str]] = {}
        self.max_lines = max_lines  # 0: as many as it takes
        policy = QSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)
        policy.setHeightForWidth(True)
        self.setSizePolicy(policy)

    def text(self) -> str:
        return self._text

    def setText(self, text: str) -> None:  # noqa: N802 - Qt API
        if text == self._text:
            return
        self._text = text
        self._wrapped = {}
        self.setAccessibleName(text)
        self.updateGeometry()
        self.update()

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt API
        if event.type() == QEvent.Type.FontChange:
            self._wrapped = {}
        super().changeEvent(event)

    def lines(self, width: int) -> list[str]:
        """The lines shown at ``width``; the last ends in "…" when text was left out."""
        if width not in self._wrapped:
            metrics = self.fontMetrics()
            lines = wrap_lines(self._text, metrics, width) if self._text else []
            if self.max_lines and len(lines) > self.max_lines:
                rest = " ".join(lines[self.max_lines - 1:])
                lines = [*lines[: self.max_lines - 1],
                         metrics.elidedText(rest, Qt.TextElideMode.ElideRight, max(1, width))]
            if len(self._wrapped) > 8:
                self._wrapped.clear()
            self._wrapped[width] = lines
        return self._wrapped[width]

    def hasHeightForWidth(self) -> bool:  # noqa: N802 - Qt API
        return True

    def heightForWidth(self, width: int) -> int:  # noqa: N802 - Qt API
        return len(self.lines(width)) * self.fontMetrics().lineSpacing()

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt API
        width = min(self.fontMetrics().horizontalAdvance(self._text) + 1, 240)
        return QSize(width, self.heightForWidth(width))

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt API
        """As tall as the text is at the width it has, so a crowded layout cannot cut it."""
        return QSize(0, self.heightForWidth(self.width()) if self.width() > 1
                     else self.sizeHint().height())

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt API
        super().resizeEvent(event)
        if event.size().width() != event.oldSize().width():
            self.updateGeometry()  # another width, another number of lines

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt API
        painter = QPainter(self)
        painter.setPen(self.palette().color(self.foregroundRole()))
        metrics = self.fontMetrics()
        for n, line in enumerate(self.lines(self.width())):
            painter.drawText(QPointF(0, n * metrics.lineSpacing() + metrics.ascent()), line)


class StatusTile(QFrame):
    """One check: status chip, title, what was observed and why (wrapped, in full)."""

    clicked = Signal(str)  # the check id

    def __init__(self, check_id: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.check_id = check_id
        self.result: CheckResult | None = None
        self.selected = False
        self.setObjectName("complianceTile")
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.chip = QLabel()
        self.chip.setObjectName("chip")
        self.tag = QLabel()
        self.tag.setObjectName("tag")
        self.title = QLabel(TITLES[check_id])
        self.title.setObjectName("title")
        self.title.setWordWrap(True)
        self.title.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        lines = self.title.fontMetrics().lineSpacing()
        self.title.setFixedHeight(2 * lines + 2)
        self.observed = WrappedLabel()
        self.observed.setObjectName("observed")
        self.reason = WrappedLabel(max_lines=REASON_LINES)  # all of it: the tooltip, the details
        self.reason.setObjectName("reason")
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.chip)
        top.addStretch(1)
        top.addWidget(self.tag)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(14, 9, 10, 9)
        lay.setSpacing(3)
        lay.addLayout(top)
        lay.addWidget(self.title)
        lay.addWidget(self.observed)
        lay.addWidget(self.reason)
        lay.addStretch(1)  # a tile beside a taller one keeps its lines at the top
        self.theme = LIGHT
        self.set_result(None, True)

    @property
    def status_word(self) -> str:
        return WORDS[self.result.status] if self.result else ""

    def set_result(self, result: CheckResult | None, required: bool) -> None:
        self.result = result
        if result is None:
            self.chip.setText("—")
            self.tag.setText("")
            self.observed.setText("")
            self.reason.setText("")
            self.setAccessibleName(f"{TITLES[self.check_id]}: not checked yet")
            self.setAccessibleDescription("")
            self.setToolTip("")
        else:
            self.chip.setText(label(result.status))
            self.tag.setText("" if required else "optional")
            self.observed.setText(result.observed)
            self.reason.setText(result.reason)
            self.setAccessibleName(f"{result.title}: {WORDS[result.status]}")
            self.setAccessibleDescription(f"Observed: {result.observed}. {result.reason}")
            self.setToolTip(f"{result.title}\n{label(result.status)}: {result.reason}")
        self.restyle()

    def set_selected(self, selected: bool) -> None:
        self.selected = selected
        self.restyle()

    def set_theme(self, theme: Theme) -> None:
        self.theme = theme
        self.restyle()

    def restyle(self) -> None:
        t = self.theme
        accent = t.status[self.result.status] if self.result else t.border
        edge = t.focus if self.selected else t.border
        width = 2 if self.selected else 1
        self.setStyleSheet(
            f"QFrame#complianceTile {{ background-color: {t.card}; border: {width}px solid "
            f"{edge}; border-left: 6px solid {accent}; border-radius: 6px; }}"
            f"QFrame#complianceTile:focus {{ border-color: {t.focus}; }}"
            "QLabel { background-color: transparent; border: none; }"
            f"QLabel#chip {{ background-color: {accent}; color: {t.chip_text}; "
            "border-radius: 8px; padding: 1px 8px; font-weight: bold; }"
            f"QLabel#tag, #reason {{ color: {t.muted}; }}"
            "QLabel#title { font-weight: bold; }"
        )

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt API
        if event.button() == Qt.MouseButton.LeftButton:
            self.setFocus(Qt.FocusReason.MouseFocusReason)
            self.clicked.emit(self.check_id)
        super().mousePressEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt API
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Space):
            self.clicked.emit(self.check_id)
            return
        super().keyPressEvent(event)


class TileGrid(QWidget):
    """The tiles in as many columns (up to four) as the width allows."""

    clicked = Signal(str)
    MIN_TILE_WIDTH = 210

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName("Compliance checks")
        self.tiles = {check_id: StatusTile(check_id) for check_id in CHECK_IDS}
        for tile in self.tiles.values():
            tile.clicked.connect(self.clicked)
        self.grid = QGridLayout(self)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setSpacing(10)
        self._columns = 0
        self._place(4)

    def _place(self, columns: int) -> None:
        if columns == self._columns:
            return
        for tile in self.tiles.values():
            self.grid.removeWidget(tile)
        for i, tile in enumerate(self.tiles.values()):
            self.grid.addWidget(tile, i // columns, i % columns)
        for c in range(4):
            self.grid.setColumnStretch(c, 1 if c < columns else 0)
        self._columns = columns

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt API
        self._place(max(1, min(4, self.width() // self.MIN_TILE_WIDTH)))
        super().resizeEvent(event)

    def select(self, check_id: str | None) -> None:
        for cid, tile in self.tiles.items():
            tile.set_selected(cid == check_id)

    def set_theme(self, theme: Theme) -> None:
        for tile in self.tiles.values():
            tile.set_theme(theme)
