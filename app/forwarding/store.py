"""Forwarding cursors in the vault (schema 8, ``audit_forwards``): per named destination, where
to send and the last event the receiver acknowledged (its seq and chain hash).

A cursor moves only forward and only in a write transaction after a batch was acknowledged; a
destination that is new or changed is saved with its first acknowledged batch and is an audit
event (``audit.forward.set``).
Reading events to forward needs the ``audit.read`` permission, as reading the log does.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..access import enforce
from ..access.roles import AUDIT_READ
from ..audit import AuditEvent, genesis
from ..errors import NotFound, UsageError, VaultTampered
from ..network import is_loopback
from ..vault.session import VaultSession
from .syslog import FACILITY_AUDIT, Header, WireEvent
from .transport import DEFAULT_TIMEOUT, Destination, parse_address, tls_context


@dataclass(frozen=True)
class ForwardSettings:
    """A named destination and how messages are written for it (kept as the row's settings)."""

    destination: Destination
    app_name: str = "strongroom"
    facility: int = FACILITY_AUDIT

    def to_json(self) -> dict[str, Any]:
        d = self.destination

        def path(p: Path | None) -> str | None:
            return None if p is None else str(p)

        return {"transport": d.transport, "ca": path(d.ca_file),
                "client_cert": path(d.client_cert), "client_key": path(d.client_key),
                "timeout": d.timeout, "app_name": self.app_name, "facility": self.facility}

    @classmethod
    def from_row(cls, target: str, settings: str) -> ForwardSettings:
        s = json.loads(settings)
        host, port = parse_address(target)

        def path(key: str) -> Path | None:
            return None if s.get(key) is None else Path(s[key])

        return cls(Destination(host, port, tls=s.get("transport", "tls") == "tls",
                               ca_file=path("ca"), client_cert=path("client_cert"),
                               client_key=path("client_key"),
                               timeout=float(s.get("timeout", DEFAULT_TIMEOUT))),
                   app_name=s.get("app_name", "strongroom"),
                   facility=int(s.get("facility", FACILITY_AUDIT)))


def settings_for(to: str, *, tcp: bool = False, ca: Path | None = None,
                 client_cert: Path | None = None, client_key: Path | None = None,
                 timeout: float = DEFAULT_TIMEOUT, app_name: str = "strongroom",
                 facility: int = FACILITY_AUDIT) -> ForwardSettings:
    """A destination as an admin gives it, checked before anything is touched: UsageError (exit
    2) for an address that is not HOST:PORT, plain TCP to a remote host, a file that is not
    there, a CA or client certificate that does not load, or a bad APP-NAME or facility."""
    host, port = parse_address(to)
    if tcp and (ca or client_cert):
        raise UsageError("--tcp sends in the clear: it takes no --ca or --client-cert")
    if tcp and not is_loopback(host):
        raise UsageError("--tcp is only for a relay on this machine (a loopback address); "
                         "use TLS for anything else")
    if client_key and not client_cert:
        raise UsageError("--client-key needs --client-cert")
    for path, what in ((ca, "CA file"), (client_cert, "client certificate"),
                       (client_key, "client key")):
        if path is not None and not path.is_file():
            raise UsageError(f"the {what} {path} is not a readable file")
    try:
        Header(app_name=app_name, facility=facility)
    except ValueError as e:
        raise UsageError(f"--app-name or --facility: {e}") from None
    dest = Destination(host, port, tls=not tcp, ca_file=ca, client_cert=client_cert,
                       client_key=client_key, timeout=timeout)
    if dest.tls:
        tls_context(dest)  # a CA or client certificate that does not load fails here
    return ForwardSettings(dest, app_name=app_name, facility=facility)


@dataclass(frozen=True)
class Cursor:
    """A destination and the last event it acknowledged (seq 0: none yet)."""

    name: str
    settings: ForwardSettings
    last_seq: int
    last_hash: bytes | None
    updated: str

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "to": self.settings.destination.address,
                **self.settings.to_json(), "last_seq": self.last_seq,
                "last_hash": None if self.last_hash is None else self.last_hash.hex(),
                "updated": self.updated}


_SELECT_ALL = ("SELECT name, target, settings, last_seq, last_hash, updated FROM audit_forwards "
               "ORDER BY name")
_SELECT_ONE = ("SELECT name, target, settings, last_seq, last_hash, updated FROM audit_forwards "
               "WHERE name = ?")


def _cursor(row: Any) -> Cursor:
    name, target, settings, seq, digest, updated = row
    return Cursor(name, ForwardSettings.from_row(target, settings), seq,
                  None if digest is None else bytes(digest), updated)


def cursors(vault: VaultSession) -> list[Cursor]:
    """Every saved destination with its cursor, by name."""
    with vault._read() as conn:
        rows = conn.execute(_SELECT_ALL).fetchall()
    return [_cursor(r) for r in rows]


def find(vault: VaultSession, name: str) -> Cursor | None:
    with vault._read() as conn:
        row = conn.execute(_SELECT_ONE, (name,)).fetchone()
    return None if row is None else _cursor(row)


def cursor(vault: VaultSession, name: str) -> Cursor:
    found = find(vault, name)
    if found is None:
        raise NotFound(f"no forwarding destination named {name!r}; give --to HOST:PORT")
    return found


def unsaved(name: str, settings: ForwardSettings) -> Cursor:
    """A destination not in the vault yet: its cursor before the first event."""
    return Cursor(name, settings, 0, None, "")


def same(a: ForwardSettings, b: ForwardSettings) -> bool:
    return (a.destination.address, a.to_json()) == (b.destination.address, b.to_json())


@enforce.denials_audited
def save(vault: VaultSession, name: str, settings: ForwardSettings, *,
         seq: int | None = None, digest: bytes | None = None) -> None:
    """Create or change the destination ``name`` (audited as ``audit.forward.set``), and with
    ``seq`` move its cursor too, in one transaction: a destination is kept from its first
    acknowledged batch on, so one that never answered leaves nothing behind. A changed one
    keeps its cursor (a receiver that moved)."""
    target = settings.destination.address
    text = json.dumps(settings.to_json(), sort_keys=True)
    with vault._write() as conn:
        enforce.require_role(vault, conn, AUDIT_READ, "forward the audit log")
        row = conn.execute("SELECT target, settings FROM audit_forwards WHERE name = ?",
                           (name,)).fetchone()
        now = vault._now()
        if row is None:
            conn.execute("INSERT INTO audit_forwards (name, target, settings, last_seq, "
                         "last_hash, updated) VALUES (?, ?, ?, 0, NULL, ?)",
                         (name, target, text, now))
        elif tuple(row) != (target, text):
            conn.execute("UPDATE audit_forwards SET target = ?, settings = ?, updated = ? "
                         "WHERE name = ?", (target, text, now, name))
        if row is None or tuple(row) != (target, text):
            vault._event("audit.forward.set", name, details={
                "to": target, "transport": settings.destination.transport, "new": row is None})
        if seq is not None:
            _advance(conn, name, seq, digest, now)


@enforce.denials_audited
def pending(vault: VaultSession, after: Cursor, limit: int) -> list[WireEvent]:
    """Up to ``limit`` events after the cursor, oldest first, each with the hash before it.

    The cursor's hash must still be the log's hash at its seq: a log that was put back or
    rewritten under a cursor is refused (exit 3) rather than forwarded as a different chain."""
    with vault._read() as conn:
        enforce.require_role(vault, conn, AUDIT_READ, "forward the audit log")
        prev = genesis(vault.vault_id)
        if after.last_seq:
            row = conn.execute("SELECT hash FROM audit WHERE seq = ?",
                               (after.last_seq,)).fetchone()
            if row is None or bytes(row[0]) != after.last_hash:
                raise VaultTampered(
                    f"the audit log no longer holds event {after.last_seq} as it was forwarded "
                    f"to {after.name!r}: the log was rolled back or rewritten")
            prev = bytes(row[0])
        rows = conn.execute(
            "SELECT seq, ts, actor, action, target, outcome, details, hash FROM audit "
            "WHERE seq > ? ORDER BY seq LIMIT ?", (after.last_seq, limit)).fetchall()
    out = []
    for seq, ts, actor, action, target, outcome, details, digest in rows:
        digest = bytes(digest)
        out.append(WireEvent(vault.vault_id, seq, ts, actor, action, target, outcome,
                             json.loads(details), prev, digest))
        prev = digest
    return out


@enforce.denials_audited
def events_after(vault: VaultSession, seq: int, limit: int) -> list[AuditEvent]:
    """Up to ``limit`` events after ``seq``, oldest first (an export in log order)."""
    with vault._read() as conn:
        enforce.require_role(vault, conn, AUDIT_READ, "read the audit log")
        rows = conn.execute(
            "SELECT seq, ts, actor, action, target, outcome, details, hash FROM audit "
            "WHERE seq > ? ORDER BY seq LIMIT ?", (seq, limit)).fetchall()
    return [AuditEvent(r[0], r[1], r[2], r[3], r[4], r[5], json.loads(r[6]), bytes(r[7]))
            for r in rows]


def advance(vault: VaultSession, name: str, seq: int, digest: bytes) -> None:
    """Move the cursor to the acknowledged event ``seq`` (never backwards)."""
    with vault._write(anchor=False) as conn:
        _advance(conn, name, seq, digest, vault._now())


def _advance(conn: Any, name: str, seq: int, digest: bytes | None, now: str) -> None:
    conn.execute("UPDATE audit_forwards SET last_seq = ?, last_hash = ?, updated = ? "
                 "WHERE name = ? AND last_seq < ?", (seq, digest, now, name, seq))


__all__ = ["Cursor", "ForwardSettings", "advance", "cursor", "cursors", "events_after", "find",
           "pending", "same", "save", "settings_for", "unsaved"]
