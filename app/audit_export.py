"""Write audit events to a JSON-lines or CSV file, atomically, in the order they are given.

JSON lines is the lossless format: one ``AuditEvent.to_json()`` object per line, compact, UTF-8.
CSV is for spreadsheets: a text cell that starts with ``= + - @`` (or a tab or carriage return)
gets a leading apostrophe, so a secret named ``=HYPERLINK(...)`` cannot become a formula.
Either file appears whole or not at all: it is written to a hidden sibling, flushed to disk and
renamed over the destination; on any failure, including the events running dry with an error
half-way, the sibling is removed and nothing is left behind.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import secrets
from collections.abc import Callable, Iterable, Iterator
from enum import Enum
from pathlib import Path
from typing import IO

from .audit import AuditEvent
from .fsutil import fsync_dir, storage_error

CSV_COLUMNS = ("seq", "ts", "actor", "action", "target", "outcome", "details", "hash")
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


class ExportFormat(Enum):
    Jsonl = "jsonl"
    Csv = "csv"

    @property
    def suffix(self) -> str:
        return "." + self.value


def jsonl_line(event: AuditEvent) -> str:
    """One event as a compact JSON object and a newline."""
    return json.dumps(event.to_json(), ensure_ascii=False, separators=(",", ":")) + "\n"


def csv_cell(text: str) -> str:
    """``text`` made inert for spreadsheets: a would-be formula gets a leading apostrophe."""
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def csv_row(event: AuditEvent) -> list[str | int]:
    details = json.dumps(event.details, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    texts = (event.ts, event.actor, event.action, event.target, event.outcome, details)
    return [event.seq, *(csv_cell(t) for t in texts), event.hash.hex()]


def export_jsonl(events: Iterable[AuditEvent], path: Path) -> int:
    """Write ``events`` to ``path`` as JSON lines; returns how many were written."""

    def write(out: IO[str]) -> int:
        count = 0
        for event in events:
            out.write(jsonl_line(event))
            count += 1
        return count

    return _atomic_text(Path(path), write)


def export_csv(events: Iterable[AuditEvent], path: Path) -> int:
    """Write ``events`` to ``path`` as CSV (RFC 4180, header row); returns how many were written."""

    def write(out: IO[str]) -> int:
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(CSV_COLUMNS)
        count = 0
        for event in events:
            writer.writerow(csv_row(event))
            count += 1
        return count

    return _atomic_text(Path(path), write)


def export_events(events: Iterable[AuditEvent], path: Path, fmt: ExportFormat) -> int:
    writer = export_jsonl if fmt is ExportFormat.Jsonl else export_csv
    return writer(events, path)


def _atomic_text(path: Path, write: Callable[[IO[str]], int]) -> int:
    """Run ``write`` on a hidden sibling of ``path``, then rename it over ``path``."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        with _new_text_file(tmp) as out:
            count = write(out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
        fsync_dir(path.parent)
    except BaseException as e:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(e, OSError):
            raise storage_error(e, path.name) from e
        raise
    return count


@contextlib.contextmanager
def _new_text_file(path: Path) -> Iterator[IO[str]]:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
        yield out


__all__ = [
    "CSV_COLUMNS",
    "ExportFormat",
    "csv_cell",
    "export_csv",
    "export_events",
    "export_jsonl",
]
