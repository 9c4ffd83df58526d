"""The questions asked before enrolling an unlock method: a security key or the TPM.

Only public choices are kept (label, PIN policy, PCRs); the passphrase of a two-factor slot is
handed out once by :meth:`SecurityKeyDialog.take_passphrase` and the field is emptied however the
dialog closes.
"""

from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from .passphrase_dialog import password_field

UV_CHOICES = (("required", "PIN required"), ("discouraged", "Touch only"))
KIND_NAMES = {"fido2": "Security keys", "tpm": "TPM", "keyring": "OS keyring"}
KEYRING_WARNING = (
    "Remembering the vault on this device stores a key in your OS keyring: anyone logged in as "
    "you here can then open the vault without the passphrase. This is lower assurance than a "
    "security key or the TPM. Remember it anyway?"
)
DEFAULT_LABELS = {"fido2": "Security key", "tpm": "This computer's TPM",
                  "keyring": "This device's keyring"}


def parse_pcrs(text: str) -> list[int] | None:
    """PCR numbers from "7" or "0, 7" ("none" or empty: no PCR policy); None if malformed."""
    text = text.strip().lower()
    if text in ("", "none"):
        return []
    try:
        pcrs = sorted({int(p) for p in text.replace(" ", "").split(",")})
    except ValueError:
        return None
    return pcrs if all(0 <= p <= 23 for p in pcrs) else None


class _EnrolDialog(QDialog):
    """A label field, the kind's own rows, an error line and OK/Cancel."""

    def __init__(self, title: str, kind: str, intro: str, parent: QWidget | None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setAccessibleName(title)
        self.setModal(True)
        self.label = QLineEdit(DEFAULT_LABELS[kind])
        self.label.setAccessibleName("Label")
        self.label.setMaxLength(64)
        self.intro = QLabel(intro)
        self.intro.setWordWrap(True)
        self.error = QLabel()
        self.error.setProperty("role", "error")
        self.error.setAccessibleName("Problem")
        self.form = QFormLayout()
        self.form.addRow("Label", self.label)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText("Enrol")
        self.ok_button.setAccessibleName("Enrol")
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).setAccessibleName("Cancel")
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(self.intro)
        lay.addLayout(self.form)
        lay.addWidget(self.error)
        lay.addWidget(self.buttons)

    def problem(self) -> str | None:
        return None if self.label.text().strip() else "Give the method a label."

    def submit(self) -> None:
        problem = self.problem()
        if problem is not None:
            self.error.setText(problem)
            return
        self.accept()


class SecurityKeyDialog(_EnrolDialog):
    """Label, PIN policy (user verification) and, optionally, the passphrase as a second factor."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(
            "Add security key", "fido2",
            "Plug in the security key. You will be asked to touch it (twice), and for its PIN "
            "if it has one.", parent)
        self.uv = QComboBox()
        self.uv.setAccessibleName("When the key asks for its PIN")
        for value, text in UV_CHOICES:
            self.uv.addItem(text, value)
        self.two_factor = QCheckBox("Also require the passphrase (two-factor)")
        self.two_factor.setAccessibleName("Also require the passphrase")
        self.passphrase = password_field("Vault passphrase")
        self.passphrase.setEnabled(False)
        self.two_factor.toggled.connect(self.passphrase.setEnabled)
        self.form.addRow("Unlocking needs", self.uv)
        self.form.addRow("", self.two_factor)
        self.form.addRow("Passphrase", self.passphrase)
        self._passphrase: str | None = None

    def problem(self) -> str | None:
        if self.two_factor.isChecked() and not self.passphrase.text():
            return "Type the vault's passphrase, or untick two-factor."
        return super().problem()

    def done(self, result: int) -> None:
        keep = result == QDialog.DialogCode.Accepted and self.two_factor.isChecked()
        self._passphrase = self.passphrase.text() if keep else None
        self.passphrase.setText("")
        super().done(result)

    def take_passphrase(self) -> str | None:
        value, self._passphrase = self._passphrase, None
        return value


class TpmDialog(_EnrolDialog):
    """Label, the PCRs the seal is bound to (7 by default), and an optional PIN."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(
            "Add TPM", "tpm",
            "Seal a key to this computer's TPM. By default it opens only while Secure Boot "
            "(PCR 7) is as it is now; a firmware or Secure Boot change means re-enrolling.",
            parent)
        self.pcrs = QLineEdit("7")
        self.pcrs.setAccessibleName("PCRs")
        self.pcrs.setPlaceholderText("7, or 0,7, or none")
        self.pin = QCheckBox("Also require a PIN (you choose it next)")
        self.pin.setAccessibleName("Also require a PIN")
        self.form.addRow("Bound to PCRs", self.pcrs)
        self.form.addRow("", self.pin)

    def problem(self) -> str | None:
        if parse_pcrs(self.pcrs.text()) is None:
            return "PCRs are numbers from 0 to 23 separated by commas, or none."
        return super().problem()

    def chosen_pcrs(self) -> list[int]:
        return parse_pcrs(self.pcrs.text()) or []


def ask_security_key(parent: QWidget) -> tuple[str, str, str | None] | None:
    """(label, uv, passphrase or None) from a modal dialog; None if cancelled."""
    dialog = SecurityKeyDialog(parent)
    try:
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return None
        return dialog.label.text(), str(dialog.uv.currentData()), dialog.take_passphrase()
    finally:
        dialog.deleteLater()


def ask_tpm(parent: QWidget) -> tuple[str, list[int], bool] | None:
    """(label, PCRs, whether a PIN is wanted) from a modal dialog; None if cancelled."""
    dialog = TpmDialog(parent)
    try:
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return None
        return dialog.label.text(), dialog.chosen_pcrs(), dialog.pin.isChecked()
    finally:
        dialog.deleteLater()
