"""The keyslot table of Settings → Unlock methods: a column Enum and a row-by-row model."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from enum import Enum
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import QWidget

from strongroom.app.keyslots import Keyslot
from strongroom.app.unlock_methods import RECOVERY, assurance, needs_passphrase

from .lock_screen import METHOD_NAMES

KIND_NAMES = {**METHOD_NAMES, RECOVERY: "Recovery shares"}


class Column(Enum):
    Label = "Label"
    Kind = "Kind"
    Assurance = "Assurance"
    TwoFactor = "Two-factor"
    Created = "Created"
    LastUsed = "Last used"
    LastTested = "Last tested"


COLUMNS = list(Column)


CELL_PADDING = 24  # a cell's and a header section's margins, and room to spare
STAMP = "2026-12-06 20:02"
SAMPLES = {  # the usual widest content of each column (longer text elides; its tooltip is whole)
    Column.Label: "Backup security key", Column.Kind: "", Column.Assurance: "possession: 2 of 3",
    Column.TwoFactor: "yes", Column.Created: STAMP, Column.LastUsed: STAMP,
    Column.LastTested: STAMP,
}


def column_widths(cells: QFontMetrics, header: QFontMetrics) -> list[int]:
    """Each column's width from its header and its usual content, not from the rows shown: set
    once, so the table does not change shape when the vault locks and unlocks."""
    kinds = max((cells.horizontalAdvance(k) for k in KIND_NAMES.values()), default=0)
    return [max(header.horizontalAdvance(c.value), cells.horizontalAdvance(SAMPLES[c]),
                kinds if c is Column.Kind else 0) + CELL_PADDING for c in COLUMNS]


def _when(stamp: str | None) -> str:
    return stamp[:16].replace("T", " ") if stamp else "never"


def cell(slot: Keyslot, column: Column) -> str:
    values: dict[Column, Callable[[], str]] = {
        Column.Label: lambda: slot.label or slot.id,
        Column.Kind: lambda: KIND_NAMES.get(slot.kind, slot.kind),
        Column.Assurance: lambda: assurance(slot),
        Column.TwoFactor: lambda: "yes" if needs_passphrase(slot) else "no",
        Column.Created: lambda: _when(slot.created),
        Column.LastUsed: lambda: _when(slot.last_used),
        Column.LastTested: lambda: _when(slot.last_tested),
    }
    return values[column]()


class SlotTableModel(QAbstractTableModel):
    """The keyslots in header order; updated row by row (removed, changed, added)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.slots: list[Keyslot] = []

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self.slots)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(COLUMNS)

    def data(self, index: QModelIndex | QPersistentModelIndex,
             role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self.slots):
            return None
        slot, column = self.slots[index.row()], COLUMNS[index.column()]
        if role == Qt.ItemDataRole.DisplayRole and column is Column.Assurance:
            text = cell(slot, column)  # "high", "lower assurance", …; a recovery slot's M of N
            return text if slot.kind == RECOVERY else text.split(":", 1)[0]
        if role == Qt.ItemDataRole.DisplayRole:
            return cell(slot, column)
        if role in (Qt.ItemDataRole.ToolTipRole, Qt.ItemDataRole.AccessibleTextRole):
            return cell(slot, column)
        return None

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section].value
        return None

    def set_slots(self, slots: Sequence[Keyslot]) -> None:
        new = {s.id: s for s in slots}
        for row in reversed(range(len(self.slots))):
            if self.slots[row].id not in new:
                self.beginRemoveRows(QModelIndex(), row, row)
                del self.slots[row]
                self.endRemoveRows()
        for row, old in enumerate(self.slots):
            if new[old.id] != old:
                self.slots[row] = new[old.id]
                self.dataChanged.emit(self.index(row, 0), self.index(row, len(COLUMNS) - 1))
        known = {s.id for s in self.slots}
        for slot in (s for s in slots if s.id not in known):
            row = len(self.slots)
            self.beginInsertRows(QModelIndex(), row, row)
            self.slots.append(slot)
            self.endInsertRows()

    def slot_at(self, row: int) -> Keyslot | None:
        return self.slots[row] if 0 <= row < len(self.slots) else None
