"""Audit export: exact bytes, the CSV formula guard, and all-or-nothing writes."""

from __future__ import annotations

import csv
import io
import json
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from strongroom.app.audit import AuditEvent
from strongroom.app.audit_export import (
    CSV_COLUMNS,
    ExportFormat,
    csv_cell,
    export_csv,
    export_events,
    export_jsonl,
)
from strongroom.app.errors import StorageError

E1 = AuditEvent(
    seq=2, ts="2025-03-04T05:06:07.000008Z", actor="alice", action="secret.create",
    target="db/password", outcome="ok", details={"classification": "high", "version": 1},
    hash=bytes.fromhex("ab" * 32),
)
E2 = AuditEvent(
    seq=1, ts="2025-03-04T05:06:00.000000Z", actor="bob", action="secret.read",
    target="=HYPERLINK(\"http://evil\",\"café\")", outcome="denied", details={},
    hash=bytes(32),
)

JSONL = (
    '{"seq":2,"ts":"2025-03-04T05:06:07.000008Z","actor":"alice","action":"secret.create",'
    '"target":"db/password","outcome":"ok","details":{"classification":"high","version":1},'
    '"hash":"' + "ab" * 32 + '"}\n'
    '{"seq":1,"ts":"2025-03-04T05:06:00.000000Z","actor":"bob","action":"secret.read",'
    '"target":"=HYPERLINK(\\"http://evil\\",\\"café\\")","outcome":"denied","details":{},'
    '"hash":"' + "00" * 32 + '"}\n'
).encode()

CSV = (
    "seq,ts,actor,action,target,outcome,details,hash\r\n"
    "2,2025-03-04T05:06:07.000008Z,alice,secret.create,db/password,ok,"
    '"{""classification"":""high"",""version"":1}",' + "ab" * 32 + "\r\n"
    "1,2025-03-04T05:06:00.000000Z,bob,secret.read,"
    '"\'=HYPERLINK(""http://evil"",""café"")",denied,{},' + "00" * 32 + "\r\n"
).encode()


def test_jsonl_exact_bytes(tmp_path: Path) -> None:
    out = tmp_path / "audit.jsonl"
    assert export_jsonl([E1, E2], out) == 2
    assert out.read_bytes() == JSONL
    assert [json.loads(line) for line in out.read_text("utf-8").splitlines()] == [
        E1.to_json(), E2.to_json()
    ]


def test_csv_exact_bytes(tmp_path: Path) -> None:
    out = tmp_path / "audit.csv"
    assert export_csv([E1, E2], out) == 2
    assert out.read_bytes() == CSV


def test_csv_parses_back_with_the_formula_defused(tmp_path: Path) -> None:
    out = tmp_path / "audit.csv"
    export_events([E1, E2], out, ExportFormat.Csv)
    rows = list(csv.DictReader(io.StringIO(out.read_text("utf-8"), newline="")))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert rows[0]["target"] == "db/password"
    assert json.loads(rows[0]["details"]) == E1.details
    assert rows[1]["target"] == "'" + E2.target


@pytest.mark.parametrize("text", ["=1+1", "+1", "-2", "@SUM(A1)", "\tx", "\rx"])
def test_formula_cells_get_an_apostrophe(text: str) -> None:
    assert csv_cell(text) == "'" + text


@pytest.mark.parametrize("text", ["", "plain", "a=b", "1-2", "'=already", "ok"])
def test_other_cells_are_untouched(text: str) -> None:
    assert csv_cell(text) == text


def test_every_text_column_is_guarded(tmp_path: Path) -> None:
    nasty = AuditEvent(3, "=ts", "+actor", "-action", "@target", "=outcome", {}, bytes(32))
    out = tmp_path / "a.csv"
    export_csv([nasty], out)
    row = list(csv.reader(io.StringIO(out.read_text("utf-8"), newline="")))[1]
    assert row[:6] == ["3", "'=ts", "'+actor", "'-action", "'@target", "'=outcome"]


def test_jsonl_is_not_altered_by_the_guard(tmp_path: Path) -> None:
    out = tmp_path / "a.jsonl"
    export_jsonl([E2], out)
    assert json.loads(out.read_text("utf-8"))["target"] == E2.target


def test_empty_export_writes_only_the_header(tmp_path: Path) -> None:
    assert export_csv([], tmp_path / "a.csv") == 0
    assert (tmp_path / "a.csv").read_bytes() == ",".join(CSV_COLUMNS).encode() + b"\r\n"
    assert export_jsonl(iter(()), tmp_path / "a.jsonl") == 0
    assert (tmp_path / "a.jsonl").read_bytes() == b""


def test_the_file_is_private(tmp_path: Path) -> None:
    out = tmp_path / "a.jsonl"
    export_jsonl([E1], out)
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


def test_missing_directory_is_one_sentence_and_leaves_nothing(tmp_path: Path) -> None:
    out = tmp_path / "missing" / "audit.csv"
    with pytest.raises(StorageError) as err:
        export_csv([E1], out)
    assert "audit.csv" in str(err.value) and "\n" not in str(err.value)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("fmt", list(ExportFormat))
def test_a_failure_half_way_keeps_the_old_file_and_no_partial(
    tmp_path: Path, fmt: ExportFormat
) -> None:
    out = tmp_path / f"audit{fmt.suffix}"
    out.write_bytes(b"the previous export\n")

    def events() -> Iterator[AuditEvent]:
        yield E1
        raise RuntimeError("the vault locked mid-export")

    with pytest.raises(RuntimeError):
        export_events(events(), out, fmt)
    assert out.read_bytes() == b"the previous export\n"
    assert list(tmp_path.iterdir()) == [out]


def test_an_existing_file_is_replaced_whole(tmp_path: Path) -> None:
    out = tmp_path / "audit.jsonl"
    out.write_bytes(b"x" * 10_000)
    export_jsonl([E1, E2], out)
    assert out.read_bytes() == JSONL
    assert list(tmp_path.iterdir()) == [out]
