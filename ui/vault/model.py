"""The secrets table model: all metadata in memory, filtered and sorted in Python, shown lazily.

Sized for 100k secrets. The vault's metadata is loaded once by a worker (``list_secrets()``),
which also builds one case-folded haystack per row (name, tags, note, owner), the name index and
the order by name. Filtering is a list comprehension over the haystacks, run in time-boxed
steps (and over the previous matches only when a keystroke narrows them); sorting is one
``sorted`` with a precomputed key list. Both happen here, not in a ``QSortFilterProxyModel``:
the proxy calls back into Python for every row it filters and every comparison it sorts (1.1 s
to filter and 13 s to sort 100k rows, against a few ms here; tests/bench/bench_console_model.py),
and a proxy over a lazily fetched model sorts only the rows fetched so far. The view gets rows
in batches through canFetchMore/fetchMore. What a row shows is worked out in rows.py.
"""

from __future__ import annotations

import bisect
import datetime as dt
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    QTimer,
    Signal,
    Slot,
)

from strongroom.app.model import SecretInfo

from .rows import BOLD, OVERDUE, SOON, SORT_KEYS, Cells, Column, Due, Loaded, Row, haystack

Index = QModelIndex | QPersistentModelIndex

FETCH_BATCH = 500  # rows handed to the view at a time
SCAN_SLICE = 4096  # rows filtered between looks at the clock
SCAN_BUDGET_S = 0.006  # UI-thread time one filter step may take
CELL_CACHE = 2_000  # rows whose cells are kept worked out (a screenful is ~50)
INFO_ROLE = int(Qt.ItemDataRole.UserRole)  # the row's SecretInfo (made when asked)
BADGE_ROLE = INFO_ROLE + 1  # the classification's colour (the badge delegate)

_DISPLAY = int(Qt.ItemDataRole.DisplayRole)
_ACCESSIBLE = int(Qt.ItemDataRole.AccessibleTextRole)
_TOOLTIP = int(Qt.ItemDataRole.ToolTipRole)
_FOREGROUND = int(Qt.ItemDataRole.ForegroundRole)
_FONT = int(Qt.ItemDataRole.FontRole)
_ROLES = frozenset(
    (_DISPLAY, _ACCESSIBLE, _TOOLTIP, _FOREGROUND, _FONT, int(INFO_ROLE), int(BADGE_ROLE))
)
_LEVEL_COLUMN = Column.Classification.value
_HEADERS = tuple(c.header for c in Column)


class SecretsModel(QAbstractTableModel):
    """Every secret's metadata; the rows shown are the filter's matches in the sort's order.

    A filter runs in steps of at most ``SCAN_BUDGET_S`` on the UI thread: the first step runs at
    once (so the first matches show with the keystroke), the rest from the event loop, so typing
    never waits for a scan of 100k rows. ``matches_changed`` fires as matches come in.
    """

    matches_changed = Signal()

    def __init__(self, parent: Any = None, today: Callable[[], dt.date] = dt.date.today) -> None:
        super().__init__(parent)
        self._today_fn = today
        self._today = today()
        self._rows: list[Row] = []
        self._hay: list[str] = []
        self._by_name: dict[str, int] = {}
        self._name_order: list[int] | None = None  # rows by name, kept: the usual sort
        self._order: list[int] = []  # every row, in sort order
        self._visible: list[int] = []  # the rows that match the filter, in sort order
        self._base: list[int] = []  # the rows the running filter scans
        self._pos = 0  # how far into _base the scan is
        self._fetched = 0
        self._cells: dict[int, Cells] = {}
        self._terms: list[str] = []
        self._sort = (Column.Name, Qt.SortOrder.AscendingOrder)
        self._scan_timer = QTimer(self)
        self._scan_timer.setSingleShot(True)
        self._scan_timer.timeout.connect(self._continue_scan)

    # ----- loading ---------------------------------------------------------------------------

    def set_rows(self, loaded: Loaded) -> None:
        """Replace everything with ``loaded`` (keeping the filter and the sort)."""
        self.beginResetModel()
        self._today = self._today_fn()
        self._cells = {}
        self._rows = loaded.rows
        self._hay = loaded.haystacks
        self._by_name = loaded.by_name
        self._name_order = loaded.name_order
        self._order = self._sorted_order()
        self._start_scan(self._order)
        self.endResetModel()
        self._after_step()

    def clear(self) -> None:
        """Drop every row (the vault locked)."""
        self.set_rows(Loaded([], [], {}, []))

    def upsert(self, info: SecretInfo) -> None:
        """Add a secret or replace its row after an edit (names never change)."""
        row = self._by_name.get(info.name)
        infos, hay, by_name = list(self._rows), list(self._hay), dict(self._by_name)
        order = None if self._name_order is None else list(self._name_order)
        new = Row.of(info)
        if row is None:
            by_name[info.name] = len(infos)
            infos.append(new)
            hay.append(haystack(new))
            if order is not None:
                bisect.insort(order, len(infos) - 1, key=lambda n: infos[n].name.casefold())
        else:
            infos[row] = new
            hay[row] = haystack(new)
        self.set_rows(Loaded(infos, hay, by_name, order))

    def remove(self, name: str) -> None:
        row = self._by_name.get(name)
        if row is not None:
            infos = self._rows[:row] + self._rows[row + 1 :]
            hay = self._hay[:row] + self._hay[row + 1 :]
            by_name = {i.name: n for n, i in enumerate(infos)}
            order = None if self._name_order is None else [
                n - (n > row) for n in self._name_order if n != row
            ]
            self.set_rows(Loaded(infos, hay, by_name, order))

    # ----- filter and sort -------------------------------------------------------------------

    def _match(self, rows: list[int], terms: list[str]) -> list[int]:
        hay = self._hay
        for term in sorted(terms, key=len, reverse=True):  # the longest is the most selective
            rows = [n for n in rows if term in hay[n]]
        return rows

    def set_filter(self, text: str) -> None:
        """Show only rows whose name, tags, note or owner hold every word of ``text``."""
        terms = text.casefold().split()
        if terms == self._terms:
            return
        # A keystroke that only adds to the words need only search the previous matches (and
        # what the previous scan had not reached yet).
        narrows = bool(self._terms) and all(any(o in t for t in terms) for o in self._terms)
        base = self._visible + self._base[self._pos :] if narrows else self._order
        self.beginResetModel()
        self._terms = terms
        self._start_scan(base)
        self.endResetModel()
        self._after_step()

    def _start_scan(self, base: list[int]) -> None:
        """Begin filtering ``base`` (inside a model reset): the first step runs now."""
        self._scan_timer.stop()
        self._fetched = 0
        if not self._terms:
            self._visible, self._base, self._pos = list(base), [], 0
        else:
            self._visible, self._base, self._pos = [], base, 0
            self._scan(SCAN_BUDGET_S)
        self._fetched = min(FETCH_BATCH, len(self._visible))

    def _scan(self, budget: float | None) -> None:
        deadline = None if budget is None else time.perf_counter() + budget
        base, found = self._base, self._visible
        while self._pos < len(base):
            chunk = base[self._pos : self._pos + SCAN_SLICE]
            self._pos += len(chunk)
            found += self._match(chunk, self._terms)
            if deadline is not None and time.perf_counter() >= deadline:
                break
        if self._pos >= len(base):
            self._base, self._pos = [], 0

    def _after_step(self) -> None:
        if self.scanning:
            self._scan_timer.start(0)
        self.matches_changed.emit()

    @Slot()
    def _continue_scan(self) -> None:
        self._scan(SCAN_BUDGET_S)
        if self._fetched < FETCH_BATCH:
            self._fetch_to(FETCH_BATCH)
        self._after_step()

    def finish_scan(self) -> None:
        """Complete a running filter now (before a sort, or to find a row)."""
        if self.scanning:
            self._scan_timer.stop()
            self._scan(None)
            if self._fetched < FETCH_BATCH:
                self._fetch_to(FETCH_BATCH)
            self.matches_changed.emit()

    def _sorted_order(self) -> list[int]:
        column, order = self._sort
        descending = order == Qt.SortOrder.DescendingOrder
        if column is Column.Name and self._name_order is not None:  # unique names: no ties
            return self._name_order[::-1] if descending else list(self._name_order)
        keys = list(map(SORT_KEYS[column], self._rows))
        ordered = sorted(range(len(keys)), key=keys.__getitem__, reverse=descending)
        if column is Column.Name:
            self._name_order = ordered[::-1] if descending else list(ordered)
        return ordered

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        if not 0 <= column < len(Column) or (Column(column), order) == self._sort:
            return
        self.finish_scan()
        self.layoutAboutToBeChanged.emit()
        persistent = self.persistentIndexList()
        held = [self._visible[p.row()] for p in persistent]
        self._sort = (Column(column), order)
        self._order = self._sorted_order()
        visible = set(self._visible)
        self._visible = [n for n in self._order if n in visible]
        # The selection follows its rows; a row now past the fetched batch drops out of it.
        where = {n: row for row, n in enumerate(self._visible[: self._fetched])}
        self.changePersistentIndexList(persistent, [
            self.index(where[n], p.column()) if n in where else QModelIndex()
            for p, n in zip(persistent, held, strict=True)
        ])
        self.layoutChanged.emit()

    # ----- questions -------------------------------------------------------------------------

    @property
    def total(self) -> int:
        return len(self._rows)

    @property
    def matches(self) -> int:
        """Rows that match the filter (so far, while :attr:`scanning`)."""
        return len(self._visible)

    @property
    def scanning(self) -> bool:
        return bool(self._base)

    def info(self, row: int) -> SecretInfo | None:
        return self._rows[self._visible[row]].info() if 0 <= row < self._fetched else None

    def row_of(self, name: str) -> int | None:
        """The row showing ``name`` (fetching up to it), or None if the filter hides it."""
        target = self._by_name.get(name)
        if target is None:
            return None
        self.finish_scan()
        if target not in self._visible:
            return None
        row = self._visible.index(target)
        self._fetch_to(row + 1)
        return row

    # ----- Qt model interface ----------------------------------------------------------------

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802, B008 - Qt API
        return 0 if parent.isValid() else self._fetched

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802, B008 - Qt API
        return 0 if parent.isValid() else len(Column)

    def canFetchMore(self, parent: Index = QModelIndex()) -> bool:  # noqa: N802, B008 - Qt API
        return not parent.isValid() and self._fetched < len(self._visible)

    def fetchMore(self, parent: Index = QModelIndex()) -> None:  # noqa: N802, B008 - Qt API
        if not parent.isValid():
            self._fetch_to(self._fetched + FETCH_BATCH)

    def _fetch_to(self, count: int) -> None:
        count = min(count, len(self._visible))
        if count > self._fetched:
            self.beginInsertRows(QModelIndex(), self._fetched, count - 1)
            self._fetched = count
            self.endInsertRows()

    def headerData(  # noqa: N802 - Qt API
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return _HEADERS[section] if 0 <= section < len(_HEADERS) else None
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        # Called several times per visible cell on every repaint: unasked roles return first.
        if role not in _ROLES or not index.isValid() or index.row() >= self._fetched:
            return None
        n = self._visible[index.row()]
        column = index.column()
        if role == INFO_ROLE:
            return self._rows[n].info()
        row = self._cells.get(n) or self._cell_row(n)
        if role in (_DISPLAY, _ACCESSIBLE):
            return row.texts[column]
        if role == _TOOLTIP:
            return row.tooltips[column]
        if role == BADGE_ROLE:
            return row.badge if column == _LEVEL_COLUMN else None
        state = row.due[column]
        if state is Due.Overdue:
            return OVERDUE if role == _FOREGROUND else BOLD
        if state is Due.Soon and role == _FOREGROUND:
            return SOON
        return None

    def _cell_row(self, n: int) -> Cells:
        cells = Cells.of(self._rows[n], self._today)
        if len(self._cells) > CELL_CACHE:
            self._cells.clear()
        self._cells[n] = cells
        return cells
