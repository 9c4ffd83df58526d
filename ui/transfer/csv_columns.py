"""The CSV import's mapping step: each column of the file's header row and what it becomes.

The header is read on the worker (:func:`read_header`); the table then offers every field
``csv_import.FIELDS`` knows for each column, starting from the preset's mapping (detected from
the header unless one is chosen) or from the columns' names.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHeaderView, QTableWidget, QTableWidgetItem, QWidget

from strongroom.app.transfer import csv_import
from strongroom.app.transfer.common import read_limited

FIELD_LABELS = {
    "name": "Name (title)", "group": "Group / folder (name prefix and tag)",
    "username": "Username", "password": "Password", "url": "URL", "notes": "Notes",
    "totp": "TOTP seed or otpauth URI", "type": "Type (login, note, card, identity)",
    "tags": "Tags (comma-separated)", "fields": "Custom fields (“name: value” lines)",
    "field": "A custom field", "protected": "A custom field, masked", "ignore": "Leave out",
}


def read_header(path: Path) -> tuple[str, ...]:
    """The header row of a CSV file (worker thread); one sentence if it cannot be read."""
    return csv_import.header(read_limited(path, csv_import.MAX_FILE_BYTES, "CSV file"))


class CsvColumns(QTableWidget):
    """Column → field, one combo box per column of the file."""

    changed = Signal()  # a column's field was chosen

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, 2, parent)
        self.setAccessibleName("CSV columns and the fields they become")
        self.setHorizontalHeaderLabels(["Column in the file", "Becomes"])
        self.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        self.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.verticalHeader().hide()
        self.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.columns: tuple[str, ...] = ()

    def show_columns(self, columns: tuple[str, ...], preset: str | None) -> None:
        """Fill the table from the file's header, each column set as the preset maps it."""
        self.columns = columns
        suggested = csv_import.suggested_mapping(columns, preset)
        self.setRowCount(len(columns))
        for row, column in enumerate(columns):
            self.setItem(row, 0, QTableWidgetItem(column))
            choice = QComboBox()
            choice.setAccessibleName(f"What the column {column} becomes")
            for key in csv_import.FIELDS:
                choice.addItem(FIELD_LABELS.get(key, key), key)
            choice.setCurrentIndex(max(0, choice.findData(suggested.get(column, "field"))))
            choice.currentIndexChanged.connect(self.changed)
            self.setCellWidget(row, 1, choice)
        self.changed.emit()

    def combo(self, column: str) -> QComboBox:
        widget = self.cellWidget(self.columns.index(column), 1)
        assert isinstance(widget, QComboBox)  # noqa: S101 - set by show_columns
        return widget

    def mapping(self) -> dict[str, str]:
        return {column: self.combo(column).currentData() for column in self.columns}

    def clear_columns(self) -> None:
        self.columns = ()
        self.setRowCount(0)
        self.changed.emit()
