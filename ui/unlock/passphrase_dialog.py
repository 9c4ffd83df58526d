"""Passphrase entry: the change-passphrase dialog (with a live strength meter) and a plain prompt.

Neither keeps what was typed: the fields are emptied with ``setText("")`` (which also drops the
undo history) when the dialog closes, however it closes, and the texts are never logged or put
into a message.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QVBoxLayout,
    QWidget,
)
from zxcvbn import zxcvbn

from strongroom.app.errors import WrongPassphrase
from strongroom.app.keyslots import normalize_passphrase
from strongroom.app.passphrase_strength import weakness
from strongroom.app.vault import Vault

from ..widgets.strength import StrengthMeter
from ..workers import Task, TaskRunner, user_message

STRENGTH_DELAY_MS = 150  # zxcvbn runs once typing pauses, not on every key


def sentence(text: str) -> str:
    text = text.strip()
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


def password_field(name: str) -> QLineEdit:
    edit = QLineEdit()
    edit.setEchoMode(QLineEdit.EchoMode.Password)
    edit.setAccessibleName(name)
    edit.setAttribute(Qt.WidgetAttribute.WA_InputMethodEnabled, False)  # no IME history
    return edit


def strength(passphrase: str) -> tuple[int, str | None]:
    """The zxcvbn score (0-4) and, if Strongroom would refuse it, the reason as a sentence."""
    if not passphrase:
        return 0, None
    score = int(zxcvbn(passphrase[:100])["score"])
    reason = weakness(passphrase)
    return score, None if reason is None else sentence(reason)


class ChangePassphraseDialog(QDialog):
    """Current, new and repeated passphrase; the change runs in the task runner (Argon2id)."""

    succeeded = Signal(bool)  # whether the master key was rotated too

    def __init__(self, runner: TaskRunner, vault: Vault, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Change passphrase")
        self.setAccessibleName("Change passphrase")
        self.setModal(True)
        self._runner = runner
        self._vault: Vault | None = vault
        self._busy = False

        self.current = password_field("Current passphrase")
        self.new = password_field("New passphrase")
        self.repeat = password_field("Repeat the new passphrase")
        self.meter = StrengthMeter("Strength of the new passphrase")
        self.verdict = QLabel()
        self.verdict.setWordWrap(True)
        self.verdict.setAccessibleName("Strength verdict")
        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.setProperty("role", "error")
        self.error.setAccessibleName("Problem")
        self.busy_bar = QProgressBar()
        self.busy_bar.setRange(0, 0)
        self.busy_bar.setTextVisible(False)
        self.busy_bar.setAccessibleName("Changing the passphrase")
        self.busy_bar.hide()
        self.busy_label = QLabel()
        self.busy_label.setAccessibleName("Progress")

        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText("Change passphrase")
        self.ok_button.setAccessibleName("Change passphrase")
        self.cancel_button = self.buttons.button(QDialogButtonBox.StandardButton.Cancel)
        self.cancel_button.setAccessibleName("Cancel")
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)

        form = QFormLayout()
        form.addRow("Current passphrase", self.current)
        form.addRow("New passphrase", self.new)
        form.addRow("Repeat new passphrase", self.repeat)
        form.addRow("Strength", self.meter)
        form.addRow("", self.verdict)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(self.error)
        lay.addWidget(self.busy_bar)
        lay.addWidget(self.busy_label)
        lay.addWidget(self.buttons)

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(STRENGTH_DELAY_MS)
        self._timer.timeout.connect(self.update_strength)
        self.new.textChanged.connect(lambda _t: self._timer.start())
        for field in (self.current, self.new, self.repeat):
            field.textChanged.connect(self._update_ok)
        self.update_strength()
        self._update_ok()

    # ----- live feedback -----------------------------------------------------------------------

    def update_strength(self) -> None:
        score, reason = strength(self.new.text())
        self.meter.set_score(score if self.new.text() else None)
        if not self.new.text():
            self.verdict.setText("Use four or more unrelated words, or a long random phrase.")
        else:
            self.verdict.setText(reason or "Strong enough.")
        self.verdict.setProperty("role", "warning" if reason else "")
        self.verdict.style().unpolish(self.verdict)
        self.verdict.style().polish(self.verdict)

    def _update_ok(self) -> None:
        filled = all(f.text() for f in (self.current, self.new, self.repeat))
        self.ok_button.setEnabled(filled and not self._busy)
        self.error.setText("")

    def problem(self) -> str | None:
        """Why the entries cannot be used, as one sentence; None when they can."""
        current, new, repeat = self.current.text(), self.new.text(), self.repeat.text()
        if not (current and new and repeat):
            return "Fill in all three fields."
        if new != repeat:
            return "The new passphrase and its repetition differ."
        if new == current:
            return "The new passphrase is the same as the current one."
        _score, reason = strength(new)
        return reason

    # ----- the change --------------------------------------------------------------------------

    def submit(self) -> Task | None:
        """Check the entries, then change the passphrase in the runner; None if refused."""
        problem = self.problem()
        if problem is not None or self._vault is None or self._busy:
            self.error.setText(problem or "")
            return None
        vault = self._vault
        old, new = normalize_passphrase(self.current.text()), normalize_passphrase(self.new.text())
        self._set_busy(True)
        return self._runner.submit(
            "passphrase.change",
            lambda _cancel, _progress: vault.change_passphrase(old, new),
            on_success=lambda rekeyed: self._changed(bool(rekeyed)),
            on_error=self._failed,
            on_cancel=lambda: self._failed(None),
            on_progress=self.busy_label.setText,
        )

    def _set_busy(self, busy: bool) -> None:
        self._busy = busy
        for widget in (self.current, self.new, self.repeat, self.cancel_button):
            widget.setEnabled(not busy)
        self.busy_bar.setVisible(busy)
        self.busy_label.setText(
            "Deriving keys from both passphrases and rotating the master key (a few seconds)…"
            if busy else "")
        self._update_ok()

    def _changed(self, rekeyed: bool) -> None:
        if self._vault is None:  # closed in the meantime
            return
        self._set_busy(False)
        self.succeeded.emit(rekeyed)
        self.accept()

    def _failed(self, exc: BaseException | None) -> None:
        if self._vault is None:
            return
        self._set_busy(False)
        if isinstance(exc, WrongPassphrase):
            self.current.setText("")
            self.current.setFocus()
        self.error.setText("The change was cancelled." if exc is None else user_message(exc))

    # ----- closing -----------------------------------------------------------------------------

    def done(self, result: int) -> None:  # every way of closing ends here
        if self._busy and self._vault is not None:
            return  # Argon2id cannot be interrupted; the dialog closes when it finishes
        for field in (self.current, self.new, self.repeat):
            field.setText("")
        self._vault = None
        self._timer.stop()
        super().done(result)

    def force_close(self) -> None:
        """Close now, even mid-change (the vault locked); a late result is ignored."""
        self._busy = False
        self.reject()


class PassphrasePrompt(QDialog):
    """Asks for one passphrase; :func:`ask_passphrase` takes the answer and empties the field."""

    def __init__(self, title: str, prompt: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setAccessibleName(title)
        self.field = password_field("Passphrase")
        label = QLabel(prompt)
        label.setWordWrap(True)
        label.setBuddy(self.field)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(label)
        lay.addWidget(self.field)
        lay.addWidget(buttons)
        self.value: str | None = None

    def done(self, result: int) -> None:
        accepted = result == QDialog.DialogCode.Accepted
        self.value = self.field.text() if accepted and self.field.text() else None
        self.field.setText("")
        super().done(result)


def ask_passphrase(parent: QWidget, title: str, prompt: str) -> str | None:
    """A modal passphrase prompt; None if cancelled or closed."""
    dialog = PassphrasePrompt(title, prompt, parent)
    try:
        dialog.exec()
        value, dialog.value = dialog.value, None
        return value
    finally:
        dialog.deleteLater()
