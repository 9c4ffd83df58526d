"""Keys & Signing: PKCS#11 modules and the TPM, their tokens and keys; log in, generate, sign files,
verify, export public keys, make CSRs or certificates and audit checkpoints signed on the token.

Every provider and token call runs on this section's own hardware runner (one worker thread),
never on the UI thread and never on the shared vault runner, so a slow token (RSA key generation,
a card that waits for its PIN pad) cannot hold up the vault sections. The backends themselves
keep each module's sessions on that module's thread. Audit events are recorded from the hardware
runner: the vault serialises its writes with its own lock. Logged-in sessions are kept per token
while the vault is open and logged out when it locks; PINs are passed through once, never kept.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QItemSelectionModel, QModelIndex, Qt, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QSplitter,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from strongroom.app.errors import AuthenticationFailed
from strongroom.app.keys import service as ks
from strongroom.app.keys.ports import KeyStore, TokenInfo
from strongroom.app.vault import Vault

from ..base import Section, Services
from ..workers import Task, TaskRunner, user_message
from . import ops
from .actions import KeyActions
from .checkpoint import CheckpointActions
from .details import Details
from .dialogs import TokenPinDialog, button, pin_error_text
from .inventory import (
    Backends,
    Inventory,
    ProviderLoader,
    TokenKey,
    collect,
    open_store,
    token_key,
)
from .model import (
    COLUMNS,
    Column,
    KeyNode,
    KeysModel,
    Node,
    Selection,
    TokenNode,
    selection_of,
)
from .modules import ModuleActions


class KeysSection(ModuleActions, CheckpointActions, KeyActions, Section):
    title = "Keys & Signing"
    accessible_description = "Keys in PKCS#11 tokens and the TPM: inventory, sign, verify, CSRs"
    file_progress = Signal(int, int)  # files signed, of how many (emitted from the worker)

    def __init__(self, services: Services, parent: QWidget | None = None, *,
                 providers: ProviderLoader | None = None) -> None:
        super().__init__(services, parent)
        self.setAccessibleDescription(self.accessible_description)
        self.hw = TaskRunner(self)  # the hardware queue; see the module docstring
        self.backends = Backends(providers or ks.load_provider)
        self.stores: dict[TokenKey, KeyStore] = {}  # logged-in sessions held by the console
        self._epoch = 0
        self._stale = True  # the tree needs reading when the section is next shown
        self.task: Task | None = None
        self.pin_dialog: TokenPinDialog | None = None
        self.dialogs = []  # the generate, sign, verify and CSR dialogs that are open

        self.model = KeysModel(self)
        self.tree = QTreeView()
        self.tree.setModel(self.model)
        self.tree.setAccessibleName("Modules, tokens and keys")
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tree.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.tree.setUniformRowHeights(True)
        for column, width in ((Column.Label, 220), (Column.Type, 120), (Column.Id, 120),
                              (Column.Fingerprint, 170)):
            self.tree.setColumnWidth(COLUMNS.index(column), width)
        self.tree.selectionModel().currentRowChanged.connect(lambda *_: self._selected())
        self.details = Details()

        self.refresh_button = button("Refresh", self.refresh)
        self.add_button = button("Add module…", self._on_add_module,
                                  "Use a PKCS#11 module (.so, .dll or .dylib) by its path")
        self.forget_button = button("Forget module", self.forget_selected_module,
                                    "Stop using the selected module you added (the file stays)")
        self.login_button = button("Log in…", self.ask_login)
        self.logout_button = button("Log out", self.logout_selected)
        self.generate_button = button("Generate…", self.ask_generate,
                                       "Generate a key pair on the selected token")
        self.sign_button = button("Sign files…", self.ask_sign)
        self.verify_button = button("Verify…", self.ask_verify)
        self.checkpoint_button = button(
            "Sign audit checkpoint", self.ask_checkpoint,
            "Sign the audit log's current head with the selected key, so a rewritten history "
            "shows when the log is verified")
        self.export_button = button("Export public key…", self.ask_export)
        self.csr_button = button("CSR / certificate…", self.ask_csr)
        self.cert_button = button("Import certificate…", self.ask_import_cert,
                                  "Store an issued certificate on the token next to its key")
        self.action_buttons = [self.add_button, self.forget_button, self.login_button,
                               self.logout_button, self.generate_button, self.sign_button,
                               self.verify_button, self.checkpoint_button, self.export_button,
                               self.csr_button, self.cert_button]

        self.bar = QProgressBar()
        self.bar.setAccessibleName("Hardware operation in progress")
        self.bar.setMaximumWidth(220)
        self.bar_label = QLabel()
        self.bar_label.setAccessibleName("Hardware operation progress")
        self.cancel_button = button("Cancel", self.cancel)
        self.file_progress.connect(self._on_file_progress)

        heading = QLabel(self.title)
        font = heading.font()
        font.setPointSizeF(font.pointSizeF() * 1.4)
        font.setBold(True)
        heading.setFont(font)
        top = QHBoxLayout()
        top.addWidget(heading, 1)
        top.addWidget(self.refresh_button)
        top.addWidget(self.add_button)
        top.addWidget(self.forget_button)
        actions = QHBoxLayout()
        for action in self.action_buttons[2:]:
            actions.addWidget(action)
        actions.addStretch(1)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.tree)
        split.addWidget(self.details)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        progress = QHBoxLayout()
        progress.addWidget(self.bar)
        progress.addWidget(self.bar_label, 1)
        progress.addWidget(self.cancel_button)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(16, 16, 16, 12)
        lay.addLayout(top)
        lay.addLayout(actions)
        lay.addWidget(split, 1)
        lay.addWidget(self.schedule_widget())
        lay.addLayout(progress)
        self._show_busy(False)
        self.update_buttons()

    # ----- session -------------------------------------------------------------------------------

    def vault_unlocked(self, vault: Vault) -> None:
        super().vault_unlocked(vault)
        self._epoch += 1
        self.update_buttons()
        # Hardware is touched only once the section is looked at, not at every unlock.
        self._stale = True
        if self.isVisible():
            self.refresh()

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt API
        super().showEvent(event)
        if self._stale and self.vault is not None and self.task is None:
            self.refresh()

    def vault_locked(self) -> None:
        super().vault_locked()
        self._epoch += 1
        self.hw.cancel_all()
        if self.pin_dialog is not None:
            self.pin_dialog.close()
            self.pin_dialog = None
        self.close_dialogs()
        stores, self.stores = list(self.stores.values()), {}
        if stores:  # log out of every token this console logged in to
            self.hw.submit("keys.logout", lambda _c, _p: [s.close() for s in stores])
        self.model.clear_all()
        self.details.show_node(None)
        self.task = None
        self._show_busy(False)
        self.update_buttons()

    def _guard(self, then: Callable[[Any], None]) -> Callable[[Any], None]:
        """``then``, unless the vault locked (or locked and reopened) since the work was asked."""
        epoch = self._epoch
        return lambda result: then(result) if epoch == self._epoch else None

    def _guard0(self, then: Callable[[], None]) -> Callable[[], None]:
        epoch = self._epoch
        return lambda: then() if epoch == self._epoch else None

    # ----- running hardware work -----------------------------------------------------------------

    def run(self, name: str, text: str, work: Callable[..., Any],
            on_success: Callable[[Any], None],
            on_error: Callable[[BaseException], None] | None = None, *,
            cancelled: str = "") -> Task:
        """Run ``work(cancel, progress)`` on the hardware runner with the busy row showing."""
        self.services.activity()
        self._show_busy(True, text)
        note = cancelled or f"{text.rstrip('…')} cancelled."
        task = self.hw.submit(
            name, work, on_success=self._guard(on_success),
            on_error=self._guard(on_error or self._failed),
            on_progress=self.bar_label.setText,
            on_cancel=self._guard0(lambda: self.services.status(note)))
        task.finished.connect(lambda: self._task_done(task))
        self.task = task
        self.update_buttons()
        return task

    def _task_done(self, task: Task) -> None:
        if self.task is task:
            self.task = None
            self._show_busy(False)
        self.update_buttons()

    def _failed(self, exc: BaseException) -> None:
        self.services.error(user_message(exc))

    def _show_busy(self, busy: bool, text: str = "") -> None:
        self.bar.setRange(0, 0)
        self.bar.setVisible(busy)
        self.cancel_button.setVisible(busy)
        self.bar_label.setText(text)

    def _on_file_progress(self, done: int, total: int) -> None:
        if self.task is not None:
            self.bar.setRange(0, total)
            self.bar.setValue(done)
            self.bar_label.setText(f"Signed {done} of {total} files…")

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()

    @property
    def busy(self) -> bool:
        return self.task is not None

    # ----- the tree ------------------------------------------------------------------------------

    def refresh(self, then_select: Selection | None = None) -> Task | None:
        """Modules, tokens and keys, gathered on the hardware runner; ``then_select`` a row."""
        vault = self.vault
        if vault is None:
            return None
        backends, stores = self.backends, dict(self.stores)
        self._stale = False
        return self.run("keys.inventory", "Reading modules and tokens…",
                        lambda _c, _p: collect(backends, stores, vault),
                        lambda inventory: self._show_inventory(inventory, then_select))

    def _show_inventory(self, inventory: Inventory, then_select: Selection | None) -> None:
        keep = then_select or selection_of(self.selected())
        self.model.set_inventory(inventory)
        self.tree.expandAll()
        self.select(keep)

    def select(self, selection: Selection) -> None:
        index = next((i for i in self.model.indexes()
                      if selection and selection_of(self.model.node(i)) == selection),
                     QModelIndex())
        flags = (QItemSelectionModel.SelectionFlag.ClearAndSelect
                 | QItemSelectionModel.SelectionFlag.Rows)
        if index.isValid():
            self.tree.selectionModel().setCurrentIndex(index, flags)
        else:
            self.tree.selectionModel().clearSelection()
            self.tree.setCurrentIndex(QModelIndex())
        self._selected()

    def selected(self) -> Node | None:
        return self.model.node(self.tree.currentIndex())

    def selected_token(self) -> TokenInfo | None:
        node = self.selected()
        if isinstance(node, KeyNode | TokenNode):
            return node.token.info
        return None

    def _selected(self) -> None:
        self.details.show_node(self.selected())
        self.update_buttons()

    def update_buttons(self) -> None:
        node, ready = self.selected(), self.vault is not None and self.task is None
        token = self.selected_token()
        session = token is not None and token_key(token) in self.stores
        needs_login = token is not None and "login-required" in token.flags and not session
        key = node.key if isinstance(node, KeyNode) else None
        self.refresh_button.setEnabled(ready)
        self.add_button.setEnabled(ready)
        self.forget_button.setEnabled(ready and self.selected_added_module() is not None)
        # The TPM has no login, but a PIN given here protects the keys made and opens PIN keys.
        self.login_button.setEnabled(ready and token is not None and not session
                                     and (needs_login or token.store == "tpm"))
        self.logout_button.setEnabled(ready and session)
        self.generate_button.setEnabled(ready and token is not None and not needs_login)
        self.sign_button.setEnabled(ready and key is not None and not needs_login)
        self.verify_button.setEnabled(ready)
        self.checkpoint_button.setEnabled(ready and key is not None and ops.can_checkpoint(key))
        self.export_button.setEnabled(ready and key is not None and bool(key.public_key))
        self.csr_button.setEnabled(ready and key is not None and not needs_login
                                   and bool(key.public_key))
        self.cert_button.setEnabled(ready and key is not None and not needs_login
                                    and token is not None and token.store == "pkcs11"
                                    and bool(key.public_key))

    # ----- login -------------------------------------------------------------------------------

    def ask_login(self) -> TokenPinDialog | None:
        token = self.selected_token()
        if token is None or self.vault is None or self.pin_dialog is not None:
            return None
        dialog = TokenPinDialog(token, self)
        dialog.submitted.connect(lambda pin: self.login(token, pin))
        dialog.finished.connect(lambda _r: setattr(self, "pin_dialog", None))
        self.pin_dialog = dialog
        dialog.open()
        return dialog

    def login(self, token: TokenInfo, pin: str) -> Task | None:
        """Log in to ``token``; a wrong PIN is shown (in the PIN dialog if open), never retried."""
        vault, backends = self.vault, self.backends
        if vault is None:
            return None

        def work(_c: object, _p: object) -> KeyStore:
            details = ks.audit_details(token, operation="login")
            try:
                store = open_store(backends, token, pin, vault)
            except AuthenticationFailed as e:  # a wrong PIN is worth an audit event
                ks.record_failure(vault, "keys.login", token.label, details, e)
                raise
            try:
                ks.record(vault, "keys.login", token.label, details)
            except BaseException:
                store.close()
                raise
            return store

        epoch = self._epoch

        def done(store: KeyStore) -> None:
            self.stores[token_key(token)] = store
            if self.pin_dialog is not None:
                self.pin_dialog.accept()
            self.services.status(f"Logged in to token {token.label}.")
            self.refresh()

        def failed(exc: BaseException) -> None:
            if self.pin_dialog is not None:
                self.pin_dialog.show_error(pin_error_text(exc))
            else:
                self._failed(exc)

        task = self.run("keys.login", f"Logging in to {token.label}…", work, done, failed)
        # A login that finishes after the vault locked is logged out again at once.
        task.succeeded.connect(lambda s: self.hw.submit("keys.logout", lambda _c, _p: s.close())
                               if epoch != self._epoch else None)
        return task

    def logout_selected(self) -> Task | None:
        token = self.selected_token()
        store = self.stores.pop(token_key(token), None) if token is not None else None
        if store is None:
            return None
        self.update_buttons()
        return self.run("keys.logout", "Logging out…", lambda _c, _p: store.close(),
                        lambda _r: self.refresh())
