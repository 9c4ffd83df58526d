"""File > Export: the chosen secrets to a KDBX 4 file or an encrypted Strongroom archive.

The dialog gathers the format, the file, its password (twice) and the filters; the export runs
on the worker through the section's approval flow, so an export that takes Critical secrets asks
for a second operator where the policy says so. The password fields are cleared when the
dialog closes, however it closes.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from strongroom.app.model import Classification
from strongroom.app.transfer.exporting import ExportPlan, ExportResult, Filters

from ..widgets.approvers import Request
from . import formats
from .formats import buddy


class ExportDialog(QDialog):
    """Choose what goes out and where; ``requested(format, path, password, filters, force)``."""

    requested = Signal(str, object, str, object, bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export secrets")
        self.setAccessibleName(self.windowTitle())
        self.format = QComboBox()
        self.format.setAccessibleName("Format")
        for key, label in formats.EXPORT_FORMATS.items():
            self.format.addItem(label, key)
        self.path, file_row = formats.file_row("to write", "where to write the file",
                                               self._choose)
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.setAccessibleName("Password of the file")
        self.repeat = QLineEdit()
        self.repeat.setEchoMode(QLineEdit.EchoMode.Password)
        self.repeat.setAccessibleName("Password of the file, again")
        self.level = QComboBox()
        self.level.setAccessibleName("Only this classification")
        self.level.addItem("Every level", None)
        for level in Classification:
            self.level.addItem(level.value.capitalize(), level)
        self.tag = QLineEdit()
        self.tag.setAccessibleName("Only this tag")
        self.tag.setPlaceholderText("any tag")
        self.search = QLineEdit()
        self.search.setAccessibleName("Only names matching")
        self.search.setPlaceholderText("any name")
        self.force = QCheckBox("Replace the file if it exists")
        self.message = QLabel(formats.EXPORT_NOTE)
        self.message.setWordWrap(True)
        self.message.setAccessibleName("Export status")
        form = QFormLayout()
        form.addRow("&Format", self.format)
        form.addRow(buddy("F&ile", self.path), file_row)
        form.addRow("&Password", self.password)
        form.addRow("&Again", self.repeat)
        form.addRow("&Level", self.level)
        form.addRow("&Tag", self.tag)
        form.addRow("&Names", self.search)
        form.addRow("", self.force)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.export_button = self.buttons.addButton(
            "&Export", QDialogButtonBox.ButtonRole.AcceptRole)
        self.export_button.setAccessibleName("Export the secrets")
        self.buttons.accepted.connect(self._submit)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)
        self.resize(560, self.sizeHint().height())

    @Slot()
    def _choose(self) -> None:
        key = self.format.currentData()
        path, _ = QFileDialog.getSaveFileName(
            self, "Export to", str(Path.home() / formats.default_name(key)),
            formats.EXPORT_FILTERS[key])
        if path:
            self.path.setText(path)

    def filters(self) -> Filters:
        return Filters(self.level.currentData(), self.tag.text().strip() or None,
                       self.search.text().strip() or None)

    @Slot()
    def _submit(self) -> None:
        path = self.path.text().strip()
        if not path:
            self.failed("Choose the file to write.")
            return
        if self.password.text() != self.repeat.text():
            self.failed("The two passwords differ.")
            return
        if not self.password.text():
            self.failed("Give the file a password: it will hold secrets.")
            return
        self.message.setText("Exporting…")
        self.buttons.setEnabled(False)
        self.requested.emit(self.format.currentData(), Path(path).expanduser(),
                            self.password.text(), self.filters(), self.force.isChecked())

    def exported(self, result: ExportResult) -> None:
        self.wipe()
        self.accept()

    def failed(self, message: str) -> None:
        self.message.setText(message)
        self.buttons.setEnabled(True)

    def wipe(self) -> None:
        for line in (self.password, self.repeat):
            line.setText("")

    def done(self, result: int) -> None:
        self.wipe()
        super().done(result)


def request_for(export: ExportPlan) -> Request:
    """What a second operator approves for an export: the whole batch, at Critical when any
    secret in it is two-person."""
    level = Classification.Critical.value if export.two_person else None
    return Request(export.operation, export.target, level)
