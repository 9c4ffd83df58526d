"""A ceremony run as the vault keeps it: its row and its hash-chained records, each appended in
its own transaction with an audit event, so a crash leaves the run at its last record and the
ceremony resumes there."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import NotFound, VaultTampered
from . import transcript

if TYPE_CHECKING:
    from ..vault.session import VaultSession

RUNNING, FINISHED, ABANDONED = "running", "finished", "abandoned"
MAX_DATA_BYTES = 64 * 1024


@dataclass(frozen=True)
class RunRow:
    id: str
    name: str
    script: str
    script_sha256: str
    roles: dict[str, list[str]]
    folder: str
    status: str
    started: str
    finished: str | None
    head: str


def insert(vault: VaultSession, row: RunRow) -> None:
    with vault._write() as conn:
        conn.execute(
            "INSERT INTO ceremonies (id, name, script, script_sha256, roles, folder, status, "
            "started, finished, head) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (row.id, row.name, row.script, row.script_sha256, json.dumps(row.roles),
             row.folder, row.status, row.started, row.finished, row.head))
        vault._event("ceremony.start", row.name, details={
            "ceremony": row.id, "script_sha256": row.script_sha256, "folder": row.folder})


def get(vault: VaultSession, ceremony_id: str) -> RunRow:
    with vault._read() as conn:
        r = conn.execute("SELECT id, name, script, script_sha256, roles, folder, status, started, "
                         "finished, head FROM ceremonies WHERE id = ?", (ceremony_id,)).fetchone()
    if r is None:
        raise NotFound(f"no ceremony {ceremony_id} in this vault")
    return RunRow(r[0], r[1], r[2], r[3], json.loads(r[4]), r[5], r[6], r[7], r[8], r[9])


def listing(vault: VaultSession) -> list[dict[str, Any]]:
    with vault._read() as conn:
        rows = conn.execute(
            "SELECT c.id, c.name, c.status, c.started, c.finished, c.folder, c.head, "
            "(SELECT count(*) FROM ceremony_records r WHERE r.ceremony_id = c.id) "
            "FROM ceremonies c ORDER BY c.started").fetchall()
    return [{"id": r[0], "name": r[1], "status": r[2], "started": r[3], "finished": r[4],
             "folder": r[5], "head": r[6], "records": r[7]} for r in rows]


def ceremony_block(vault: VaultSession, row: RunRow) -> transcript.Ceremony:
    return transcript.Ceremony.new(row.id, row.name, row.script, vault.vault_id, row.started,
                                   row.roles)


def chain(vault: VaultSession, row: RunRow) -> transcript.Chain:
    """The run's records as a chain, checked (records edited in the vault file by someone who
    holds its key are caught here, not only by a later transcript check)."""
    with vault._read() as conn:
        stored = [transcript.Record.from_json(json.loads(r[0])) for r in conn.execute(
            "SELECT record FROM ceremony_records WHERE ceremony_id = ? ORDER BY seq",
            (row.id,)).fetchall()]
    found = transcript.Chain(transcript.genesis(row.id, row.script_sha256), stored)
    bad = found.problem()
    if bad is not None:
        raise VaultTampered(f"ceremony {row.id}: {bad[1]}")
    return found


def records(vault: VaultSession, ceremony_id: str) -> list[dict[str, Any]]:
    return [r.to_json() for r in chain(vault, get(vault, ceremony_id)).records]


def store(vault: VaultSession, row: RunRow, record: transcript.Record, *,
          status: str | None = None) -> None:
    """Keep a record made on the run's chain (and, with ``status``, the run's new status) in one
    transaction with its audit event."""
    with vault._write() as conn:
        head = conn.execute("SELECT head FROM ceremonies WHERE id = ?", (row.id,)).fetchone()
        if head is None or head[0] != record.prev:
            raise VaultTampered(f"ceremony {row.id} moved on in another process; open it again")
        conn.execute("INSERT INTO ceremony_records (ceremony_id, seq, record, hash) "
                     "VALUES (?, ?, ?, ?)", (row.id, record.seq,
                                             json.dumps(record.to_json(), sort_keys=True),
                                             record.hash))
        conn.execute("UPDATE ceremonies SET head = ?, status = coalesce(?, status), "
                     "finished = CASE WHEN ? IS NULL THEN finished ELSE ? END WHERE id = ?",
                     (record.hash, status, status, vault._now(), row.id))
        vault._event(f"ceremony.{record.type.value}", row.name, details={
            "ceremony": row.id, "seq": record.seq, "step": record.step, "head": record.hash})


def append(vault: VaultSession, row: RunRow, kind: str, *, step: str | None, actor: str,
           data: Mapping[str, Any], status: str | None = None) -> dict[str, Any]:
    """Append one record to the run's chain and keep it."""
    if len(json.dumps(dict(data), sort_keys=True)) > MAX_DATA_BYTES:
        raise ValueError("a ceremony record's data is larger than 64 KiB")
    record = chain(vault, row).append(kind, ts=vault._now(), step=step, actor=actor, data=data)
    store(vault, row, record, status=status)
    return record.to_json()
