"""A small PDF report writer: title, summary fields, headings, paragraphs and tables on A4 pages.

Plain PDF 1.4 with the standard Helvetica fonts (not embedded) in WinAnsiEncoding, so it needs no
third-party library. Text is made safe as :mod:`.pdf_text` describes: characters WinAnsi cannot
show (Cyrillic, CJK, emoji) print as ``?``; control, zero-width and bidi-override characters are
dropped; nothing a caller passes can become a PDF operator. The same calls give the same bytes:
the only time in the file is ``generated``, also set as /CreationDate when it is ISO 8601.

Usage::

    report = PdfReport("Access review", generated="2025-03-04T05:06:07Z")
    report.fields([("Vault", "prod"), ("Reviewer", "alice")])
    report.heading("Grants")
    report.table(["Principal", "Secret", "Role"], [["bob", "db/password", "reader"]])
    report.save(Path("review.pdf"))
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..fsutil import atomic_write
from .pdf_file import PAGE_HEIGHT, PAGE_WIDTH, assemble, number
from .pdf_text import Font, pdf_string, truncate, width, winansi, wrap

__all__ = ["PdfReport"]

MARGIN = 50.0
USABLE_WIDTH = PAGE_WIDTH - 2 * MARGIN
TOP = PAGE_HEIGHT - MARGIN
BOTTOM = 64.0  # the lowest a line of body text may reach; the footer sits below it
FOOTER_Y = 36.0
LEADING = 1.25  # line height, as a multiple of the type size
BASELINE = 0.93  # from the top of a line box down to its baseline, in type sizes

TITLE_SIZE, HEADING_SIZE, BODY_SIZE, SMALL_SIZE, FOOTER_SIZE = 18.0, 13.0, 10.0, 9.0, 8.0  # points
CELL_PAD_X, CELL_PAD_Y = 4.0, 3.0
MAX_HEADER_LINES = 4  # a table's header row is cut to this many lines, so it always leaves room


@dataclass(frozen=True)
class _Grid:
    """Where a run of rows is set: column left edges and widths, type size, padding, rules."""

    xs: tuple[float, ...]
    widths: tuple[float, ...]
    size: float
    pad_x: float = 0.0
    pad_y: float = 0.0
    ruled: bool = False

    @property
    def lead(self) -> float:
        return self.size * LEADING

    def height(self, lines: int) -> float:
        return lines * self.lead + 2 * self.pad_y

    def wrap(self, column: int, text: str, font: Font) -> tuple[bytes, ...]:
        return tuple(wrap(text, font, self.size, self.widths[column] - 2 * self.pad_x))


@dataclass(frozen=True)
class _Row:
    """One row of a grid: the wrapped lines of each of its cells, and each cell's font."""

    cells: tuple[tuple[bytes, ...], ...]
    fonts: tuple[Font, ...]
    shaded: bool = False

    @property
    def lines(self) -> int:
        return max(1, *(len(c) for c in self.cells))


def _one_column(size: float, text: str, font: Font) -> tuple[_Grid, _Row]:
    grid = _Grid((MARGIN,), (USABLE_WIDTH,), size)
    return grid, _Row((grid.wrap(0, text, font),), (font,))


class PdfReport:
    """A report built top to bottom by calls in reading order, then written with :meth:`save`."""

    def __init__(self, title: str, *, generated: str) -> None:
        self.title = title
        self.generated = generated
        self._pages: list[list[bytes]] = []
        self._y = TOP
        self._fresh = True  # nothing on this page yet but a repeated table header
        self._new_page()
        self._place(*_one_column(TITLE_SIZE, title, Font.Bold), keep_whole=False)
        self._place(*_one_column(SMALL_SIZE, f"Generated: {generated}", Font.Regular))
        self._gap(14)

    # ----- the building calls ------------------------------------------------------------------

    def heading(self, text: str) -> None:
        """A section heading, kept on the same page as the first lines after it."""
        self._gap(8)
        self._place(*_one_column(HEADING_SIZE, text, Font.Bold), keep_with=3 * BODY_SIZE * LEADING)
        self._gap(4)

    def paragraph(self, text: str) -> None:
        """Body text, word-wrapped; a line break in ``text`` starts a new line."""
        self._place(*_one_column(BODY_SIZE, text, Font.Regular), keep_whole=False)
        self._gap(6)

    def fields(self, pairs: Sequence[tuple[str, str]]) -> None:
        """Summary lines, ``key: value``, the keys in bold and the values aligned beside them."""
        keys = [f"{key}:" for key, _ in pairs]
        widest = max((width(winansi(k), Font.Bold, BODY_SIZE) for k in keys), default=0.0)
        key_w = min(widest + 8, 0.4 * USABLE_WIDTH)
        grid = _Grid((MARGIN, MARGIN + key_w), (key_w - 8, USABLE_WIDTH - key_w), BODY_SIZE)
        for key, (_, value) in zip(keys, pairs, strict=True):
            cells = (grid.wrap(0, key, Font.Bold), grid.wrap(1, value, Font.Regular))
            self._place(grid, _Row(cells, (Font.Bold, Font.Regular)))
        self._gap(6)

    def table(
        self,
        headers: Sequence[str],
        rows: Sequence[Sequence[str]],
        widths: Sequence[float] | None = None,
    ) -> None:
        """A ruled table; ``widths`` are relative column weights (equal if None). Cells wrap in
        their column; a page break repeats the header row, and a row taller than a page is split.

        Raises ValueError if there are no headers, a row has a different number of cells, or
        ``widths`` does not give one positive weight per column."""
        n = len(headers)
        if n == 0:
            raise ValueError("a table needs at least one column")
        weights = [1.0] * n if widths is None else [float(w) for w in widths]
        if len(weights) != n or not all(math.isfinite(w) and w > 0 for w in weights):
            raise ValueError(f"widths must be {n} positive numbers, got {list(widths or [])}")
        for i, row in enumerate(rows):
            if len(row) != n:
                raise ValueError(f"row {i} has {len(row)} cells, the table has {n} columns")
        scaled = [w / max(weights) for w in weights]  # no overflow to inf when summed
        col_w = tuple(USABLE_WIDTH * w / sum(scaled) for w in scaled)
        xs = tuple(MARGIN + sum(col_w[:i]) for i in range(n))
        grid = _Grid(xs, col_w, SMALL_SIZE, CELL_PAD_X, CELL_PAD_Y, ruled=True)
        header = _Row(
            tuple(self._header_cell(grid, i, h) for i, h in enumerate(headers)),
            (Font.Bold,) * n,
            shaded=True,
        )
        self._place(grid, header, keep_with=grid.height(1))
        for row in rows:
            cells = tuple(grid.wrap(i, cell, Font.Regular) for i, cell in enumerate(row))
            self._place(grid, _Row(cells, (Font.Regular,) * n), header=header)
        self._gap(10)

    # ----- output ------------------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        """The whole report as a PDF file; the report can still be added to afterwards."""
        total = len(self._pages)
        footer_text = winansi(f"{self.title} \u2014 generated {self.generated}")
        streams = []
        for number_, ops in enumerate(self._pages, start=1):
            label = winansi(f"Page {number_} of {total}")
            label_w = width(label, Font.Regular, FOOTER_SIZE)
            left = truncate(footer_text, Font.Regular, FOOTER_SIZE, USABLE_WIDTH - label_w - 18)
            footer = [
                b"%s %s m %s %s l S" % (
                    number(MARGIN), number(FOOTER_Y + 11),
                    number(PAGE_WIDTH - MARGIN), number(FOOTER_Y + 11),
                ),
                self._text(Font.Regular, FOOTER_SIZE, MARGIN, FOOTER_Y, left),
                self._text(
                    Font.Regular, FOOTER_SIZE, PAGE_WIDTH - MARGIN - label_w, FOOTER_Y, label
                ),
            ]
            streams.append(b"\n".join([*ops, *footer]) + b"\n")
        return assemble(streams, title=self.title, generated=self.generated)

    def save(self, path: Path | str) -> None:
        """Write the report to ``path`` atomically, owner-only: reports name people and access."""
        atomic_write(Path(path), self.to_bytes())

    # ----- layout ------------------------------------------------------------------------------

    @staticmethod
    def _header_cell(grid: _Grid, column: int, text: str) -> tuple[bytes, ...]:
        lines = grid.wrap(column, text, Font.Bold)
        if len(lines) <= MAX_HEADER_LINES:
            return lines
        limit = grid.widths[column] - 2 * grid.pad_x
        last = truncate(lines[MAX_HEADER_LINES - 1] + b" \x85", Font.Bold, grid.size, limit)
        return (*lines[: MAX_HEADER_LINES - 1], last)

    @staticmethod
    def _text(font: Font, size: float, x: float, y: float, data: bytes) -> bytes:
        return b"BT /%s %s Tf %s %s Td %s Tj ET" % (
            font.value.encode(), number(size), number(x), number(y), pdf_string(data),
        )

    def _new_page(self) -> None:
        self._pages.append([b"0.5 w 0.6 G"])  # the stroke used by rules and cell borders
        self._y = TOP
        self._fresh = True

    def _gap(self, points: float) -> None:
        if not self._fresh:
            self._y -= points

    def _place(
        self,
        grid: _Grid,
        row: _Row,
        *,
        header: _Row | None = None,
        keep_whole: bool = True,
        keep_with: float = 0.0,
    ) -> None:
        """Set ``row`` at the cursor, going on to new pages (with ``header`` repeated) as needed.

        A ``keep_whole`` row moves to the next page rather than split, unless it is taller than a
        page; ``keep_with`` is room to leave below the row for what must follow it."""
        done, total = 0, row.lines
        header_h = grid.height(header.lines) if header else 0.0
        while done < total:
            rest = total - done
            room = self._y - BOTTOM
            fits = min(rest, int((room - 2 * grid.pad_y) // grid.lead))
            if room + 1e-6 >= grid.height(rest) + keep_with:
                take = rest
            elif self._fresh:
                take = max(1, fits)  # an empty page always takes a line, so layout ends
            elif keep_whole and grid.height(rest) + header_h + keep_with <= TOP - BOTTOM:
                take = 0
            else:
                take = fits if fits >= 2 else 0
            if take:
                self._draw(grid, row, done, done + take)
                self._fresh = False
                done += take
            if done < total:
                self._new_page()
                if header is not None:
                    self._draw(grid, header, 0, header.lines)

    def _draw(self, grid: _Grid, row: _Row, start: int, end: int) -> None:
        """Draw lines ``start:end`` of every cell of ``row`` and move the cursor below them."""
        ops, top = self._pages[-1], self._y
        h = grid.height(end - start)
        if row.shaded:
            ops.append(b"0.9 g %s %s %s %s re f 0 g" % (
                number(grid.xs[0]), number(top - h), number(sum(grid.widths)), number(h),
            ))
        for x, w, font, lines in zip(grid.xs, grid.widths, row.fonts, row.cells, strict=True):
            for i, line in enumerate(lines[start:end]):
                baseline = top - grid.pad_y - i * grid.lead - BASELINE * grid.size
                if line:
                    ops.append(self._text(font, grid.size, x + grid.pad_x, baseline, line))
            if grid.ruled:
                ops.append(b"%s %s %s %s re S" % (number(x), number(top - h), number(w), number(h)))
        self._y = top - h
