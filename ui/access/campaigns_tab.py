"""The Campaigns tab: access review campaigns with their progress and due dates (overdue ones
flagged in words, bold and red), the review screen of one, closing a campaign (which applies its
decisions, in the runner) and its report as CSV or PDF."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from strongroom.app.access import reviews
from strongroom.app.access.review_report import write_report_csv, write_report_pdf
from strongroom.app.access.roles import REVIEWS_MANAGE

from ..widgets.common import button
from ..workers import Task
from .data import Snapshot, day
from .host import SectionHost
from .review_view import CampaignReview
from .table import Cell, RowsTable

HEADERS = ("Name", "Status", "Due", "Progress", "Reviewers", "Recurrence")
EXPORT_FILTERS = {"PDF report (*.pdf)": ".pdf", "CSV, one row per item (*.csv)": ".csv"}


def campaign_row(c: dict[str, Any]) -> list[Cell]:
    done, total = c["progress"]["decided"], c["progress"]["total"]
    closed = c["status"] != "open"
    return [
        Cell(c["name"], strong=not closed, muted=closed),
        Cell("closed " + day(c["closed"]) if closed else "open", muted=closed),
        Cell(f"{c['due']} — OVERDUE" if c["overdue"] else c["due"], problem=c["overdue"],
             tip="Not closed by its due date" if c["overdue"] else ""),
        Cell(f"{done}/{total} decided", muted=closed, strong=not closed and done < total),
        Cell(", ".join(c["reviewers"]), muted=closed),
        Cell(c["recurrence"] or "once", muted=closed),
    ]


def outcome_text(name: str, outcome: dict[str, Any]) -> str:
    d = outcome["decisions"]
    parts = [f"Closed {name}: {outcome['applied']} change{'s' * (outcome['applied'] != 1)} "
             f"applied ({d.get('revoke', 0)} revoked, {d.get('reduce', 0)} reduced, "
             f"{d.get('extend', 0)} extended, {d.get('keep', 0)} kept)"]
    if outcome["defaulted"]:
        parts.append(f"{outcome['defaulted']} decided by the campaign's default")
    if outcome["levels_rotated"]:
        parts.append("level keys rotated: " + ", ".join(outcome["levels_rotated"]))
    if outcome["rotation_pending"]:
        parts.append("rotation pending: " + ", ".join(outcome["rotation_pending"]))
    if outcome.get("remediation"):
        parts.append(f"{len(outcome['remediation'])} workstation command(s) to run by hand "
                     "(see the report)")
    if outcome.get("next_campaign") is not None:
        parts.append(f"the next round is campaign {outcome['next_campaign']}")
    return "; ".join(parts) + "."


class CampaignsTab(QWidget):
    def __init__(self, section: SectionHost) -> None:
        super().__init__()
        self.section = section
        self.table = RowsTable(list(HEADERS), "Review campaigns",
                               widths=(220, 120, 170, 110, 200))
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._update_buttons())
        self.table.doubleClicked.connect(lambda _i: self.open_selected())
        self.open_button = button("Review…", self.open_selected)
        self.close_button = button("Close campaign…", lambda: self.ask_close(self.selected_id()))
        self.export_button = button("Export report…", lambda: self.ask_export(self.selected_id()))
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.note.setProperty("role", "muted")
        actions = QHBoxLayout()
        for b in (self.open_button, self.close_button, self.export_button):
            actions.addWidget(b)
        actions.addStretch(1)
        listing = QWidget()
        column = QVBoxLayout(listing)
        column.setContentsMargins(0, 0, 0, 0)
        column.addLayout(actions)
        column.addWidget(self.table, 1)
        column.addWidget(self.note)
        self.review = CampaignReview(section, self.show_list)
        self.stack = QStackedWidget()
        self.stack.addWidget(listing)
        self.stack.addWidget(self.review)
        lay = QVBoxLayout(self)
        lay.addWidget(self.stack)
        self._update_buttons()

    def show_snapshot(self, snap: Snapshot | None) -> None:
        if snap is None:
            self.table.rows.clear()
            self.note.setText("")
            self.review.clear()
            self.show_list()
            return
        chosen = self.table.selected_key()
        self.table.rows.set_rows([campaign_row(c) for c in snap.campaigns],
                                 [int(c["id"]) for c in snap.campaigns])
        if chosen is not None:
            self.table.select_key(chosen)
        late = sum(bool(c["overdue"]) for c in snap.campaigns)
        self.note.setText(snap.campaigns_note or (
            f"{late} campaign{'s are' if late > 1 else ' is'} OVERDUE." if late else ""))
        self._update_buttons()
        self.review._item_changed()

    def selected_id(self) -> int:
        key = self.table.selected_key()
        return -1 if key is None else int(str(key))

    def _campaign(self, campaign_id: int) -> dict[str, Any] | None:
        snap = self.section.snapshot
        return None if snap is None else next(
            (c for c in snap.campaigns if c["id"] == campaign_id), None)

    def _update_buttons(self) -> None:
        snap, chosen = self.section.snapshot, self._campaign(self.selected_id())
        self.open_button.setEnabled(chosen is not None)
        self.export_button.setEnabled(chosen is not None)
        self.close_button.setEnabled(chosen is not None and chosen["status"] == "open"
                                     and snap is not None and snap.may(REVIEWS_MANAGE))

    # ----- the review screen -------------------------------------------------------------------

    def open_selected(self) -> None:
        if self.selected_id() >= 0:
            self.open_campaign(self.selected_id())

    def open_campaign(self, campaign_id: int) -> None:
        self.review.clear()
        self.stack.setCurrentWidget(self.review)
        self.review.load(campaign_id)

    def show_list(self) -> None:
        self.stack.setCurrentIndex(0)

    # ----- closing and the report --------------------------------------------------------------

    def ask_close(self, campaign_id: int) -> QMessageBox | None:
        c = self._campaign(campaign_id)
        if c is None:
            return None
        undecided = c["progress"]["total"] - c["progress"]["decided"]
        left = (f" {undecided} undecided item{'s get' if undecided != 1 else ' gets'} the "
                f"campaign's default ({c['default_decision']}).") if undecided else ""
        box = QMessageBox(
            QMessageBox.Icon.Warning, "Close campaign",
            f"Close {c['name']} and apply its decisions now? Revoked and reduced grants change "
            f"at once, and level keys their operators no longer need are rotated.{left}",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel, self.section)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.setAccessibleName("Close campaign")
        yes = box.button(QMessageBox.StandardButton.Yes)
        yes.setText("Close and apply")
        yes.setAccessibleName("Close and apply")
        yes.clicked.connect(lambda: self.close_campaign(campaign_id))
        self.section.open_dialog(box)
        return box

    def close_campaign(self, campaign_id: int) -> Task | None:
        vault, c = self.section.vault, self._campaign(campaign_id)
        if vault is None:
            return None
        name = c["name"] if c else f"campaign {campaign_id}"

        def done(outcome: dict[str, Any]) -> None:
            self.section.changed(outcome_text(name, outcome))
            if self.review.campaign_id == campaign_id:
                self.review.load(campaign_id)

        return self.section.submit(f"review.close {campaign_id}",
                                   f"Closing {name} and applying its decisions…",
                                   lambda _c, _p: reviews.close(vault, campaign_id), done)

    def ask_export(self, campaign_id: int) -> None:
        c = self._campaign(campaign_id)
        if c is None:
            return
        path, chosen = QFileDialog.getSaveFileName(
            self, "Export the access review report",
            str(Path.home() / f"access-review-{campaign_id}.pdf"), ";;".join(EXPORT_FILTERS))
        if not path:
            return
        dest = Path(path)
        if dest.suffix.lower() not in (".pdf", ".csv"):
            dest = dest.with_name(dest.name + EXPORT_FILTERS.get(chosen, ".pdf"))
        self.export_to(campaign_id, dest)

    def export_to(self, campaign_id: int, path: Path) -> Task | None:
        """Write the campaign's report to ``path``: PDF, or CSV for a .csv name."""
        vault = self.section.vault
        if vault is None:
            return None
        writer = write_report_csv if path.suffix.lower() == ".csv" else write_report_pdf

        def work(_c: Any, _p: Any) -> Path:
            writer(reviews.report(vault, campaign_id), path)
            return path

        return self.section.submit(
            f"review.report {campaign_id}", "Writing the report…", work,
            lambda p: self.section.services.status(f"Wrote the access review report to {p}."))
