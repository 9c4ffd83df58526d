"""The approver dialog of the two-person rule: who approves, and how — their own passphrase, or
their security key ("Use security key", offered only for an approver with a fido2 keyslot).

The dialog never talks to the vault. It emits ``approve(name, PassphraseUnlocker)`` or
``approve_with_key(name)``; the flow (approval_flow.py) runs the approval and the operation in
the task runner and calls :meth:`ApproverDialog.refused` (try again) or closes it. While a
security key is awaited, Cancel stops the wait (``cancel_requested``) rather than closing at once.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QProgressBar,
    QVBoxLayout,
    QWidget,
)

from strongroom.app.keyslots import PassphraseUnlocker

from ..unlock.passphrase_dialog import password_field
from .approvers import Approver

USE_KEY = "Use security key"


def _label(role: str = "", name: str = "") -> QLabel:
    label = QLabel()
    label.setWordWrap(True)
    label.setProperty("role", role)
    label.setAccessibleName(name)
    return label


class ApproverDialog(QDialog):
    """Approval needed: the reason. Approver: [combo]. [ ] Use security key. Passphrase: [field]
    (hidden while the security key is chosen)."""

    approve = Signal(str, object)  # approver name, their PassphraseUnlocker
    approve_with_key = Signal(str)  # approver name: they touch their security key
    cancel_requested = Signal()  # Cancel while a security key is awaited

    def __init__(self, reason: str, approvers: Sequence[Approver],
                 parent: QWidget | None = None, *, key_note: str = "") -> None:
        super().__init__(parent)
        self.setWindowTitle("Approval needed")
        self.setAccessibleName("Approval needed")
        self.approvers: list[Approver] = []
        self.key_state = key_note  # why no security key can be seen here yet, or ""
        self.reason = _label(name="Why an approval is needed")
        self.reason.setText(f"Approval needed: {reason.rstrip('.')}.")
        self.approver = QComboBox()
        self.approver.setAccessibleName("Approver")
        self.use_key = QCheckBox(USE_KEY)
        self.use_key.setAccessibleName("Approve with the approver's security key")
        self.use_key.setToolTip("The approver touches their own security key instead of typing "
                                "their passphrase")
        self.passphrase = password_field("Approver's passphrase")
        self.passphrase.setPlaceholderText("The approver types their own passphrase")
        self.passphrase.returnPressed.connect(self._ok)
        self.key_note = _label("muted", "About the security key")
        self.touch = _label("warning", "Security key prompt")
        self.touch.setObjectName("touchNote")
        self.touch.hide()
        self.message = _label(name="Approval status")
        self.progress = QProgressBar()
        self.progress.setRange(0, 0)
        self.progress.setTextVisible(False)
        self.progress.setMaximumHeight(6)
        self.progress.setAccessibleName("Approving")
        self.progress.hide()
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                        | QDialogButtonBox.StandardButton.Cancel)
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText("Approve")
        self.ok_button.setAccessibleName("Approve")
        self.cancel_button = self.buttons.button(QDialogButtonBox.StandardButton.Cancel)
        self.cancel_button.setAccessibleName("Cancel the approval")
        self.buttons.accepted.connect(self._ok)
        self.buttons.rejected.connect(self.reject)

        self.form = QFormLayout()
        approver_label, passphrase_label = QLabel("Approver"), QLabel("Passphrase")
        # The same width whether or not the passphrase row shows: the fields do not move.
        approver_label.setMinimumWidth(passphrase_label.sizeHint().width())
        self.form.addRow(approver_label, self.approver)
        self.form.addRow("", self.use_key)
        self.form.addRow(passphrase_label, self.passphrase)
        self.form.addRow("", self.key_note)
        lay = QVBoxLayout(self)
        lay.addWidget(self.reason)
        lay.addLayout(self.form)
        lay.addWidget(self.touch)
        lay.addWidget(self.progress)
        lay.addWidget(self.message)
        lay.addWidget(self.buttons)
        self.setMinimumWidth(480)
        self._busy = False
        self._cancellable = False
        self.approver.currentIndexChanged.connect(lambda _i: self._update())
        self.use_key.toggled.connect(lambda _on: self._update())
        self.finished.connect(lambda _r: self.passphrase.setText(""))
        self.set_approvers(approvers)

    # ----- what is chosen ---------------------------------------------------------------------

    def current(self) -> Approver | None:
        i = self.approver.currentIndex()
        return self.approvers[i] if 0 <= i < len(self.approvers) else None

    @property
    def with_key(self) -> bool:
        return self.use_key.isChecked()

    def set_approvers(self, approvers: Sequence[Approver]) -> None:
        """Offer these approvers (the flow narrows them to a level's holders)."""
        chosen = self.approver.currentText()
        self.approvers = list(approvers)
        self.approver.blockSignals(True)
        self.approver.clear()
        self.approver.addItems([a.name for a in self.approvers])
        if chosen in (a.name for a in self.approvers):
            self.approver.setCurrentText(chosen)
        self.approver.blockSignals(False)
        if not self.approvers:
            self.set_message("No other active operator can approve this.", "error")
        self._update()

    def _update(self) -> None:
        """The security-key choice is there when someone has a key, and usable for an approver
        who has one; the passphrase row only for a passphrase."""
        who = self.current()
        anyone = any(a.has_key for a in self.approvers)
        self.form.setRowVisible(1, anyone)
        usable = who is not None and who.has_key
        self.use_key.setEnabled(usable and not self._busy)
        if not usable and self.use_key.isChecked():
            self.use_key.setChecked(False)
        key = self.with_key
        self.form.setRowVisible(2, not key)
        note = ""
        if anyone and who is not None:
            if not who.has_key:
                note = f"{who.name} has no security key enrolled: they type their passphrase."
            elif key and self.key_state:
                note = (f"{who.name} plugs in their security key and touches it when it asks "
                        f"(now: {self.key_state.rstrip('.')}).")
            elif key:
                note = f"{who.name} touches their own security key when it asks."
            else:
                note = f"{who.name} can also approve with their security key."
        self.key_note.setText(note)
        self.form.setRowVisible(3, bool(note))
        self.ok_button.setText("Approve with security key" if key else "Approve")
        self.ok_button.setEnabled(who is not None and not self._busy)
        if self.isVisible():
            self.adjustSize()  # no gap where the passphrase row was

    # ----- approving --------------------------------------------------------------------------

    def _ok(self) -> None:
        who = self.current()
        if who is None or not self.ok_button.isEnabled():
            return
        if self.with_key:
            self.passphrase.setText("")
            self.set_busy(True, cancellable=True)
            self.set_message(f"Waiting for {who.name}'s security key…")
            self.approve_with_key.emit(who.name)
            return
        text = self.passphrase.text()
        if not text:
            self.set_message("The approver types their passphrase.", "warning")
            return
        self.passphrase.setText("")
        unlocker = PassphraseUnlocker.from_text(text)
        del text
        self.set_busy(True)
        self.set_message(f"Checking {who.name}'s passphrase…")
        self.approve.emit(who.name, unlocker)

    def reject(self) -> None:
        if self._busy:  # the approval runs: a key wait can be stopped, a passphrase check ends
            if self._cancellable:
                self.cancel_button.setEnabled(False)
                self.set_message("Cancelling…")
                self.cancel_requested.emit()
            return
        super().reject()

    def set_busy(self, busy: bool, *, cancellable: bool = False) -> None:
        self._busy = busy
        self._cancellable = busy and cancellable
        self.progress.setVisible(busy)
        self.cancel_button.setEnabled(not busy or cancellable)
        self.approver.setEnabled(not busy)
        self.passphrase.setEnabled(not busy)
        if not busy:
            self.set_touch("")
        self._update()

    def set_touch(self, text: str) -> None:
        """The security key's prompt ("Touch your security key (…)"), "" to hide it."""
        self.touch.setText(text)
        self.touch.setVisible(bool(text))
        if text:
            self.set_message("")  # the prompt says what is awaited

    def set_message(self, text: str, role: str = "") -> None:
        self.message.setText(text)
        self.message.setProperty("role", role)
        self.message.style().unpolish(self.message)
        self.message.style().polish(self.message)

    def refused(self, text: str) -> None:
        """The approval did not go through: say why and let them try again."""
        self.set_busy(False)
        self.set_message(text.rstrip() + " Try again, or cancel.", "error")
        if self.with_key:
            self.ok_button.setFocus(Qt.FocusReason.OtherFocusReason)
        else:
            self.passphrase.setFocus()
