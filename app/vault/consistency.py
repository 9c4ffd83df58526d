"""What unlock checks before anything writes: that the database is this vault's, and that the
database and the header are equally new (neither was put back from an older copy). Every page is
checked against its HMAC when it is read; the whole file at once (:func:`check_pages`) only where a
full check is asked for (``vault check``, ``audit verify``, backups), not at every unlock."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .. import database
from ..errors import RollbackDetected, VaultTampered
from ..header import AuditAnchor, Header
from .layout import DB_FILE, HEADER_FILE

# Ends every rollback refusal: the way out when the older copy was put back on purpose.
NOT_OPENED = "the vault was not opened (if that was deliberate: strongroom vault accept-rollback)"


def check_database(conn: Any, vault_id: str, path: Path) -> None:
    """The file holds whole pages and belongs to ``vault_id`` (the pages read for it pass their
    HMACs)."""
    with database.translated():
        page_size = int(conn.execute("PRAGMA page_size").fetchone()[0])
        row = conn.execute("SELECT value FROM meta WHERE key = 'vault_id'").fetchone()
    if path.stat().st_size % page_size:
        raise VaultTampered(
            "the vault database failed its integrity check: it ends inside a page (truncated)"
        )
    if row is None or row[0] != vault_id:
        raise VaultTampered("the vault header belongs to another vault than the database")


def check_pages(conn: Any) -> None:
    """Every page of the file passes its HMAC, including pages no query reads (free pages)."""
    with database.translated():
        damaged = conn.execute("PRAGMA cipher_integrity_check").fetchone()
    if damaged:
        raise VaultTampered(
            "the vault database failed its integrity check: it is corrupt or was modified"
        )


def check_anchor(header: Header, head: AuditAnchor | None) -> None:
    """Refuse a database or header older than the other.

    The header records the audit head of the last committed write (``anchor``) and, while a
    write is committing, the head it will leave (``pending``). The database must be at one of
    them: behind the anchor, an older vault.db was put back; ahead of both, an older header.json.
    """
    anchor, pending = header.anchor, header.pending
    if head is not None and head in (anchor, pending):
        return
    seq, at = (0 if head is None else head.seq), (0 if anchor is None else anchor.seq)
    if seq < at:
        raise RollbackDetected(
            f"the vault database is {at - seq} audit event(s) behind its header: an older "
            f"{DB_FILE} was put back (rollback); {NOT_OPENED}", DB_FILE, at - seq,
        )
    if seq > at:
        raise RollbackDetected(
            f"the vault header is {seq - at} audit event(s) behind its database: an older "
            f"{HEADER_FILE} was put back (rollback); {NOT_OPENED}",
            HEADER_FILE, seq - at,
        )
    raise RollbackDetected(
        f"the vault database and its header disagree about audit event {seq}: one of them was "
        f"replaced by a copy from another branch of history; {NOT_OPENED}", "history", 0,
    )
