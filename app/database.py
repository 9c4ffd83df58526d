"""The SQLCipher database: opening with a raw key, durability settings, schema, errors."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import sqlcipher3

from .errors import AlreadyExists, StorageError, StrongroomError, VaultTampered
from .fsutil import storage_error
from .schemas import (
    ACCESS_SCHEMA,
    CEREMONY_SCHEMA,
    COMPACT_SCHEMA,
    COMPLIANCE_SCHEMA,
    DEVICE_KEYS_SCHEMA,
    FORWARD_SCHEMA,
    KIND_SCHEMA,
    REMOTE_SCHEMA,
)

SCHEMA_VERSION = 8


def _migrate_1_to_2(conn: Any) -> None:
    for statement in _statements(COMPLIANCE_SCHEMA):
        conn.execute(statement)


def _migrate_2_to_3(conn: Any) -> None:
    for statement in _statements(DEVICE_KEYS_SCHEMA):
        conn.execute(statement)


def _migrate_3_to_4(conn: Any) -> None:
    """The tables only: the vault (access/adoption.py) makes its first operator at unlock."""
    for statement in _statements(ACCESS_SCHEMA):
        conn.execute(statement)


def _migrate_4_to_5(conn: Any) -> None:
    for statement in _statements(CEREMONY_SCHEMA):
        conn.execute(statement)


def _migrate_5_to_6(conn: Any) -> None:
    """The kind column, unless a test's older vault was made with it (tests/test_access.py)."""
    columns = {row[1] for row in conn.execute("PRAGMA table_info(secrets)")}
    if "kind" not in columns:
        for statement in _statements(KIND_SCHEMA):
            conn.execute(statement)


def _migrate_6_to_7(conn: Any) -> None:
    """The smaller trigram index and version metadata (the vault VACUUMs after it)."""
    for statement in _statements(COMPACT_SCHEMA):
        conn.execute(statement)


def _migrate_7_to_8(conn: Any) -> None:
    """Team scale: remote engines and their sync state, audit forwarding cursors."""
    for statement in _statements(REMOTE_SCHEMA) + _statements(FORWARD_SCHEMA):
        conn.execute(statement)


# Migrations after which the vault VACUUMs (outside the transaction) to give the space back.
VACUUM_AFTER = frozenset({6})

# MIGRATIONS[n](conn) upgrades schema n to n + 1 inside the caller's transaction. The vault takes
# an automatic backup before running any of them. A new vault gets SCHEMA and then every migration,
# so the two paths cannot drift apart.
MIGRATIONS: dict[int, Callable[[Any], None]] = {
    1: _migrate_1_to_2, 2: _migrate_2_to_3, 3: _migrate_3_to_4, 4: _migrate_4_to_5,
    5: _migrate_5_to_6, 6: _migrate_6_to_7, 7: _migrate_7_to_8,
}

# SQLite result codes (primary, low byte) that we translate.
_SQLITE_BUSY, _SQLITE_LOCKED = 5, 6
_SQLITE_READONLY, _SQLITE_IOERR, _SQLITE_CORRUPT, _SQLITE_FULL = 8, 10, 11, 13
_SQLITE_CANTOPEN, _SQLITE_CONSTRAINT, _SQLITE_NOTADB = 14, 19, 26

SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE deks (
    level TEXT NOT NULL,
    generation INTEGER NOT NULL,
    nonce BLOB NOT NULL,
    wrapped BLOB NOT NULL,
    created TEXT NOT NULL,
    PRIMARY KEY (level, generation)
);
CREATE TABLE secrets (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    classification TEXT NOT NULL,
    owner TEXT NOT NULL,
    note TEXT NOT NULL,
    tags TEXT NOT NULL,
    created TEXT NOT NULL,
    updated TEXT NOT NULL,
    expires TEXT,
    rotation_due TEXT,
    version INTEGER NOT NULL
);
CREATE INDEX secrets_classification ON secrets (classification);
CREATE INDEX secrets_updated ON secrets (updated);
CREATE TABLE secret_tags (
    secret_id INTEGER NOT NULL REFERENCES secrets (id) ON DELETE CASCADE,
    tag TEXT NOT NULL,
    PRIMARY KEY (tag, secret_id)
) WITHOUT ROWID;
CREATE INDEX secret_tags_secret ON secret_tags (secret_id);
CREATE TABLE versions (
    secret_id INTEGER NOT NULL REFERENCES secrets (id) ON DELETE CASCADE,
    version INTEGER NOT NULL,
    created TEXT NOT NULL,
    actor TEXT NOT NULL,
    classification TEXT NOT NULL,
    dek_generation INTEGER NOT NULL,
    nonce BLOB NOT NULL,
    ciphertext BLOB NOT NULL,
    meta TEXT NOT NULL,
    PRIMARY KEY (secret_id, version)
);
CREATE INDEX versions_level ON versions (classification, dek_generation);
-- Trigram full-text index over metadata only (never values): substring search without a scan.
-- Schema 7 (schemas.COMPACT_SCHEMA) makes it detail=none.
CREATE VIRTUAL TABLE secrets_fts USING fts5 (
    name, tags, note, owner, content='secrets', content_rowid='id', tokenize='trigram'
);
CREATE TRIGGER secrets_ai AFTER INSERT ON secrets BEGIN
    INSERT INTO secrets_fts (rowid, name, tags, note, owner)
    VALUES (new.id, new.name, new.tags, new.note, new.owner);
END;
CREATE TRIGGER secrets_ad AFTER DELETE ON secrets BEGIN
    INSERT INTO secrets_fts (secrets_fts, rowid, name, tags, note, owner)
    VALUES ('delete', old.id, old.name, old.tags, old.note, old.owner);
END;
CREATE TRIGGER secrets_au AFTER UPDATE ON secrets BEGIN
    INSERT INTO secrets_fts (secrets_fts, rowid, name, tags, note, owner)
    VALUES ('delete', old.id, old.name, old.tags, old.note, old.owner);
    INSERT INTO secrets_fts (rowid, name, tags, note, owner)
    VALUES (new.id, new.name, new.tags, new.note, new.owner);
END;
CREATE TABLE audit (
    seq INTEGER PRIMARY KEY,
    ts TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    outcome TEXT NOT NULL,
    details TEXT NOT NULL,
    hash BLOB NOT NULL
);
CREATE INDEX audit_action ON audit (action);
CREATE INDEX audit_target ON audit (target);
CREATE INDEX audit_ts ON audit (ts);
"""


def translate(e: Exception, what: str = "the vault database") -> StrongroomError:
    """Map a SQLCipher error to a Strongroom error with one clear sentence."""
    code = getattr(e, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    if primary == _SQLITE_FULL:
        return StorageError(f"could not write {what}: the disk is full; nothing was changed")
    if primary in (_SQLITE_BUSY, _SQLITE_LOCKED):
        return StrongroomError(f"{what} is busy in another process; try again")
    if primary == _SQLITE_READONLY:
        return StorageError(f"could not write {what}: it is read-only; nothing was changed")
    if primary == _SQLITE_CANTOPEN:
        return StorageError(f"could not open {what}: permission denied or missing")
    if primary == _SQLITE_CONSTRAINT:
        return AlreadyExists(f"{what}: that name is already taken")
    if primary == _SQLITE_IOERR:
        return StorageError(f"could not read or write {what}: input/output error")
    if primary in (_SQLITE_CORRUPT, _SQLITE_NOTADB):
        return VaultTampered(f"{what} failed its integrity check: it is corrupt or was modified")
    # SQLite's own messages name tables and columns, never bound values.
    return StrongroomError(f"{what}: unexpected database error ({e})")


@contextlib.contextmanager
def translated(what: str = "the vault database") -> Iterator[None]:
    try:
        yield
    except sqlcipher3.Error as e:
        raise translate(e, what) from e


def connect(path: Path, key: bytes, *, create: bool = False) -> Any:
    """Open the database with a raw 256-bit key and verify the key opens it."""
    if not create and not path.is_file():
        raise VaultTampered(f"the vault database {path.name} is missing")
    if not create and path.stat().st_size == 0:
        raise VaultTampered(f"the vault database {path.name} is empty: it was truncated")
    if create:
        # SQLite would create the file world-readable; its -wal and -shm files copy its mode.
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except OSError as e:
            raise storage_error(e, path.name) from e
    with translated():
        conn = sqlcipher3.connect(str(path), isolation_level=None, check_same_thread=False)
    try:
        # SQLCipher writes its own error log to stderr unless told not to.
        conn.execute("PRAGMA cipher_log_level = NONE")
        # A raw key (x'..') is used as is: the keyslots' KDF is the only password KDF.
        conn.execute(f"PRAGMA key = \"x'{key.hex()}'\"")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        conn.execute("PRAGMA busy_timeout = 10000")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA secure_delete = ON")
        conn.create_function("sr_contains", -1, contains, deterministic=True)
    except sqlcipher3.Error as e:
        conn.close()
        code = getattr(e, "sqlite_errorcode", None)
        if isinstance(code, int) and code & 0xFF == _SQLITE_NOTADB:
            raise VaultTampered(
                "the vault database does not open with this header's key: the database is "
                "corrupt, or the header belongs to another vault"
            ) from e
        if isinstance(code, int) and code & 0xFF == _SQLITE_IOERR and _nearly_full(path):
            # Mapping the -shm file fails with a bare I/O error when the disk is full.
            raise StorageError(
                "could not open the vault database: the disk is full; nothing was changed"
            ) from e
        raise translate(e) from e
    return conn


def contains(term: str, *fields: str | None) -> bool:
    """``sr_contains(term, a, b, ...)``: ``term`` is a substring of one field, case folded as the
    trigram tokenizer folds (SQLite's LIKE folds ASCII only)."""
    folded = term.casefold()
    return any(f is not None and folded in f.casefold() for f in fields)


def _nearly_full(path: Path) -> bool:
    """Under 1 MiB free beside ``path``: an I/O error there almost surely means ENOSPC."""
    try:
        st = os.statvfs(path.parent)
    except (OSError, AttributeError):  # no statvfs on Windows
        return False
    return st.f_bavail * st.f_frsize < 1024 * 1024


def create_schema(conn: Any, vault_id: str, created: str) -> None:
    """Create the tables in the caller's open transaction."""
    with translated():
        for statement in _statements(SCHEMA):
            conn.execute(statement)
        for version in range(1, SCHEMA_VERSION):
            MIGRATIONS[version](conn)
        conn.executemany(
            "INSERT INTO meta (key, value) VALUES (?, ?)",
            [("vault_id", vault_id), ("schema_version", str(SCHEMA_VERSION)), ("created", created)],
        )


def _statements(script: str) -> list[str]:
    """Split a schema script into statements (executescript would commit the transaction)."""
    out, current = [], []
    for line in script.splitlines():
        if line.startswith("--") or not line.strip():
            continue
        current.append(line)
        text = "\n".join(current)
        if line.rstrip().endswith(";") and sqlcipher3.complete_statement(text):
            out.append(text)
            current = []
    return out


def rekey(conn: Any, new_key: bytes) -> None:
    """SQLCipher rekey; WAL is switched off for its duration as SQLCipher requires."""
    with translated():
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("PRAGMA journal_mode = DELETE")
        conn.execute(f"PRAGMA rekey = \"x'{new_key.hex()}'\"")
        conn.execute("PRAGMA journal_mode = WAL")


def export_copy(conn: Any, dest: Path, key: bytes) -> None:
    """Write a consistent encrypted copy of the whole database to ``dest`` (same key)."""
    with translated("the backup copy"):
        conn.execute("ATTACH DATABASE ? AS backup_copy KEY ?", (str(dest), f"x'{key.hex()}'"))
        try:
            conn.execute("SELECT sqlcipher_export('backup_copy')")
        finally:
            conn.execute("DETACH DATABASE backup_copy")
