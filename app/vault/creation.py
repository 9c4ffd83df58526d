"""Creating a vault: a new folder, a random master key wrapped by one passphrase keyslot, the
schema, its first operator (an Administrator whose operator key the keyslot also wraps), one data
key per classification level wrapped to that operator, and the first audit event."""

from __future__ import annotations

import uuid
from dataclasses import replace
from pathlib import Path
from typing import TypeVar

from .. import database
from ..access import adoption, operators
from ..crypto import random_key, seal
from ..errors import AlreadyExists, UsageError
from ..fsutil import exclusive_lock, storage_error
from ..header import Header
from ..keyslots import new_passphrase_slot, wrap_operator_key
from ..model import Classification, Clock, SystemClock, iso
from .datakeys import dek_aad, dek_wrap_key
from .layout import DB_FILE, LOCK_FILE, UNLOCK_LOCK_FILE, VaultKeys, remove_vault_files
from .session import VaultSession

S = TypeVar("S", bound=VaultSession)
OPERATORS_SCHEMA = 4  # the schema that brought operators (access/)


def create(
    cls: type[S],
    path: Path,
    passphrase: bytes,
    *,
    kdf_time_ms: int = 1000,
    clock: Clock | None = None,
    actor: str | None = None,
) -> S:
    """Create a new vault at ``path`` with one passphrase keyslot; returns it unlocked."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise UsageError(f"{path} exists and is not a directory")
    if cls.exists(path):
        raise AlreadyExists(f"a vault already exists at {path}")
    if not 10 <= kdf_time_ms <= 60_000:
        raise UsageError("the unlock time must be between 10 and 60000 ms")
    clock = clock or SystemClock()
    now = iso(clock.now())
    made_dir = not path.exists()
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as e:
        raise storage_error(e, str(path)) from e
    master_key = random_key()
    vault_id = uuid.uuid4().hex
    slot, kek = new_passphrase_slot(
        passphrase, master_key, vault_id, now=now, kdf_time_ms=kdf_time_ms
    )
    header = Header(vault_id=vault_id, created=now, slots=(slot,))
    vault = cls(path, header, clock)
    if actor:
        vault.actor = actor
    try:
        (path / UNLOCK_LOCK_FILE).touch(mode=0o600)
        with exclusive_lock(path / LOCK_FILE):
            conn = database.connect(path / DB_FILE, master_key, create=True)
            vault._attach(conn, VaultKeys(master_key, slot.id, kek))
            with database.translated():
                conn.execute("BEGIN IMMEDIATE")
                database.create_schema(conn, vault_id, now)
                if database.SCHEMA_VERSION < OPERATORS_SCHEMA:
                    _create_before_operators(vault, now)
                    conn.execute("COMMIT")
                    vault._save_header(replace(header, anchor=vault._log.head()))
                    return vault
                first, operator_key = adoption.create_first(vault, conn, vault.actor, now)
                for level in Classification:
                    vault._deks.new(level, 1)
                vault._event("vault.create", str(path),
                             details={"slot": slot.id, "operator": first.id})
                refs = operators.header_refs(conn)
                conn.execute("COMMIT")
            slot = wrap_operator_key(kek, operator_key, slot, vault_id, first.id)
            vault._save_header(replace(header, slots=(slot,), operators=refs,
                                       anchor=vault._log.head()))
    except BaseException:
        vault.lock()
        remove_vault_files(path, remove_dir=made_dir)
        raise
    return vault


def _create_before_operators(vault: VaultSession, now: str) -> None:
    """What Strongroom wrote before schema 4: data keys wrapped under the master key, no
    operators. Reached only with an older SCHEMA_VERSION, as the upgrade tests make old vaults;
    unlock adopts such a vault (access/adoption.py)."""
    for level in Classification:
        nonce, wrapped = seal(dek_wrap_key(vault._unlocked_keys.master), random_key(),
                              dek_aad(vault.vault_id, level.value, 1))
        vault._conn.execute(
            "INSERT INTO deks (level, generation, nonce, wrapped, created) VALUES (?, 1, ?, ?, ?)",
            (level.value, nonce, wrapped, now))
    vault._event("vault.create", str(vault.path), details={"slot": vault.header.slots[0].id})
