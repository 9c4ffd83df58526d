"""Who can access what: per secret (that you may list) and per key or token scope, the strongest
permission each operator's live grants give, and which grant gives it."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QSplitter, QVBoxLayout, QWidget

from strongroom.app.access.grants import rank

from .data import Matrix, Snapshot
from .host import SectionHost
from .table import Cell, RowsTable

MAX_COLUMN = 300  # pixels; a longer cell is cut, its tooltip says it all
LEGEND = ("Each cell is the strongest permission the operator's live grants give "
          "(list < read < use < manage) and, in brackets, the grant scope that gives it. "
          "An empty cell: no grant covers it. Roles decide what kind of work a grant allows "
          "(secrets and keys need a Custodian role besides).")


def matrix_cells(matrix: Matrix, row: str) -> list[Cell]:
    out = [Cell(row, strong=True)]
    for column in matrix.columns:
        found = matrix.cells.get((row, column))
        if found is None:
            out.append(Cell("—", tip=f"{column} has no grant that covers {row}", muted=True))
        else:
            permission, via = found
            out.append(Cell(matrix.cell(row, column), strong=rank(permission) >= rank("read"),
                            tip=f"{column} may {permission} {row}, through the grant on {via}"))
    return out


class MatrixTab(QWidget):
    def __init__(self, section: SectionHost) -> None:
        super().__init__()
        self.section = section
        legend = QLabel(LEGEND)
        legend.setWordWrap(True)
        legend.setProperty("role", "muted")
        self.secrets_title = QLabel("<b>Secrets</b>")
        self.secrets = RowsTable(["Secret"], "Who can access each secret")
        self.secrets_note = QLabel()
        self.secrets_note.setProperty("role", "muted")
        self.keys_title = QLabel("<b>Keys and tokens named in grants</b>")
        self.keys = RowsTable(["Key or token"], "Who can use each key or token")
        self.keys_note = QLabel()
        self.keys_note.setProperty("role", "muted")
        top, bottom = QWidget(), QWidget()
        upper = QVBoxLayout(top)
        upper.setContentsMargins(0, 0, 0, 0)
        for w in (self.secrets_title, self.secrets, self.secrets_note):
            upper.addWidget(w, 1 if w is self.secrets else 0)
        lower = QVBoxLayout(bottom)
        lower.setContentsMargins(0, 6, 0, 0)
        for w in (self.keys_title, self.keys, self.keys_note):
            lower.addWidget(w, 1 if w is self.keys else 0)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(top)
        split.addWidget(bottom)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setChildrenCollapsible(False)
        lay = QVBoxLayout(self)
        lay.addWidget(legend)
        lay.addWidget(split, 1)

    def show_snapshot(self, snap: Snapshot | None) -> None:
        if snap is None:
            for table, first in ((self.secrets, "Secret"), (self.keys, "Key or token")):
                table.rows.set_headers([first])
            self.secrets_note.setText("")
            self.keys_note.setText("")
            return
        self._fill(self.secrets, "Secret", snap.secrets_matrix)
        self._fill(self.keys, "Key or token", snap.keys_matrix)
        self.secrets_note.setText(snap.secrets_matrix.note or (
            "" if snap.secrets_matrix.rows else "No secret that you may list."))
        self.keys_note.setText("" if snap.keys_matrix.rows else
                               "No grant names a key or a token.")

    def _fill(self, table: RowsTable, first: str, matrix: Matrix) -> None:
        table.rows.set_headers([first, *matrix.columns])
        table.rows.set_rows([matrix_cells(matrix, r) for r in matrix.rows], matrix.rows)
        table.resizeColumnsToContents()
        for column in range(len(matrix.columns) + 1):
            width = table.columnWidth(column) + 12
            table.setColumnWidth(column, max(110, min(width, MAX_COLUMN)))

    def cell(self, table: RowsTable, row: str, column: str) -> str:
        """The text of one cell (for tests and screen readers): row name, operator name."""
        headers = [table.rows.headerData(c, Qt.Orientation.Horizontal)
                   for c in range(table.rows.columnCount())]
        for r in range(table.rows.rowCount()):
            if table.rows.key(r) == row:
                return table.rows.text(r, headers.index(column))
        raise KeyError(row)
