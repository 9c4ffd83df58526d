"""A secret's version history: who made each version, what metadata changed, and its old value.

Every reveal of an old value is an audited read (``purpose="reveal"``), through the section's
approver flow where the two-person rule asks for a second operator. The dialog holds the
vault only while it is open; :meth:`HistoryDialog.close_for_lock` drops it, hides the value and
closes, and results that arrive after that are ignored.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from strongroom.app.model import SecretInfo, VersionInfo
from strongroom.app.vault import Vault

from ..base import Services
from ..clipboard import shown_text
from ..widgets.approval_flow import Guarded
from ..widgets.approvers import Request
from ..workers import user_message
from .reveal_field import RevealField
from .rows import local_time

META_FIELDS = ("classification", "owner", "tags", "expires", "rotation_due", "note")
LABELS = {"rotation_due": "rotation due"}


def _show(value: Any) -> str:
    if value is None or value == "" or value == []:
        return "none"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    text = str(value).replace("\n", " ")
    return text if len(text) <= 60 else text[:57] + "…"


def meta_diff(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """One line per metadata field that differs: ``owner: alice → bob``."""
    return [
        f"{LABELS.get(key, key)}: {_show(old.get(key))} → {_show(new.get(key))}"
        for key in META_FIELDS
        if old.get(key) != new.get(key)
    ]


def current_meta(info: SecretInfo) -> dict[str, Any]:
    return {
        "classification": info.classification.value, "owner": info.owner,
        "tags": list(info.tags), "expires": info.expires, "rotation_due": info.rotation_due,
        "note": info.note,
    }


def describe(versions: Sequence[VersionInfo], row: int, current: SecretInfo | None) -> str:
    """What version ``versions[row]`` changed compared with the one before it."""
    version = versions[row]
    if row == 0:
        lines = [f"Version {version.version}: the first version."]
        lines += [f"{LABELS.get(k, k)}: {_show(version.meta.get(k))}" for k in META_FIELDS]
    else:
        changes = meta_diff(versions[row - 1].meta, version.meta)
        lines = [f"Version {version.version}: a new value"
                 + (", and these changes:" if changes else "; the metadata did not change.")]
        lines += changes
    if current is not None and row == len(versions) - 1:
        since = meta_diff(version.meta, current_meta(current))
        if since:
            lines += ["", "Edited since, without a new value:", *since]
    return "\n".join(lines)


class HistoryDialog(QDialog):
    """Versions of one secret, the metadata diff between consecutive ones, and old values."""

    def __init__(self, services: Services, vault: Vault, name: str,
                 parent: QWidget | None = None, *, guard: Guarded) -> None:
        super().__init__(parent)
        self.services = services
        self.guard = guard
        self.vault: Vault | None = vault
        self.name = name
        self.versions: list[VersionInfo] = []
        self.current: SecretInfo | None = None
        self.setWindowTitle(f"History of {name}")
        self.setAccessibleName(self.windowTitle())
        self.resize(720, 480)

        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["Version", "Created", "By", "Classification"])
        self.table.setAccessibleName("Versions")
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.changes = QPlainTextEdit()
        self.changes.setReadOnly(True)
        self.changes.setAccessibleName("Changes in this version")
        self.value = RevealField("Value of the selected version")
        self.reveal_button = QPushButton("&Reveal this version")
        self.reveal_button.setAccessibleName("Reveal the value of the selected version")
        self.reveal_button.setEnabled(False)
        self.state = QLabel("Loading the history…")
        self.state.setAccessibleName("History status")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.button(QDialogButtonBox.StandardButton.Close).setAccessibleName("Close")
        buttons.rejected.connect(self.reject)

        value_row = QHBoxLayout()
        value_row.addWidget(QLabel("Value:"))
        value_row.addWidget(self.value, 1)
        value_row.addWidget(self.reveal_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.state)
        layout.addWidget(self.table, 2)
        layout.addWidget(self.changes, 1)
        layout.addLayout(value_row)
        layout.addWidget(buttons)

        self.table.itemSelectionChanged.connect(self._selected)
        self.reveal_button.clicked.connect(self.reveal_selected)

    # ----- loading ---------------------------------------------------------------------------

    def load(self) -> None:
        vault = self.vault
        if vault is None:
            return
        name = self.name

        def work(cancel: Any, progress: Any) -> tuple[list[VersionInfo], SecretInfo]:
            return vault.history(name), vault.secret_info(name)

        self.services.runner.submit(
            f"history of {name}", work, on_success=self._loaded, on_error=self._failed
        )

    def _loaded(self, result: tuple[list[VersionInfo], SecretInfo]) -> None:
        if self.vault is None:
            return
        self.versions, self.current = result
        self.table.setRowCount(len(self.versions))
        for row, v in enumerate(self.versions):
            cells = (str(v.version), local_time(v.created), v.actor, v.classification.value)
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
                self.table.setItem(row, column, item)
        count = len(self.versions)
        self.state.setText(f"{count} version{'s' * (count != 1)} of {self.name}")
        if count:
            self.table.selectRow(count - 1)

    def _failed(self, error: BaseException) -> None:
        if self.vault is None:
            return
        message = user_message(error)
        self.state.setText(message)
        self.services.error(message)

    # ----- selection and reveal --------------------------------------------------------------

    def selected_version(self) -> VersionInfo | None:
        rows = self.table.selectionModel().selectedRows()
        return self.versions[rows[0].row()] if rows else None

    @Slot()
    def _selected(self) -> None:
        self.value.hide_value()
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            self.changes.setPlainText("")
            self.reveal_button.setEnabled(False)
            return
        self.changes.setPlainText(describe(self.versions, rows[0].row(), self.current))
        self.reveal_button.setEnabled(self.vault is not None)

    @Slot()
    def reveal_selected(self) -> None:
        vault, version = self.vault, self.selected_version()
        if vault is None or version is None:
            return
        self.services.activity()
        name, number = self.name, version.version
        level = (self.current or version).classification.value  # the policy goes by the secret's

        self.guard.run(
            f"reveal {name} v{number}", f"Reading version {number} of {name}…",
            lambda approval: vault.get_secret(name, version=number, purpose="reveal",
                                              approval=approval),
            lambda value: self._revealed(number, value), self._failed,
            request=Request("secret.reveal", name, level), nothing="nothing was revealed",
            parent=self)

    def _revealed(self, number: int, value: bytes) -> None:
        current = self.selected_version()
        if self.vault is None or current is None or current.version != number:
            return
        self.value.show_value(shown_text(value), self.services.settings.reveal_seconds)

    # ----- closing ---------------------------------------------------------------------------

    def close_for_lock(self) -> None:
        """The vault locked: forget it, hide the value, close."""
        self.vault = None
        self.reject()

    def done(self, result: int) -> None:
        self.value.hide_value()
        self.vault = None
        super().done(result)
