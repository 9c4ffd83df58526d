"""The Operators tab: who shares the vault, their roles and unlock methods, the unlock-factor
warnings (everyone's for an Administrator, else your own); add, suspend, reinstate, remove."""

from __future__ import annotations

from enum import Enum
from typing import Any

from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QMessageBox,
    QVBoxLayout,
    QWidget,
)

from strongroom.app.access import operator_admin
from strongroom.app.access.approvals import Approval
from strongroom.app.access.operators import ACTIVE, REMOVED, SUSPENDED, Operator
from strongroom.app.access.roles import OPERATORS_MANAGE

from ..widgets.common import button
from ..workers import user_message
from .data import Snapshot, keys_effect
from .dialogs import AddOperatorDialog, alive
from .host import SectionHost
from .table import Cell, RowsTable


class Column(Enum):
    Name = "Name"
    Status = "Status"
    Roles = "Roles"
    Methods = "Unlock methods"
    Warnings = "Warnings"
    Contact = "Contact"


def operator_row(o: Operator, methods: int, warnings: list[str]) -> list[Cell]:
    gone = o.status != ACTIVE
    count = len(warnings)
    return [
        Cell(o.name, strong=True, muted=gone),
        Cell(o.status, muted=gone, problem=o.status == SUSPENDED),
        Cell(", ".join(o.roles) or "none", muted=gone),
        Cell(str(methods), problem=methods == 0 and o.status != REMOVED, muted=gone),
        Cell("" if not count else f"⚠ {count} warning{'s' if count > 1 else ''}",
             tip="\n".join(warnings), problem=bool(count)),
        Cell(o.contact, muted=gone),
    ]


class OperatorsTab(QWidget):
    def __init__(self, section: SectionHost) -> None:
        super().__init__()
        self.section = section
        self.table = RowsTable([c.value for c in Column], "Operators",
                               widths=(140, 90, 300, 125, 110))
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._update_buttons())
        self.add_button = button("Add operator…", self.ask_add)
        self.suspend_button = button("Suspend…", lambda: self.ask_status(SUSPENDED))
        self.reinstate_button = button("Reinstate…", lambda: self.ask_status(ACTIVE))
        self.remove_button = button("Remove…", self.ask_remove)
        self.remove_button.setToolTip(
            "Deletes their unlock methods and revokes their grants; the level keys they held "
            "are rotated")
        self.permission_note = QLabel()
        self.permission_note.setProperty("role", "muted")
        self.warnings_title = QLabel("Unlock-factor warnings")
        self.warnings = QListWidget()
        self.warnings.setAccessibleName("Unlock-factor warnings")
        self.warnings.setMaximumHeight(120)
        self.warnings.setWordWrap(True)
        actions = QHBoxLayout()
        for b in (self.add_button, self.suspend_button, self.reinstate_button,
                  self.remove_button):
            actions.addWidget(b)
        actions.addWidget(self.permission_note, 1)
        lay = QVBoxLayout(self)
        lay.addLayout(actions)
        lay.addWidget(self.table, 1)
        lay.addWidget(self.warnings_title)
        lay.addWidget(self.warnings)

    # ----- showing -----------------------------------------------------------------------------

    def show_snapshot(self, snap: Snapshot | None) -> None:
        self.warnings.clear()
        if snap is None:
            self.table.rows.clear()
            self.warnings_title.setText("Unlock-factor warnings")
            self.permission_note.setText("")
            self._update_buttons()
            return
        chosen = self.table.selected_key()
        by_name: dict[str, list[str]] = {}
        for w in snap.warnings:
            by_name.setdefault(w.operator, []).append(w.message)
        people = sorted(snap.operators, key=lambda o: (o.status == REMOVED, o.name.casefold()))
        self.table.rows.set_rows(
            [operator_row(o, snap.methods.get(o.id, 0), by_name.get(o.name, [])) for o in people],
            [o.name for o in people])
        if chosen is not None:
            self.table.select_key(chosen)
        everyone = snap.may(OPERATORS_MANAGE)
        self.warnings_title.setText(
            "Unlock-factor warnings (everyone's: you manage operators)" if everyone
            else "Your unlock-factor warnings")
        for w in snap.warnings:
            self.warnings.addItem(f"⚠ {w.message}.")
        if not snap.warnings:
            self.warnings.addItem("No warnings: every unlock method was used or tested lately, "
                                  "and nobody depends on a single one.")
        self.permission_note.setText(
            "" if everyone else "Adding, suspending and removing operators is for "
            "Administrators.")
        self._update_buttons()

    def selected(self) -> Operator | None:
        snap, name = self.section.snapshot, self.table.selected_key()
        if snap is None or name is None:
            return None
        return next((o for o in snap.operators if o.name == name), None)

    def _update_buttons(self) -> None:
        snap = self.section.snapshot
        may = snap is not None and snap.may(OPERATORS_MANAGE)
        who = self.selected()
        other = who is not None and snap is not None and who.name != snap.me
        self.add_button.setEnabled(may)
        self.suspend_button.setEnabled(may and other and who is not None and who.active)
        self.reinstate_button.setEnabled(
            may and who is not None and who.status == SUSPENDED)
        self.remove_button.setEnabled(may and other and who is not None
                                      and who.status != REMOVED)

    # ----- adding ------------------------------------------------------------------------------

    def ask_add(self) -> AddOperatorDialog | None:
        snap = self.section.snapshot
        if snap is None:
            return None
        dialog = AddOperatorDialog(snap.roles, self.section)
        dialog.submitted.connect(
            lambda name, contact, roles, secret: self.add(name, secret, roles, contact, dialog))
        self.section.open_dialog(dialog)
        return dialog

    def add(self, name: str, passphrase: bytes, roles: list[str], contact: str = "",
            dialog: AddOperatorDialog | None = None) -> None:
        section = self.section
        vault, ms = section.vault, section.kdf_time_ms
        if vault is None:
            return

        def change(approval: Approval | None) -> Operator:
            return operator_admin.add_operator(vault, name, passphrase, roles=roles,
                                               contact=contact, kdf_time_ms=ms,
                                               approval=approval)

        def done(new: Operator) -> None:
            if alive(dialog):
                dialog.accept()
            section.changed(f"Added operator {new.name} ({', '.join(new.roles)}), with a "
                            "passphrase of their own.")

        def failed(exc: BaseException) -> None:
            if alive(dialog):
                dialog.failed(user_message(exc))
            else:
                section.services.error(user_message(exc))

        section.guarded.run(f"operator.add {name}", f"Adding {name}…", change, done, failed)

    # ----- status and removal ------------------------------------------------------------------

    def ask_status(self, status: str) -> None:
        who = self.selected()
        if who is None:
            return
        verb = "Suspend" if status == SUSPENDED else "Reinstate"
        what = (f"{verb} {who.name}? A suspended operator can still unlock but can do nothing "
                "until reinstated." if status == SUSPENDED
                else f"{verb} {who.name}? They can work again with their roles and grants.")
        self._confirm(f"{verb} operator", what, verb,
                      lambda: self.set_status(who.name, status))

    def ask_remove(self) -> None:
        who = self.selected()
        if who is None:
            return
        self._confirm(
            "Remove operator",
            f"Remove {who.name} for good? Their unlock methods are deleted, their grants "
            "revoked, and the level keys they held are rotated. This cannot be undone.",
            "Remove", lambda: self.remove(who.name))

    def _confirm(self, title: str, text: str, verb: str, then: Any) -> QMessageBox:
        box = QMessageBox(QMessageBox.Icon.Warning, title, text,
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
                          self.section)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.setAccessibleName(title)
        yes = box.button(QMessageBox.StandardButton.Yes)
        yes.setText(verb)
        yes.setAccessibleName(verb)
        yes.clicked.connect(then)
        self.section.open_dialog(box)
        return box

    def set_status(self, name: str, status: str) -> None:
        vault = self.section.vault
        if vault is None:
            return

        def change(approval: Approval | None) -> Operator:
            return operator_admin.set_status(vault, name, status, approval=approval)

        word = "Suspending" if status == SUSPENDED else "Reinstating"
        self.section.guarded.run(
            f"operator.status {name}", f"{word} {name}…", change,
            lambda o: self.section.changed(f"{o.name} is now {o.status}."))

    def remove(self, name: str) -> None:
        vault = self.section.vault
        if vault is None:
            return

        def change(approval: Approval | None) -> dict[str, Any]:
            return operator_admin.remove_operator(vault, name, approval=approval)

        def done(changed: dict[str, Any]) -> None:
            n, g = len(changed.get("slots", [])), len(changed.get("grants", []))
            self.section.changed(f"Removed {name}: {n} unlock method{'s' * (n != 1)} deleted, "
                                 f"{g} grant{'s' * (g != 1)} revoked. {keys_effect(changed)}")

        self.section.guarded.run(f"operator.remove {name}", f"Removing {name}…", change, done)
