"""Keys & Signing: PKCS#11 modules and the TPM, their tokens and keys; log in, generate, sign files,
verify, export public keys, make CSRs or certificates and audit checkpoints signed on the token.

Every provider and token call runs on this section's own hardware runner (one worker thread),
never on the UI thread and never on the shared vault runner, so a slow token (RSA key generation,
a card that waits for its PIN pad) cannot hold up the vault sections. The backends themselves
keep each module's sessions on that module's thread. Audit events are recorded from the hardware
runner: the vault serialises its writes with its own lock. Logged-in sessions are kept per token
while the vault is open and logged out when it locks; PINs are passed through once, never kept.

The section holds the tree, the sessions and the hardware runner; what the buttons do is in four
controllers it builds, each knowing the section only through a small Protocol (:mod:`.host`):
logging in (:mod:`.login`), modules (:mod:`.modules`), the key actions (:mod:`.actions`) and
audit checkpoints (:mod:`.checkpoint`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QItemSelectionModel, QModelIndex, Qt, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from strongroom.app.keys import tokens as key_tokens
from strongroom.app.keys.ports import KeyStore, TokenInfo
from strongroom.app.vault import Vault

from ..base import Section, Services
from ..widgets.common import button, heading
from ..workers import Task, TaskRunner, user_message
from . import ops
from .actions import KeyActions
from .checkpoint import CheckpointActions
from .details import Details
from .dialogs import TokenPinDialog
from .inventory import (
    Backends,
    Inventory,
    ProviderLoader,
    TokenKey,
    collect,
    open_store,
    token_key,
)
from .login import Login
from .model import (
    KeyNode,
    KeysModel,
    Node,
    Selection,
    TokenNode,
    selection_of,
)
from .modules import ModuleActions
from .tree import KeysTree


class _Forward:
    """``section.name`` reads, calls or sets ``section.<part>.name``: the controllers' verbs and
    state stay reachable on the section, where the tests and the screenshot script use them."""

    def __init__(self, part: str) -> None:
        self.part, self.name = part, ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, section: object, owner: type | None = None) -> Any:
        return self if section is None else getattr(getattr(section, self.part), self.name)

    def __set__(self, section: object, value: object) -> None:
        setattr(getattr(section, self.part), self.name, value)


class KeysSection(Section):
    title = "Keys & Signing"
    accessible_description = "Keys in PKCS#11 tokens and the TPM: inventory, sign, verify, CSRs"
    file_progress = Signal(int, int)  # files signed, of how many (emitted from the worker)

    def __init__(self, services: Services, parent: QWidget | None = None, *,
                 providers: ProviderLoader | None = None) -> None:
        super().__init__(services, parent)
        self.setAccessibleDescription(self.accessible_description)
        self.hw = TaskRunner(self)  # the hardware queue; see the module docstring
        self.backends = Backends(providers or key_tokens.load_provider)
        self.stores: dict[TokenKey, KeyStore] = {}  # logged-in sessions held by the console
        self.epoch = 0  # changes when the vault locks or opens: older results are dropped
        self._stale = True  # the tree needs reading when the section is next shown
        self.task: Task | None = None
        self.pin_dialog: TokenPinDialog | None = None  # login's or a checkpoint's, one at a time
        self.logins = Login(self, parent=self)
        self.modules = ModuleActions(self, parent=self)
        self.key_actions = KeyActions(self, parent=self)
        self.checkpoints = CheckpointActions(self, parent=self)

        self.model = KeysModel(self)
        self.tree = KeysTree(self.model)
        self.tree.selectionModel().currentRowChanged.connect(lambda *_: self._selected())
        self.details = Details()

        self.refresh_button = button("Refresh", self.refresh)
        self.add_button = button("Add module…", self.modules.ask_add_module,
                                  "Use a PKCS#11 module (.so, .dll or .dylib) by its path")
        self.forget_button = button("Forget module", self.modules.forget_selected_module,
                                    "Stop using the selected module you added (the file stays)")
        self.login_button = button("Log in…", self.logins.ask_login)
        self.logout_button = button("Log out", self.logins.logout_selected)
        self.generate_button = button("Generate…", self.key_actions.ask_generate,
                                       "Generate a key pair on the selected token")
        self.sign_button = button("Sign files…", self.key_actions.ask_sign)
        self.verify_button = button("Verify…", self.key_actions.ask_verify)
        self.checkpoint_button = button(
            "Sign audit checkpoint", self.checkpoints.ask_checkpoint,
            "Sign the audit log's current head with the selected key, so a rewritten history "
            "shows when the log is verified")
        self.export_button = button("Export public key…", self.key_actions.ask_export)
        self.csr_button = button("CSR / certificate…", self.key_actions.ask_csr)
        self.cert_button = button("Import certificate…", self.key_actions.ask_import_cert,
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

        top = QHBoxLayout()
        top.addWidget(heading(self.title), 1)
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
        lay.addWidget(self.checkpoints.schedule_row)
        lay.addLayout(progress)
        self._show_busy(False)
        self.update_buttons()

    # ----- session -------------------------------------------------------------------------------

    def vault_unlocked(self, vault: Vault) -> None:
        super().vault_unlocked(vault)
        self.epoch += 1
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
        self.checkpoints.stop_schedule()
        super().vault_locked()
        self.epoch += 1
        self.hw.cancel_all()
        if self.pin_dialog is not None:
            self.pin_dialog.close()
            self.pin_dialog = None
        self.key_actions.close_dialogs()
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
        epoch = self.epoch
        return lambda result: then(result) if epoch == self.epoch else None

    def _guard0(self, then: Callable[[], None]) -> Callable[[], None]:
        epoch = self.epoch
        return lambda: then() if epoch == self.epoch else None

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
            on_error=self._guard(on_error or self.failed),
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

    def failed(self, exc: BaseException) -> None:
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
        self.tree.fit_columns()
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

    def selected_key(self) -> KeyNode | None:
        node = self.selected()
        return node if isinstance(node, KeyNode) else None

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
        kind = self.backends.kind(token.store) if token is not None else None
        session = token is not None and token_key(token) in self.stores
        needs_login = token is not None and "login-required" in token.flags and not session
        key = node.key if isinstance(node, KeyNode) else None
        self.refresh_button.setEnabled(ready)
        self.add_button.setEnabled(ready)
        self.forget_button.setEnabled(ready and self.modules.selected_added_module() is not None)
        # Keys with PINs of their own (the TPM's) have no login, but a PIN given here protects
        # the keys made and opens PIN keys.
        self.login_button.setEnabled(ready and token is not None and not session
                                     and (needs_login or (kind is not None and kind.key_pins)))
        self.logout_button.setEnabled(ready and session)
        self.generate_button.setEnabled(ready and token is not None and not needs_login)
        self.sign_button.setEnabled(ready and key is not None and not needs_login)
        self.verify_button.setEnabled(ready)
        self.checkpoint_button.setEnabled(ready and key is not None and ops.can_checkpoint(key))
        self.export_button.setEnabled(ready and key is not None and bool(key.public_key))
        self.csr_button.setEnabled(ready and key is not None and not needs_login
                                   and bool(key.public_key))
        self.cert_button.setEnabled(ready and key is not None and not needs_login
                                    and kind is not None and kind.keeps_certificates
                                    and bool(key.public_key))

    # ----- sessions ------------------------------------------------------------------------------

    def with_store(self, token: TokenInfo, fn: Callable[[KeyStore], Any]) -> Callable[[], Any]:
        """``fn`` on the console's session on ``token``, or on a session opened for the call."""
        held = self.stores.get(token_key(token))
        backends, vault = self.backends, self.vault

        def call() -> Any:
            if held is not None:
                return fn(held)
            store = open_store(backends, token, None, vault)
            try:
                return fn(store)
            finally:
                store.close()

        return call

    # ----- the controllers' verbs and state, reachable here too ----------------------------------

    ask_login = _Forward("logins")
    login = _Forward("logins")
    logout_selected = _Forward("logins")
    add_module = _Forward("modules")
    forget_selected_module = _Forward("modules")
    ask_generate = _Forward("key_actions")
    generate = _Forward("key_actions")
    ask_sign = _Forward("key_actions")
    sign_files = _Forward("key_actions")
    ask_verify = _Forward("key_actions")
    verify = _Forward("key_actions")
    export_public = _Forward("key_actions")
    ask_csr = _Forward("key_actions")
    make_csr = _Forward("key_actions")
    import_cert = _Forward("key_actions")
    dialogs = _Forward("key_actions")
    last_verdict = _Forward("key_actions")
    last_signed = _Forward("key_actions")
    ask_checkpoint = _Forward("checkpoints")
    unattended_refusal = _Forward("checkpoints")
    schedule_row = _Forward("checkpoints")
    scheduled = _Forward("checkpoints")
    ms_per_hour = _Forward("checkpoints")
