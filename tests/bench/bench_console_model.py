"""Console secrets-table benchmark: population and filter-as-you-type at 10k and 100k rows.

Not part of the pass/fail suite (pytest collects only test_*.py). Run it by hand:

    .venv/bin/python tests/bench/bench_console_model.py               # 10k and 100k rows
    .venv/bin/python tests/bench/bench_console_model.py --vault       # also list_secrets() on
                                                                      # real SQCipher vaults
    .venv/bin/python tests/bench/bench_console_model.py --proxy       # also QSortFilterProxyModel

Per keystroke it reports the UI-thread time (filter step + a synchronous repaint of the visible
table, as a user sees it) and the time until the match count is complete; the goal is 30 ms a
keystroke at 100k rows. It prints figures and asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QSortFilterProxyModel, Qt
from PySide6.QtWidgets import QApplication, QTableView

from strongroom.app.model import SecretInfo
from strongroom.ui.vault.model import Column, Loaded, SecretsModel

sys.path.insert(0, str(Path(__file__).parent))
from bench_vault import SELECTIVE_TERM, make_vault, secrets_for

KEYSTROKE_GOAL_MS = 30.0
NOW = "2024-06-01T12:00:00.000000Z"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:7.1f} ms"


def synthetic_infos(n: int) -> list[SecretInfo]:
    """What list_secrets() returns for bench_vault's data set, without building the vault."""
    rows = [
        SecretInfo(i + 1, s.name, s.classification, s.owner or "", s.note, tuple(sorted(s.tags)),
                   NOW, NOW, "2024-01-01" if i % 9 == 0 else None,
                   "2030-01-01" if i % 4 == 0 else None, 1)
        for i, s in enumerate(secrets_for(n))
    ]
    rows.sort(key=lambda r: r.name)
    return rows


def vault_infos(n: int, root: Path) -> tuple[list[SecretInfo], float]:
    vault = make_vault(root / f"v{n}")
    try:
        vault.add_secrets(secrets_for(n))
        t0 = time.perf_counter()
        infos = vault.list_secrets()
        return infos, time.perf_counter() - t0
    finally:
        vault.lock()


def keystrokes(query: str) -> list[str]:
    """The filter texts a user produces typing ``query``, then deleting 3 chars, then clearing."""
    typed = [query[: i + 1] for i in range(len(query))]
    return [*typed, query[:-1], query[:-2], query[:-3], ""]


class PlainModel(QAbstractTableModel):
    """The simplest Python model over the same rows, for the QSortFilterProxyModel comparison."""

    def __init__(self, infos: list[SecretInfo]) -> None:
        super().__init__()
        self.infos = infos

    def rowCount(self, parent: Any = QModelIndex()) -> int:  # noqa: B008 - Qt API
        return 0 if parent.isValid() else len(self.infos)

    def columnCount(self, parent: Any = QModelIndex()) -> int:  # noqa: B008 - Qt API
        return 0 if parent.isValid() else len(Column)

    def data(self, index: Any, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and index.column() == 0:
            return self.infos[index.row()].name
        return None


def timed(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def bench(n: int, app: QApplication, use_vault: bool, proxy: bool, root: Path) -> None:
    print(f"\n== {n:,} secrets ==")
    if use_vault:
        infos, listed = vault_infos(n, root)
        print(f"list_secrets() on a real vault (worker) {ms(listed)}")
    else:
        infos = synthetic_infos(n)
    build = timed(lambda: Loaded.build(infos))
    loaded = Loaded.build(infos)
    print(f"Loaded.build: haystacks (worker)        {ms(build)}")

    model = SecretsModel()
    view = QTableView()
    view.setModel(model)
    view.verticalHeader().hide()
    view.resize(1100, 640)
    view.show()
    app.processEvents()
    t0 = time.perf_counter()
    model.set_rows(loaded)
    t1 = time.perf_counter()
    view.viewport().repaint()
    t2 = time.perf_counter()
    print(f"set_rows (UI thread)                    {ms(t1 - t0)}")
    print(f"set_rows + first paint (UI thread)      {ms(t2 - t0)}")

    query = f"{SELECTIVE_TERM.lower()} prod"
    ui_times: list[float] = []
    step_times: list[float] = []
    done_times: list[float] = []
    print(f"typing {query!r}, 3 backspaces, clear:")
    for text in [*keystrokes(query), "zzzz", ""]:
        t0 = time.perf_counter()
        model.set_filter(text)
        t1 = time.perf_counter()
        view.viewport().repaint()
        ui = time.perf_counter() - t0
        while model.scanning:
            app.processEvents()
        done = time.perf_counter() - t0
        ui_times.append(ui)
        step_times.append(t1 - t0)
        done_times.append(done)
        print(f"  {text!r:18} keystroke {ms(ui)} (filter {ms(t1 - t0)})  "
              f"complete {ms(done)}  {model.matches:>7,} rows")
    print(f"keystroke (UI thread): median {ms(statistics.median(ui_times))}, "
          f"max {ms(max(ui_times))}; goal {KEYSTROKE_GOAL_MS:.0f} ms")
    print(f"  of which filtering:  median {ms(statistics.median(step_times))}, "
          f"max {ms(max(step_times))}; the rest is the repaint")
    print(f"complete filter:       median {ms(statistics.median(done_times))}, "
          f"max {ms(max(done_times))}")
    order = list(range(n))
    for term in ("c", "zzzz", SELECTIVE_TERM.lower()):
        raw = timed(lambda t=term: model._match(order, [t]))
        print(f"one unsliced scan of every row for {term!r:12} {ms(raw)}")
    for column, order_ in ((Column.Name, Qt.SortOrder.DescendingOrder),
                           (Column.Classification, Qt.SortOrder.AscendingOrder),
                           (Column.Name, Qt.SortOrder.AscendingOrder)):
        t = timed(lambda c=column, o=order_: model.sort(c.value, o))
        print(f"sort by {column.name} {order_.name:16}        {ms(t)}")
    view.close()

    if proxy:
        plain = PlainModel(infos)
        filt = QSortFilterProxyModel()
        filt.setSourceModel(plain)
        filt.setFilterKeyColumn(0)
        filt.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        filt.rowCount()
        t = timed(lambda: (filt.setFilterFixedString(SELECTIVE_TERM[:4]), filt.rowCount()))
        print(f"QSortFilterProxyModel filter, names only {ms(t)} (one keystroke)")
        filt.setFilterFixedString("")
        t = timed(lambda: filt.sort(0, Qt.SortOrder.DescendingOrder))
        print(f"QSortFilterProxyModel sort by name      {ms(t)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--vault", action="store_true", help="list_secrets() on real vaults")
    parser.add_argument("--proxy", action="store_true", help="time QSortFilterProxyModel too")
    args = parser.parse_args()
    app = QApplication.instance() or QApplication([])
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, "
          f"platform {QApplication.platformName()}")
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            bench(n, app, args.vault, args.proxy, Path(tmp))


if __name__ == "__main__":
    main()
