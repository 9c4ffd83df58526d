"""Reading the vault as a whole: the audit chain, its events, counts, page checks, a raw copy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .. import database
from ..access import enforce
from ..access.roles import AUDIT_READ
from ..audit import VerifyReport
from .consistency import check_pages as check_file_pages
from .layout import counts as count_rows
from .layout import integrity_problems
from .session import VaultSession


def audit_verify(vault: VaultSession) -> VerifyReport:
    with vault._read():
        header = vault._fresh_header()
        return vault._log.verify(header.anchor)


@enforce.denials_audited
def audit_events(vault: VaultSession, **filters: Any) -> list[Any]:
    """Events of the audit log: for operators whose role reads it (Auditor, Administrator)."""
    with vault._read() as conn:
        enforce.require_role(vault, conn, AUDIT_READ, "read the audit log")
        return vault._log.events(**filters)


def export_database(vault: VaultSession, dest: Path) -> None:
    """Write an encrypted, consistent copy of the database (same key) to ``dest``."""
    with vault._read() as conn:
        database.export_copy(conn, dest, vault._unlocked_keys.master)


def counts(vault: VaultSession) -> dict[str, int]:
    with vault._read() as conn:
        return count_rows(conn)


def integrity_check(vault: VaultSession) -> list[str]:
    """SQLCipher's page-HMAC check plus SQLite's structural check; empty when sound."""
    with vault._read() as conn:
        return integrity_problems(conn)


def check_pages(vault: VaultSession) -> None:
    """Every page of the file against its HMAC; raises VaultTampered (exit 3) at the first bad."""
    with vault._read() as conn:
        check_file_pages(conn)
