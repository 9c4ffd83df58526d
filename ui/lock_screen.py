"""The lock screen: passphrase, unlock progress while Argon2id runs, backoff, enrolled methods."""

from __future__ import annotations

import math
import time

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

from strongroom.app.errors import BackingOff
from strongroom.app.keyslots import PassphraseUnlocker
from strongroom.app.vault import Vault

from .workers import Task, TaskRunner, user_message

METHOD_NAMES = {"passphrase": "Passphrase", "fido2": "Security key", "tpm": "TPM",
                "keyring": "OS keyring"}


class LockScreen(QWidget):
    """Asks for the passphrase and unlocks the vault in the runner; emits ``unlocked(vault)``."""

    unlocked = Signal(object)

    def __init__(self, runner: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runner = runner
        self.vault: Vault | None = None
        self._task: Task | None = None
        self._deadline = 0.0
        self._prefix = ""
        self._countdown = QTimer(self)
        self._countdown.setInterval(250)
        self._countdown.timeout.connect(self._tick)

        self.title = QLabel("Strongroom is locked")
        self.title.setObjectName("lockTitle")
        font = self.title.font()
        font.setPointSizeF(font.pointSizeF() * 1.6)
        font.setBold(True)
        self.title.setFont(font)
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
        inner.addWidget(self.progress)
        inner.addWidget(self.status)
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
            used = slot.last_used and f", last used {slot.last_used[:16].replace('T', ' ')} UTC"
            self.methods.addItem(f"{name}{used or ''}")
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
        self.unlock_button.setEnabled(not busy and not self._countdown.isActive())
        self.passphrase.setEnabled(not busy)

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

    def cancel_unlock(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self.set_message("Cancelling…")

    def _done(self, vault: Vault) -> None:
        self._task = None
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
            self.set_message(user_message(error) + ".", "error")
            wait = getattr(error, "retry_after", 0.0)
            if wait:
                self._start_countdown(wait, user_message(error).split(";")[0] + ". ")
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
            self.unlock_button.setEnabled(self._task is None)
            self.set_message("You can try again now.")
            return
        self.unlock_button.setEnabled(False)
        self.set_message(f"{self._prefix}Wait {remaining} s before trying again.", "warning")
