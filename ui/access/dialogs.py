"""The Access Reviews dialogs: add an operator, add a grant, give a reason. Each collects what was
chosen and emits it; the section runs the change in the runner and reports back with
``failed(text)`` (the dialog stays open) or closes it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import TypeGuard, TypeVar

import shiboken6
from PySide6.QtCore import QDate, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QVBoxLayout,
    QWidget,
)

from strongroom.app.access.grants import PERMISSIONS, SCOPE_KINDS
from strongroom.app.keyslots import normalize_passphrase
from strongroom.app.model import Classification
from strongroom.app.passphrase_strength import weakness

from ..unlock.passphrase_dialog import password_field, sentence

PERMISSION_TIPS = {"list": "see the name and metadata", "read": "reveal values (and list)",
                   "use": "sign with a key (and read)", "manage": "change and delete (and use)"}
SCOPE_HINTS = {"secret": "a secret's name", "tag": "a tag some secrets carry",
               "level": "a classification level", "key": "a key id or label, or * for every key",
               "token": "a token's serial"}


D = TypeVar("D", bound=QDialog)


def alive(dialog: D | None) -> TypeGuard[D]:
    """Whether ``dialog`` is still open (a dialog closed meanwhile is deleted)."""
    return dialog is not None and shiboken6.isValid(dialog) and dialog.isVisible()


class _Form(QDialog):
    """A form with a message line, a busy bar and OK/Cancel."""

    def __init__(self, title: str, ok_text: str, parent: QWidget | None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setAccessibleName(title)
        self.form = QFormLayout()
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setAccessibleName(f"{title}: message")
        self.progress = QProgressBar()
        self.progress.setRange(0, 0)
        self.progress.setTextVisible(False)
        self.progress.setMaximumHeight(6)
        self.progress.hide()
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                        | QDialogButtonBox.StandardButton.Cancel)
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText(ok_text)
        self.ok_button.setAccessibleName(ok_text.rstrip("…"))
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addLayout(self.form)
        lay.addWidget(self.progress)
        lay.addWidget(self.message)
        lay.addWidget(self.buttons)
        self.setMinimumWidth(480)

    def submit(self) -> None:  # pragma: no cover - every form has its own
        raise NotImplementedError

    def set_message(self, text: str, role: str = "") -> None:
        self.message.setText(text)
        self.message.setProperty("role", role)
        self.message.style().unpolish(self.message)
        self.message.style().polish(self.message)

    def busy(self, text: str) -> None:
        self.progress.show()
        self.ok_button.setEnabled(False)
        self.set_message(text)

    def failed(self, text: str) -> None:
        self.progress.hide()
        self.ok_button.setEnabled(True)
        self.set_message(sentence(text), "error")


class AddOperatorDialog(_Form):
    """Name, contact, roles, and the new operator's passphrase typed twice (by them)."""

    submitted = Signal(str, str, list, bytes)  # name, contact, roles, passphrase (NFC, UTF-8)

    def __init__(self, roles: Sequence[str], parent: QWidget | None = None) -> None:
        super().__init__("Add operator", "Add operator", parent)
        self.name = QLineEdit()
        self.name.setAccessibleName("Operator name")
        self.contact = QLineEdit()
        self.contact.setAccessibleName("Contact")
        self.contact.setPlaceholderText("e-mail or phone (optional)")
        self.roles: dict[str, QCheckBox] = {}
        grid = QGridLayout()
        for i, role in enumerate(roles):
            box = QCheckBox(role)
            box.setAccessibleName(f"Role {role}")
            self.roles[role] = box
            grid.addWidget(box, i // 2, i % 2)
        self.pass1 = password_field("New operator's passphrase")
        self.pass2 = password_field("New operator's passphrase again")
        note = QLabel("The new operator types their own passphrase here; it opens the vault "
                      "for them only.")
        note.setWordWrap(True)
        note.setProperty("role", "muted")
        self.form.addRow("Name", self.name)
        self.form.addRow("Contact", self.contact)
        self.form.addRow("Roles", grid)
        self.form.addRow(note)
        self.form.addRow("Passphrase", self.pass1)
        self.form.addRow("Again", self.pass2)
        self.finished.connect(lambda _r: self._clear())

    def chosen_roles(self) -> list[str]:
        return [role for role, box in self.roles.items() if box.isChecked()]

    def submit(self) -> None:
        name, text = self.name.text().strip(), self.pass1.text()
        if not name:
            self.set_message("Give the operator a name.", "warning")
            return
        if not self.chosen_roles():
            self.set_message("Choose at least one role.", "warning")
            return
        if text != self.pass2.text():
            self.set_message("The two passphrases differ.", "warning")
            return
        reason = weakness(text)
        if reason is not None:
            self.set_message(sentence(reason), "warning")
            return
        secret = normalize_passphrase(text)
        del text
        self._clear()
        self.busy(f"Adding {name} (deriving the key from their passphrase)…")
        self.submitted.emit(name, self.contact.text().strip(), self.chosen_roles(), secret)

    def _clear(self) -> None:
        self.pass1.setText("")
        self.pass2.setText("")


class AddGrantDialog(_Form):
    """Operator, permission, scope (kind and value), justification, an optional expiry."""

    submitted = Signal(str, str, str, str, object)  # operator, permission, scope, why, expiry

    def __init__(self, operators: Sequence[str], suggestions: Mapping[str, Sequence[str]],
                 parent: QWidget | None = None) -> None:
        super().__init__("Add grant", "Add grant", parent)
        self.suggestions = suggestions
        self.operator = QComboBox()
        self.operator.addItems(list(operators))
        self.operator.setAccessibleName("Operator")
        self.permission = QComboBox()
        for p in PERMISSIONS:
            self.permission.addItem(f"{p} — {PERMISSION_TIPS[p]}", p)
        self.permission.setCurrentIndex(PERMISSIONS.index("read"))
        self.permission.setAccessibleName("Permission")
        self.kind = QComboBox()
        self.kind.addItems(list(SCOPE_KINDS))
        self.kind.setAccessibleName("Scope kind")
        self.value = QComboBox()
        self.value.setEditable(True)
        self.value.setAccessibleName("Scope value")
        self.value.setMinimumWidth(220)
        self.kind.currentTextChanged.connect(self._kind_changed)
        scope = QHBoxLayout()
        scope.addWidget(self.kind)
        scope.addWidget(self.value, 1)
        self.justification = QLineEdit()
        self.justification.setAccessibleName("Justification")
        self.justification.setPlaceholderText("Why this operator needs it")
        self.expires = QCheckBox("Expires on")
        self.expires.setAccessibleName("The grant expires")
        self.expiry = QDateEdit(QDate.currentDate().addDays(90))
        self.expiry.setCalendarPopup(True)
        self.expiry.setDisplayFormat("yyyy-MM-dd")
        self.expiry.setMinimumDate(QDate.currentDate().addDays(1))
        self.expiry.setAccessibleName("Expiry date")
        self.expiry.setEnabled(False)
        self.expires.toggled.connect(self.expiry.setEnabled)
        when = QHBoxLayout()
        when.addWidget(self.expires)
        when.addWidget(self.expiry)
        when.addStretch(1)
        self.form.addRow("Operator", self.operator)
        self.form.addRow("Permission", self.permission)
        self.form.addRow("Scope", scope)
        self.form.addRow("Justification", self.justification)
        self.form.addRow("Expiry", when)
        self.kind.setCurrentText("level")
        self._kind_changed("level")

    def _kind_changed(self, kind: str) -> None:
        self.value.clear()
        self.value.addItems(list(self.suggestions.get(kind, ())))
        self.value.lineEdit().setPlaceholderText(SCOPE_HINTS.get(kind, ""))
        if kind != "level":
            self.value.setCurrentText("")

    def expiry_day(self) -> dt.date | None:
        if not self.expires.isChecked():
            return None
        d = self.expiry.date()
        return dt.date(d.year(), d.month(), d.day())

    def submit(self) -> None:
        value, why = self.value.currentText().strip(), self.justification.text().strip()
        if not self.operator.currentText():
            self.set_message("There is no operator to grant to.", "warning")
            return
        if not value:
            self.set_message(f"Name the scope: {SCOPE_HINTS[self.kind.currentText()]}.",
                             "warning")
            return
        if not why:
            self.set_message("Say why the operator needs this grant.", "warning")
            return
        self.busy("Adding the grant…")
        self.submitted.emit(self.operator.currentText(), self.permission.currentData(),
                            f"{self.kind.currentText()}:{value}", why, self.expiry_day())


class ReasonDialog(_Form):
    """A confirmation that asks for a reason (revoking a grant)."""

    submitted = Signal(str)

    def __init__(self, title: str, question: str, ok_text: str,
                 parent: QWidget | None = None) -> None:
        super().__init__(title, ok_text, parent)
        text = QLabel(question)
        text.setWordWrap(True)
        self.reason = QLineEdit()
        self.reason.setAccessibleName("Reason")
        self.reason.setPlaceholderText("Recorded in the audit log")
        self.form.addRow(text)
        self.form.addRow("Reason", self.reason)

    def submit(self) -> None:
        reason = self.reason.text().strip()
        if not reason:
            self.set_message("Give a reason; it is recorded in the audit log.", "warning")
            return
        self.busy("Working…")
        self.submitted.emit(reason)


def level_names() -> list[str]:
    return [c.value for c in Classification]
