"""The Keys & Signing tree view: rows with room to breathe, columns as wide as what they show."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QSize
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTreeView,
)

from .model import COLUMNS, Column, KeysModel

ROW_PADDING = 8  # pixels added to a row's height (4 above the text, 4 below)
MAX_WIDTHS = {Column.Label: 320, Column.Type: 180, Column.Id: 220, Column.Fingerprint: 200}
FLAGS_MIN_WIDTH = 120  # the last column: at least this, then whatever is left


class _RoomyDelegate(QStyledItemDelegate):
    def sizeHint(self, option: QStyleOptionViewItem,  # noqa: N802 - Qt API
                 index: QModelIndex | QPersistentModelIndex) -> QSize:
        size = super().sizeHint(option, index)
        return QSize(size.width(), size.height() + ROW_PADDING)


class KeysTree(QTreeView):
    """Modules → tokens → keys; :meth:`fit_columns` after the tree is rebuilt."""

    def __init__(self, model: KeysModel) -> None:
        super().__init__()
        self.setModel(model)
        self.setAccessibleName("Modules, tokens and keys")
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setUniformRowHeights(True)
        self.setItemDelegate(_RoomyDelegate(self))
        header = self.header()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        header.setMinimumSectionSize(FLAGS_MIN_WIDTH // 2)
        self.fit_columns()

    def fit_columns(self) -> None:
        """Each column as wide as its header and the rows shown (up to a cap, the full text is
        in the tooltip or the details pane); the flags take the rest."""
        header = self.header()
        for column, cap in MAX_WIDTHS.items():
            i = COLUMNS.index(column)
            self.resizeColumnToContents(i)
            self.setColumnWidth(i, max(header.sectionSizeHint(i), min(self.columnWidth(i), cap)))
        flags = COLUMNS.index(Column.Flags)
        self.setColumnWidth(flags, max(FLAGS_MIN_WIDTH, header.sectionSizeHint(flags)))
