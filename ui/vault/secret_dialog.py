"""Add or edit a secret: its metadata, and a masked value with a password generator beside it.

The dialog never talks to the vault. It emits ``submitted(SecretForm)``; the section saves it
through the task runner and calls :meth:`SecretDialog.saved` or :meth:`SecretDialog.failed`.
The value (one line, or several: ui/vault/value_field.py) leaves its field only in the form, and
every field is cleared when the dialog closes, however it closes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from PySide6.QtCore import QDate, Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from strongroom.app.errors import StrongroomError
from strongroom.app.model import Classification, SecretInfo
from strongroom.app.secret_generator import (
    MAX_WORDS,
    MIN_LENGTH,
    MIN_WORDS,
    CharacterPolicy,
    Generated,
    generate_passphrase,
    generate_password,
)

from ..workers import TaskRunner
from .value_field import ValueField

MAX_UI_LENGTH = 256


@dataclass(frozen=True)
class SecretForm:
    """What the user entered; ``value`` is None when an edit keeps the current value."""

    name: str
    classification: Classification
    tags: tuple[str, ...]
    owner: str
    note: str
    expires: dt.date | None
    rotation_due: dt.date | None
    value: bytes | None = field(repr=False, default=None)
    kind: str = "value"  # how the value reads (app/entries.py): value, totp or entry


def split_tags(text: str) -> tuple[str, ...]:
    return tuple(t.strip() for t in text.split(",") if t.strip())


class GeneratorPanel(QGroupBox):
    """Password generator: random characters of chosen kinds, or random words; shows the bits."""

    generated = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Generate a value", parent)
        self.setAccessibleName("Password generator")
        self.mode = QComboBox()
        self.mode.addItems(["Characters", "Words"])
        self.mode.setAccessibleName("Generator mode")
        self.length = QSpinBox()
        self.length.setRange(MIN_LENGTH, MAX_UI_LENGTH)
        self.length.setValue(24)
        self.length.setAccessibleName("Password length")
        self.words = QSpinBox()
        self.words.setRange(MIN_WORDS, MAX_WORDS)
        self.words.setValue(6)
        self.words.setAccessibleName("Number of words")
        self.lower = QCheckBox("a–z")
        self.upper = QCheckBox("A–Z")
        self.digits = QCheckBox("0–9")
        self.symbols = QCheckBox("Symbols")
        self.no_lookalikes = QCheckBox("No look-alikes (0/O, 1/l/I)")
        for box, name in (
            (self.lower, "Lowercase letters"), (self.upper, "Uppercase letters"),
            (self.digits, "Digits"), (self.symbols, "Symbols"),
            (self.no_lookalikes, "Exclude look-alike characters"),
        ):
            box.setAccessibleName(name)
            box.setChecked(box is not self.no_lookalikes)
        self.button = QPushButton("&Generate")
        self.button.setAccessibleName("Generate a value")
        self.entropy = QLabel("")
        self.entropy.setAccessibleName("Strength of the generated value")

        classes = QHBoxLayout()
        for box in (self.lower, self.upper, self.digits, self.symbols, self.no_lookalikes):
            classes.addWidget(box)
        classes.addStretch(1)
        row = QHBoxLayout()
        for label, widget in (("Mode", self.mode), ("Length", self.length),
                              ("Words", self.words)):
            caption = QLabel(label)
            caption.setBuddy(widget)
            row.addWidget(caption)
            row.addWidget(widget)
        row.addWidget(self.button)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addLayout(classes)
        layout.addWidget(self.entropy)

        self.mode.currentIndexChanged.connect(self._mode_changed)
        self.button.clicked.connect(self.generate)
        self._mode_changed()

    @property
    def words_mode(self) -> bool:
        return self.mode.currentIndex() == 1

    @Slot()
    def _mode_changed(self) -> None:
        words = self.words_mode
        self.words.setEnabled(words)
        self.length.setEnabled(not words)
        for box in (self.lower, self.upper, self.digits, self.symbols, self.no_lookalikes):
            box.setEnabled(not words)

    def policy(self) -> CharacterPolicy:
        return CharacterPolicy(
            length=self.length.value(), lower=self.lower.isChecked(),
            upper=self.upper.isChecked(), digits=self.digits.isChecked(),
            symbols=self.symbols.isChecked(), exclude_lookalikes=self.no_lookalikes.isChecked(),
        )

    @Slot()
    def generate(self) -> None:
        try:
            result: Generated = (
                generate_passphrase(self.words.value()) if self.words_mode
                else generate_password(self.policy())
            )
        except StrongroomError as e:
            text = str(e)
            self.entropy.setText(text[:1].upper() + text[1:] + ".")
            return
        self.entropy.setText(f"About {result.entropy_bits:.0f} bits of entropy")
        self.generated.emit(result.value)


class SecretDialog(QDialog):
    """Add a secret (``info`` None) or edit one; a new version only when the value changes.

    With a ``runner`` the value can also be loaded from a file (read there, not here)."""

    submitted = Signal(object)  # SecretForm

    def __init__(self, parent: QWidget | None = None, info: SecretInfo | None = None,
                 runner: TaskRunner | None = None) -> None:
        super().__init__(parent)
        self.info = info
        editing = info is not None
        self.setWindowTitle(f"Edit {info.name}" if info else "Add a secret")
        self.setAccessibleName(self.windowTitle())

        self.name = QLineEdit(info.name if info else "")
        self.name.setReadOnly(editing)
        self.name.setAccessibleName("Name")
        self.classification = QComboBox()
        self.classification.setAccessibleName("Classification")
        for level in Classification:
            self.classification.addItem(level.value.capitalize(), level)
        current = info.classification if info else Classification.Moderate
        self.classification.setCurrentIndex(list(Classification).index(current))
        self.tags = QLineEdit(", ".join(info.tags) if info else "")
        self.tags.setPlaceholderText("comma-separated, e.g. prod, billing")
        self.tags.setAccessibleName("Tags")
        self.owner = QLineEdit(info.owner if info else "")
        self.owner.setPlaceholderText("you")
        self.owner.setAccessibleName("Owner")
        self.note = QPlainTextEdit(info.note if info else "")
        self.note.setAccessibleName("Note")
        self.note.setFixedHeight(70)
        self.expires, self.expires_on = self._date_row("Expires", info.expires if info else None)
        self.rotation, self.rotation_on = self._date_row(
            "Rotation due", info.rotation_due if info else None
        )
        self.kind = QComboBox()
        self.kind.setAccessibleName("Kind of value")
        self.kind.addItem("Value (password, key, token)", "value")
        self.kind.addItem("TOTP seed (otpauth:// URI or base32)", "totp")
        current_kind = info.kind if info else "value"
        if current_kind == "entry":
            self.kind.addItem("Entry (imported fields)", "entry")
        self.kind.setCurrentIndex(max(0, self.kind.findData(current_kind)))
        self.kind.setEnabled(current_kind != "entry")
        self.value_field = ValueField(runner, keeping=editing)
        self.value = self.value_field.line  # the single-line input
        self.show_value = self.value_field.show_box
        self.generator = GeneratorPanel()
        self.generator.generated.connect(self._generated)
        self.message = QLabel("")
        self.message.setProperty("role", "error")
        self.message.setWordWrap(True)
        self.message.setAccessibleName("Problem")

        self.value_field.problem.connect(self.message.setText)
        form = QFormLayout()
        form.addRow("&Name", self.name)
        form.addRow("&Classification", self.classification)
        form.addRow("&Tags", self.tags)
        form.addRow("&Owner", self.owner)
        form.addRow("No&te", self.note)
        form.addRow(self.expires_on, self.expires)
        form.addRow(self.rotation_on, self.rotation)
        form.addRow("&Kind", self.kind)
        form.addRow("&Value", self.value_field)
        if current_kind == "entry":
            # An entry's fields (username, URL, custom fields, attachments) are kept as they
            # are; the form edits its metadata. `strongroom secret get --json` shows them.
            self.value_field.setEnabled(False)
            self.value_field.setToolTip("An imported entry's fields are kept as they are")
            self.generator.hide()
        for label_for in (self.name, self.classification, self.tags, self.owner, self.note,
                          self.kind, self.value_field):
            label = form.labelForField(label_for)
            if isinstance(label, QLabel):
                label.setBuddy(label_for)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        self.save_button = self.buttons.button(QDialogButtonBox.StandardButton.Save)
        self.save_button.setAccessibleName("Save the secret")
        cancel = self.buttons.button(QDialogButtonBox.StandardButton.Cancel)
        cancel.setAccessibleName("Cancel")
        self.buttons.accepted.connect(self._submit)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.generator)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)
        (self.value if editing else self.name).setFocus()

    def _date_row(self, label: str, current: str | None) -> tuple[QDateEdit, QCheckBox]:
        box = QCheckBox(label)
        box.setAccessibleName(f"{label}: set a date")
        edit = QDateEdit()
        edit.setCalendarPopup(True)
        edit.setDisplayFormat("yyyy-MM-dd")
        edit.setAccessibleName(f"{label} date")
        date = QDate.fromString(current, "yyyy-MM-dd") if current else QDate()
        edit.setDate(date if date.isValid() else QDate.currentDate().addYears(1))
        box.setChecked(bool(current))
        edit.setEnabled(bool(current))
        box.toggled.connect(edit.setEnabled)
        return edit, box

    @Slot(str)
    def _generated(self, value: str) -> None:
        self.value_field.set_text(value)

    def form(self) -> SecretForm:
        return SecretForm(
            name=self.name.text().strip(),
            classification=self.classification.currentData(),
            tags=split_tags(self.tags.text()),
            owner=self.owner.text().strip(),
            note=self.note.toPlainText(),
            expires=self.expires.date().toPython() if self.expires_on.isChecked() else None,
            rotation_due=(
                self.rotation.date().toPython() if self.rotation_on.isChecked() else None
            ),
            value=self.value_field.value() if self.value_field.isEnabled() else None,
            kind=self.kind.currentData(),
        )

    @Slot()
    def _submit(self) -> None:
        form = self.form()
        if not form.name:
            self.failed("Give the secret a name.")
            return
        if self.info is None and form.value is None:
            self.failed("Enter a value, or generate one.")
            return
        if self.info is not None and form.kind != self.info.kind and form.value is None:
            self.failed("Enter the value again to change its kind.")
            return
        self.message.setText("Saving…")
        self.buttons.setEnabled(False)
        self.submitted.emit(form)

    def saved(self) -> None:
        self.accept()

    def failed(self, message: str) -> None:
        self.message.setText(message)
        self.buttons.setEnabled(True)

    def wipe(self) -> None:
        """Forget what was entered: the value (and its undo history) and every other field."""
        self.value_field.wipe()
        for line in (self.name, self.tags, self.owner):
            line.setText("")  # unlike clear(), also drops the undo history
        self.note.setPlainText("")

    def done(self, result: int) -> None:
        self.wipe()
        super().done(result)
