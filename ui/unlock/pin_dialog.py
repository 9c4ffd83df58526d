"""The PIN dialog a hardware wait shows: masked entry, attempts left, a confirmation for a new PIN.

What was typed is handed out once by :meth:`PinDialog.take` and the fields are emptied with
``setText("")`` (which also drops the undo history) however the dialog closes; it is never
logged or put into a message.
"""

from __future__ import annotations

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QFormLayout, QLabel, QVBoxLayout, QWidget

from .passphrase_dialog import password_field


def attempts_text(retries: int | None) -> str:
    if retries is None:
        return ""
    return "1 attempt left" if retries == 1 else f"{retries} attempts left"


class PinDialog(QDialog):
    """Asks for the PIN of ``device`` (or a new one, twice); the answer is taken with take()."""

    def __init__(self, device: str, retries: int | None, *, new: bool = False,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.new = new
        title = f"New PIN for {device}" if new else f"PIN for {device}"
        self.setWindowTitle(title)
        self.setAccessibleName(title)
        self._value: str | None = None

        self.prompt = QLabel(
            f"Choose a PIN for {device}; you will type it each time it is used." if new
            else f"Type the PIN of {device}.")
        self.prompt.setWordWrap(True)
        self.pin = password_field("PIN")
        self.confirm = password_field("Repeat the PIN")
        self.attempts = QLabel(attempts_text(retries))
        self.attempts.setAccessibleName("Attempts left")
        if retries is not None and retries <= 2:
            self.attempts.setProperty("role", "warning")
        self.attempts.setVisible(bool(self.attempts.text()))
        self.error = QLabel()
        self.error.setProperty("role", "error")
        self.error.setAccessibleName("Problem")
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setAccessibleName("Use this PIN")
        self.cancel_button = self.buttons.button(QDialogButtonBox.StandardButton.Cancel)
        self.cancel_button.setAccessibleName("Cancel")
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)

        form = QFormLayout()
        form.addRow("PIN", self.pin)
        if new:
            form.addRow("Repeat PIN", self.confirm)
        else:
            self.confirm.hide()
        lay = QVBoxLayout(self)
        lay.addWidget(self.prompt)
        lay.addLayout(form)
        lay.addWidget(self.attempts)
        lay.addWidget(self.error)
        lay.addWidget(self.buttons)
        self.pin.setFocus()

    def problem(self) -> str | None:
        if not self.pin.text():
            return "Type the PIN."
        if self.new and self.pin.text() != self.confirm.text():
            return "The PIN and its repetition differ."
        return None

    def submit(self) -> None:
        problem = self.problem()
        if problem is not None:
            self.error.setText(problem)
            return
        self.accept()

    def done(self, result: int) -> None:  # every way of closing ends here
        accepted = result == QDialog.DialogCode.Accepted and self.problem() is None
        self._value = self.pin.text() if accepted else None
        self.pin.setText("")
        self.confirm.setText("")
        super().done(result)

    def take(self) -> str | None:
        """The PIN typed (None if cancelled), handed out once."""
        value, self._value = self._value, None
        return value
