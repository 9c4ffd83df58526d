"""The Vault section: the table of secrets, a filter, and add, edit, delete, history, reveal, copy.

Every vault call runs on the task runner. Results are tied to the unlock they were asked for
(``_epoch``): whatever arrives after a lock is dropped, values included. Values are shown only
on demand and hidden again after ``reveal_seconds``; copies go through the clipboard guard.
Reveal, copy, delete, add and edit go through the two-person rule's approver flow
(ui/widgets/approval_flow.py): a refusal that needs a second operator asks for one and retries once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import shiboken6
from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from strongroom.app.errors import StrongroomError
from strongroom.app.model import SecretInfo
from strongroom.app.unlock_methods import load_source
from strongroom.app.vault import Vault
from strongroom.app.vault.secrets import reveal_operation

from ..base import Section, Services
from ..transfer.actions import Transfers
from ..unlock.hw_prompts import SourceFactory
from ..widgets.approval_flow import Guarded
from ..widgets.approvers import Request
from ..workers import Task, Work, user_message
from . import kinds, saving
from .history_dialog import HistoryDialog
from .model import FETCH_BATCH, INFO_ROLE, SecretsModel
from .reveal_field import RevealField
from .rows import Loaded
from .secret_dialog import SecretDialog, SecretForm
from .table import SecretsTable

WHOLE_VAULT = ("add", "import", "export")  # actions that need no selected secret


class VaultSection(Section):
    """The secrets of the open vault."""

    title = "Vault"
    accessible_description = "The vault's secrets: filter, add, edit, reveal and copy them"

    def __init__(self, services: Services, parent: QWidget | None = None, *,
                 sources: SourceFactory = load_source) -> None:
        super().__init__(services, parent)
        self.setAccessibleDescription(self.accessible_description)
        self._epoch = 0  # bumped at every unlock and lock; late results of older ones are dropped
        self._loading = False
        self.guard = Guarded(self, sources=sources)  # the approver flow of the two-person rule
        self.transfers = Transfers(self)  # File > Import and Export
        self.model = SecretsModel(self)

        self.search = QLineEdit()
        self.search.setPlaceholderText("Filter by name, tag, note or owner (Ctrl+F)")
        self.search.setClearButtonEnabled(True)
        self.search.setAccessibleName("Filter secrets")
        self.toolbar = QToolBar("Secret actions")
        self.toolbar.setAccessibleName("Secret actions")
        self.actions_: dict[str, QAction] = {}
        for key, text, tip, slot in (
            ("add", "&Add", "Add a secret (Ctrl+N)", self.add_secret),
            ("edit", "&Edit", "Edit the selected secret (Enter)", self.edit_secret),
            ("delete", "&Delete", "Delete the selected secret (Delete)", self.delete_secret),
            ("history", "&History", "Versions of the selected secret", self.show_history),
            ("reveal", "&Reveal", "Show the selected secret's value for a while", self.reveal),
            ("copy_value", "&Copy value", "Copy the value (Ctrl+C)", self.copy_value),
            ("copy_name", "Copy &name", "Copy the name (Ctrl+B)", self.copy_name),
            ("import", "&Import…", "Import secrets from KeePass, Bitwarden, CSV or an archive",
             self.import_secrets),
            ("export", "E&xport…", "Export secrets to KeePass KDBX 4 or an encrypted archive",
             self.export_secrets),
        ):
            action = QAction(text.replace("&", ""), self)
            action.setToolTip(tip)
            action.triggered.connect(slot)
            self.toolbar.addAction(action)
            button = self.toolbar.widgetForAction(action)
            button.setAccessibleName(text.replace("&", ""))
            button.setAccessibleDescription(tip)
            self.actions_[key] = action
        self.actions_["add"].setShortcut(QKeySequence("Ctrl+N"))
        self.actions_["add"].setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.addAction(self.actions_["add"])

        self.view = SecretsTable(self.model)

        self.count = QLabel("")
        self.count.setAccessibleName("Number of secrets shown")
        self.value_caption = QLabel("Value:")
        self.value = RevealField("Value of the selected secret")
        self._revealed_name: str | None = None

        top = QHBoxLayout()
        top.addWidget(self.search, 1)
        top.addWidget(self.toolbar)
        bottom = QHBoxLayout()
        bottom.addWidget(self.count)
        bottom.addStretch(1)
        bottom.addWidget(self.value_caption)
        bottom.addWidget(self.value, 2)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.view, 1)
        layout.addLayout(bottom)

        self.search.textChanged.connect(self.model.set_filter)
        self.model.matches_changed.connect(self._update_count)
        self.model.modelReset.connect(self._selection_changed)
        self.view.selectionModel().selectionChanged.connect(self._selection_changed)
        self.view.copy_value.connect(self.copy_value)
        self.view.copy_name.connect(self.copy_name)
        self.view.delete_row.connect(self.delete_secret)
        self.view.open_row.connect(self.edit_secret)
        self.view.doubleClicked.connect(self.edit_secret)
        self._selection_changed()

    # ----- life cycle ------------------------------------------------------------------------

    def vault_unlocked(self, vault: Vault) -> None:
        super().vault_unlocked(vault)
        self._epoch += 1
        self.reload()

    def vault_locked(self) -> None:
        self._epoch += 1
        self.vault = None
        self.guard.close()
        for dialog in list(self.dialogs):
            if isinstance(dialog, HistoryDialog):
                dialog.close_for_lock()
            else:
                dialog.reject()
        self.dialogs.clear()
        self._hide_value()
        self._loading = False
        self.model.clear()
        self.count.setText("Locked")
        super().vault_locked()

    @property
    def loading(self) -> bool:
        """True until the full list of secrets has arrived."""
        return self._loading

    def focus_search(self) -> None:
        self.search.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search.selectAll()

    def reload(self) -> None:
        """Load every secret's metadata (never a value) and its filter haystack in the worker."""
        vault = self.vault
        if vault is None:
            return
        self._loading = True
        self._update_count()

        def first_page(loaded: Loaded) -> None:  # shows in ms; the full list takes s at 100k
            if self._loading:
                self.model.set_rows(loaded)

        def everything(loaded: Loaded) -> None:
            self._loading = False
            self.model.set_rows(loaded)

        self._run("load the first secrets", lambda: Loaded.load(vault, FETCH_BATCH), first_page)
        self._run("load all secrets", lambda: Loaded.load(vault), everything)

    def submit(self, name: str, text: str, work: Work, on_success: Callable[[Any], None],
               on_error: Callable[[BaseException], None] | None = None) -> Task:
        """Run ``work(cancel, progress)`` on the runner; ``on_success``/``on_error`` only if the
        vault is still as it was (``text`` says what runs; this section shows no busy row)."""
        epoch = self._epoch

        def ok(result: Any) -> None:
            if epoch == self._epoch and self.vault is not None:
                on_success(result)

        def failed(error: BaseException) -> None:
            if epoch == self._epoch:
                (on_error or self._say)(error)

        return self.services.runner.submit(name, work, on_success=ok, on_error=failed)

    def _say(self, error: BaseException) -> None:
        self.services.error(user_message(error))

    def _run(self, name: str, work: Callable[[], Any], done: Callable[[Any], None]) -> None:
        """Run ``work`` on the runner; ``done`` only if the vault is still as it was."""
        self.submit(name, name, lambda _cancel, _progress: work(), done)

    # ----- selection -------------------------------------------------------------------------

    def selected(self) -> SecretInfo | None:
        rows = self.view.selectionModel().selectedRows()
        info = rows[0].data(INFO_ROLE) if rows else None
        return info if isinstance(info, SecretInfo) else None

    def select(self, name: str) -> None:
        row = self.model.row_of(name)
        if row is not None:
            self.view.selectRow(row)
            self.view.scrollTo(self.model.index(row, 0))

    @Slot()
    def _selection_changed(self) -> None:
        info = self.selected()
        if info is None or info.name != self._revealed_name:
            self._hide_value()
        for key, action in self.actions_.items():
            action.setEnabled(self.vault is not None and (key in WHOLE_VAULT or info is not None))
        self.value_caption.setText(f"Value of {info.name}:" if info else "Value:")

    @Slot()
    def _update_count(self) -> None:
        shown, total = self.model.matches, self.model.total
        if self._loading:
            self.count.setText("Loading the secrets…")
        elif self.model.scanning:
            self.count.setText(f"Filtering… {shown:,} so far")
        elif shown == total:
            self.count.setText(f"{total:,} secret{'s' * (total != 1)}")
        else:
            self.count.setText(f"{shown:,} of {total:,} secrets")
        self.view.show_placeholder(self._loading, self.vault is not None, self.search.text())

    # ----- add, edit, delete, history --------------------------------------------------------

    @Slot()
    def add_secret(self) -> None:
        self._open_editor(None)

    @Slot()
    def edit_secret(self) -> None:
        if self.selected() is not None:
            self._open_editor(self.selected())

    def _open_editor(self, info: SecretInfo | None) -> None:
        if self.vault is None:
            return
        self.services.activity()
        dialog = SecretDialog(self, info, self.services.runner)
        dialog.submitted.connect(lambda form: self._save(dialog, form))
        self.open_dialog(dialog)

    def _save(self, dialog: SecretDialog, form: SecretForm) -> None:
        vault, old = self.vault, dialog.info
        if vault is None:
            return

        def done(info: SecretInfo) -> None:
            if shiboken6.isValid(dialog):  # the user may have closed it meanwhile
                dialog.saved()
            self.model.upsert(info)
            self.select(info.name)
            verb = "Added" if old is None else "Saved"
            self.services.status(f"{verb} {info.name} (version {info.version})")

        def failed(error: BaseException) -> None:
            self._say(error)
            if shiboken6.isValid(dialog):
                dialog.failed(user_message(error))

        self.guard.run(f"save {form.name}", f"Saving {form.name}…", saving.change(vault, old, form),
                       done, failed, nothing="nothing was saved", parent=dialog,
                       request=Request("secret.write", form.name, form.classification.value))

    @Slot()
    def delete_secret(self) -> None:
        info = self.selected()
        if self.vault is None or info is None:
            return
        self.services.activity()
        box = QMessageBox(
            QMessageBox.Icon.Warning, "Delete secret",
            f"Delete {info.name} and all {info.version} of its versions? This cannot be undone.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel, self,
        )
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.setAccessibleName("Confirm deletion")
        confirm = box.button(QMessageBox.StandardButton.Yes)
        confirm.setText("Delete")
        confirm.setAccessibleName(f"Delete {info.name}")
        confirm.clicked.connect(lambda: self._delete(info))
        self.open_dialog(box)

    def _delete(self, info: SecretInfo) -> None:
        vault, name = self.vault, info.name
        if vault is None:
            return

        def done(_: object) -> None:
            self.model.remove(name)
            self.services.status(f"Deleted {name}")

        self.guard.run(f"delete {name}", f"Deleting {name}…",
                       lambda approval: vault.delete_secret(name, approval=approval), done,
                       request=Request("secret.delete", name, info.classification.value),
                       nothing="nothing was deleted")

    @Slot()
    def show_history(self) -> None:
        info = self.selected()
        if self.vault is None or info is None:
            return
        self.services.activity()
        dialog = HistoryDialog(self.services, self.vault, info.name, self, guard=self.guard)
        dialog.load()
        self.open_dialog(dialog)

    # ----- reveal and copy -------------------------------------------------------------------

    def _fetch_selected_value(self, purpose: str,
                              done: Callable[[str, str, bytes], None]) -> None:
        """Read the selected secret's value on the runner (audited as ``purpose``; with a second
        operator's approval where the vault asks for one), then ``done(name, kind, value)``."""
        info, vault = self.selected(), self.vault
        if vault is None or info is None:
            return
        self.services.activity()
        name, kind = info.name, info.kind
        self.guard.run(
            f"{purpose} {name}", f"Reading {name}…",
            lambda approval: vault.get_secret(name, purpose=purpose, approval=approval),
            lambda value: done(name, kind, value),
            request=Request(reveal_operation(purpose), name, info.classification.value),
            nothing="nothing was " + ("copied" if purpose == "copy" else "revealed"))

    @Slot()
    def reveal(self) -> None:
        def done(name: str, kind: str, value: bytes) -> None:
            current = self.selected()
            if current is not None and current.name == name:
                self._revealed_name = name
                self.value.show_live(kinds.render(kind, value),
                                     self.services.settings.reveal_seconds)

        self._fetch_selected_value("reveal", done)

    def _hide_value(self) -> None:
        self._revealed_name = None
        self.value.hide_value()

    @Slot()
    def copy_value(self) -> None:
        def done(name: str, kind: str, value: bytes) -> None:
            try:
                self.services.clipboard.copy_secret(kinds.to_copy(kind, value))
            except StrongroomError as e:  # a binary value cannot be pasted as text
                self.services.error(user_message(e))
                return
            seconds = self.services.settings.clipboard_clear_seconds
            what = {"totp": "the current code of", "entry": "the password of"}.get(
                kind, "the value of")
            self.services.status(f"Copied {what} {name}; the clipboard clears in {seconds} s")

        self._fetch_selected_value("copy", done)

    @Slot()
    def import_secrets(self) -> None:
        self.transfers.open_import()

    @Slot()
    def export_secrets(self) -> None:
        self.transfers.open_export()

    @Slot()
    def copy_name(self) -> None:
        info = self.selected()
        if info is None:
            return
        self.services.activity()
        QGuiApplication.clipboard().setText(info.name)
        self.services.status(f"Copied the name {info.name}")
