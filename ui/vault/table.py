"""The secrets table: the view over the secrets model, its keys, and the classification badge."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, Qt, Signal
from PySide6.QtGui import QKeyEvent, QKeySequence, QPainter, QPaintEvent, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QHeaderView,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableView,
)

from .model import BADGE_ROLE, SecretsModel
from .rows import Column

EMPTY_VAULT = "No secrets yet — Add a secret or File > Import…"
COLUMN_WIDTHS = {Column.Name: 280, Column.Classification: 110, Column.Tags: 160,
                 Column.Owner: 100, Column.Updated: 130, Column.Expires: 150}


class BadgeDelegate(QStyledItemDelegate):
    """Draws the classification as a coloured pill with its name (colour and text)."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem,
              index: QModelIndex | QPersistentModelIndex) -> None:
        colour, text = index.data(BADGE_ROLE), index.data(Qt.ItemDataRole.DisplayRole)
        if colour is None:
            super().paint(painter, option, index)
            return
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        opt.text = ""
        style = opt.widget.style() if opt.widget else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, opt.widget)
        metrics = opt.fontMetrics
        rect = opt.rect.adjusted(4, 3, -4, -3)
        pill = QRect(rect.left(), rect.top(),
                     min(rect.width(), metrics.horizontalAdvance(text) + 16), rect.height())
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(colour)
        painter.drawRoundedRect(pill, pill.height() / 2, pill.height() / 2)
        painter.setPen(Qt.GlobalColor.white)
        painter.drawText(pill, Qt.AlignmentFlag.AlignCenter, text)
        painter.restore()


class SecretsTable(QTableView):
    """The table; Ctrl+C copies the selected secret's value, Ctrl+B its name (not cell text)."""

    copy_value = Signal()
    copy_name = Signal()
    delete_row = Signal()
    open_row = Signal()

    def __init__(self, model: SecretsModel) -> None:
        super().__init__()
        self.setModel(model)
        self.setAccessibleName("Secrets")
        self.setItemDelegateForColumn(Column.Classification.value, BadgeDelegate(self))
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setAlternatingRowColors(True)
        self.setWordWrap(False)
        self.verticalHeader().hide()
        self.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        header = self.horizontalHeader()
        header.setStretchLastSection(False)
        for column, width in COLUMN_WIDTHS.items():
            header.resizeSection(column.value, width)
        # The name takes whatever width is left, so the dates never fall off the right edge.
        header.setSectionResizeMode(Column.Name.value, QHeaderView.ResizeMode.Stretch)
        header.setSortIndicator(Column.Name.value, Qt.SortOrder.AscendingOrder)
        self.setSortingEnabled(True)
        self.placeholder = ""  # said in the empty table: what to do, or why nothing shows

    def show_placeholder(self, loading: bool, unlocked: bool, filter_text: str) -> None:
        """Say what to do when the table is empty: add or import a first secret, or that the
        filter hides every secret (nothing while loading or locked)."""
        model = self.model()
        text = ""
        if unlocked and not loading and isinstance(model, SecretsModel):
            if model.total == 0:
                text = EMPTY_VAULT
            elif model.matches == 0 and not model.scanning:
                text = (f"No secrets match “{filter_text.strip()}” — clear the filter to see "
                        f"all {model.total}.")
        if text != self.placeholder:
            self.placeholder = text
            self.viewport().update()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt API
        super().paintEvent(event)
        model = self.model()
        if not self.placeholder or model is None or model.rowCount() > 0:
            return
        painter = QPainter(self.viewport())
        painter.setPen(self.palette().color(QPalette.ColorRole.PlaceholderText))
        area = self.viewport().rect().adjusted(24, 24, -24, -24)
        painter.drawText(area, int(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop
                                   | Qt.TextFlag.TextWordWrap), self.placeholder)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt API
        ctrl = event.modifiers() == Qt.KeyboardModifier.ControlModifier
        if event.matches(QKeySequence.StandardKey.Copy):
            self.copy_value.emit()
        elif ctrl and event.key() == Qt.Key.Key_B:
            self.copy_name.emit()
        elif event.key() == Qt.Key.Key_Delete and not event.modifiers():
            self.delete_row.emit()
        elif event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and not event.modifiers():
            self.open_row.emit()
        else:
            super().keyPressEvent(event)
            return
        event.accept()
