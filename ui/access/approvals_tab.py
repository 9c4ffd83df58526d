"""Approvals (read-only): which operations the vault's policy makes two-person, and the approvals
recorded in the audit log. There is no queue of pending approvals: an approver authenticates at
the console (or command) at the moment of the operation."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QSplitter, QVBoxLayout, QWidget

from strongroom.app.access import policy
from strongroom.app.access.approvals import APPROVER_ROLES, DEFAULT_APPROVER_ROLES

from ..audit.model import local_time
from .data import Snapshot
from .host import SectionHost
from .table import Cell, RowsTable

INTRO = ("No approval waits in a queue: when an operation below is asked for, a second operator "
         "approves it at that moment, with their own passphrase or security key, and the "
         "approval is recorded in the operation's audit event.")


def critical_rows(rule: policy.Policy) -> list[tuple[str, str, str]]:
    """(operation, when it needs a second operator, who may approve) under ``rule``."""
    def who(op: str) -> str:
        return " or ".join(APPROVER_ROLES.get(op, DEFAULT_APPROVER_ROLES))

    def levels(values: tuple[str, ...]) -> str:
        return "at level " + ", ".join(values) if values else "never (no level listed)"

    def what(op: str) -> str:  # "Revealing this secret" reads as "a secret" in a list
        return policy.describe(op).replace("this secret", "a secret")

    rows = [(what(op), "always", who(op)) for op in rule.operations]
    rows += [(what("secret.reveal"), levels(rule.reveal_levels), who("secret.reveal")),
             (what("secret.export"), levels(rule.export_levels), who("secret.export")),
             (what("secret.delete"), levels(rule.delete_levels), who("secret.delete"))]
    keys = ", ".join(rule.high_value_keys)
    rows.append((what("key.sign"),
                 f"with {keys}" if keys else "never (no high-value key listed)", who("key.sign")))
    return rows


class ApprovalsTab(QWidget):
    def __init__(self, section: SectionHost) -> None:
        super().__init__()
        self.section = section
        intro = QLabel(INTRO)
        intro.setWordWrap(True)
        intro.setProperty("role", "muted")
        self.policy_title = QLabel("<b>Two-person operations (the vault's policy)</b>")
        self.critical = RowsTable(["Operation", "Needs a second operator", "Approver's role"],
                                  "Two-person operations", widths=(300, 260))
        self.strict = QLabel()
        self.strict.setWordWrap(True)
        self.recent_title = QLabel("<b>Recent approvals (from the audit log)</b>")
        self.recent = RowsTable(["When", "Operation", "Target", "Asked by", "Approver",
                                 "Method", "Outcome"], "Recent approvals",
                                widths=(150, 140, 200, 100, 100, 90))
        self.recent_note = QLabel()
        self.recent_note.setWordWrap(True)
        self.recent_note.setProperty("role", "muted")
        top, bottom = QWidget(), QWidget()
        upper = QVBoxLayout(top)
        upper.setContentsMargins(0, 0, 0, 0)
        upper.addWidget(self.policy_title)
        upper.addWidget(self.critical, 1)
        upper.addWidget(self.strict)
        lower = QVBoxLayout(bottom)
        lower.setContentsMargins(0, 6, 0, 0)
        lower.addWidget(self.recent_title)
        lower.addWidget(self.recent, 1)
        lower.addWidget(self.recent_note)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(top)
        split.addWidget(bottom)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setChildrenCollapsible(False)
        lay = QVBoxLayout(self)
        lay.addWidget(intro)
        lay.addWidget(split, 1)

    def show_snapshot(self, snap: Snapshot | None) -> None:
        if snap is None:
            self.critical.rows.clear()
            self.recent.rows.clear()
            self.strict.setText("")
            self.recent_note.setText("")
            return
        rows = critical_rows(snap.policy)
        self.critical.rows.set_rows([[Cell(a, strong=True), Cell(b), Cell(c)] for a, b, c in rows],
                                    [a for a, _, _ in rows])
        table = self.critical  # short and fixed: shown whole, the recent approvals get the rest
        table.setMaximumHeight(table.horizontalHeader().sizeHint().height() + 2 * table.frameWidth()
                               + sum(table.rowHeight(r) for r in range(len(rows))) + 2)
        self.strict.setText(
            "Strict: these operations are refused when no other operator could approve them."
            if snap.policy.strict else
            "When no other active operator could approve, the operation goes ahead and its "
            "audit event says so (the policy is not strict).")
        self.recent.rows.set_rows(
            [[Cell(local_time(a.ts)), Cell(a.action), Cell(a.target), Cell(a.actor),
              Cell(a.approver, strong=True), Cell(a.method),
              Cell(a.outcome, problem=a.outcome != "ok",
                   tip="" if a.outcome == "ok" else "The approver's factor was refused")]
             for a in snap.approvals],
            [f"{a.ts} {a.target}" for a in snap.approvals])
        self.recent_note.setText(snap.approvals_note)
