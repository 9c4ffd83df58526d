"""The Grants tab: who may do what on which secret, tag, level, key or token; add and revoke.

Revoking a grant that read values in a level can leave its operator no longer needing that
level: their wrap of the level's key is dropped and the key rotated. The status line says so.
"""

from __future__ import annotations

import datetime as dt
from enum import Enum
from typing import Any

from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from strongroom.app.access import access_changes
from strongroom.app.access.approvals import Approval
from strongroom.app.access.grants import Grant, Scope
from strongroom.app.access.roles import GRANTS_MANAGE
from strongroom.app.errors import StrongroomError

from ..widgets.common import button
from ..workers import user_message
from .data import Snapshot, day, expiry_of, keys_effect
from .dialogs import AddGrantDialog, ReasonDialog, alive, level_names
from .host import SectionHost
from .table import Cell, RowsTable


class Column(Enum):
    Operator = "Operator"
    Permission = "Permission"
    Scope = "Scope"
    Grantor = "Grantor"
    Created = "Created"
    Expires = "Expires"
    Status = "Status"
    Justification = "Justification"


def grant_row(g: Grant, operator: str, now: str) -> list[Cell]:
    if g.revoked is not None:
        status = Cell(f"revoked {day(g.revoked)}",
                      tip=f"Revoked by {g.revoked_by}: {g.revoke_reason}", muted=True)
    elif not g.live(now):
        status = Cell("expired", muted=True)
    else:
        status = Cell("live")
    gone = not g.live(now)
    return [Cell(operator, strong=not gone, muted=gone), Cell(g.permission, muted=gone),
            Cell(str(g.scope), muted=gone), Cell(g.grantor, muted=gone),
            Cell(day(g.created), muted=gone), Cell(day(g.expires, "never"), muted=gone),
            status, Cell(g.justification, muted=gone)]


class GrantsTab(QWidget):
    def __init__(self, section: SectionHost) -> None:
        super().__init__()
        self.section = section
        self.table = RowsTable([c.value for c in Column], "Grants",
                               widths=(110, 85, 200, 90, 95, 95, 150))
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._update_buttons())
        self.show_revoked = QCheckBox("Show revoked and expired grants")
        self.show_revoked.setAccessibleName("Show revoked and expired grants")
        self.show_revoked.toggled.connect(lambda _on: self.show_snapshot(self.section.snapshot))
        self.add_button = button("Add grant…", self.ask_add)
        self.revoke_button = button("Revoke…", self.ask_revoke)
        self.permission_note = QLabel()
        self.permission_note.setProperty("role", "muted")
        self.count = QLabel()
        self.count.setProperty("role", "muted")
        actions = QHBoxLayout()
        actions.addWidget(self.add_button)
        actions.addWidget(self.revoke_button)
        actions.addWidget(self.permission_note, 1)
        actions.addWidget(self.show_revoked)
        lay = QVBoxLayout(self)
        lay.addLayout(actions)
        lay.addWidget(self.table, 1)
        lay.addWidget(self.count)

    def show_snapshot(self, snap: Snapshot | None) -> None:
        if snap is None:
            self.table.rows.clear()
            self.count.setText("")
            self.permission_note.setText("")
            self._update_buttons()
            return
        chosen = self.table.selected_key()
        everything = self.show_revoked.isChecked()
        rows = [(g, n) for g, n in snap.grants if everything or g.live(snap.now)]
        self.table.rows.set_rows([grant_row(g, n, snap.now) for g, n in rows],
                                 [g.id for g, _ in rows])
        if chosen is not None:
            self.table.select_key(chosen)
        hidden = len(snap.grants) - len(rows)
        self.count.setText(f"{len(rows)} grant{'s' * (len(rows) != 1)}"
                           + (f"; {hidden} revoked or expired hidden." if hidden else "."))
        self.permission_note.setText("" if snap.may(GRANTS_MANAGE) else
                                     "Your own grants. Giving and revoking grants is for "
                                     "Administrators.")
        self._update_buttons()

    def selected(self) -> tuple[Grant, str] | None:
        snap, key = self.section.snapshot, self.table.selected_key()
        if snap is None or key is None:
            return None
        return next(((g, n) for g, n in snap.grants if g.id == key), None)

    def _update_buttons(self) -> None:
        snap = self.section.snapshot
        may = snap is not None and snap.may(GRANTS_MANAGE)
        chosen = self.selected()
        self.add_button.setEnabled(may)
        self.revoke_button.setEnabled(may and chosen is not None and chosen[0].revoked is None)

    # ----- adding ------------------------------------------------------------------------------

    def ask_add(self) -> AddGrantDialog | None:
        snap = self.section.snapshot
        if snap is None:
            return None
        picked = self.section.operators.table.selected_key()
        names = snap.operator_names()
        suggestions = {"level": level_names(), "tag": snap.tags, "secret": snap.secret_names,
                       "key": sorted({g.scope.value for g, _ in snap.grants
                                      if g.scope.kind == "key"} | {"*"}),
                       "token": sorted({g.scope.value for g, _ in snap.grants
                                        if g.scope.kind == "token"})}
        dialog = AddGrantDialog(names, suggestions, self.section)
        if isinstance(picked, str) and picked in names:
            dialog.operator.setCurrentText(picked)
        dialog.submitted.connect(
            lambda who, perm, scope, why, until: self.add(who, perm, scope, why, until, dialog))
        self.section.open_dialog(dialog)
        return dialog

    def add(self, operator: str, permission: str, scope: str, justification: str,
            expires: dt.date | None = None, dialog: AddGrantDialog | None = None) -> None:
        section = self.section
        vault = section.vault
        if vault is None:
            return
        try:
            parsed = Scope.parse(scope)
            until = None if expires is None else expiry_of(expires)
        except StrongroomError as e:  # a malformed scope or expiry: the dialog says so
            if alive(dialog):
                dialog.failed(user_message(e))
            return

        def change(approval: Approval | None) -> Grant:
            return access_changes.add_grant(vault, operator, parsed, permission,
                                            justification=justification, expires=until,
                                            approval=approval)

        def done(grant: Grant) -> None:
            if alive(dialog):
                dialog.accept()
            section.changed(f"Granted {grant.permission} on {grant.scope} to {operator} "
                            f"(grant {grant.id}).")

        def failed(exc: BaseException) -> None:
            if alive(dialog):
                dialog.failed(user_message(exc))
            else:
                section.services.error(user_message(exc))

        section.guarded.run(f"grant.add {operator}", "Adding the grant…", change, done, failed)

    # ----- revoking ----------------------------------------------------------------------------

    def ask_revoke(self) -> ReasonDialog | None:
        chosen = self.selected()
        if chosen is None:
            return None
        grant, operator = chosen
        dialog = ReasonDialog(
            "Revoke grant",
            f"Revoke {operator}'s {grant.permission} grant on {grant.scope}? If {operator} no "
            "longer needs a level's key, their copy is dropped and the key is rotated.",
            "Revoke", self.section)
        dialog.submitted.connect(lambda reason: self.revoke(grant.id, reason, dialog))
        self.section.open_dialog(dialog)
        return dialog

    def revoke(self, grant_id: int, reason: str, dialog: ReasonDialog | None = None) -> None:
        section = self.section
        vault = section.vault
        if vault is None:
            return

        def change(approval: Approval | None) -> dict[str, Any]:
            return access_changes.revoke_grant(vault, grant_id, reason=reason,
                                               approval=approval)

        def done(changed: dict[str, Any]) -> None:
            if alive(dialog):
                dialog.accept()
            section.changed(f"Revoked grant {grant_id}. {keys_effect(changed)}")

        def failed(exc: BaseException) -> None:
            if alive(dialog):
                dialog.failed(user_message(exc))
            else:
                section.services.error(user_message(exc))

        section.guarded.run(f"grant.revoke {grant_id}", f"Revoking grant {grant_id}…", change,
                            done, failed)
