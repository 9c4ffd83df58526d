"""The audit log as a Qt table model that pages backwards through the vault on demand.

A vault can hold a million events, so the model never loads them all: it asks the runner for one
page at a time (``before_seq`` = the oldest sequence number held) whenever the view scrolls to
the end, and inserts each page with ``beginInsertRows``. A new filter or a lock bumps a
generation number so that a page still in flight for the old query is dropped on arrival.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QColor

from strongroom.app.audit import AuditEvent, VerifyReport
from strongroom.app.errors import StrongroomError, UsageError
from strongroom.app.keys import algorithms, checkpoints
from strongroom.app.keys.checkpoints import CheckpointReport, Status
from strongroom.app.model import parse_iso
from strongroom.app.vault import Vault

from ..workers import TaskRunner
from .details import readable

PAGE_SIZE = 500
FOLLOW_MS = 2000  # how often an open Audit Log looks for new events (one indexed row)
SORT_ROLE = Qt.ItemDataRole.UserRole + 1
EVENT_ROLE = Qt.ItemDataRole.UserRole + 2
_PROBLEM = QColor("#d0463b")  # readable on the light and the dark theme

Index = QModelIndex | QPersistentModelIndex
_ROOT = QModelIndex()  # the invalid index: the root of a flat table


class Column(Enum):
    Seq = "#"
    Time = "Time"
    Actor = "Actor"
    Action = "Action"
    Target = "Target"
    Outcome = "Outcome"
    Details = "Details"


COLUMNS = tuple(Column)


@dataclass(frozen=True)
class AuditFilter:
    """What the vault is asked for; empty fields match everything. Times are UTC ISO strings."""

    action: str | None = None
    target: str | None = None
    outcome: str | None = None
    since: str | None = None
    until: str | None = None

    def kwargs(self) -> dict[str, str]:
        fields = ("action", "target", "outcome", "since", "until")
        return {f: v for f in fields if (v := getattr(self, f))}


def local_time(ts: str) -> str:
    """An event's UTC timestamp as local wall-clock time, to the second."""
    try:
        return parse_iso(ts).astimezone().strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return ts


def details_text(details: dict[str, Any]) -> str:
    """The Details cell: the fields in words (the tooltip has the JSON)."""
    return readable(details)


@dataclass(frozen=True)
class ChainCheck:
    """What "Verify chain" found: the hash chain, and the hardware-signed checkpoints in it."""

    chain: VerifyReport
    checkpoints: CheckpointReport
    trusted: tuple[str, ...] = ()  # the names of the public key files trusted for this check


def read_trusted(paths: Sequence[Path]) -> list[bytes]:
    """The public keys in ``paths`` (PEM/DER, or certificates); a bad file is named."""
    keys: list[bytes] = []
    for path in paths:
        try:
            data = path.read_bytes()
            algorithms.load_public_key(data)
        except OSError as e:
            raise UsageError(f"cannot read the public key file {path.name}: {e.strerror}") from e
        except StrongroomError as e:
            raise UsageError(f"{path.name}: {e}") from e
        keys.append(data)
    return keys


def check_chain(vault: Vault, trusted: Sequence[Path] = ()) -> ChainCheck:
    """Walk the chain and check every checkpoint (runs on the worker thread). Signers are
    trusted only from ``trusted`` files: the console logs in to no token to verify."""
    keys = read_trusted(trusted)
    return ChainCheck(vault.audit_verify(),
                      checkpoints.verify_checkpoints(vault, trusted_keys=keys),
                      tuple(p.name for p in trusted))


def checkpoint_text(check: ChainCheck) -> str:
    """One line for the checkpoints, then one per invalid or untrusted checkpoint."""
    report = check.checkpoints
    if not report.results:
        return report.summary()
    c = report.counts()
    lines = [report.summary()]
    if c["untrusted"]:
        lines[0] += ("; confirm signers with `strongroom audit verify --hardware` or "
                     "Trust public key file…")
    if check.trusted:
        lines[0] += f" (trusting {', '.join(check.trusted)})"
    lines[0] += "."
    lines += [f"✘ Checkpoint event {r.event_seq} is INVALID: {r.reason}."
              for r in report.results if r.status is Status.Invalid]
    return "\n".join(lines)


def fetch_page(vault: Vault, query: AuditFilter, before_seq: int | None, limit: int) -> list[Any]:
    """One page of events older than ``before_seq`` (runs on the worker thread)."""
    return vault.audit_events(limit=limit, before_seq=before_seq, **query.kwargs())


def fetch_newer(vault: Vault, query: AuditFilter, seen_head: int | None, newest: int,
                limit: int) -> tuple[int, list[AuditEvent]]:
    """The log's head and the events matching ``query`` newer than ``newest``, newest first (runs
    on the worker thread). One indexed row when the head is still ``seen_head``."""
    head = vault.audit_events(limit=1)
    head_seq = head[0].seq if head else 0
    if head_seq == seen_head:
        return head_seq, []
    newer = [e for e in vault.audit_events(limit=limit, **query.kwargs()) if e.seq > newest]
    return head_seq, newer


class AuditTableModel(QAbstractTableModel):
    """Events newest first, fetched page by page through the task runner."""

    loading_changed = Signal(bool)
    loaded = Signal(int)  # rows held after a page arrived
    failed = Signal(object)  # the exception of a failed page

    def __init__(self, runner: TaskRunner, parent: QObject | None = None,
                 page_size: int = PAGE_SIZE) -> None:
        super().__init__(parent)
        self._runner = runner
        self._page_size = page_size
        self._vault: Vault | None = None
        self._query = AuditFilter()
        self._events: list[AuditEvent] = []
        self._exhausted = True
        self._loading = False
        self._generation = 0
        self._live = False  # a page arrived: the log may be read, so following it is safe
        self._polling = False
        self._seen_head: int | None = None
        self.follow_timer = QTimer(self)
        self.follow_timer.setInterval(FOLLOW_MS)
        self.follow_timer.timeout.connect(self.follow)

    # ----- the query ---------------------------------------------------------------------------

    @property
    def query(self) -> AuditFilter:
        return self._query

    @property
    def loading(self) -> bool:
        return self._loading

    @property
    def exhausted(self) -> bool:
        return self._exhausted

    def start(self, vault: Vault, query: AuditFilter | None = None) -> None:
        """Show ``vault``'s events matching ``query`` (default: the current one), from the top."""
        self._reset(vault, self._query if query is None else query)
        self.fetchMore(QModelIndex())

    def refresh(self) -> None:
        if self._vault is not None:
            self.start(self._vault)

    def clear(self) -> None:
        """Forget the vault and every event (on lock)."""
        self._reset(None, AuditFilter())

    def _reset(self, vault: Vault | None, query: AuditFilter) -> None:
        self._generation += 1
        self.beginResetModel()
        self._vault = vault
        self._query = query
        self._events = []
        self._exhausted = vault is None
        self._live = False
        self._polling = False
        self._seen_head = None
        self.endResetModel()
        self._set_loading(False)

    def event_at(self, row: int) -> AuditEvent:
        return self._events[row]

    # ----- lazy fetch --------------------------------------------------------------------------

    def canFetchMore(self, parent: Index = _ROOT) -> bool:  # noqa: N802 - Qt API
        return not parent.isValid() and not self._exhausted and not self._loading

    def fetchMore(self, parent: Index = _ROOT) -> None:  # noqa: N802 - Qt API
        if not self.canFetchMore(parent) or self._vault is None:
            return
        vault, query, size = self._vault, self._query, self._page_size
        before = self._events[-1].seq if self._events else None
        generation = self._generation
        self._set_loading(True)
        self._runner.submit(
            "audit.page",
            lambda _cancel, _progress: fetch_page(vault, query, before, size),
            on_success=lambda page: self._page_arrived(generation, page),
            on_error=lambda exc: self._page_failed(generation, exc),
            on_cancel=lambda: self._page_failed(generation, None),
        )

    def _page_arrived(self, generation: int, page: list[AuditEvent]) -> None:
        if generation != self._generation:
            return
        self._set_loading(False)
        self._live = True
        if len(page) < self._page_size:
            self._exhausted = True
        if page:
            first = len(self._events)
            self.beginInsertRows(QModelIndex(), first, first + len(page) - 1)
            self._events.extend(page)
            self.endInsertRows()
        self.loaded.emit(len(self._events))

    def _page_failed(self, generation: int, exc: BaseException | None) -> None:
        if generation != self._generation:
            return
        self._set_loading(False)
        self._exhausted = True  # stop the view asking again; Refresh starts over
        self._live = False  # and stop following a log that cannot be read
        if exc is not None:
            self.failed.emit(exc)

    # ----- following the log -------------------------------------------------------------------

    def set_following(self, on: bool) -> None:
        """Look for new events now and every ``FOLLOW_MS`` while ``on`` (the section shows)."""
        if on:
            self.follow_timer.start()
            self.follow()
        else:
            self.follow_timer.stop()

    def follow(self) -> bool:
        """Add the events written since the last look (by this console or another process) at
        the top; a quiet task on the runner. False when there is nothing to follow yet."""
        if not self._live or self._polling or self._loading or self._vault is None:
            return False
        vault, query, size = self._vault, self._query, self._page_size
        seen, newest = self._seen_head, self._events[0].seq if self._events else 0
        generation = self._generation
        self._polling = True
        self._runner.submit(
            "audit.follow",
            lambda _cancel, _progress: fetch_newer(vault, query, seen, newest, size),
            on_success=lambda r: self._newer_arrived(generation, *r),
            on_error=lambda exc: self._follow_failed(generation, exc),
            on_cancel=lambda: self._follow_failed(generation, None),
            quiet=True,
        )
        return True

    def _newer_arrived(self, generation: int, head: int, newer: list[AuditEvent]) -> None:
        if generation != self._generation:
            return
        self._polling = False
        self._seen_head = head
        if len(newer) >= self._page_size and self._vault is not None:
            self.start(self._vault)  # more arrived than a page: start again from the top
            return
        if newer:
            self.beginInsertRows(QModelIndex(), 0, len(newer) - 1)
            self._events[0:0] = newer
            self.endInsertRows()
            self.loaded.emit(len(self._events))

    def _follow_failed(self, generation: int, exc: BaseException | None) -> None:
        if generation != self._generation:
            return
        self._polling = False
        if exc is not None:
            self._live = False  # say it once; Refresh starts over
            self.failed.emit(exc)

    def _set_loading(self, loading: bool) -> None:
        if loading != self._loading:
            self._loading = loading
            self.loading_changed.emit(loading)

    # ----- the table ---------------------------------------------------------------------------

    def rowCount(self, parent: Index = _ROOT) -> int:  # noqa: N802 - Qt API
        return 0 if parent.isValid() else len(self._events)

    def columnCount(self, parent: Index = _ROOT) -> int:  # noqa: N802 - Qt API
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(  # noqa: N802 - Qt API
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section].value
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self._events):
            return None
        event = self._events[index.row()]
        column = COLUMNS[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(event, column)
        if role == SORT_ROLE:
            if column is Column.Seq:
                return event.seq
            return event.ts if column is Column.Time else self._display(event, column)
        if role == EVENT_ROLE:
            return event
        if role == Qt.ItemDataRole.ToolTipRole:
            if column is Column.Time:
                return f"{event.ts} (UTC)"
            if column is Column.Details:
                return json.dumps(event.details, ensure_ascii=False, sort_keys=True, indent=2)
            return None
        if role == Qt.ItemDataRole.ForegroundRole and column is Column.Outcome:
            return None if event.outcome == "ok" else _PROBLEM
        if role == Qt.ItemDataRole.TextAlignmentRole and column is Column.Seq:
            return Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        return None

    @staticmethod
    def _display(event: AuditEvent, column: Column) -> Any:
        if column is Column.Seq:
            return str(event.seq)
        if column is Column.Time:
            return local_time(event.ts)
        if column is Column.Details:
            return details_text(event.details)
        return str(getattr(event, column.name.lower()))
