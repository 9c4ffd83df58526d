"""Share drills: every custodian of every share set with their last drill and when the next is
due, overdue ones flagged in words (not colour alone); "Drill…" asks the custodian to type their
share into a hidden field and checks it against its commitment (``shares.drill``)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QVBoxLayout,
    QWidget,
)

from strongroom.app.ceremony import shares
from strongroom.app.ceremony.shares import DrillStatus
from strongroom.app.vault import Vault

from ..access.table import Cell, RowsTable
from ..unlock.passphrase_dialog import password_field
from ..widgets.common import button
from ..workers import user_message
from .host import CeremonyHost
from .look import label, set_role

HEADERS = ["Share set", "Purpose", "Custodian", "Last drill", "Due", "Status"]


@dataclass(frozen=True)
class Holders:
    rows: list[tuple[DrillStatus, bool]]  # each holder, and whether their set is retired
    due: list[DrillStatus]  # shares.drills_due: the overdue holders of live sets


def load(vault: Vault, now: dt.datetime) -> Holders:
    rows = [(status, shares.is_retired(vault, made)) for made in shares.share_sets(vault)
            for status in shares.drill_statuses(made, now)]
    return Holders(rows, shares.drills_due(vault, now))


class DrillDialog(QDialog):
    """"bob, type your share": hidden; checked against its commitment in the runner."""

    drilled = Signal(str)

    def __init__(self, host: CeremonyHost, status: DrillStatus,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.host, self.status = host, status
        self.setWindowTitle(f"Share drill: {status.custodian}")
        self.setAccessibleName("Share drill")
        self.field = password_field(f"{status.custodian}'s share")
        self.field.setPlaceholderText("The words of the share card, separated by spaces")
        self.field.returnPressed.connect(self._check)
        self.message = label(name="Drill status")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        self.ok_button = buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText("Check the share")
        buttons.accepted.connect(self._check)
        buttons.rejected.connect(self.reject)
        self.finished.connect(lambda _r: self.field.clear())
        lay = QVBoxLayout(self)
        lay.addWidget(label(f"{status.custodian}, type your share of set {status.set_id} "
                            f"({status.purpose}). Nobody else looks; the field shows nothing, "
                            "and only whether it matches is recorded."))
        lay.addWidget(self.field)
        lay.addWidget(self.message)
        lay.addWidget(buttons)
        self.setMinimumWidth(560)

    def _check(self) -> None:
        words = self.field.text()
        self.field.clear()
        vault = self.host.vault
        if not words.strip() or vault is None:
            self._say("Type the share first.", "warning")
            return
        status = self.status
        self.ok_button.setEnabled(False)
        self._say("Checking…", "muted")

        def failed(exc: BaseException) -> None:
            self.ok_button.setEnabled(True)
            self._say(f"{user_message(exc)} Try again.", "error")

        def done(_holder: object) -> None:
            self.drilled.emit(f"{status.custodian} still holds share {status.index} of set "
                              f"{status.set_id}: drill recorded.")
            self.accept()

        self.host.submit("shares.drill", f"Checking {status.custodian}'s share…",
                         lambda _c, _p: shares.drill(vault, status.set_id, status.custodian,
                                                     words), done, failed)

    def _say(self, text: str, role: str) -> None:
        self.message.setText(text)
        set_role(self.message, role)


class DrillsTab(QWidget):
    def __init__(self, host: CeremonyHost, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.host = host
        self.holders: list[tuple[DrillStatus, bool]] = []
        self.summary = label(name="Drills due")
        self.table = RowsTable(HEADERS, "Share holders and their drills",
                               widths=[90, 130, 120, 140, 100])
        self.table.selectionModel().selectionChanged.connect(lambda *_a: self._update())
        self.drill_button = button("Drill…", self._drill,
                                   "The custodian types their share to prove they hold it")
        self.result = label(name="Last drill result")
        row = QHBoxLayout()
        row.addWidget(self.result, 1)
        row.addWidget(self.drill_button)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 8, 0, 0)
        lay.addWidget(self.summary)
        lay.addWidget(self.table, 1)
        lay.addLayout(row)
        self._update()

    def refresh(self) -> None:
        vault = self.host.vault
        if vault is None:
            return
        now = self.host.env.now(vault)
        self.host.submit("shares.drills", "Reading the share drills…",
                         lambda _c, _p: load(vault, now), self._show)

    def clear(self) -> None:
        self._show(Holders([], []))
        self.result.setText("")

    def _show(self, found: Holders) -> None:
        self.holders = found.rows
        self.table.rows.set_rows([[
            Cell(s.set_id), Cell(s.purpose), Cell(s.custodian, strong=s.overdue),
            Cell((s.last_drill or "never")[:16].replace("T", " "), muted=not s.last_drill),
            Cell(s.due),
            Cell("retired (its keyslot is gone)" if retired else
                 "⚠ OVERDUE" if s.overdue else "ok", problem=s.overdue and not retired,
                 muted=retired),
        ] for s, retired in found.rows], [(s.set_id, s.index) for s, _r in found.rows])
        count = len(found.due)
        if not found.rows:
            self.summary.setText("No share sets in this vault. The vault recovery quorum "
                                 "ceremony makes one.")
            set_role(self.summary, "muted")
        elif count:
            self.summary.setText(f"⚠ {count} drill{'s are' if count > 1 else ' is'} overdue: "
                                 + ", ".join(f"{s.custodian} (set {s.set_id}, due {s.due})"
                                             for s in found.due))
            set_role(self.summary, "error")
        else:
            self.summary.setText("No drill is overdue.")
            set_role(self.summary, "ok")
        self._update()

    def current(self) -> tuple[DrillStatus, bool] | None:
        key = self.table.selected_key()
        return next(((s, r) for s, r in self.holders if (s.set_id, s.index) == key), None)

    def _update(self) -> None:
        chosen = self.current()
        self.drill_button.setEnabled(chosen is not None and not chosen[1])

    def _drill(self) -> None:
        chosen = self.current()
        if chosen is None:
            return
        dialog = DrillDialog(self.host, chosen[0], self.window())
        dialog.drilled.connect(self._drilled)
        self.host.open_dialog(dialog)

    def _drilled(self, text: str) -> None:
        self.result.setText(text)
        set_role(self.result, "ok")
        self.refresh()
