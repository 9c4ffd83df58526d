"""The history chart: checks passed, excepted, failed and unknown per stored run, as stacked bars.

Drawn with QPainter (PySide6-Essentials has no QtCharts). Each series has a colour *and* a fill
pattern, the legend names them, hovering a bar tells its run in words, and the accessible
description summarises the last runs for screen readers.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QEvent, QPointF, QRectF, QSize, Qt
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QFontMetricsF,
    QHelpEvent,
    QPainter,
    QPaintEvent,
    QPen,
)
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

from strongroom.app.compliance.model import Status

from .data import RunPoint, history_summary, local_time
from .tiles import LIGHT, Theme

# (name, status for the colour, pattern over the colour, how to read the count off a point)
SERIES: tuple[tuple[str, Status, Qt.BrushStyle], ...] = (
    ("Pass", Status.Pass, Qt.BrushStyle.NoBrush),
    ("Excepted", Status.Excepted, Qt.BrushStyle.HorPattern),
    ("Fail", Status.Fail, Qt.BrushStyle.BDiagPattern),
    ("Unknown", Status.Unknown, Qt.BrushStyle.Dense6Pattern),
)
MAX_BARS = 30


def _count(point: RunPoint, status: Status) -> int:
    return {Status.Pass: point.passed, Status.Excepted: point.excepted,
            Status.Fail: point.failed, Status.Unknown: point.unknown}[status]


class HistoryChart(QWidget):
    """Stacked bars of the stored runs, oldest on the left."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.points: list[RunPoint] = []
        self.theme: Theme = LIGHT
        self.setMinimumSize(260, 170)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setAccessibleName("History of stored runs")
        self.setMouseTracking(True)
        self.set_points([])

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt API
        return QSize(420, 220)

    def set_points(self, points: Sequence[RunPoint]) -> None:
        self.points = list(points)[-MAX_BARS:]
        self.setAccessibleDescription(history_summary(self.points))
        self.update()

    def set_theme(self, theme: Theme) -> None:
        self.theme = theme
        self.update()

    # ----- drawing -------------------------------------------------------------------------------

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt API
        t = self.theme
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        small = self._small_font()
        p.setFont(small)
        fm = p.fontMetrics()
        text, muted = QColor(t.text), QColor(t.muted)
        line = fm.height()

        # Legend across the top.
        x = 0.0
        for name, status, pattern in SERIES:
            swatch = QRectF(x, (line - 10) / 2, 10, 10)
            self._fill(p, swatch, status, pattern)
            p.setPen(text)
            p.drawText(QPointF(x + 14, fm.ascent()), name)
            x += 14 + fm.horizontalAdvance(name) + 16

        plot = self._plot(small)
        left = plot.left()
        highest = max([pt.total for pt in self.points] + [8])
        ticks = range(0, highest + 1, 2 if highest <= 10 else max(1, highest // 5))

        # Y axis: grid lines, tick labels and the axis title (rotated).
        for value in ticks:
            y = plot.bottom() - plot.height() * value / highest
            p.setPen(QPen(QColor(t.grid), 1))
            p.drawLine(QPointF(plot.left(), y), QPointF(plot.right(), y))
            p.setPen(muted)
            p.drawText(QRectF(line, y - line / 2, left - line - 6, line),
                       int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter),
                       str(value))
        p.save()
        p.translate(0, plot.center().y())
        p.rotate(-90)
        p.drawText(QRectF(-plot.height() / 2, 0, plot.height(), line),
                   int(Qt.AlignmentFlag.AlignCenter), "Checks")
        p.restore()
        p.setPen(QPen(QColor(t.axis), 1))
        p.drawLine(plot.bottomLeft(), plot.bottomRight())
        p.drawLine(plot.bottomLeft(), plot.topLeft())

        # X axis title.
        p.setPen(muted)
        p.drawText(QRectF(plot.left(), self.height() - line - 2, plot.width(), line),
                   int(Qt.AlignmentFlag.AlignCenter), "Stored runs, oldest to newest (local time)")

        if not self.points:
            p.drawText(plot, int(Qt.AlignmentFlag.AlignCenter), "No stored runs yet")
            return
        slot = plot.width() / len(self.points)
        width = min(36.0, max(3.0, slot * 0.62))
        last_label_right = -1e9
        for i, point in enumerate(self.points):
            cx = plot.left() + slot * (i + 0.5)
            y = plot.bottom()
            for _name, status, pattern in SERIES:
                n = _count(point, status)
                if n:
                    h = plot.height() * n / highest
                    self._fill(p, QRectF(cx - width / 2, y - h, width, h), status, pattern)
                    y -= h
            # Date labels where they fit, always the newest.
            stamp = local_time(point.ts, "%d %b %H:%M")
            w = fm.horizontalAdvance(stamp)
            newest = i == len(self.points) - 1
            x0 = min(max(cx - w / 2, 0.0), self.width() - w)
            if x0 > last_label_right + 8 and (newest or x0 + w < self.width() - w - 8):
                p.setPen(muted)
                p.drawText(QPointF(x0, plot.bottom() + fm.ascent() + 3), stamp)
                last_label_right = x0 + w

    def _fill(self, p: QPainter, rect: QRectF, status: Status, pattern: Qt.BrushStyle) -> None:
        colour = QColor(self.theme.status[status])
        p.fillRect(rect, colour)
        if pattern is not Qt.BrushStyle.NoBrush:
            overlay = QColor(self.theme.card)
            overlay.setAlpha(110)
            p.fillRect(rect, QBrush(overlay, pattern))

    # ----- words -------------------------------------------------------------------------------

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ToolTip and isinstance(event, QHelpEvent):
            point = self.point_at(QPointF(event.pos()))
            if point is None:
                QToolTip.hideText()
            else:
                QToolTip.showText(event.globalPos(), f"Run {point.run_id} · {point.words()}",
                                  self)
            return True
        return super().event(event)

    def _small_font(self) -> QFont:
        small = QFont(self.font())
        small.setPointSizeF(max(7.0, self.font().pointSizeF() * 0.88))
        return small

    def _plot(self, font: QFont) -> QRectF:
        """The plotting area inside the legend (top), tick labels (left) and dates (bottom)."""
        fm = QFontMetricsF(font)
        line = fm.height()
        top, left = line + 10, fm.horizontalAdvance("00") + line + 8
        bottom = self.height() - 2 * line - 6
        return QRectF(left, top, max(10.0, self.width() - left - 6), max(10.0, bottom - top))

    def point_at(self, pos: QPointF) -> RunPoint | None:
        """The run whose bar (its whole column) is under ``pos``."""
        plot = self._plot(self._small_font())
        if not self.points or not plot.contains(pos):
            return None
        index = int((pos.x() - plot.left()) / (plot.width() / len(self.points)))
        return self.points[min(index, len(self.points) - 1)]

    def bar_centre(self, index: int) -> QPointF:
        plot = self._plot(self._small_font())
        slot = plot.width() / max(1, len(self.points))
        return QPointF(plot.left() + slot * (index + 0.5), plot.center().y())
