"""The tables of the Access Reviews section: a read-only model of rows of cells, each row keyed by
what it shows (an operator, a grant, a campaign item), under a sorting proxy.

A cell can be emphasised (bold), a problem (bold, in a red chosen for the light or the dark
theme, and always with words that say so: colour is never the only sign) or muted (greyed, e.g.
suspended).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
)
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QWidget

Index = QModelIndex | QPersistentModelIndex
# (light theme, dark theme): at least 4.5:1 against the tables' backgrounds
PROBLEM = (QColor("#b3261e"), QColor("#f28b82"))
MUTED = (QColor("#5f6b73"), QColor("#9aa8b1"))
KEY_ROLE = int(Qt.ItemDataRole.UserRole) + 1
_ROOT = QModelIndex()


@dataclass(frozen=True)
class Cell:
    text: str
    tip: str = ""
    strong: bool = False
    problem: bool = False
    muted: bool = False


class RowsModel(QAbstractTableModel):
    """Rows of cells under fixed headers; ``key(row)`` is what the row is about."""

    def __init__(self, headers: Sequence[str], parent: Any = None) -> None:
        super().__init__(parent)
        self._headers = list(headers)
        self._rows: list[list[Cell]] = []
        self._keys: list[object] = []
        self.dark = False

    def set_dark(self, dark: bool) -> None:
        if dark != self.dark:
            self.dark = dark
            if self._rows:
                self.dataChanged.emit(self.index(0, 0),
                                      self.index(len(self._rows) - 1, len(self._headers) - 1))

    def set_rows(self, rows: Sequence[Sequence[Cell]], keys: Sequence[object]) -> None:
        self.beginResetModel()
        self._rows = [list(r) for r in rows]
        self._keys = list(keys)
        self.endResetModel()

    def set_headers(self, headers: Sequence[str]) -> None:
        self.beginResetModel()
        self._headers = list(headers)
        self._rows, self._keys = [], []
        self.endResetModel()

    def clear(self) -> None:
        self.set_rows([], [])

    def key(self, row: int) -> object:
        return self._keys[row]

    def text(self, row: int, column: int) -> str:
        return self._rows[row][column].text

    def rowCount(self, parent: Index = _ROOT) -> int:  # noqa: N802 - Qt API
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = _ROOT) -> int:  # noqa: N802 - Qt API
        return 0 if parent.isValid() else len(self._headers)

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802 - Qt API
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return self._headers[section] if 0 <= section < len(self._headers) else None
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        cell = self._rows[index.row()][index.column()]
        if role in (Qt.ItemDataRole.DisplayRole, KEY_ROLE):
            return cell.text
        if role == Qt.ItemDataRole.ToolTipRole:
            return cell.tip or (cell.text if len(cell.text) > 40 else None)
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return f"{cell.text}. {cell.tip}" if cell.tip else cell.text
        if role == Qt.ItemDataRole.FontRole and (cell.strong or cell.problem):
            font = QFont()
            font.setBold(True)
            return font
        if role == Qt.ItemDataRole.ForegroundRole:
            return (PROBLEM[self.dark] if cell.problem else MUTED[self.dark] if cell.muted
                    else None)
        return None


class RowsTable(QTableView):
    """A sortable, read-only, whole-row-selecting view of a RowsModel."""

    def __init__(self, headers: Sequence[str], name: str, parent: QWidget | None = None,
                 widths: Sequence[int] = ()) -> None:
        super().__init__(parent)
        self.rows = RowsModel(headers, self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.rows)
        self.proxy.setSortRole(KEY_ROLE)
        self.proxy.setSortCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.setModel(self.proxy)
        self.setAccessibleName(name)
        self.setSortingEnabled(True)
        self.sortByColumn(-1, Qt.SortOrder.AscendingOrder)  # as given until a header is clicked
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setAlternatingRowColors(True)
        self.setWordWrap(False)
        self.verticalHeader().hide()
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        for column, width in enumerate(widths):
            self.setColumnWidth(column, width)

    def selected_key(self) -> object | None:
        rows = self.selectionModel().selectedRows()
        if not rows:
            return None
        return self.rows.key(self.proxy.mapToSource(rows[0]).row())

    def select_key(self, key: object) -> bool:
        for row in range(self.rows.rowCount()):
            if self.rows.key(row) == key:
                self.selectRow(self.proxy.mapFromSource(self.rows.index(row, 0)).row())
                return True
        return False

    def column_texts(self, column: int) -> list[str]:
        """The texts of one column, in the order shown (for tests and screen readers)."""
        return [str(self.proxy.index(r, column).data()) for r in range(self.proxy.rowCount())]
