"""Audit Log: the vault's events (paged in as the table scrolls), filters, chain check, export."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from pathlib import Path

from PySide6.QtCore import QDate, QSortFilterProxyModel, Qt
from PySide6.QtGui import QHideEvent, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDateEdit,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from strongroom.app.audit import AuditEvent, VerifyReport
from strongroom.app.audit_export import ExportFormat, export_events
from strongroom.app.errors import UserCancelled
from strongroom.app.model import iso
from strongroom.app.vault import Vault

from ..base import Section, Services
from ..widgets.common import button
from ..widgets.operations import BusyRow, Operations
from ..workers import Progress, Task, user_message
from .model import (
    COLUMNS,
    PAGE_SIZE,
    SORT_ROLE,
    AuditFilter,
    AuditTableModel,
    ChainCheck,
    Column,
    check_chain,
    checkpoint_text,
    fetch_page,
)

EXPORT_PAGE = 5000
KNOWN_ACTIONS = (
    "vault.create", "vault.unlock", "vault.migrate", "vault.rekey", "passphrase.change",
    "dek.rotate", "secret.create", "secret.update", "secret.delete", "secret.read",
    "secret.reveal", "secret.copy", "secret.export", "backup.create", "backup.auto",
    "backup.restore", "audit.export", "compliance.check", "compliance.exception.add",
    "compliance.exception.remove", "compliance.report", "audit.checkpoint",
)
OUTCOMES = (("Any outcome", ""), ("ok", "ok"), ("failed", "failed"), ("denied", "denied"))
NO_DATE = QDate(2000, 1, 1)  # the date edits' minimum, shown as "Any"
EXPORT_FILTERS = {"JSON lines (*.jsonl)": ExportFormat.Jsonl, "CSV (*.csv)": ExportFormat.Csv}
COLOURS = {(True, False): "#1e7b34", (False, False): "#b3261e",  # (ok, dark theme)
           (True, True): "#7bd88f", (False, True): "#f28b82"}


def day_start_utc(day: QDate) -> str:
    """Local midnight at the start of ``day``, as the vault's UTC timestamp text."""
    return iso(dt.datetime(day.year(), day.month(), day.day()).astimezone())


def plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def verify_text(report: VerifyReport) -> str:
    if report.ok:
        extra = "" if report.reason == "intact" else f" ({report.reason})"
        return f"✔ Chain intact: {plural(report.events, 'event')} verified{extra}."
    where = f"event {report.first_bad_seq}" if report.first_bad_seq is not None else "its anchor"
    return f"✘ Chain broken at {where}: {report.reason}."


def export_pages(vault: Vault, query: AuditFilter, cancel: threading.Event,
                 progress: Progress) -> Iterator[AuditEvent]:
    """Every event matching ``query``, newest first, one page in memory at a time."""
    before: int | None = None
    done = 0
    while True:
        if cancel.is_set():
            raise UserCancelled()
        page = fetch_page(vault, query, before, EXPORT_PAGE)
        yield from page
        done += len(page)
        progress(f"Exporting: {done} events written…")
        if len(page) < EXPORT_PAGE:
            return
        before = page[-1].seq


def export_and_record(vault: Vault, query: AuditFilter, path: Path, fmt: ExportFormat,
                      cancel: threading.Event, progress: Progress) -> int:
    """Write the export, then record it; if it cannot be recorded, the file does not stay."""
    count = export_events(export_pages(vault, query, cancel, progress), path, fmt)
    try:
        vault.record("audit.export", path.name,
                     details={"format": fmt.value, "events": count, "filters": query.kwargs()})
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return count


class AuditSection(Section):
    title = "Audit Log"
    accessible_description = "The vault's hash-chained audit log: filter, verify and export"
    page_size = PAGE_SIZE

    def __init__(self, services: Services, parent: QWidget | None = None) -> None:
        super().__init__(services, parent)
        self.setAccessibleDescription(self.accessible_description)
        self.model = AuditTableModel(services.runner, self, page_size=self.page_size)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(SORT_ROLE)
        self.model.failed.connect(lambda exc: services.error(user_message(exc)))
        self.model.loaded.connect(lambda _n: self._update_count())
        self.model.loading_changed.connect(lambda _b: self._update_count())
        self.model.modelReset.connect(self._update_count)

        self.action = QComboBox()
        self.action.setEditable(True)
        self.action.addItems(["", *KNOWN_ACTIONS])
        self.action.setAccessibleName("Filter by action")
        self.action.lineEdit().setPlaceholderText("Any action")
        self.target = QLineEdit()
        self.target.setPlaceholderText("Any target")
        self.target.setAccessibleName("Filter by target")
        self.target.setClearButtonEnabled(True)
        self.outcome = QComboBox()
        self.outcome.setAccessibleName("Filter by outcome")
        for text, value in OUTCOMES:
            self.outcome.addItem(text, value)
        self.date_from = self._date_edit("Events from date")
        self.date_to = self._date_edit("Events up to and including date")
        self.apply_button = button("Apply filters", self.apply_filters)
        self.clear_button = button("Clear filters", self.clear_filters)
        self.target.returnPressed.connect(self.apply_filters)
        self.action.lineEdit().returnPressed.connect(self.apply_filters)

        self.refresh_button = button("Refresh", self.model.refresh)
        self.verify_button = button("Verify chain", self.verify_chain)
        self.export_button = button("Export…", self._on_export_clicked)
        self.export_button.setToolTip("Write the events the applied filters select to a file")
        self.trust_button = button("Trust public key file…", self._on_trust_clicked)
        self.trust_button.setToolTip(
            "Verify again, trusting audit checkpoints signed by the key in a public key file")
        self.trusted_files: list[Path] = []  # for this session only; cleared when it locks
        self.verify_label = QLabel("The chain has not been checked in this session.")
        self.verify_label.setWordWrap(True)
        self.verify_label.setAccessibleName("Audit chain status")
        self.verify_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.checkpoint_label = QLabel()
        self.checkpoint_label.setWordWrap(True)
        self.checkpoint_label.setAccessibleName("Audit checkpoints status")
        self.checkpoint_label.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse)
        self.checkpoint_label.hide()
        self.busy = BusyRow("Audit operation")
        self.count_label = QLabel()
        self.count_label.setAccessibleName("Events shown")

        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setAccessibleName("Audit events")
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(COLUMNS.index(Column.Seq), Qt.SortOrder.DescendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        for column, width in ((Column.Seq, 70), (Column.Time, 160), (Column.Actor, 110),
                              (Column.Action, 140), (Column.Target, 200), (Column.Outcome, 80)):
            self.table.setColumnWidth(COLUMNS.index(column), width)

        filters = QGridLayout()
        for col, (label, widget) in enumerate((
            ("Action", self.action), ("Target", self.target), ("Outcome", self.outcome),
            ("From", self.date_from), ("To", self.date_to),
        )):
            caption = QLabel(label)
            caption.setBuddy(widget)
            filters.addWidget(caption, 0, col)
            filters.addWidget(widget, 1, col)
        filters.addWidget(self.apply_button, 1, 5)
        filters.addWidget(self.clear_button, 1, 6)
        actions = QHBoxLayout()
        for b in (self.refresh_button, self.verify_button, self.trust_button, self.export_button):
            actions.addWidget(b)
        actions.addWidget(self.busy, 1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(16, 16, 16, 16)
        lay.addLayout(filters)
        lay.addLayout(actions)
        lay.addWidget(self.verify_label)
        lay.addWidget(self.checkpoint_label)
        lay.addWidget(self.table, 1)
        lay.addWidget(self.count_label)
        self.ops = Operations(self, self.busy, [
            self.refresh_button, self.verify_button, self.trust_button, self.export_button,
            self.apply_button, self.clear_button,
        ])
        self.ops.update()
        self._update_count()

    def _date_edit(self, name: str) -> QDateEdit:
        edit = QDateEdit()
        edit.setCalendarPopup(True)
        edit.setDisplayFormat("yyyy-MM-dd")
        edit.setMinimumDate(NO_DATE)
        edit.setSpecialValueText("Any")
        edit.setDate(NO_DATE)
        edit.setAccessibleName(name)
        return edit

    # ----- session -----------------------------------------------------------------------------

    def vault_unlocked(self, vault: Vault) -> None:
        super().vault_unlocked(vault)
        self.ops.update()
        self.model.start(vault, self.current_filter())
        self.model.set_following(self.isVisible())

    def vault_locked(self) -> None:
        super().vault_locked()
        self.model.set_following(False)
        self.model.clear()
        self.trusted_files = []
        self._show_verdict(None)
        self.ops.update()

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt API
        """While shown, the table follows the log: new events appear without Refresh."""
        super().showEvent(event)
        self.model.set_following(self.vault is not None)

    def hideEvent(self, event: QHideEvent) -> None:  # noqa: N802 - Qt API
        super().hideEvent(event)
        self.model.set_following(False)

    def focus_search(self) -> None:
        self.target.setFocus()
        self.target.selectAll()

    # ----- filters -----------------------------------------------------------------------------

    def current_filter(self) -> AuditFilter:
        frm, to = self.date_from.date(), self.date_to.date()
        return AuditFilter(
            action=self.action.currentText().strip() or None,
            target=self.target.text().strip() or None,
            outcome=self.outcome.currentData() or None,
            since=None if frm == NO_DATE else day_start_utc(frm),
            until=None if to == NO_DATE else day_start_utc(to.addDays(1)),
        )

    def apply_filters(self) -> None:
        if self.vault is not None:
            self.model.start(self.vault, self.current_filter())

    def clear_filters(self) -> None:
        self.action.setCurrentText("")
        self.target.setText("")
        self.outcome.setCurrentIndex(0)
        self.date_from.setDate(NO_DATE)
        self.date_to.setDate(NO_DATE)
        self.apply_filters()

    def _update_count(self) -> None:
        n = self.model.rowCount()
        if self.vault is None:
            text = "The vault is locked."
        elif self.model.loading:
            text = f"{plural(n, 'event')} shown; loading more…"
        elif not self.model.exhausted:
            text = f"{plural(n, 'event')} shown; scroll down for older ones."
        else:
            text = f"{plural(n, 'event')}."
        self.count_label.setText(text)

    # ----- verify and export -------------------------------------------------------------------

    def verify_chain(self) -> Task | None:
        """Walk the chain and check its checkpoints (signers trusted from the trusted files)."""
        vault, trusted = self.vault, list(self.trusted_files)
        if vault is None:
            return None
        return self.ops.run(self.verify_button, "audit.verify", "Walking the audit chain…",
                            lambda _c, _p: check_chain(vault, trusted), self._show_verdict)

    def trust_key_file(self, path: str | Path) -> Task | None:
        """Verify again, also trusting checkpoints signed by the public key in ``path``; a file
        that is not a public key is refused and not kept."""
        vault, trusted = self.vault, [*self.trusted_files, Path(path)]
        if vault is None:
            return None

        def done(check: ChainCheck) -> None:
            self.trusted_files = trusted
            self._show_verdict(check)

        return self.ops.run(self.trust_button, "audit.verify", "Walking the audit chain…",
                            lambda _c, _p: check_chain(vault, trusted), done)

    def _on_trust_clicked(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Trust checkpoints signed by this public key", str(Path.home()),
            "Public keys and certificates (*.pem *.der *.crt *.cer);;All files (*)")
        if path:
            self.trust_key_file(path)

    def _show_verdict(self, check: ChainCheck | None) -> None:
        if check is None:
            self.verify_label.setText("The chain has not been checked in this session.")
            for label in (self.verify_label, self.checkpoint_label):
                label.setProperty("role", "")
                label.setStyleSheet("")
            self.checkpoint_label.hide()
            return
        report, counts = check.chain, check.checkpoints.counts()
        dark = self.dark_theme()
        self.verify_label.setText(verify_text(report))
        self.verify_label.setProperty("role", "ok" if report.ok else "error")
        self.verify_label.setStyleSheet(
            f"color: {COLOURS[(report.ok, dark)]}; font-weight: bold;")
        # An invalid checkpoint is an integrity failure; an untrusted one is information.
        invalid = counts["invalid"] > 0
        self.checkpoint_label.setText(checkpoint_text(check))
        self.checkpoint_label.setProperty(
            "role", "error" if invalid else "ok" if check.checkpoints.results
            and check.checkpoints.ok else "")
        self.checkpoint_label.setStyleSheet(
            f"color: {COLOURS[(False, dark)]}; font-weight: bold;" if invalid else "")
        self.checkpoint_label.show()
        if not report.ok:
            self.services.status(f"The audit chain is broken at event {report.first_bad_seq}.")
        elif invalid:
            self.services.status(
                f"{plural(counts['invalid'], 'audit checkpoint')} INVALID: the audit history "
                "no longer matches what the hardware signed.")

    def export_to(self, path: str | Path, fmt: ExportFormat) -> Task | None:
        """Export the events the filters select to ``path``, newest first, and record it."""
        vault, dest, query = self.vault, Path(path), self.model.query
        if vault is None:
            return None

        def done(count: int) -> None:
            self.services.status(f"Exported {plural(count, 'audit event')} to {dest.name}.")
            self.model.refresh()  # the audit.export event

        return self.ops.run(
            self.export_button, "audit.export", "Exporting the audit log…",
            lambda cancel, progress: export_and_record(vault, query, dest, fmt, cancel, progress),
            done,
        )

    def _on_export_clicked(self) -> None:
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M")
        path, chosen = QFileDialog.getSaveFileName(
            self, "Export the audit log", str(Path.home() / f"strongroom-audit-{stamp}.jsonl"),
            ";;".join(EXPORT_FILTERS))
        if not path or self.vault is None:
            return
        dest = Path(path)
        by_suffix = {f.suffix: f for f in ExportFormat}
        fmt = by_suffix.get(dest.suffix.lower()) or EXPORT_FILTERS.get(chosen, ExportFormat.Jsonl)
        if dest.suffix.lower() != fmt.suffix:
            dest = dest.with_name(dest.name + fmt.suffix)
        self.export_to(dest, fmt)
