"""One access review campaign: its items with their context and recommendation, and one-click
decisions (keep, revoke, reduce, extend) with a justification. Decisions change nothing until
the campaign is closed; overdue items say so in words as well as in colour."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from enum import Enum
from typing import Any

from PySide6.QtCore import QDate, Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDateEdit,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from strongroom.app.access import reviews
from strongroom.app.access.review_report import change_text, scope_text
from strongroom.app.access.roles import REVIEWS_DECIDE, REVIEWS_MANAGE

from ..widgets.common import button, heading
from .data import day, weaker_than
from .host import SectionHost
from .table import Cell, RowsTable


class Column(Enum):
    Item = "#"
    Operator = "Operator"
    Scope = "Scope"
    Permission = "Permission"
    LastUse = "Last use"
    Age = "Age"
    Grantor = "Grantor"
    Recommendation = "Recommendation"
    Decision = "Decision"


def item_row(item: dict[str, Any]) -> list[Cell]:
    s = item["subject"]
    grant = item["kind"] == "grant"
    if item["decision"] is None:
        decision = Cell("undecided — OVERDUE" if item["overdue"] else "undecided",
                        problem=item["overdue"], muted=not item["overdue"])
    else:
        by = item["decided_by"] or ""
        decision = Cell(f"{item['decision']} ({by})", strong=True,
                        tip=(item["justification"] or "") + (
                            "\n" + change_text(item["change"]) if item["change"] else ""),
                        problem=item["overdue"])
    if not grant:
        return [Cell(str(item["id"])), Cell(str(s.get("principal", "")), strong=True),
                Cell(str(s.get("source", ""))), Cell(str(s.get("kind", ""))),
                Cell("—", muted=True), Cell("—", muted=True), Cell("this workstation", muted=True),
                Cell(item["recommendation"], tip=item["reason"]), decision]
    return [
        Cell(str(item["id"])),
        Cell(s["operator"] + ("" if s.get("operator_status") == "active"
                              else f" ({s.get('operator_status')})"), strong=True),
        Cell(s["scope"]), Cell(s["permission"]),
        Cell(day(s.get("last_used"), "never"), tip=s.get("last_use") or "never used"),
        Cell(f"{s.get('age_days', 0)} d", tip=f"Given {day(s.get('created'))}"),
        Cell(s.get("grantor", "")),
        Cell(item["recommendation"], tip=item["reason"],
             strong=item["recommendation"] == "revoke"),
        decision,
    ]


class CampaignReview(QWidget):
    """The review screen of one campaign (``show`` loads it in the runner)."""

    def __init__(self, section: SectionHost, back: Callable[[], None]) -> None:
        super().__init__()
        self.section = section
        self.view: dict[str, Any] | None = None
        self.back_button = button("‹ All campaigns", back)
        self.title = heading("", scale=1.2)
        self.facts = QLabel()
        self.facts.setWordWrap(True)
        self.facts.setAccessibleName("Campaign facts")
        self.table = RowsTable([c.value for c in Column], "Review items",
                               widths=(40, 130, 170, 85, 95, 55, 90, 135))
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._item_changed())
        self.reason = QLabel("Choose an item to decide.")
        self.reason.setWordWrap(True)
        self.reason.setAccessibleName("Item context and recommendation")
        self.justification = QLineEdit()
        self.justification.setAccessibleName("Justification of the decision")
        self.justification.setPlaceholderText("Justification (recorded with the decision)")
        self.keep_button = button("Keep", lambda: self.decide("keep"))
        self.revoke_button = button("Revoke", lambda: self.decide("revoke"))
        self.reduce_button = button("Reduce to", lambda: self.decide("reduce"))
        self.reduce_to = QComboBox()
        self.reduce_to.setAccessibleName("Reduce to permission")
        self.extend_button = button("Extend to", lambda: self.decide("extend"))
        self.extend_to = QDateEdit(QDate.currentDate().addDays(90))
        self.extend_to.setCalendarPopup(True)
        self.extend_to.setDisplayFormat("yyyy-MM-dd")
        self.extend_to.setAccessibleName("Extend the grant to")
        self.close_button = button("Close campaign…", lambda: self.section.campaigns.ask_close(
            self.campaign_id))
        self.export_button = button("Export report…", lambda: self.section.campaigns.ask_export(
            self.campaign_id))
        panel = QFrame()
        panel.setObjectName("card")
        grid = QGridLayout(panel)
        grid.addWidget(self.reason, 0, 0, 1, 6)
        grid.addWidget(self.justification, 1, 0, 1, 6)
        grid.addWidget(self.keep_button, 2, 0)
        grid.addWidget(self.revoke_button, 2, 1)
        grid.addWidget(self.reduce_button, 2, 2)
        grid.addWidget(self.reduce_to, 2, 3)
        grid.addWidget(self.extend_button, 2, 4)
        grid.addWidget(self.extend_to, 2, 5)
        top = QHBoxLayout()
        top.addWidget(self.back_button)
        top.addWidget(self.title, 1)
        top.addWidget(self.close_button)
        top.addWidget(self.export_button)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(top)
        lay.addWidget(self.facts)
        lay.addWidget(self.table, 1)
        lay.addWidget(panel)
        self._item_changed()

    @property
    def campaign_id(self) -> int:
        return -1 if self.view is None else int(self.view["id"])

    # ----- loading -----------------------------------------------------------------------------

    def load(self, campaign_id: int) -> None:
        vault = self.section.vault
        if vault is None:
            return
        self.section.submit(f"review.show {campaign_id}", "Reading the campaign…",
                            lambda _c, _p: reviews.show(vault, campaign_id), self.show_view)

    def clear(self) -> None:
        self.view = None
        self.table.rows.clear()
        self.title.setText("")
        self.facts.setText("")
        self._item_changed()

    def show_view(self, view: dict[str, Any]) -> None:
        chosen = self.table.selected_key()
        self.view = view
        self.title.setText(f"Campaign {view['id']}: {view['name']}")
        progress = view["progress"]
        state = "closed " + day(view["closed"]) if view["status"] != "open" else "open"
        late = " — <b>OVERDUE</b>" if view["overdue"] else ""
        colour = f' style="color:{self.section.problem_colour()}"' if view["overdue"] else ""
        default = ("their recommendation" if view["default_decision"] == "recommendation"
                   else f"“{view['default_decision']}”")
        self.facts.setText(
            f"<span{colour}>Due {view['due']}{late}</span> · {state} · "
            f"{progress['decided']} of {progress['total']} decided · reviewers "
            f"{', '.join(view['reviewers'])} · scope {scope_text(view['scope'])} · undecided "
            f"items get {default} at close")
        self.table.rows.set_rows([item_row(i) for i in view["items"]],
                                 [i["id"] for i in view["items"]])
        if chosen is not None:
            self.table.select_key(chosen)
        self._item_changed()

    def item(self) -> dict[str, Any] | None:
        key = self.table.selected_key()
        if self.view is None or key is None:
            return None
        return next((i for i in self.view["items"] if i["id"] == key), None)

    def _item_changed(self) -> None:
        item, view, snap = self.item(), self.view, self.section.snapshot
        open_ = view is not None and view["status"] == "open"
        may = snap is not None and snap.may(REVIEWS_DECIDE) and snap.me in (
            view or {}).get("reviewers", [])
        self.close_button.setEnabled(open_ and snap is not None and snap.may(REVIEWS_MANAGE))
        self.export_button.setEnabled(view is not None)
        grant = item is not None and item["kind"] == "grant"
        own = grant and snap is not None and item is not None and (
            item["subject"].get("operator") == snap.me)
        active = open_ and may and item is not None and not own
        self.keep_button.setEnabled(active)
        self.revoke_button.setEnabled(active)
        weaker = weaker_than(item["subject"]["permission"]) if grant and item else []
        self.reduce_to.clear()
        self.reduce_to.addItems(weaker)
        self.reduce_button.setEnabled(active and grant and bool(weaker))
        expires = item["subject"].get("expires") if grant and item else None
        self.extend_button.setEnabled(active and grant and expires is not None)
        if expires:
            self.extend_to.setDate(QDate.fromString(day(expires), "yyyy-MM-dd").addDays(90))
        self.reason.setText(self._context(item, open_, may, own))

    def _context(self, item: dict[str, Any] | None, open_: bool, may: bool, own: bool) -> str:
        if item is None:
            return "Choose an item to decide." if self.view is not None else ""
        s = item["subject"]
        if item["kind"] == "grant":
            text = (f"<b>{s['operator']}</b> may <b>{s['permission']}</b> {s['scope']}, given by "
                    f"{s['grantor']} on {day(s['created'])} ({s['justification']}); expires "
                    f"{day(s.get('expires'), 'never')}; last use: {s.get('last_use') or 'never'}.")
        else:
            text = f"<b>{s.get('principal')}</b>: {s.get('detail') or s.get('kind')}."
        text += (f"<br>Recommendation: <b>{item['recommendation']}</b> — {item['reason']}")
        if item["overdue"]:
            text += (f"<br><b style='color:{self.section.problem_colour()}'>OVERDUE: not "
                     "decided by the due date.</b>")
        if not open_:
            text += "<br>The campaign is closed; its decisions are final."
        elif not may:
            text += "<br>Only the campaign's reviewers decide its items."
        elif own:
            text += "<br>This is your own grant: another reviewer decides it."
        return text

    # ----- deciding ----------------------------------------------------------------------------

    def decide(self, decision: str) -> None:
        vault, item, view = self.section.vault, self.item(), self.view
        if vault is None or item is None or view is None:
            return
        kwargs: dict[str, Any] = {"justification": self.justification.text().strip() or None}
        if decision == "reduce":
            kwargs["permission"] = self.reduce_to.currentText()
        elif decision == "extend":
            d = self.extend_to.date()
            kwargs["expires"] = dt.date(d.year(), d.month(), d.day())
        campaign_id, item_id = int(view["id"]), int(item["id"])

        def done(_decided: Any) -> None:
            self.justification.clear()
            self.section.result.setText(
                f"Item {item_id}: {decision} recorded. It is applied when the campaign closes.")
            self.section.services.status(f"Item {item_id}: {decision} recorded.")
            self.load(campaign_id)
            self.section.refresh()

        self.section.submit(
            f"review.decide {campaign_id}/{item_id}", f"Recording {decision}…",
            lambda _c, _p: reviews.decide(vault, campaign_id, item_id, decision, **kwargs), done)

    def select_item(self, item_id: int) -> bool:
        ok = self.table.select_key(item_id)
        self.table.setFocus(Qt.FocusReason.OtherFocusReason)
        return ok
