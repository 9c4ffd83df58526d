"""The append-only, hash-chained audit log kept inside the vault.

Each event's hash is SHA-256(previous hash || canonical event); the first event chains from a
genesis value bound to the vault id. The canonical event is the compact JSON array
``[seq,"ts","actor","action","target","outcome","details"]`` in UTF-8 (see ``event_bytes``).
The head (sequence + hash) is also kept in the MAC'd header (the anchor), so deleting the newest
rows or restoring an old database is detected. Events hold who did what to which named thing and
how it ended; never a secret value.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from enum import Enum
from json.encoder import encode_basestring as _json_string
from typing import Any

import sqlcipher3

from .crypto import canonical_json
from .database import translated
from .header import AuditAnchor

_SELECT = "SELECT seq, ts, actor, action, target, outcome, details, hash FROM audit"
# The canonical event as SQLite's json_array builds it: byte for byte event_bytes for a row of an
# integer and strings (tests/test_audit.py holds the two equal on awkward text), so the stored
# fields are hashed as they come, with no Python object per field. A row it does not match sends
# verify down the Python path, which is the definition and names what is wrong.
_SELECT_CANONICAL = (
    "SELECT CAST(json_array(seq, ts, actor, action, target, outcome, details) AS BLOB), hash "
    "FROM audit ORDER BY seq"
)
_BATCH = 16384  # rows per fetch
_INSERT = (
    "INSERT INTO audit (seq, ts, actor, action, target, outcome, details, hash) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)


class Outcome(Enum):
    Ok = "ok"
    Failed = "failed"
    Denied = "denied"


class AnchorStatus(Enum):
    Match = "match"  # the anchor is the chain head
    ChainAhead = "chain-ahead"  # events after the anchor: a crash between the two writes
    Missing = "missing"  # the header holds no anchor
    RolledBack = "rolled-back"  # the anchor is beyond the chain: rows deleted or old database
    Mismatch = "mismatch"  # the chain at the anchor's sequence has another hash


@dataclass(frozen=True)
class AuditEvent:
    seq: int
    ts: str
    actor: str
    action: str
    target: str
    outcome: str
    details: dict[str, Any]
    hash: bytes

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "ts": self.ts,
            "actor": self.actor,
            "action": self.action,
            "target": self.target,
            "outcome": self.outcome,
            "details": self.details,
            "hash": self.hash.hex(),
        }


@dataclass(frozen=True)
class VerifyReport:
    ok: bool
    events: int
    head: AuditAnchor | None
    anchor: AnchorStatus
    first_bad_seq: int | None = None
    reason: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "events": self.events,
            "head_seq": None if self.head is None else self.head.seq,
            "head_hash": None if self.head is None else self.head.hash.hex(),
            "anchor": self.anchor.value,
            "first_bad_seq": self.first_bad_seq,
            "reason": self.reason,
        }


def genesis(vault_id: str) -> bytes:
    return hashlib.sha256(b"strongroom/v1/audit-genesis\x00" + vault_id.encode()).digest()


def event_bytes(
    seq: int, ts: str, actor: str, action: str, target: str, outcome: str, details: str
) -> bytes:
    """The canonical encoding hashed into the chain (a JSON array; ``details`` already canonical).

    Byte for byte ``json.dumps([seq, ts, ...], ensure_ascii=False, separators=(",", ":"))`` in
    UTF-8, built with the json module's own string encoder: json.dumps costs 4x more per event.
    """
    if type(seq) is not int:  # json spells bool and other int subclasses its own way
        return _json_array(seq, ts, actor, action, target, outcome, details)
    q = _json_string
    try:
        text = f"[{seq},{q(ts)},{q(actor)},{q(action)},{q(target)},{q(outcome)},{q(details)}]"
    except TypeError:  # a field that is not a string: json.dumps encodes it or raises
        return _json_array(seq, ts, actor, action, target, outcome, details)
    return text.encode()


def _json_array(*fields: Any) -> bytes:
    return json.dumps(list(fields), ensure_ascii=False, separators=(",", ":")).encode()


def chain_hash(prev: bytes, payload: bytes) -> bytes:
    return hashlib.sha256(prev + payload).digest()


class AuditLog:
    """Reads and appends audit events on an open vault connection."""

    def __init__(self, conn: Any, vault_id: str) -> None:
        self._conn = conn
        self._genesis = genesis(vault_id)

    def head(self) -> AuditAnchor | None:
        with translated():
            row = self._conn.execute(
                "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1"
            ).fetchone()
        return None if row is None else AuditAnchor(row[0], bytes(row[1]))

    def hash_at(self, seq: int) -> bytes | None:
        """The hash of event ``seq``, or None if the log holds no such event."""
        with translated():
            row = self._conn.execute("SELECT hash FROM audit WHERE seq = ?", (seq,)).fetchone()
        return None if row is None else bytes(row[0])

    def append(
        self,
        *,
        ts: str,
        actor: str,
        action: str,
        target: str,
        outcome: Outcome,
        details: dict[str, Any] | None = None,
    ) -> AuditAnchor:
        """Append one event inside the caller's write transaction, so it commits with the change."""
        head = self.head()
        seq, prev = (1, self._genesis) if head is None else (head.seq + 1, head.hash)
        details_text = canonical_json(details or {}).decode()
        digest = chain_hash(
            prev, event_bytes(seq, ts, actor, action, target, outcome.value, details_text)
        )
        with translated():
            self._conn.execute(
                _INSERT,
                (seq, ts, actor, action, target, outcome.value, details_text, digest),
            )
        return AuditAnchor(seq, digest)

    def events(
        self,
        *,
        limit: int | None = None,
        action: str | None = None,
        target: str | None = None,
        outcome: str | None = None,
        since: str | None = None,
        until: str | None = None,
        before_seq: int | None = None,
    ) -> list[AuditEvent]:
        """Newest first, filtered on indexed columns; ``before_seq`` pages back through the log."""
        where: list[str] = []
        args: list[Any] = []
        for column, value in (("action", action), ("target", target), ("outcome", outcome)):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        if since is not None:
            where.append("ts >= ?")
            args.append(since)
        if until is not None:
            where.append("ts < ?")
            args.append(until)
        if before_seq is not None:
            where.append("seq < ?")
            args.append(before_seq)
        sql = _SELECT
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY seq DESC"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit)
        with translated():
            rows = self._conn.execute(sql, args).fetchall()
        return [
            AuditEvent(r[0], r[1], r[2], r[3], r[4], r[5], json.loads(r[6]), bytes(r[7]))
            for r in rows
        ]

    def verify(self, anchor: AuditAnchor | None) -> VerifyReport:
        """Walk the whole chain; report the first bad sequence number and the anchor's state."""
        fast = self._walk_fast(anchor)
        walked = fast if fast is not None else self._walk(anchor)
        if isinstance(walked, VerifyReport):
            return walked
        return _judge(anchor, *walked)

    def _walk_fast(self, anchor: AuditAnchor | None) -> tuple[int, bytes, bytes | None] | None:
        """The chain over SQLite-built events in one read snapshot: (count, head hash, the hash
        at the anchor's sequence), or None at the first thing that differs (seq not 1..N, a hash
        that does not match, a field json_array refuses): then :meth:`_walk` finds and names it."""
        prev, count = self._genesis, 0
        anchor_seq = -1 if anchor is None else anchor.seq
        anchor_hash: bytes | None = None
        sha256 = hashlib.sha256
        conn = self._conn
        own = not conn.in_transaction
        try:
            if own:
                conn.execute("BEGIN")  # the bounds and the rows from one snapshot
            try:
                low, high = conn.execute("SELECT min(seq), max(seq) FROM audit").fetchone()
                cursor = conn.execute(_SELECT_CANONICAL)
                while rows := cursor.fetchmany(_BATCH):
                    for payload, digest in rows:
                        prev = sha256(prev + payload).digest()
                        if prev != digest:
                            return None
                    if count < anchor_seq <= count + len(rows):
                        anchor_hash = rows[anchor_seq - count - 1][1]
                    count += len(rows)
            finally:
                if own:
                    conn.execute("COMMIT")
        except sqlcipher3.Error:
            # A field json_array cannot hold (a BLOB), or a damaged page: the Python path
            # judges the first and reports the second as it always did.
            return None
        if count and (low != 1 or high != count):
            return None  # unique seqs in 1..N, N of them: exactly 1..N, in order
        return count, prev, anchor_hash

    def _walk(self, anchor: AuditAnchor | None) -> VerifyReport | tuple[int, bytes, bytes | None]:
        """The chain event by event in Python: the first missing or modified event as a failed
        report, else (count, head hash, the hash at the anchor's sequence)."""
        prev = self._genesis
        expected_seq = 1
        anchor_seq = -1 if anchor is None else anchor.seq
        anchor_hash_seen: bytes | None = None
        sha256, encode = hashlib.sha256, event_bytes  # chain_hash inlined: ~1M calls
        with translated():
            cursor = self._conn.execute(_SELECT + " ORDER BY seq")
            while rows := cursor.fetchmany(4096):
                for seq, ts, actor, action, target, outcome, details, digest in rows:
                    if seq != expected_seq:
                        return VerifyReport(
                            False, expected_seq - 1, _head(expected_seq - 1, prev),
                            AnchorStatus.Mismatch, expected_seq, f"event {expected_seq} is missing",
                        )
                    try:
                        payload = encode(seq, ts, actor, action, target, outcome, details)
                    except TypeError:  # a field JSON cannot hold (a BLOB): not what was hashed
                        payload = b""
                    current = sha256(prev + payload).digest()
                    if current != digest:
                        return VerifyReport(
                            False, seq - 1, _head(seq - 1, prev), AnchorStatus.Mismatch, seq,
                            f"event {seq} does not match its hash: it was modified",
                        )
                    if seq == anchor_seq:
                        anchor_hash_seen = current
                    prev = current
                    expected_seq += 1
        return expected_seq - 1, prev, anchor_hash_seen


def _judge(anchor: AuditAnchor | None, count: int, last: bytes,
           anchor_hash: bytes | None) -> VerifyReport:
    """The report for an intact chain of ``count`` events ending in ``last``, by the anchor."""
    head = _head(count, last)
    if anchor is None:
        return VerifyReport(
            False, count, head, AnchorStatus.Missing, None,
            "the header holds no audit anchor",
        )
    if anchor.seq > count:
        return VerifyReport(
            False, count, head, AnchorStatus.RolledBack, count + 1,
            f"the log ends at event {count} but the anchor records event {anchor.seq}: "
            "events were deleted or an old database was put back",
        )
    if anchor_hash != anchor.hash:
        return VerifyReport(
            False, count, head, AnchorStatus.Mismatch, anchor.seq,
            f"event {anchor.seq} differs from the one the anchor records",
        )
    if anchor.seq < count:
        return VerifyReport(
            True, count, head, AnchorStatus.ChainAhead, None,
            f"{count - anchor.seq} event(s) after the anchor (an interrupted write); intact",
        )
    return VerifyReport(True, count, head, AnchorStatus.Match, None, "intact")


def _head(seq: int, digest: bytes) -> AuditAnchor | None:
    """The last verified event (``seq`` 0: none yet)."""
    return None if seq == 0 else AuditAnchor(seq, digest)
