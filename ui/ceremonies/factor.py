"""One person's confirmation with their own factor: their passphrase typed at the console, or
("Use security key", when they have one) a touch of their own key. The approval (Argon2id on
their keyslot, or the key's assertion) runs in the task runner; the field is emptied as soon as
it is read."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QLineEdit, QPushButton, QWidget

from strongroom.app.access.approvals import Approval
from strongroom.app.keyslots import PassphraseUnlocker

from ..unlock.hw_prompts import hardware_message
from ..unlock.passphrase_dialog import password_field
from ..workers import user_message
from .host import CeremonyHost
from .look import label, scaled, set_role
from .session import RunSession

USE_KEY = "Use security key"


class FactorRow(QWidget):
    """name · [passphrase] · [ ] Use security key · [Confirm] · what happened."""

    submitted = Signal(str, object)  # the person, their PassphraseUnlocker or None (their key)

    def __init__(self, name: str, what: str, has_key: bool, *, scale: float = 1.0,
                 action: str = "Confirm", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self.approval: Approval | None = None
        self.who = label(f"{name}", scale=scale, bold=True)
        self.who.setMinimumWidth(90)
        self.what = label(what, role="muted")
        self.passphrase: QLineEdit = password_field(f"{name}'s passphrase")
        self.passphrase.setPlaceholderText(f"{name} types their own passphrase")
        self.passphrase.returnPressed.connect(self._submit)
        scaled(self.passphrase, scale)
        self.use_key = QCheckBox(USE_KEY)
        self.use_key.setAccessibleName(f"{name} confirms with their security key")
        self.use_key.setVisible(has_key)
        self.use_key.toggled.connect(lambda on: self.passphrase.setVisible(not on))
        self.button = QPushButton(action)
        self.button.setAccessibleName(f"{action} as {name}")
        self.button.clicked.connect(self._submit)
        scaled(self.button, scale)
        self.status = label("", name=f"{name}'s confirmation")
        self.status.setMinimumWidth(160)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 2, 0, 2)
        column = QWidget()
        inner = QHBoxLayout(column)
        inner.setContentsMargins(0, 0, 0, 0)
        inner.addWidget(self.who)
        inner.addWidget(self.what)
        row.addWidget(column, 2)
        row.addWidget(self.passphrase, 3)
        row.addWidget(self.use_key)
        row.addWidget(self.button)
        row.addWidget(self.status, 2)

    @property
    def done(self) -> bool:
        return self.approval is not None

    def _submit(self) -> None:
        if not self.button.isEnabled():
            return
        if self.use_key.isVisible() and self.use_key.isChecked():
            self.set_busy(f"Waiting for {self.name}'s security key…")
            self.submitted.emit(self.name, None)
            return
        text = self.passphrase.text()
        self.passphrase.clear()
        if not text:
            self.say(f"{self.name} types their passphrase first.", "warning")
            return
        unlocker = PassphraseUnlocker.from_text(text)
        del text
        self.set_busy(f"Checking {self.name}'s passphrase…")
        self.submitted.emit(self.name, unlocker)

    def set_busy(self, text: str) -> None:
        self.button.setEnabled(False)
        self.passphrase.setEnabled(False)
        self.use_key.setEnabled(False)
        self.say(text, "muted")

    def set_done(self, approval: Approval, text: str) -> None:
        self.approval = approval
        self.passphrase.clear()
        self.passphrase.setEnabled(False)
        self.button.setEnabled(False)
        self.use_key.setEnabled(False)
        self.say(f"✓ {text}", "ok")

    def set_failed(self, text: str) -> None:
        self.approval = None
        self.button.setEnabled(True)
        self.passphrase.setEnabled(True)
        self.use_key.setEnabled(True)
        self.say(text, "error")

    def set_open(self, can: bool) -> None:
        """Whether this person may still confirm (not once the quorum is reached)."""
        if not self.done:
            self.button.setEnabled(can)
            self.passphrase.setEnabled(can)
            self.use_key.setEnabled(can)

    def say(self, text: str, role: str = "") -> None:
        self.status.setText(text)
        set_role(self.status, role)


def confirm(host: CeremonyHost, session: RunSession, row: FactorRow, operation: str, what: str,
            secret: PassphraseUnlocker | None, done: Callable[[Approval], None],
            confirmed: str = "confirmed") -> None:
    """Run ``row``'s person's approval of ``operation`` on ``what`` in the runner."""
    key = secret is None
    prompts = host.prompts if key else None

    def ok(approval: Approval) -> None:
        row.set_done(approval, f"{approval.approver} {confirmed}"
                     + (" with their security key" if key else ""))
        done(approval)

    def failed(exc: BaseException) -> None:
        text = hardware_message(exc) if key else user_message(exc)
        row.set_failed(text or "The security key was not used; nothing was confirmed.")

    host.submit("ceremony.confirm", f"Checking {row.name}'s "
                + ("security key…" if key else "passphrase…"),
                lambda cancel, progress: session.approve(operation, what, row.name, secret,
                                                         prompts, cancel, progress),
                ok, failed, hardware=key)


def touch_label() -> QLabel:
    """Where "Touch your security key" appears while a key is awaited."""
    made = label("", role="warning", name="Security key prompt")
    made.setObjectName("touchNote")
    made.hide()
    return made
