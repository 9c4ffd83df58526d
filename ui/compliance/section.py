"""Compliance: the endpoint self-checks as status tiles, their evidence and fixes, a history chart,
Run now, a schedule while the console is open, accepted-risk exceptions and a PDF/printed report.

Runs go through the app layer (``compliance.service.run_checks``: collect, remember, judge, store
and audit) on the task runner; the collector is found there, never imported from here. Results
are tied to the unlock they were asked for (``_epoch``): whatever arrives after a lock is dropped.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from strongroom.app.compliance import service, storage
from strongroom.app.compliance.model import Collector, Status
from strongroom.app.compliance.policy import describe, load_policy
from strongroom.app.compliance.registry import ComplianceException, counts
from strongroom.app.errors import StrongroomError
from strongroom.app.vault import Vault

from ..base import Section, Services
from ..widgets.operations import BusyRow, Operations
from ..workers import Task, user_message
from .data import RunView, history_points, parse_ts, run_view
from .detail import AcceptRiskDialog
from .panels import Body, EmptyState, Header, Schedule, ScheduleBar
from .report import (
    print_supported,
    print_with_dialog,
    render_pdf,
    report_html,
    write_report,
)
from .tiles import StatusTile, theme_for

HISTORY_RUNS = 30


class _Ops(Operations):
    """Operations whose buttons also depend on what the section shows."""

    def __init__(self, section: ComplianceSection, busy: BusyRow,
                 buttons: list[QPushButton]) -> None:
        super().__init__(section, busy, buttons)
        self.compliance = section

    def update(self) -> None:
        super().update()
        self.compliance.refine_buttons()


class ComplianceSection(Section):
    title = "Compliance"
    accessible_description = "Endpoint compliance checks: status, evidence, fixes, history, report"

    def __init__(self, services: Services, parent: QWidget | None = None, *,
                 collector: Collector | None = None) -> None:
        super().__init__(services, parent)
        self.setAccessibleDescription(self.accessible_description)
        self.collector = collector  # None: the platform's, found by the app layer
        self.clock: Callable[[], dt.datetime] | None = None  # None: the vault's clock
        self._epoch = 0
        self.runs: list[dict[str, Any]] = []
        self.exceptions: list[ComplianceException] = []
        self.view: RunView | None = None
        self.selected: str | None = None
        self.dialog: AcceptRiskDialog | None = None
        self._last_attempt: dt.datetime | None = None
        self._checking = False
        self._handover = False  # the empty page's Run now had focus when its run began

        self.header = Header(self.title, self.run_now, self._on_export_clicked,
                             self._on_print_clicked)
        self.run_button = self.header.run_button
        self.export_button = self.header.export_button
        self.print_button = self.header.print_button

        body = Body()
        self.tiles, self.chart, self.detail = body.tiles, body.chart, body.detail
        self.tiles.clicked.connect(self.select)
        self.detail.accept_requested.connect(self._on_accept_clicked)
        self.detail.remove_requested.connect(self.remove_exception)
        self.empty = EmptyState(self.run_now)
        self.empty_run_button = self.empty.run_button
        self.pages = QStackedWidget()
        self.pages.addWidget(self.empty)
        self.pages.addWidget(body)

        settings = services.settings
        self.bar = ScheduleBar(settings.compliance_schedule_hours, self._on_policy_clicked,
                               self.use_default_policy)
        self.schedule = self.bar.hours
        self.schedule.valueChanged.connect(
            lambda v: settings.set("compliance_schedule_hours", v))
        self.scheduler = Schedule(self)
        self.scheduler.due.connect(self._scheduled_run)
        self.busy = self.bar.busy

        lay = QVBoxLayout(self)
        lay.setContentsMargins(16, 16, 16, 12)
        lay.setSpacing(10)
        lay.addWidget(self.header)
        lay.addWidget(self.pages, 1)
        lay.addWidget(self.bar)
        self.ops = _Ops(self, self.busy, [
            self.run_button, self.empty_run_button, self.export_button,
            self.detail.accept_button, self.detail.remove_button,
        ])
        settings.changed.connect(self._setting_changed)
        self._apply_theme()
        self.refresh_view()

    # ----- session -------------------------------------------------------------------------------

    def vault_unlocked(self, vault: Vault) -> None:
        super().vault_unlocked(vault)
        self._epoch += 1
        self.reload()

    def vault_locked(self) -> None:
        super().vault_locked()
        self._epoch += 1
        self.scheduler.stop()
        self.bar.note.setText(self.scheduler.describe())
        if self.dialog is not None:
            self.dialog.reject()
            self.dialog = None
        self.runs, self.exceptions, self.view, self.selected = [], [], None, None
        self._checking = False
        self.refresh_view()

    def now(self) -> dt.datetime:
        """The time checks are judged at (injectable for recorded evidence)."""
        if self.clock is not None:
            return self.clock()
        return self._wall_now()

    def _wall_now(self) -> dt.datetime:
        return self.vault.clock.now() if self.vault is not None else dt.datetime.now(dt.UTC)

    def _guard(self, then: Callable[[Any], None]) -> Callable[[Any], None]:
        epoch = self._epoch
        return lambda result: then(result) if epoch == self._epoch else None

    # ----- loading and running -------------------------------------------------------------

    def reload(self) -> Task | None:
        """Read the stored runs and exceptions (and check the configured policy file)."""
        vault, path = self.vault, self.services.settings.compliance_policy_file
        if vault is None:
            return None

        def work(_cancel: object, _progress: object) -> tuple[Any, ...]:
            try:
                policy: tuple[Any, str] | str = load_policy(path or None)
            except StrongroomError as e:  # shown beside the policy button, in words
                policy = str(e)
            return storage.runs(vault, HISTORY_RUNS), storage.list_exceptions(vault), policy

        return self.services.runner.submit("compliance.load", work,
                                           on_success=self._guard(self._loaded),
                                           on_error=self._guard(self._failed))

    def _loaded(self, result: tuple[Any, ...]) -> None:
        self.runs, self.exceptions, policy = result
        if isinstance(policy, str):
            self.bar.policy.setText(f"Policy: {policy[:1].upper()}{policy[1:]}")
        else:
            self.bar.policy.setText(f"Policy: {policy[1]}")
            self.bar.policy.setToolTip(describe(*policy))
        self.refresh_view()
        self._arm_schedule()

    def _failed(self, exc: BaseException) -> None:
        self.services.error(user_message(exc))

    def run_now(self) -> Task | None:
        """Collect, judge and store a run (with the vault's exceptions), then show it."""
        vault, path = self.vault, self.services.settings.compliance_policy_file
        if vault is None or self._checking:
            return None
        collector, clock = self.collector, self.clock or vault.clock.now
        self._checking = True
        self._last_attempt = self._wall_now()

        def work(_cancel: object, progress: Callable[[str], None]) -> tuple[Any, ...]:
            policy, source = load_policy(path or None)
            progress("Collecting evidence and judging the checks…")
            run = service.run_checks(vault, policy, None, clock(), policy_source=source,
                                     collector=collector)
            return run, storage.runs(vault, HISTORY_RUNS), storage.list_exceptions(vault)

        task = self.ops.run(self.run_button, "compliance.check", "Running the compliance checks…",
                            work, self._guard(self._ran))
        epoch = self._epoch
        task.finished.connect(lambda: self._check_finished() if epoch == self._epoch else None)
        self.refine_buttons()
        return task

    def _check_finished(self) -> None:
        self._checking = False
        self.ops.update()
        if self._handover:
            self._handover = False
            self.run_button.setFocus(Qt.FocusReason.OtherFocusReason)
        self._arm_schedule()

    def _ran(self, result: tuple[Any, ...]) -> None:
        run, self.runs, self.exceptions = result
        self.refresh_view()
        tally = ", ".join(f"{n} {s}" for s, n in counts(run.results).items() if n)
        self.services.status(f"Compliance checks done: {tally}; stored as run {run.run_id} and "
                             "recorded in the audit log.")

    # ----- showing -------------------------------------------------------------------------------

    def refresh_view(self) -> None:
        """Tiles, header, detail and chart from the stored runs and today's exceptions."""
        self.view = run_view(self.runs[0], self.exceptions, self.now()) if self.runs else None
        view = self.view
        self.chart.set_points(history_points(self.runs))
        # Run now on the empty page: focus goes to the header's Run now once the run is over.
        self._handover |= view is not None and self.empty.isAncestorOf(QApplication.focusWidget())
        self.pages.setCurrentIndex(1 if view else 0)
        for check_id, tile in self.tiles.tiles.items():
            tile.set_result(view.result(check_id) if view else None,
                            view.required(check_id) if view else True)
        self.header.show_view(view, self.vault is None, theme_for(self.services.settings))
        if view is None:
            self.selected = None
        else:
            if self.selected is None or view.result(self.selected) is None:
                order = (Status.Fail, Status.Unknown, Status.Excepted, Status.Pass,
                         Status.NotApplicable)
                self.selected = min(view.results, key=lambda r: order.index(r.status)).check_id
        self.select(self.selected)
        self.ops.update()

    def select(self, check_id: str | None) -> None:
        """Show one check in the detail pane (the tile is highlighted)."""
        view = self.view
        result = view.result(check_id) if view and check_id else None
        self.selected = result.check_id if result else None
        self.tiles.select(self.selected)
        exception = self.exception_for(self.selected)
        self.detail.show_result(
            result, required=view.required(result.check_id) if view and result else True,
            exception=exception, stored=view.stored.get(result.check_id) if view and result
            else None, now=self.now())
        self.refine_buttons()

    def exception_for(self, check_id: str | None) -> ComplianceException | None:
        return next((e for e in self.exceptions if e.check_id == check_id), None)

    def tile(self, check_id: str) -> StatusTile:
        return self.tiles.tiles[check_id]

    def refine_buttons(self) -> None:
        is_open, running = self.vault is not None, self.ops.running
        for button in (self.run_button, self.empty_run_button):
            button.setEnabled(is_open and not self._checking)
        self.export_button.setEnabled(is_open and self.view is not None
                                      and self.export_button not in running)
        self.print_button.setEnabled(is_open and self.view is not None and print_supported())
        busy = self.detail.accept_button in running or self.detail.remove_button in running
        self.detail.set_actions(
            can_accept=is_open and not busy,
            can_remove=is_open and not busy and self.exception_for(self.selected) is not None)
        self.bar.defaults_button.setEnabled(bool(self.services.settings.compliance_policy_file))

    def _apply_theme(self) -> None:
        theme = theme_for(self.services.settings)
        self.tiles.set_theme(theme)
        self.chart.set_theme(theme)
        self.detail.set_theme(theme)

    def _setting_changed(self, key: str) -> None:
        if key == "theme":
            self._apply_theme()
            self.refresh_view()
        elif key == "compliance_schedule_hours":
            if self.schedule.value() != self.services.settings.compliance_schedule_hours:
                self.schedule.setValue(self.services.settings.compliance_schedule_hours)
            self._arm_schedule()
        elif key == "compliance_policy_file":
            self.reload()

    # ----- schedule ------------------------------------------------------------------------------

    def _arm_schedule(self) -> None:
        """Every N hours after the last run (or attempt) while the console is open and unlocked."""
        hours = self.services.settings.compliance_schedule_hours if self.vault else 0
        last = parse_ts(self.runs[0]["ts"]) if self.runs else None
        self.scheduler.arm(hours, self._wall_now(), [last, self._last_attempt])
        self.bar.note.setText(self.scheduler.describe())

    def _scheduled_run(self) -> None:
        if self.run_now() is None:
            self._arm_schedule()

    # ----- exceptions ----------------------------------------------------------------------------

    def accept_risk(self, check_id: str, reason: str, until: dt.date) -> Task | None:
        """Record an accepted risk (audited) and show the check as EXCEPTED at once."""
        vault = self.vault
        if vault is None:
            return None
        return self.ops.run(
            self.detail.accept_button, "compliance.exception.add", "Recording the exception…",
            lambda _c, _p: (storage.add_exception(vault, check_id, reason, until),
                            storage.list_exceptions(vault)),
            self._guard(lambda r: self._exceptions_changed(
                r[1], f"Accepted the risk of {check_id} until {until.isoformat()}.")))

    def remove_exception(self, check_id: str) -> Task | None:
        vault = self.vault
        if vault is None:
            return None

        def work(_c: object, _p: object) -> list[ComplianceException]:
            storage.remove_exception(vault, check_id)
            return storage.list_exceptions(vault)

        return self.ops.run(
            self.detail.remove_button, "compliance.exception.remove", "Removing the exception…",
            work, self._guard(lambda items: self._exceptions_changed(
                items, f"Removed the exception for {check_id}.")))

    def _exceptions_changed(self, items: list[ComplianceException], text: str) -> None:
        self.exceptions = items
        self.refresh_view()
        self.services.status(text)

    def _on_accept_clicked(self, check_id: str) -> None:
        if self.vault is None or self.dialog is not None:
            return
        today = self._wall_now().astimezone(dt.UTC).date()
        result = self.view.result(check_id) if self.view else None
        dialog = AcceptRiskDialog(result.title if result else check_id, today, self)
        self.dialog = dialog
        dialog.accepted.connect(lambda: self.accept_risk(check_id, *dialog.values()))
        dialog.finished.connect(lambda _r: self._dialog_closed(dialog))
        dialog.open()

    def _dialog_closed(self, dialog: AcceptRiskDialog) -> None:
        if self.dialog is dialog:
            self.dialog = None
        dialog.deleteLater()

    # ----- policy, report, print -------------------------------------------------------------

    def _on_policy_clicked(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Compliance policy", "",
                                              "Policy (*.toml);;All files (*)")
        if path:
            self.services.settings.set("compliance_policy_file", path)

    def use_default_policy(self) -> None:
        self.services.settings.set("compliance_policy_file", "")

    def report(self) -> str | None:
        return report_html(self.view, self._wall_now()) if self.view else None

    def export_pdf(self, path: str | Path) -> Task | None:
        """Write the report for the shown run to ``path`` as PDF, and record it in the audit log."""
        vault, view, dest = self.vault, self.view, Path(path)
        if vault is None or view is None:
            return None
        pdf = render_pdf(report_html(view, self._wall_now()))
        return self.ops.run(
            self.export_button, "compliance.report", "Writing the report…",
            lambda _c, _p: write_report(vault, dest, pdf, view.run_id),
            self._guard(lambda _r: self.services.status(f"Report written to {dest.name}.")))

    def _on_export_clicked(self) -> None:
        name = f"strongroom-compliance-{dt.datetime.now():%Y%m%d-%H%M}.pdf"
        path, _ = QFileDialog.getSaveFileName(self, "Export the compliance report",
                                              str(Path.home() / name), "PDF (*.pdf)")
        if path and self.vault is not None:
            dest = Path(path)
            self.export_pdf(dest if dest.suffix.lower() == ".pdf" else dest.with_name(
                dest.name + ".pdf"))

    def _on_print_clicked(self) -> None:
        report = self.report()
        if report is not None and print_with_dialog(report, self) and self.vault is not None:
            self.services.status("The compliance report was sent to the printer.")
