"""The Compliance section's fixed parts: the header card, the empty state, the schedule and policy
bar, and the schedule's timer (every N hours after the last run, while the console is open)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from strongroom.app.compliance.registry import CHECK_IDS, TITLES

from ..widgets.common import button, heading
from ..widgets.operations import BusyRow
from .chart import HistoryChart
from .data import GLYPHS, RunView, local_time
from .detail import CheckDetail
from .report import print_supported
from .tiles import ElidedLabel, Theme, TileGrid

MAX_SCHEDULE_HOURS = 168
EMPTY_TEXT = (
    "Run the endpoint self-checks: disk encryption, security updates, screen lock, firewall, "
    "guest account, Secure Boot, automatic updates and TPM. Each result is stored in the vault "
    "with its evidence and a fix, and every run is recorded in the audit log."
)


def muted(name: str) -> QLabel:
    text = QLabel()
    text.setProperty("role", "muted")
    text.setWordWrap(True)
    text.setAccessibleName(name)
    text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return text


def card(margins: tuple[int, int, int, int]) -> tuple[QFrame, QVBoxLayout]:
    frame = QFrame()
    frame.setObjectName("card")
    lay = QVBoxLayout(frame)
    lay.setContentsMargins(*margins)
    return frame, lay


class Header(QFrame):
    """The section's title and actions, the overall state, the host and run, the policy used."""

    def __init__(self, title: str, run: Callable[[], object], export: Callable[[], object],
                 print_: Callable[[], object], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("card")
        title_label = heading(title)
        self.run_button = button("Run now", run)
        self.run_button.setDefault(True)
        self.export_button = button("Export report…", export)
        self.print_button = button("Print…", print_)
        if not print_supported():
            self.print_button.setToolTip("Printing is not available in this Qt build; export a "
                                         "PDF instead")
        self.overall = QLabel()
        self.overall.setAccessibleName("Overall compliance")
        self.overall.setWordWrap(True)
        self.meta = muted("Run details")
        self.policy = muted("Policy used")
        top = QHBoxLayout()
        top.addWidget(title_label)
        top.addStretch(1)
        for b in (self.run_button, self.export_button, self.print_button):
            top.addWidget(b)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(16, 12, 16, 12)
        lay.setSpacing(4)
        lay.addLayout(top)
        lay.addWidget(self.overall)
        lay.addWidget(self.meta)
        lay.addWidget(self.policy)

    def show_view(self, view: RunView | None, locked: bool, theme: Theme) -> None:
        """The overall state (glyph, word and colour), where and when, and the policy used."""
        self.run_button.setVisible(view is not None)  # the empty state has its own
        self.meta.setVisible(view is not None)
        self.policy.setVisible(view is not None)
        if view is None:
            self.overall.setText("The vault is locked." if locked else
                                 "Not checked yet: no run is stored in this vault.")
            self.overall.setStyleSheet("")
            self.meta.setText("")
            self.policy.setText("")
            return
        headline = view.overall
        self.overall.setText(f"{GLYPHS[headline.status]} {headline.text}")
        self.overall.setStyleSheet(
            f"color: {theme.status[headline.status]}; font-weight: bold;")
        self.meta.setText(
            f"Host {view.host or '?'} · {view.os_name} · checked {local_time(view.ts)} · "
            f"run {view.run_id}, {view.source_text}")
        self.policy.setText(f"{view.policy_line}.")


class Body(QWidget):
    """The tiles over the history chart (left) and the selected check's details (right)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tiles = TileGrid()
        self.chart = HistoryChart()
        self.detail = CheckDetail()
        history, column = card((14, 10, 14, 10))
        caption = QLabel("History")
        caption.setStyleSheet("font-weight: bold;")
        column.addWidget(caption)
        column.addWidget(self.chart, 1)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.setChildrenCollapsible(False)
        split.addWidget(history)
        split.addWidget(self.detail)
        split.setStretchFactor(0, 2)
        split.setStretchFactor(1, 3)
        split.setSizes([400, 600])
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(10)
        lay.addWidget(self.tiles)
        lay.addWidget(split, 1)


class EmptyState(QFrame):
    """Before any run: what will be checked, and a Run now button."""

    def __init__(self, run: Callable[[], object], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("card")
        self.title = QLabel("No compliance run yet")
        self.title.setStyleSheet("font-weight: bold; font-size: 13pt;")
        self.text = QLabel(EMPTY_TEXT)
        self.text.setWordWrap(True)
        checks = QGridLayout()
        checks.setHorizontalSpacing(24)
        for i, check_id in enumerate(CHECK_IDS):
            item = QLabel(f"○  {TITLES[check_id]}")
            checks.addWidget(item, i % 4, i // 4)
        self.run_button = button("Run now", run)
        self.run_button.setDefault(True)
        self.note = muted("About the checks")
        self.note.setText("The checks read settings on this machine and need no administrator "
                          "rights; a run usually takes a few seconds.")
        column = QVBoxLayout()
        column.setSpacing(10)
        column.addWidget(self.title)
        column.addWidget(self.text)
        column.addSpacing(4)
        column.addLayout(checks)
        column.addSpacing(8)
        column.addWidget(self.run_button, 0, Qt.AlignmentFlag.AlignLeft)
        column.addWidget(self.note)
        box = QWidget()
        box.setMaximumWidth(640)
        box.setLayout(column)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(32, 28, 32, 28)
        lay.addStretch(1)
        lay.addWidget(box, 0, Qt.AlignmentFlag.AlignVCenter)
        lay.addStretch(1)


class ScheduleBar(QWidget):
    """Run every N hours (0 = off), when the next run is, the policy file, and the busy row."""

    def __init__(self, hours: int, choose_policy: Callable[[], object],
                 default_policy: Callable[[], object], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.hours = QSpinBox()
        self.hours.setRange(0, MAX_SCHEDULE_HOURS)
        self.hours.setSpecialValueText("Off")
        self.hours.setSuffix(" h")
        self.hours.setAccessibleName("Run the checks every this many hours (0 = off)")
        self.hours.setValue(hours)
        self.note = ElidedLabel()
        self.note.setProperty("role", "muted")
        self.note.setAccessibleName("Next scheduled run")
        self.policy_button = button("Policy file…", choose_policy)
        self.policy_button.setToolTip("Judge the next runs by a policy TOML file")
        self.defaults_button = button("Use defaults", default_policy)
        self.defaults_button.setAccessibleName("Use the default policy")
        self.policy = ElidedLabel()
        self.policy.setProperty("role", "muted")
        self.policy.setAccessibleName("Policy for the next run")
        self.policy.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.busy = BusyRow("Compliance operation")
        self.busy.label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        caption = QLabel("Run automatically every")
        caption.setBuddy(self.hours)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(caption)
        row.addWidget(self.hours)
        row.addWidget(self.note, 2)
        row.addSpacing(12)
        row.addWidget(self.busy, 2)
        row.addWidget(self.policy, 2)
        row.addWidget(self.policy_button)
        row.addWidget(self.defaults_button)


class Schedule(QObject):
    """Fires ``due`` every N hours after the last run or attempt (a single-shot QTimer)."""

    due = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.timeout.connect(self.due)
        self.next_run: dt.datetime | None = None

    def arm(self, hours: int, now: dt.datetime, last: list[dt.datetime | None]) -> None:
        """Off when ``hours`` is 0; otherwise due ``hours`` after the latest of ``last`` (at
        once if that has passed), or ``hours`` from now when nothing ran yet."""
        self.timer.stop()
        if hours <= 0:
            self.next_run = None
            return
        period = dt.timedelta(hours=hours)
        known = [t for t in last if t is not None]
        due = max(known) + period if known else now + period
        delay = min(max(due - now, dt.timedelta(0)), period)
        self.next_run = now + delay
        self.timer.start(int(delay.total_seconds() * 1000))

    def stop(self) -> None:
        self.timer.stop()
        self.next_run = None

    def describe(self) -> str:
        if self.next_run is None:
            return "(scheduled runs are off)"
        return f"while the console is open · next run {local_time(self.next_run.isoformat())}"
