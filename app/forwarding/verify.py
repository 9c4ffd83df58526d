"""Verify forwarded audit events at the receiver: the MSG lines as the receiver stored them.

Each line is one event's JSON (syslog.py). The chain holds when, in seq order, each event's
``prev`` is the hash of the event before it and ``hash = SHA-256(prev || canonical event)``, the
canonical event being exactly what app/audit.py hashes: the compact JSON array
``[seq,"ts","actor","action","target","outcome","details"]`` in UTF-8 (non-ASCII unescaped), where
``details`` is the details object as canonical JSON text (keys sorted, no spaces, UTF-8). Event 1
chains from the vault's genesis, SHA-256("strongroom/v1/audit-genesis" NUL vault-id).

A line repeated with the same seq and hash (a batch sent again after a lost acknowledgement) is
dropped and counted; the same seq with another hash is a break. A receiver that did not get the
log from event 1 verifies from its first event on (``prev`` of that one is taken as given).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..audit import chain_hash, event_bytes, genesis
from ..crypto import canonical_json


@dataclass(frozen=True)
class ChainReport:
    """The events verified (distinct seqs), repeats dropped, the range, and the first problem."""

    ok: bool
    events: int
    duplicates: int
    first_seq: int | None
    last_seq: int | None
    head_hash: str | None
    reason: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "events": self.events, "duplicates": self.duplicates,
                "first_seq": self.first_seq, "last_seq": self.last_seq,
                "head_hash": self.head_hash, "reason": self.reason}


def event_hash(event: dict[str, Any]) -> bytes:
    """The chain hash a forwarded event must carry, from its fields and ``prev``."""
    details = canonical_json(event["details"]).decode()
    payload = event_bytes(event["seq"], event["ts"], event["actor"], event["action"],
                          event["target"], event["outcome"], details)
    return chain_hash(bytes.fromhex(event["prev"]), payload)


def verify_lines(lines: Iterable[str], *, vault_id: str | None = None) -> ChainReport:
    """Check the chain over received MSG lines, in the order received; ``vault_id`` also checks
    that event 1 chains from that vault's genesis (and that every event names the vault)."""
    count = duplicates = 0
    first: int | None = None
    last_seq: int | None = None
    last_hash: bytes | None = None
    seen: dict[int, bytes] = {}
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            event = json.loads(line)
            seq, digest, prev = event["seq"], bytes.fromhex(event["hash"]), event["prev"]
            if type(seq) is not int or not isinstance(event["details"], dict):
                raise ValueError
        except (ValueError, KeyError, TypeError):
            return _broken(count, duplicates, first, last_seq, last_hash,
                           f"line {number} is not a forwarded audit event")
        if seq in seen:
            if seen[seq] != digest:
                return _broken(count, duplicates, first, last_seq, last_hash,
                               f"event {seq} arrived twice with different hashes")
            duplicates += 1
            continue
        if vault_id is not None and event.get("vault") != vault_id:
            return _broken(count, duplicates, first, last_seq, last_hash,
                           f"event {seq} is from another vault")
        if last_seq is not None and seq != last_seq + 1:
            return _broken(count, duplicates, first, last_seq, last_hash,
                           f"event {last_seq + 1} is missing (event {seq} follows {last_seq})")
        expected_prev = last_hash if last_hash is not None else (
            genesis(vault_id) if vault_id is not None and seq == 1 else None)
        if expected_prev is not None and prev != expected_prev.hex():
            return _broken(count, duplicates, first, last_seq, last_hash,
                           f"event {seq} does not chain from the event before it")
        try:
            computed = event_hash(event)
        except (ValueError, KeyError, TypeError):
            computed = b""
        if computed != digest:
            return _broken(count, duplicates, first, last_seq, last_hash,
                           f"event {seq} does not match its hash: it was modified")
        seen[seq] = digest
        first = seq if first is None else first
        last_seq, last_hash = seq, digest
        count += 1
    return ChainReport(True, count, duplicates, first, last_seq,
                       None if last_hash is None else last_hash.hex(), "intact")


def _broken(count: int, duplicates: int, first: int | None, last_seq: int | None,
            last_hash: bytes | None, reason: str) -> ChainReport:
    return ChainReport(False, count, duplicates, first, last_seq,
                       None if last_hash is None else last_hash.hex(), reason)


__all__ = ["ChainReport", "event_hash", "verify_lines"]
