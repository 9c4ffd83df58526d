"""Access Reviews: operators, grants, who can access what, the two-person rule and recent approvals,
and review campaigns, as tabs over one snapshot of the vault read in the task runner.

Every change runs in the runner (Guarded: with the two-person rule's approver dialog when the
vault asks for one), then the snapshot is read again. Results are tied to the unlock they were
asked for (``_epoch``): whatever arrives after a lock is dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QTabWidget, QVBoxLayout, QWidget

from strongroom.app.vault import Vault

from ..base import Section, Services
from ..widgets.common import button, heading
from ..widgets.operations import BusyRow
from ..workers import Task, Work, user_message
from . import data
from .approval import Guarded
from .approvals_tab import ApprovalsTab
from .campaigns_tab import CampaignsTab
from .data import Snapshot
from .grants_tab import GrantsTab
from .matrix_tab import MatrixTab
from .operators_tab import OperatorsTab
from .table import PROBLEM, RowsTable


class AccessReviewsSection(Section):
    title = "Access Reviews"
    accessible_description = ("Operators and their unlock methods, grants, who can access what, "
                              "the two-person rule, and access review campaigns")
    kdf_time_ms = 1000  # Argon2id target for a new operator's passphrase keyslot

    def __init__(self, services: Services, parent: QWidget | None = None) -> None:
        super().__init__(services, parent)
        self.setAccessibleDescription(self.accessible_description)
        self.snapshot: Snapshot | None = None
        self._epoch = 0
        self._loading: Task | None = None
        self.guarded = Guarded(self)

        self.who = QLabel("The vault is locked.")
        self.who.setProperty("role", "muted")
        self.who.setAccessibleName("Acting operator")
        self.who.setWordWrap(True)
        self.refresh_button = button("Refresh", self.refresh)
        self.busy = BusyRow("Access operation")
        self.result = QLabel()
        self.result.setWordWrap(True)
        self.result.setAccessibleName("Last access change")
        self.result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.operators = OperatorsTab(self)
        self.grants = GrantsTab(self)
        self.matrix = MatrixTab(self)
        self.approvals = ApprovalsTab(self)
        self.campaigns = CampaignsTab(self)
        self.tabs = QTabWidget()
        self.tabs.setAccessibleName("Access Reviews pages")
        for tab, text in ((self.operators, "Operators"), (self.grants, "Grants"),
                          (self.matrix, "Who can access what"),
                          (self.approvals, "Approvals"), (self.campaigns, "Campaigns")):
            self.tabs.addTab(tab, text)

        top = QHBoxLayout()
        top.addWidget(heading(self.title))
        top.addSpacing(12)
        top.addWidget(self.who, 1)
        top.addWidget(self.refresh_button)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(16, 16, 16, 16)
        lay.addLayout(top)
        lay.addWidget(self.tabs, 1)
        lay.addWidget(self.busy)
        lay.addWidget(self.result)
        services.settings.changed.connect(
            lambda key: self._follow_theme() if key == "theme" else None)
        self._show(None)

    @property
    def tab_pages(self) -> list[Any]:
        return [self.operators, self.grants, self.matrix, self.approvals, self.campaigns]

    # ----- session -----------------------------------------------------------------------------

    def vault_unlocked(self, vault: Vault) -> None:
        super().vault_unlocked(vault)
        self._epoch += 1
        self.result.setText("")
        self.refresh()

    def vault_locked(self) -> None:
        super().vault_locked()
        self._epoch += 1
        self._loading = None
        self.guarded.close()
        self.close_dialogs()
        self.result.setText("")
        self._show(None)

    # ----- reading -----------------------------------------------------------------------------

    def refresh(self) -> Task | None:
        """Read everything the tabs show again (in the runner)."""
        vault = self.vault
        if vault is None:
            return None
        self.refresh_button.setEnabled(False)

        def done(snapshot: Snapshot) -> None:
            self._show(snapshot)

        def failed(exc: BaseException) -> None:
            self.refresh_button.setEnabled(True)
            self.who.setText(user_message(exc))
            self.services.error(user_message(exc))

        self._loading = self.submit("access.load", "Reading operators and grants…",
                                    lambda _c, _p: data.load(vault), done, failed)
        return self._loading

    def _show(self, snapshot: Snapshot | None) -> None:
        self.snapshot = snapshot
        self._loading = None
        self.refresh_button.setEnabled(self.vault is not None)
        if snapshot is None:
            self.who.setText("The vault is locked." if self.vault is None else "Reading…")
        else:
            roles = next((", ".join(o.roles) for o in snapshot.operators
                          if o.name == snapshot.me), "")
            self.who.setText(f"Acting as {snapshot.me}" + (f" ({roles})" if roles else ""))
        for tab in self.tab_pages:
            tab.show_snapshot(snapshot)
        self._follow_theme()

    # ----- the theme ---------------------------------------------------------------------------

    def problem_colour(self) -> str:
        """The red of problem text in labels, for the theme in use."""
        return str(PROBLEM[self.dark_theme()].name())

    def _follow_theme(self) -> None:
        dark = self.dark_theme()
        for table in self.findChildren(RowsTable):
            table.rows.set_dark(dark)

    # ----- running -----------------------------------------------------------------------------

    def submit(self, name: str, text: str, work: Work, on_success: Callable[[Any], None],
               on_error: Callable[[BaseException], None] | None = None) -> Task:
        """Run ``work`` with the busy row showing; results of an earlier unlock are dropped."""
        epoch = self._epoch
        self.busy.start(text)
        self.services.activity()

        def ok(result: Any) -> None:
            if epoch == self._epoch:
                on_success(result)

        def failed(exc: BaseException) -> None:
            if epoch != self._epoch:
                return
            if on_error is not None:
                on_error(exc)
            else:
                self.services.error(user_message(exc))

        task = self.services.runner.submit(
            name, work, on_success=ok, on_error=failed, on_progress=self.busy.progress,
            on_cancel=lambda: self.services.status(f"{text.rstrip('…')} was cancelled."))
        task.finished.connect(self.busy.stop)
        return task

    def changed(self, message: str) -> None:
        """An access change succeeded: say what it did, and read the vault again."""
        self.result.setText(message)
        self.services.status(message)
        self.refresh()
