"""The lock screen: passphrase, unlock progress while Argon2id runs, backoff, enrolled methods.

A vault shared by two or more operators first asks who is unlocking (operator_picker.py), then
shows and tries only that operator's unlock methods; with one operator there is no extra step.

Each hardware kind the vault has a keyslot for gets its own action ("Use security key", "Unlock
with TPM", "Unlock with this device's keyring"), enabled only when its backend can run here — the
check runs in the task runner, as it may touch hardware — and otherwise showing why not. Every
hardware wait runs in the runner and can be cancelled. A recovery keyslot among the methods shown
adds "Recover with shares…" (recovery_entry.py).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from strongroom.app.access import last_operator
from strongroom.app.errors import BackingOff, RollbackDetected
from strongroom.app.keyslots import Keyslot, PassphraseUnlocker, normalize_passphrase
from strongroom.app.unlock_methods import (
    Availability,
    HardwareUnlocker,
    SlotSecretSource,
    load_source,
    needs_passphrase,
)
from strongroom.app.vault import Vault

from ..widgets.common import heading
from ..workers import Task, TaskRunner
from .countdown import Countdown
from .hw_prompts import QtPrompts, hardware_message, run_with_prompts
from .hw_rows import HW_ACTIONS, HW_WAITING, KEYRING_NOTE, HardwareRows
from .operator_picker import METHOD_NAMES, OperatorPicker, needs_picker, pickable, slots_of
from .recovery_entry import RecoveryEntry, method_line
from .rollback_prompt import confirm_accept_rollback

__all__ = ["HW_ACTIONS", "HW_WAITING", "KEYRING_NOTE", "METHOD_NAMES", "LockScreen"]


class LockScreen(QWidget, HardwareRows, RecoveryEntry):
    """Asks for the passphrase and unlocks the vault in the runner; emits ``unlocked(vault)``."""

    unlocked = Signal(object)

    def __init__(self, runner: TaskRunner, parent: QWidget | None = None, *,
                 sources: Callable[[str], SlotSecretSource] = load_source) -> None:
        super().__init__(parent)
        self.runner = runner
        self.sources = sources
        self.vault: Vault | None = None
        self.operator: str | None = None  # who is unlocking, on a vault with several operators
        self._task: Task | None = None
        self._check: Task | None = None
        self._busy = False
        self.available: dict[str, Availability] = {}
        self.hw_buttons: dict[str, QPushButton] = {}
        self.hw_notes: dict[str, QLabel] = {}
        self.prompts = QtPrompts(self)
        self._countdown = Countdown(self)
        self._countdown.changed.connect(self._countdown_changed)

        self.title = heading("Strongroom is locked", scale=1.6)
        self.title.setObjectName("lockTitle")
        self.location = QLabel()
        self.location.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.location.setProperty("role", "muted")

        self.passphrase = QLineEdit()
        self.passphrase.setEchoMode(QLineEdit.EchoMode.Password)
        self.passphrase.setAccessibleName("Vault passphrase")
        self.passphrase.setPlaceholderText("Passphrase")
        self.passphrase.returnPressed.connect(self.start_unlock)
        self.unlock_button = QPushButton("Unlock")
        self.unlock_button.setDefault(True)
        self.unlock_button.setAccessibleName("Unlock the vault")
        self.unlock_button.clicked.connect(self.start_unlock)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setAccessibleName("Cancel unlocking")
        self.cancel_button.clicked.connect(self.cancel_unlock)
        self.cancel_button.hide()

        self.progress = QProgressBar()
        self.progress.setRange(0, 0)
        self.progress.setTextVisible(False)
        self.progress.setMaximumHeight(6)
        self.progress.setAccessibleName("Unlocking")
        self.progress.hide()
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setAccessibleName("Unlock status")

        self.touch_note = QLabel()
        self.touch_note.setObjectName("touchNote")
        self.touch_note.setAccessibleName("Security key prompt")
        self.touch_note.setProperty("role", "warning")
        self.touch_note.hide()
        self.prompts.touch_changed.connect(self._show_touch)
        self.hw_rows = QVBoxLayout()
        self.hw_rows.setSpacing(4)
        self.recheck_button = QPushButton("Check again (after plugging in a device)")
        self.recheck_button.setAccessibleName("Check the unlock devices again")
        self.recheck_button.clicked.connect(self.check_availability)
        self.recheck_button.hide()
        self.recover_button = self._recovery_button()
        self.accept_button = QPushButton("Open it as it is (accept the rollback)…")
        self.accept_button.setAccessibleName("Accept the rollback and open the vault")
        self.accept_button.setToolTip(
            "Makes this older copy the vault's state from now on; recorded in the audit log")
        self.accept_button.clicked.connect(self._ask_accept_rollback)
        self.accept_button.hide()

        self.picker = OperatorPicker()
        self.picker.chosen.connect(self.choose_operator)
        self.picker.hide()
        self.as_label = QLabel()
        self.as_label.setAccessibleName("Unlocking as")
        self.switch_button = QPushButton("Choose another operator")
        self.switch_button.setAccessibleName("Choose another operator")
        self.switch_button.clicked.connect(lambda: self.show_vault(self.vault) if self.vault
                                           else None)
        self.methods = QListWidget()
        self.methods.setAccessibleName("Enrolled unlock methods")
        self.methods.setMaximumHeight(70)
        self.methods.setFrameShape(QFrame.Shape.NoFrame)
        self.methods.setFocusPolicy(Qt.FocusPolicy.NoFocus)

        row = QHBoxLayout()
        row.addWidget(self.passphrase, 1)
        row.addWidget(self.unlock_button)
        row.addWidget(self.cancel_button)
        form = QFormLayout()
        form.addRow("Unlock methods", self.methods)

        card = QFrame()
        card.setObjectName("card")
        card.setMaximumWidth(520)
        inner = QVBoxLayout(card)
        inner.setContentsMargins(28, 24, 28, 24)
        inner.setSpacing(12)
        inner.addWidget(self.title)
        inner.addWidget(self.location)
        inner.addWidget(self.picker)
        self.unlock_page = QWidget()
        page = QVBoxLayout(self.unlock_page)
        page.setContentsMargins(0, 0, 0, 0)
        page.setSpacing(12)
        who = QHBoxLayout()
        who.addWidget(self.as_label, 1)
        who.addWidget(self.switch_button)
        page.addLayout(who)
        page.addLayout(row)
        page.addLayout(self.hw_rows)
        page.addWidget(self.recheck_button, 0, Qt.AlignmentFlag.AlignLeft)
        page.addWidget(self.recover_button, 0, Qt.AlignmentFlag.AlignLeft)
        page.addWidget(self.progress)
        page.addWidget(self.touch_note)
        page.addWidget(self.status)
        page.addWidget(self.accept_button, 0, Qt.AlignmentFlag.AlignLeft)
        page.addLayout(form)
        inner.addWidget(self.unlock_page)

        outer = QVBoxLayout(self)
        outer.addStretch(1)
        center = QHBoxLayout()
        center.addStretch(1)
        center.addWidget(card, 2)
        center.addStretch(1)
        outer.addLayout(center)
        outer.addStretch(2)

    # ----- state ---------------------------------------------------------------------------------

    def show_vault(self, vault: Vault) -> None:
        """Show the lock screen for ``vault`` (opened, still locked): who is unlocking first,
        when it has several operators."""
        self.vault = vault
        self.operator = None
        self.location.setText(str(vault.path))
        picking = needs_picker(vault.header)
        self.picker.setVisible(picking)
        self.unlock_page.setVisible(not picking)
        if picking:
            self.picker.show_operators(pickable(vault.header), last_operator.recall(vault.header))
            self._build_hardware_rows(vault)  # none until an operator is chosen
            self.set_message("")
            self._set_busy(False)
            return
        self._show_methods(vault)

    def choose_operator(self, name: str) -> None:
        """Unlock as ``name``: show only their unlock methods."""
        vault = self.vault
        if vault is None or vault.header.operator_named(name) is None or self._task is not None:
            return
        self.operator = name
        self.picker.hide()
        self.unlock_page.show()
        self._show_methods(vault)

    def _picking(self) -> bool:
        return self.vault is not None and self.operator is None and needs_picker(
            self.vault.header)

    def _slots(self) -> list[Keyslot]:
        """The unlock methods shown: the chosen operator's (none before one is chosen)."""
        if self.vault is None or self._picking():
            return []
        return slots_of(self.vault.header, self.operator)

    def _show_methods(self, vault: Vault) -> None:
        self.as_label.setText("" if self.operator is None else f"Unlocking as <b>{self.operator}"
                              "</b>")
        self.as_label.setVisible(self.operator is not None)
        self.switch_button.setVisible(self.operator is not None)
        self.methods.clear()
        for slot in self._slots():
            self.methods.addItem(method_line(slot, self.operator))
        self._build_hardware_rows(vault)
        self._show_recovery()
        self.accept_button.hide()
        self.set_message("")
        self._set_busy(False)
        self.passphrase.setFocus()

    def set_message(self, text: str, role: str = "") -> None:
        self.status.setText(text)
        self.status.setProperty("role", role)
        self.status.style().unpolish(self.status)
        self.status.style().polish(self.status)

    def _set_busy(self, busy: bool) -> None:
        self.progress.setVisible(busy)
        self.cancel_button.setVisible(busy)
        self.passphrase.setEnabled(not busy)
        self.switch_button.setEnabled(not busy)
        self._busy = busy
        self._update_buttons()

    def _update_buttons(self) -> None:
        ready = not self._busy and not self._countdown.isActive() and not self._picking()
        self.unlock_button.setEnabled(ready)
        self.recover_button.setEnabled(ready)
        for kind, button in self.hw_buttons.items():
            usable = self.available.get(kind)
            button.setEnabled(ready and usable is not None and usable.ok)

    def _show_touch(self, text: str) -> None:
        self.touch_note.setText(text)
        self.touch_note.setVisible(bool(text))

    # ----- unlocking -----------------------------------------------------------------------------

    def start_unlock(self) -> None:
        vault = self.vault
        text = self.passphrase.text()
        if vault is None or self._task is not None or not self.unlock_button.isEnabled():
            return
        if not text:
            self.set_message("Type the vault's passphrase.", "warning")
            return
        self.passphrase.clear()
        unlocker = PassphraseUnlocker.from_text(text)
        del text
        self._set_busy(True)
        self.set_message("Deriving the key from your passphrase…")
        operator = self.operator

        def work(cancel, progress):  # type: ignore[no-untyped-def]
            vault.unlock(unlocker, cancel=cancel, on_status=progress, operator=operator)
            return vault

        self._task = self.runner.submit(
            "unlock", work, on_success=self._done, on_error=self._failed,
            on_progress=lambda s: self.set_message(s + "…"), on_cancel=self._cancelled,
        )

    def _ask_accept_rollback(self) -> None:
        if confirm_accept_rollback(self):
            self.start_accept_rollback()

    def start_accept_rollback(self) -> Task | None:
        """Unlock with the typed passphrase past a detected rollback (``vault accept-rollback``)."""
        vault, text = self.vault, self.passphrase.text()
        if vault is None or self._task is not None or self._busy:
            return None
        if not text:
            self.set_message("Type the vault's passphrase, then accept again.", "warning")
            self.passphrase.setFocus()
            return None
        self.passphrase.clear()
        unlocker = PassphraseUnlocker.from_text(text)
        del text
        self._set_busy(True)
        self.set_message("Deriving the key from your passphrase…")

        def work(cancel, progress):  # type: ignore[no-untyped-def]
            vault.accept_rollback(unlocker)
            return vault

        self._task = self.runner.submit(
            "unlock.accept-rollback", work, on_success=self._done, on_error=self._failed,
            on_progress=lambda s: self.set_message(s + "…"), on_cancel=self._cancelled,
        )
        return self._task

    def start_hardware(self, kind: str) -> Task | None:
        """Unlock with the ``kind`` device (and the typed passphrase, for two-factor slots)."""
        vault = self.vault
        button = self.hw_buttons.get(kind)
        if vault is None or self._task is not None or button is None or not button.isEnabled():
            return None
        slots = [s for s in self._slots() if s.kind == kind]
        two_factor = [s for s in slots if needs_passphrase(s)]
        text = self.passphrase.text()
        if two_factor and len(two_factor) == len(slots) and not text:
            self.set_message("This method also needs the vault's passphrase: type it, then "
                             f"choose “{HW_ACTIONS[kind]}” again.", "warning")
            self.passphrase.setFocus()
            return None
        passphrase = normalize_passphrase(text) if two_factor and text else None
        self.passphrase.clear()
        del text
        sources, prompts, operator = self.sources, self.prompts, self.operator
        self._set_busy(True)
        self.set_message(HW_WAITING[kind])

        def work(cancel, progress):  # type: ignore[no-untyped-def]
            unlocker = HardwareUnlocker(sources(kind), vault.vault_id, prompts=prompts,
                                        passphrase=passphrase)
            vault.unlock(unlocker, cancel=cancel, on_status=progress, operator=operator)
            return vault

        self._task = run_with_prompts(
            self.runner, prompts, f"unlock.{kind}", work, on_success=self._done,
            on_error=self._failed, on_progress=lambda s: self.set_message(s + "…"),
            on_cancel=self._cancelled,
        )
        return self._task

    def cancel_unlock(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self.set_message("Cancelling…")

    def _done(self, vault: Vault) -> None:
        self._task = None
        if self.operator is not None:
            last_operator.remember(vault.header, self.operator)
        self.accept_button.hide()
        self._set_busy(False)
        self.set_message("")
        self.unlocked.emit(vault)

    def _cancelled(self) -> None:
        self._task = None
        self._set_busy(False)
        self.set_message("Unlock cancelled.")
        self.passphrase.setFocus()

    def _failed(self, error: BaseException) -> None:
        self._task = None
        if isinstance(error, BackingOff):
            self._countdown.start(error.retry_after, f"{error.failures} failed attempts. ")
        else:
            message = hardware_message(error)
            self.set_message(message, "error")
            self.accept_button.setVisible(isinstance(error, RollbackDetected))
            wait = getattr(error, "retry_after", 0.0)
            if wait:
                self._countdown.start(wait, message.split(";")[0].rstrip(".") + ". ")
        self._set_busy(False)
        self.passphrase.setFocus()

    def _countdown_changed(self, message: str, role: str) -> None:
        self._update_buttons()
        self.set_message(message, role)
