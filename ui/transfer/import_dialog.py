"""File > Import: read a KeePass, Bitwarden, CSV or archive file, preview it, then import it.

Preview reads and checks the whole file on the worker and matches it against the vault: how many
secrets of each kind, which names are taken and what each becomes under the chosen conflict rule,
and what the file held that cannot come along. Nothing is written until Import, which runs as one
transaction with a progress bar and a Cancel that leaves the vault as it was. Changing any choice
after a preview asks for a new one. The password is cleared once read, and the parsed file is
dropped when the dialog closes.
"""

from __future__ import annotations

import threading
from pathlib import Path

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QProgressBar,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from strongroom.app.access.approvals import Approval
from strongroom.app.model import Classification
from strongroom.app.transfer import apply as importing
from strongroom.app.transfer.model import ImportPlan, ImportResult, OnConflict
from strongroom.app.vault import Vault

from ..base import Services
from ..widgets.approval_flow import Guarded
from ..workers import Progress, Task, user_message
from . import formats
from .csv_columns import CsvColumns
from .csv_columns import read_header as read_columns
from .formats import buddy

CONFLICT_LABELS = {
    OnConflict.skip: "Keep the vault's secret, skip the file's",
    OnConflict.rename: "Add the file's as a new name: “name (2)”",
    OnConflict.version: "Add the file's as a new version of the vault's",
}


class ImportDialog(QDialog):
    imported = Signal(object)  # ImportResult

    def __init__(self, services: Services, vault: Vault, guard: Guarded,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.services, self.vault, self.guard = services, vault, guard
        self.plan: ImportPlan | None = None
        self.task: Task | None = None
        self.setWindowTitle("Import secrets")
        self.setAccessibleName(self.windowTitle())
        self.path, file_row = formats.file_row(
            "to import", "a .kdbx, Bitwarden .json, .csv or .srarchive file", self._choose)
        self.format = QComboBox()
        self.format.setAccessibleName("Format")
        for key, label in formats.IMPORT_FORMATS.items():
            self.format.addItem(label, key)
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.setAccessibleName("Password of the file")
        self.key_file = QLineEdit()
        self.key_file.setAccessibleName("KeePass key file")
        self.key_file.setPlaceholderText("optional")
        self.preset = QComboBox()
        self.preset.setAccessibleName("CSV columns")
        for key, label in formats.CSV_PRESETS.items():
            self.preset.addItem(label, key)
        self.columns = CsvColumns()
        self.columns.setMaximumHeight(170)
        self.level = QComboBox()
        self.level.setAccessibleName("Classification of the imported secrets")
        for level in Classification:
            self.level.addItem(level.value.capitalize(), level)
        self.level.setCurrentIndex(list(Classification).index(Classification.Moderate))
        self.conflict = QComboBox()
        self.conflict.setAccessibleName("When a name is taken")
        for choice, label in CONFLICT_LABELS.items():
            self.conflict.addItem(label, choice)
        self.form = QFormLayout()
        self.form.addRow(buddy("F&ile", self.path), file_row)
        self.form.addRow("&Format", self.format)
        self.form.addRow("&Password", self.password)
        self.form.addRow("&Key file", self.key_file)
        self.form.addRow("C&olumns", self.preset)
        self.form.addRow(buddy("&Mapping", self.columns), self.columns)
        self.form.addRow("C&lassification", self.level)
        self.form.addRow("&Name taken", self.conflict)
        self.summary = QLabel("Choose a file, then Preview: nothing is written before Import.")
        self.summary.setWordWrap(True)
        self.summary.setAccessibleName("Preview")
        self.conflicts = QTableWidget(0, 2)
        self.conflicts.setAccessibleName("Names already in the vault")
        self.conflicts.setHorizontalHeaderLabels(["Name in the vault", "Becomes"])
        self.conflicts.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.conflicts.verticalHeader().hide()
        self.conflicts.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.warnings = QListWidget()
        self.warnings.setAccessibleName("What the file held that is not imported")
        self.warnings.setMaximumHeight(110)
        self.warnings_caption = QLabel("Notes on the file (what does not come along as is):")
        self.warnings_caption.setBuddy(self.warnings)
        self.progress = QProgressBar()
        self.progress.setAccessibleName("Import progress")
        self.progress.hide()
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.preview_button = self.buttons.addButton(
            "&Preview", QDialogButtonBox.ButtonRole.ActionRole)
        self.import_button = self.buttons.addButton(
            "&Import", QDialogButtonBox.ButtonRole.AcceptRole)
        self.import_button.setEnabled(False)
        self.cancel_button = self.buttons.addButton(
            "&Cancel import", QDialogButtonBox.ButtonRole.ActionRole)
        self.cancel_button.hide()
        self.preview_button.clicked.connect(self.preview)
        self.import_button.clicked.connect(self.start_import)
        self.cancel_button.clicked.connect(self.cancel_import)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(self.form)
        layout.addWidget(self.summary)
        layout.addWidget(self.conflicts, 1)
        layout.addWidget(self.warnings_caption)
        layout.addWidget(self.warnings)
        layout.addWidget(self.progress)
        layout.addWidget(self.buttons)
        self.path.textChanged.connect(self._path_changed)
        self.format.currentIndexChanged.connect(self._format_changed)
        self.preset.currentIndexChanged.connect(self._read_columns)
        for changed in (self.password.textChanged, self.key_file.textChanged,
                        self.preset.currentIndexChanged, self.columns.changed,
                        self.level.currentIndexChanged, self.conflict.currentIndexChanged):
            changed.connect(self._stale)
        self._format_changed()
        self.resize(680, 620)

    # ----- choices ---------------------------------------------------------------------------

    def set_path(self, path: Path) -> None:
        self.path.setText(str(path))

    @Slot()
    def _choose(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Import from", str(Path.home()),
            "Password files (*.kdbx *.json *.csv *.srarchive);;All files (*)")
        if path:
            self.path.setText(path)

    @Slot()
    def _path_changed(self) -> None:
        key = formats.guess_format(Path(self.path.text().strip()))
        if key is not None and key != self.format.currentData():
            self.format.setCurrentIndex(self.format.findData(key))  # reads the columns
        else:
            self._read_columns()
        self._stale()

    @Slot()
    def _read_columns(self) -> None:
        """For a CSV file, its header row on the worker, then the mapping step."""
        self.columns.clear_columns()
        text = self.path.text().strip()
        if self.format.currentData() != "csv" or not text:
            return
        path, preset = Path(text).expanduser(), self.preset.currentData()

        def shown(columns: tuple[str, ...]) -> None:
            if self.path.text().strip() == text and self.preset.currentData() == preset:
                self.columns.show_columns(columns, preset)

        self.services.runner.submit(
            f"columns of {path.name}", lambda _c, _p: read_columns(path), on_success=shown,
            on_error=lambda e: self.summary.setText(user_message(e)))

    @Slot()
    def _format_changed(self) -> None:
        key = self.format.currentData()
        for widget, shown in ((self.password, key in ("kdbx", "archive")),
                              (self.key_file, key == "kdbx"),
                              (self.preset, key == "csv"), (self.columns, key == "csv"),
                              # an archive's secrets keep their own levels
                              (self.level, key != "archive")):
            widget.setVisible(shown)
            label = self.form.labelForField(widget)
            if label is not None:
                label.setVisible(shown)
        self._read_columns()
        self._stale()

    @Slot()
    def _stale(self) -> None:
        """A choice changed: the preview no longer says what Import would do."""
        if self.plan is not None:
            self.plan = None
            self.summary.setText("The choices changed: Preview again before importing.")
        self.import_button.setEnabled(False)

    # ----- preview ---------------------------------------------------------------------------

    @Slot()
    def preview(self) -> None:
        text = self.path.text().strip()
        if not text:
            self.summary.setText("Choose the file to import.")
            return
        path, key, vault = Path(text).expanduser(), self.format.currentData(), self.vault
        options = formats.ReadOptions(
            password=self.password.text(), key_file=self.key_file.text().strip() or None,
            preset=self.preset.currentData(),
            mapping=self.columns.mapping() if self.columns.columns else None)
        level, on_conflict = self.level.currentData(), self.conflict.currentData()

        def work(_cancel: threading.Event, progress: Progress) -> ImportPlan:
            parsed = formats.read(key, path, options)
            return importing.plan(vault, parsed, level, on_conflict)

        self.summary.setText("Reading the file…")
        self.preview_button.setEnabled(False)
        self.services.runner.submit(f"preview {path.name}", work, on_success=self._previewed,
                                    on_error=self._preview_failed)

    def _previewed(self, plan: ImportPlan) -> None:
        self.preview_button.setEnabled(True)
        self.plan = plan
        parsed = plan.parsed
        counts = parsed.counts()
        kinds = ", ".join(f"{counts[k]} {formats.KIND_WORDS[k]}" for k in formats.KIND_WORDS
                          if counts.get(k))
        will = plan.summary()
        parts = [f"{will['add']} new"] + [f"{will[k]} {word}" for k, word in (
            ("version", "as new versions"), ("rename", "renamed"), ("skip", "skipped"))
            if will[k]]
        self.summary.setText(
            f"{len(parsed.items)} secret(s) in the file ({kinds or 'none'}): "
            + ", ".join(parts) + f"; classification {plan.classification}. "
            + f"SHA-256 {parsed.sha256[:16]}…")
        self.conflicts.setRowCount(len(plan.conflicts))
        becomes = {OnConflict.skip: lambda c: "skipped",
                   OnConflict.rename: lambda c: c.renamed,
                   OnConflict.version: lambda c: "a new version"}[plan.on_conflict]
        for row, conflict in enumerate(plan.conflicts):
            self.conflicts.setItem(row, 0, QTableWidgetItem(conflict.name))
            self.conflicts.setItem(row, 1, QTableWidgetItem(becomes(conflict)))
        self.warnings.clear()
        self.warnings.addItems(list(parsed.warnings))
        self.warnings_caption.setText(
            "Notes on the file (what does not come along as is):" if parsed.warnings
            else "Notes on the file: none, everything comes along.")
        self.import_button.setEnabled(bool(parsed.items))

    def _preview_failed(self, error: BaseException) -> None:
        self.preview_button.setEnabled(True)
        self.plan = None
        self.summary.setText(user_message(error))

    # ----- import ----------------------------------------------------------------------------

    @Slot()
    def start_import(self) -> None:
        plan, vault = self.plan, self.vault
        if plan is None:
            return
        total = len(plan.parsed.items)

        def work(approval: Approval | None, cancel: threading.Event,
                 progress: Progress) -> ImportResult:
            def step(done: int, _total: int) -> bool:
                progress(f"{done}/{total}")
                return not cancel.is_set()

            return importing.apply(vault, plan, progress=step, approval=approval)

        self._busy(True)
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(0)
        self.task = self.guard.run_work(
            "import", f"Importing {total} secret(s)…", work, self._imported,
            self._import_failed, nothing="nothing was imported", parent=self)
        if self.task is not None:
            self.task.progress.connect(self._progressed)
            self.task.cancelled.connect(
                lambda: self._import_failed(None, "Cancelled: nothing was imported."))

    @Slot(str)
    def _progressed(self, text: str) -> None:
        done, _, _total = text.partition("/")
        if done.isdigit():
            self.progress.setValue(int(done))

    @Slot()
    def cancel_import(self) -> None:
        if self.task is not None:
            self.task.cancel()
            self.cancel_button.setEnabled(False)

    def _busy(self, busy: bool) -> None:
        self.progress.setVisible(busy)
        self.cancel_button.setVisible(busy)
        self.cancel_button.setEnabled(busy)
        for widget in (self.preview_button, self.import_button):
            widget.setEnabled(not busy)
        for row in range(self.form.rowCount()):
            for role in (QFormLayout.ItemRole.FieldRole,):
                item = self.form.itemAt(row, role)
                if item is not None and item.widget() is not None:
                    item.widget().setEnabled(not busy)

    def _imported(self, result: ImportResult) -> None:
        self.task = None
        self.services.status(
            f"Imported {result.added + result.renamed} new secret(s) and {result.versioned} "
            f"new version(s); {result.skipped} skipped")
        self.imported.emit(result)
        self.accept()

    def _import_failed(self, error: BaseException | None, text: str = "") -> None:
        self.task = None
        self._busy(False)
        self.import_button.setEnabled(self.plan is not None)
        self.summary.setText(text or user_message(error or RuntimeError()))

    def done(self, result: int) -> None:
        if self.task is not None:
            self.task.cancel()
        self.plan = None
        self.password.setText("")
        super().done(result)
