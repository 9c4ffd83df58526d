"""The lock screen: passphrase, unlock progress while Argon2id runs, backoff, enrolled methods.

Each hardware kind the vault has a keyslot for gets its own action ("Use security key", "Unlock
with TPM", "Unlock with this device's keyring"), enabled only when its backend can run here — the
check runs in the task runner, as it may touch hardware — and otherwise showing why not. Every
hardware wait runs in the runner and can be cancelled.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from PySide6.QtCore import Qt, QTimer, Signal
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

from strongroom.app.errors import BackingOff, RollbackDetected
from strongroom.app.keyslots import PassphraseUnlocker, normalize_passphrase
from strongroom.app.unlock_methods import (
    Availability,
    HardwareUnlocker,
    SlotKind,
    SlotSecretSource,
    load_source,
    needs_passphrase,
)
from strongroom.app.vault import Vault

from ..widgets.common import heading
from ..workers import Task, TaskRunner
from .hw_prompts import QtPrompts, availability_of, hardware_message, run_with_prompts
from .rollback_prompt import confirm_accept_rollback

METHOD_NAMES = {"passphrase": "Passphrase", "fido2": "Security key", "tpm": "TPM",
                "keyring": "OS keyring"}
HW_ACTIONS = {SlotKind.Fido2.value: "Use security key", SlotKind.Tpm.value: "Unlock with TPM",
              SlotKind.Keyring.value: "Unlock with this device's keyring"}
HW_WAITING = {SlotKind.Fido2.value: "Looking for your security key…",
              SlotKind.Tpm.value: "Asking the TPM…",
              SlotKind.Keyring.value: "Reading this device's keyring…"}
KEYRING_NOTE = ("Lower assurance: anyone logged in as you on this device can unlock this way.")


class LockScreen(QWidget):
    """Asks for the passphrase and unlocks the vault in the runner; emits ``unlocked(vault)``."""

    unlocked = Signal(object)

    def __init__(self, runner: TaskRunner, parent: QWidget | None = None, *,
                 sources: Callable[[str], SlotSecretSource] = load_source) -> None:
        super().__init__(parent)
        self.runner = runner
        self.sources = sources
        self.vault: Vault | None = None
        self._task: Task | None = None
        self._check: Task | None = None
        self._busy = False
        self.available: dict[str, Availability] = {}
        self.hw_buttons: dict[str, QPushButton] = {}
        self.hw_notes: dict[str, QLabel] = {}
        self.prompts = QtPrompts(self)
        self._deadline = 0.0
        self._prefix = ""
        self._countdown = QTimer(self)
        self._countdown.setInterval(250)
        self._countdown.timeout.connect(self._tick)

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
        self.accept_button = QPushButton("Open it as it is (accept the rollback)…")
        self.accept_button.setAccessibleName("Accept the rollback and open the vault")
        self.accept_button.setToolTip(
            "Makes this older copy the vault's state from now on; recorded in the audit log")
        self.accept_button.clicked.connect(self._ask_accept_rollback)
        self.accept_button.hide()

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
        inner.addLayout(row)
        inner.addLayout(self.hw_rows)
        inner.addWidget(self.recheck_button, 0, Qt.AlignmentFlag.AlignLeft)
        inner.addWidget(self.progress)
        inner.addWidget(self.touch_note)
        inner.addWidget(self.status)
        inner.addWidget(self.accept_button, 0, Qt.AlignmentFlag.AlignLeft)
        inner.addLayout(form)

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
        """Show the lock screen for ``vault`` (opened, still locked)."""
        self.vault = vault
        self.location.setText(str(vault.path))
        self.methods.clear()
        for slot in vault.header.slots:
            kind = METHOD_NAMES.get(slot.kind, slot.kind)
            name = kind if slot.label == kind else f"{kind} — {slot.label}"
            two = " (+ passphrase)" if needs_passphrase(slot) else ""
            used = slot.last_used and f", last used {slot.last_used[:16].replace('T', ' ')} UTC"
            self.methods.addItem(f"{name}{two}{used or ''}")
        self._build_hardware_rows(vault)
        self.accept_button.hide()
        self.set_message("")
        self._set_busy(False)
        self.passphrase.setFocus()

    def _build_hardware_rows(self, vault: Vault) -> None:
        """One action per enrolled hardware kind, disabled until its backend is known usable."""
        for widget in (*self.hw_buttons.values(), *self.hw_notes.values()):
            self.hw_rows.removeWidget(widget)
            widget.deleteLater()
        self.hw_buttons, self.hw_notes, self.available = {}, {}, {}
        kinds = [k for k in HW_ACTIONS if any(s.kind == k for s in vault.header.slots)]
        for kind in kinds:
            button = QPushButton(HW_ACTIONS[kind])
            button.setAccessibleName(HW_ACTIONS[kind])
            button.setEnabled(False)
            button.clicked.connect(lambda _c=False, k=kind: self.start_hardware(k))
            note = QLabel("Checking whether it can be used here…")
            note.setWordWrap(True)
            note.setProperty("role", "muted")
            note.setAccessibleName(f"{HW_ACTIONS[kind]}: note")
            self.hw_rows.addWidget(button)
            self.hw_rows.addWidget(note)
            self.hw_buttons[kind], self.hw_notes[kind] = button, note
        self.check_availability()

    def check_availability(self) -> None:
        """Ask each enrolled kind's backend, in the runner, whether it can be used here."""
        vault, kinds, sources = self.vault, list(self.hw_buttons), self.sources
        if vault is None or not kinds or self._check is not None:
            return
        self.recheck_button.hide()
        self._check = self.runner.submit(
            "unlock.availability",
            lambda _c, _p: {k: availability_of(sources, k) for k in kinds},
            on_success=lambda found, v=vault: self._availability_known(v, found),
            on_error=lambda _e: setattr(self, "_check", None),
            on_cancel=lambda: setattr(self, "_check", None),
        )

    def _availability_known(self, vault: Vault, found: dict[str, Availability]) -> None:
        self._check = None
        if vault is not self.vault:
            self.check_availability()  # another vault is shown now: ask for its kinds
            return
        self.available = found
        self.recheck_button.setVisible(not all(a.ok for a in found.values()))
        for kind, usable in found.items():
            button, note = self.hw_buttons.get(kind), self.hw_notes.get(kind)
            if button is None or note is None:
                continue
            slots = [s for s in vault.header.slots if s.kind == kind]
            if not usable.ok:
                text = f"Not available here: {usable.reason}"
                button.setToolTip(text)
                note.setText(text)
            elif kind == SlotKind.Keyring.value:
                note.setText(KEYRING_NOTE)
            elif slots and all(needs_passphrase(s) for s in slots):
                note.setText("Also needs the passphrase: type it above first.")
            else:
                note.setText("")
            note.setVisible(bool(note.text()))
        self._update_buttons()

    def set_message(self, text: str, role: str = "") -> None:
        self.status.setText(text)
        self.status.setProperty("role", role)
        self.status.style().unpolish(self.status)
        self.status.style().polish(self.status)

    def _set_busy(self, busy: bool) -> None:
        self.progress.setVisible(busy)
        self.cancel_button.setVisible(busy)
        self.passphrase.setEnabled(not busy)
        self._busy = busy
        self._update_buttons()

    def _update_buttons(self) -> None:
        ready = not self._busy and not self._countdown.isActive()
        self.unlock_button.setEnabled(ready)
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

        def work(cancel, progress):  # type: ignore[no-untyped-def]
            vault.unlock(unlocker, cancel=cancel, on_status=progress)
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
        slots = [s for s in vault.header.slots if s.kind == kind]
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
        sources, prompts = self.sources, self.prompts
        self._set_busy(True)
        self.set_message(HW_WAITING[kind])

        def work(cancel, progress):  # type: ignore[no-untyped-def]
            unlocker = HardwareUnlocker(sources(kind), vault.vault_id, prompts=prompts,
                                        passphrase=passphrase)
            vault.unlock(unlocker, cancel=cancel, on_status=progress)
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
            self._start_countdown(error.retry_after, f"{error.failures} failed attempts. ")
        else:
            message = hardware_message(error)
            self.set_message(message, "error")
            self.accept_button.setVisible(isinstance(error, RollbackDetected))
            wait = getattr(error, "retry_after", 0.0)
            if wait:
                self._start_countdown(wait, message.split(";")[0].rstrip(".") + ". ")
        self._set_busy(False)
        self.passphrase.setFocus()

    def _start_countdown(self, seconds: float, prefix: str) -> None:
        self._deadline = time.monotonic() + seconds
        self._prefix = prefix
        self._countdown.start()
        self._tick()

    def _tick(self) -> None:
        remaining = math.ceil(self._deadline - time.monotonic())
        if remaining <= 0:
            self._countdown.stop()
            self._update_buttons()
            self.set_message("You can try again now.")
            return
        self._update_buttons()
        self.set_message(f"{self._prefix}Wait {remaining} s before trying again.", "warning")
