"""Creating a vault: a new folder, a random master key wrapped by one passphrase keyslot, the
schema, one data key per classification level, and the first audit event."""

from __future__ import annotations

import uuid
from dataclasses import replace
from pathlib import Path
from typing import TypeVar

from .. import database
from ..crypto import random_key
from ..errors import AlreadyExists, UsageError
from ..fsutil import exclusive_lock, storage_error
from ..header import Header
from ..keyslots import new_passphrase_slot
from ..model import Classification, Clock, SystemClock, iso
from .layout import DB_FILE, LOCK_FILE, UNLOCK_LOCK_FILE, VaultKeys, remove_vault_files
from .session import VaultSession

S = TypeVar("S", bound=VaultSession)


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
                for level in Classification:
                    vault._deks.new(level, 1)
                vault._event("vault.create", str(path), details={"slot": slot.id})
                conn.execute("COMMIT")
            vault._save_header(replace(header, anchor=vault._log.head()))
    except BaseException:
        vault.lock()
        remove_vault_files(path, remove_dir=made_dir)
        raise
    return vault
