"""The vault: an SQLCipher database opened by a random master key that keyslots wrap.

Secret values are encrypted a second time at field level with AES-256-GCM under the data key
(DEK) of their classification level; DEKs are wrapped by a key derived from the master key.
Every change and every read of a value is an audit event written in the same transaction, so if
the event cannot be written the operation does not happen.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import getpass
import json
import os
import shutil
import threading
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .. import database as store
from ..audit import AuditLog, Outcome, VerifyReport
from ..crypto import Argon2Params, DecryptionFailed, canonical_json, hkdf, random_key, seal, unseal
from ..errors import (
    AlreadyExists,
    AuthenticationFailed,
    HeaderCorrupt,
    NotFound,
    Refused,
    StrongroomError,
    UsageError,
    UserCancelled,
    VaultLocked,
    VaultTampered,
    WrongPassphrase,
)
from ..fsutil import exclusive_lock, storage_error
from ..header import Header
from ..keys.ports import KeyBlob
from ..keyslots import (
    PASSPHRASE,
    Keyslot,
    KeyslotUnlocker,
    PassphraseUnlocker,
    StatusCallback,
    argon2_params_from_slot,
    new_passphrase_slot,
    unwrap_master_key,
    wrap_master_key,
)
from ..model import Classification, Clock, SecretInfo, SystemClock, VersionInfo, iso
from ..unlock_methods import (
    MIN_FIDO2_KEYS,
    HardwareUnlocker,
    Prompts,
    SlotKind,
    SlotRef,
    SlotSecretSource,
    needs_passphrase,
    new_hardware_slot,
)
from .backoff import Backoff, delay_after

DB_FILE = "vault.db"
HEADER_FILE = "header.json"
BACKOFF_FILE = "unlock-backoff.json"
LOCK_FILE = ".lock"
BACKUP_DIR = "backups"
AUTO_BACKUPS_KEPT = 5

MAX_VALUE_BYTES = 16 * 1024 * 1024
MAX_NAME_CHARS = 256
MAX_TAG_CHARS = 64
MAX_NOTE_CHARS = 64 * 1024
READ_PURPOSES = ("read", "reveal", "copy", "export")

_SELECT_INFO = (
    "SELECT id, name, classification, owner, note, tags, created, updated, expires, rotation_due,"
    " version FROM secrets"
)


def current_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry, as in some containers
        return f"uid:{os.getuid()}" if hasattr(os, "getuid") else "unknown"


def check_name(name: str) -> str:
    if not name or len(name) > MAX_NAME_CHARS:
        raise UsageError(f"a secret name must be 1 to {MAX_NAME_CHARS} characters")
    if name != name.strip() or any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise UsageError("a secret name cannot start or end with spaces or hold control characters")
    return name


def check_tags(tags: Iterable[str]) -> tuple[str, ...]:
    out: list[str] = []
    for tag in tags:
        tag = tag.strip()
        if not tag or len(tag) > MAX_TAG_CHARS or any(ord(c) < 32 or c == "," for c in tag):
            raise UsageError(f"invalid tag {tag!r}: 1 to {MAX_TAG_CHARS} characters, no commas")
        if tag not in out:
            out.append(tag)
    return tuple(sorted(out))


def check_value(value: bytes) -> bytes:
    if not value:
        raise UsageError("the secret value is empty")
    if len(value) > MAX_VALUE_BYTES:
        raise UsageError(f"the secret value is larger than {MAX_VALUE_BYTES // (1024 * 1024)} MiB")
    return value


def check_note(note: str) -> str:
    if len(note) > MAX_NOTE_CHARS:
        raise UsageError(f"the note is longer than {MAX_NOTE_CHARS} characters")
    return note


@dataclass(frozen=True)
class NewSecret:
    """What a caller supplies to create a secret."""

    name: str
    value: bytes = field(repr=False)
    classification: Classification = Classification.Moderate
    tags: tuple[str, ...] = ()
    note: str = ""
    owner: str | None = None
    expires: dt.date | None = None
    rotation_due: dt.date | None = None


@dataclass
class _Keys:
    master: bytes = field(repr=False)
    slot_id: str
    kek: bytes = field(repr=False)  # the unlocking slot's KEK, to re-wrap at master-key rotation
    deks: dict[tuple[str, int], bytes] = field(default_factory=dict, repr=False)


def _secret_aad(secret_id: int, version: int) -> bytes:
    return b"strongroom/v1/secret\x00%d\x00%d" % (secret_id, version)


def _dek_aad(vault_id: str, level: str, generation: int) -> bytes:
    return canonical_json({"vault": vault_id, "level": level, "generation": generation})


def _dek_wrap_key(master_key: bytes) -> bytes:
    return hkdf(master_key, "dek-wrap")


def _row_to_info(row: Sequence[Any]) -> SecretInfo:
    return SecretInfo(
        id=row[0],
        name=row[1],
        classification=Classification(row[2]),
        owner=row[3],
        note=row[4],
        tags=tuple(json.loads(row[5])),
        created=row[6],
        updated=row[7],
        expires=row[8],
        rotation_due=row[9],
        version=row[10],
    )


def _slot_label(label: str) -> str:
    label = label.strip()
    if not label or len(label) > MAX_NAME_CHARS or any(ord(c) < 32 for c in label):
        raise UsageError("a keyslot label is 1 to 256 printable characters")
    return label


def _fts_phrase(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


class Vault:
    """One vault directory. Open it with :meth:`open` (locked) or :meth:`create` (unlocked)."""

    def __init__(self, path: Path, header: Header, clock: Clock | None = None) -> None:
        self.path = path
        self.header = header
        self.clock: Clock = clock or SystemClock()
        self.actor = current_user()
        self._conn: Any = None
        self._keys: _Keys | None = None
        self._audit: AuditLog | None = None
        self._mutex = threading.RLock()
        self.backoff = Backoff(path / BACKOFF_FILE)

    # ----- files -------------------------------------------------------------------------------

    @property
    def db_path(self) -> Path:
        return self.path / DB_FILE

    @property
    def header_path(self) -> Path:
        return self.path / HEADER_FILE

    @property
    def vault_id(self) -> str:
        return self.header.vault_id

    @staticmethod
    def exists(path: Path) -> bool:
        return (path / HEADER_FILE).exists() or (path / DB_FILE).exists()

    # ----- life cycle --------------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        path: Path,
        passphrase: bytes,
        *,
        kdf_time_ms: int = 1000,
        clock: Clock | None = None,
        actor: str | None = None,
    ) -> Vault:
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
            with exclusive_lock(path / LOCK_FILE):
                conn = store.connect(path / DB_FILE, master_key, create=True)
                vault._attach(conn, _Keys(master_key, slot.id, kek))
                with store.translated():
                    conn.execute("BEGIN IMMEDIATE")
                    store.create_schema(conn, vault_id, now)
                    for level in Classification:
                        vault._new_dek(level, 1)
                    vault._event("vault.create", str(path), details={"slot": slot.id})
                    conn.execute("COMMIT")
                vault._save_header(replace(header, anchor=vault._log.head()))
        except BaseException:
            vault.lock()
            remove_vault_files(path, remove_dir=made_dir)
            raise
        return vault

    @classmethod
    def open(cls, path: Path, clock: Clock | None = None) -> Vault:
        """Read the header of the vault at ``path``; the vault stays locked."""
        path = Path(path)
        if not path.is_dir() or not cls.exists(path):
            raise NotFound(f"no vault at {path}; create one with 'strongroom init'")
        if not (path / HEADER_FILE).exists():
            raise HeaderCorrupt(f"the vault header {HEADER_FILE} is missing from {path}")
        return cls(path, Header.load(path / HEADER_FILE), clock)

    @property
    def unlocked(self) -> bool:
        return self._keys is not None

    def unlock(
        self,
        unlocker: KeyslotUnlocker,
        *,
        cancel: threading.Event | None = None,
        on_status: StatusCallback | None = None,
    ) -> None:
        """Open the vault with the first keyslot of ``unlocker.kind`` that the unlocker opens."""
        with self._mutex:
            if self.unlocked:
                return
            now = self.clock.now()
            self.backoff.check(now)
            slots = [s for s in self.header.slots if s.kind == unlocker.kind]
            if not slots:
                raise AuthenticationFailed(f"this vault has no {unlocker.kind} keyslot")
            if isinstance(unlocker, HardwareUnlocker):
                # The device says which slot it opens (a FIDO2 key is probed before any touch).
                slots = unlocker.select(slots, cancel=cancel, on_status=on_status)
            for slot in slots:
                kek = unlocker.derive_kek(slot, cancel=cancel, on_status=on_status)
                master = unwrap_master_key(kek, slot, self.vault_id)
                if master is not None:
                    break
            else:
                state = self.backoff.record_failure(now)
                wait = delay_after(state.failures)
                then = f"; wait {wait:.0f} s before the next attempt" if wait else ""
                if unlocker.kind == PASSPHRASE:
                    raise WrongPassphrase(f"the passphrase does not open this vault{then}", wait)
                what = f"the {unlocker.kind} key"
                if any(needs_passphrase(s) for s in slots):
                    what += " with this passphrase (two-factor keyslot)"
                raise AuthenticationFailed(f"{what} does not open this vault{then}", wait)
            self._open_with(slot, kek, master)

    def _open_with(self, slot: Keyslot, kek: bytes, master: bytes) -> None:
        try:
            self._open_database(slot, kek, master)
            self._migrate()
            self._record_unlock(slot)
        except BaseException:
            self.lock()
            raise

    def _open_database(self, slot: Keyslot, kek: bytes, master: bytes) -> None:
        if not self.header.mac_ok(master):
            raise VaultTampered("the vault header was modified outside Strongroom")
        pending = (
            None
            if slot.wrapped_next is None
            else unwrap_master_key(kek, slot, self.vault_id, slot.wrapped_next)
        )
        if pending is not None:
            # A master-key rotation was interrupted: the database holds one of the two keys.
            try:
                conn = store.connect(self.db_path, pending)
            except VaultTampered:
                conn = store.connect(self.db_path, master)
                self._attach(conn, _Keys(master, slot.id, kek))
                self._check_vault_id()
                self._abandon_rotation()
            else:
                self._attach(conn, _Keys(pending, slot.id, kek))
                self._check_vault_id()
                self._finish_rotation(master, pending, recovered=True)
        else:
            conn = store.connect(self.db_path, master)
            self._attach(conn, _Keys(master, slot.id, kek))
            self._check_vault_id()

    def _migrate(self) -> None:
        """Bring an older schema up to date, after an automatic backup; refuse a newer one."""
        with self._read() as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        version = int(row[0]) if row is not None else 0
        if version > store.SCHEMA_VERSION:
            raise Refused(
                f"this vault has schema {version}, newer than this Strongroom reads "
                f"({store.SCHEMA_VERSION}); upgrade Strongroom to open it"
            )
        if version == store.SCHEMA_VERSION:
            return
        steps = range(version, store.SCHEMA_VERSION)
        if version < 1 or any(v not in store.MIGRATIONS for v in steps):
            raise VaultTampered(f"the vault's schema version {version} is not one Strongroom wrote")
        self.auto_backup(f"migrate-{version}")
        with self._write() as conn:
            for v in steps:
                store.MIGRATIONS[v](conn)
            conn.execute(
                "UPDATE meta SET value = ? WHERE key = 'schema_version'",
                (str(store.SCHEMA_VERSION),),
            )
            self._event(
                "vault.migrate", self.vault_id,
                details={"from": version, "to": store.SCHEMA_VERSION},
            )

    def _record_unlock(self, slot: Keyslot) -> None:
        failures = self.backoff.state()
        with self._write(anchor=False):
            if failures.failures:
                self._event(
                    "vault.unlock",
                    self.vault_id,
                    Outcome.Failed,
                    {
                        "failures": failures.failures,
                        "first": failures.first_failure,
                        "last": failures.last_failure,
                    },
                )
            self._event("vault.unlock", self.vault_id, details={"slot": slot.id, "kind": slot.kind})
        header = self._fresh_header()
        used = self._now()
        self._save_header(
            replace(
                header,
                slots=tuple(replace(s, last_used=used) if s.id == slot.id else s
                            for s in header.slots),
            )
        )
        self.backoff.clear()

    def _attach(self, conn: Any, keys: _Keys) -> None:
        self._conn = conn
        self._keys = keys
        self._audit = AuditLog(conn, self.vault_id)

    def _check_vault_id(self) -> None:
        """Every page passes its HMAC and the database is this vault's, before unlock writes."""
        with store.translated():
            damaged = self._conn.execute("PRAGMA cipher_integrity_check").fetchone()
            row = None if damaged else self._conn.execute(
                "SELECT value FROM meta WHERE key = 'vault_id'"
            ).fetchone()
        if damaged:
            self.lock()
            raise VaultTampered(
                "the vault database failed its integrity check: it is corrupt or was modified"
            )
        if row is None or row[0] != self.vault_id:
            self.lock()
            raise VaultTampered("the vault header belongs to another vault than the database")

    def lock(self) -> None:
        """Close the database and drop every key reference."""
        with self._mutex:
            if self._conn is not None:
                with contextlib.suppress(Exception):
                    self._conn.close()
            self._conn = None
            self._audit = None
            if self._keys is not None:
                self._keys.deks.clear()
            self._keys = None

    def __enter__(self) -> Vault:
        return self

    def __exit__(self, *exc: object) -> None:
        self.lock()

    # ----- internals ---------------------------------------------------------------------------

    @property
    def _k(self) -> _Keys:
        if self._keys is None:
            raise VaultLocked("the vault is locked")
        return self._keys

    @property
    def _log(self) -> AuditLog:
        if self._audit is None:
            raise VaultLocked("the vault is locked")
        return self._audit

    def _now(self) -> str:
        return iso(self.clock.now())

    @contextlib.contextmanager
    def _write(self, anchor: bool = True) -> Iterator[Any]:
        """One write transaction under the vault's file lock; the header anchor follows commit."""
        with self._mutex:
            conn = self._conn
            if conn is None:
                raise VaultLocked("the vault is locked")
            with exclusive_lock(self.path / LOCK_FILE):
                with store.translated():
                    conn.execute("BEGIN IMMEDIATE")
                try:
                    yield conn
                    with store.translated():
                        conn.execute("COMMIT")
                except BaseException:
                    with contextlib.suppress(Exception):
                        conn.execute("ROLLBACK")
                    raise
                if anchor:
                    self._save_header(self._fresh_header())

    @contextlib.contextmanager
    def _read(self) -> Iterator[Any]:
        with self._mutex:
            if self._conn is None:
                raise VaultLocked("the vault is locked")
            with store.translated():
                yield self._conn

    def _fresh_header(self) -> Header:
        """The header as it is on disk now (another process may have changed it), checked."""
        header = Header.load(self.header_path)
        if not header.mac_ok(self._k.master):
            raise VaultTampered("the vault header was modified outside Strongroom")
        return header

    def _save_header(self, header: Header) -> None:
        header = replace(header, anchor=self._log.head()).sealed(self._k.master)
        header.save(self.header_path)
        self.header = header

    def _event(
        self,
        action: str,
        target: str,
        outcome: Outcome = Outcome.Ok,
        details: dict[str, Any] | None = None,
    ) -> None:
        self._log.append(
            ts=self._now(),
            actor=self.actor,
            action=action,
            target=target,
            outcome=outcome,
            details=details,
        )

    def record(
        self,
        action: str,
        target: str,
        outcome: Outcome = Outcome.Ok,
        details: dict[str, Any] | None = None,
    ) -> None:
        """Append an audit event for an operation that happened outside the vault's own methods."""
        with self._write():
            self._event(action, target, outcome, details)

    def record_many(
        self,
        action: str,
        entries: Sequence[tuple[str, dict[str, Any]]],
        outcome: Outcome = Outcome.Ok,
    ) -> None:
        """Append one ``action`` event per ``(target, details)`` in a single transaction, all or
        none, with one header anchor write: a batch of 1,000 signatures costs one fsync pair,
        not 1,000."""
        with self._write():
            for target, details in entries:
                self._event(action, target, outcome, details)

    # ----- data keys ---------------------------------------------------------------------------

    def _new_dek(self, level: Classification, generation: int) -> bytes:
        dek = random_key()
        nonce, wrapped = seal(
            _dek_wrap_key(self._k.master), dek, _dek_aad(self.vault_id, level.value, generation)
        )
        self._conn.execute(
            "INSERT INTO deks (level, generation, nonce, wrapped, created) VALUES (?, ?, ?, ?, ?)",
            (level.value, generation, nonce, wrapped, self._now()),
        )
        self._k.deks[(level.value, generation)] = dek
        return dek

    def _dek(self, level: str, generation: int) -> bytes:
        cached = self._k.deks.get((level, generation))
        if cached is not None:
            return cached
        row = self._conn.execute(
            "SELECT nonce, wrapped FROM deks WHERE level = ? AND generation = ?",
            (level, generation),
        ).fetchone()
        if row is None:
            raise VaultTampered(f"the data key for level {level} is missing")
        try:
            dek = unseal(
                _dek_wrap_key(self._k.master),
                bytes(row[0]),
                bytes(row[1]),
                _dek_aad(self.vault_id, level, generation),
            )
        except DecryptionFailed as e:
            raise VaultTampered(f"the data key for level {level} failed its integrity check") from e
        self._k.deks[(level, generation)] = dek
        return dek

    def _current_generation(self, level: str) -> int:
        row = self._conn.execute(
            "SELECT max(generation) FROM deks WHERE level = ?", (level,)
        ).fetchone()
        if row is None or row[0] is None:
            raise VaultTampered(f"the data key for level {level} is missing")
        return int(row[0])

    def _encrypt_version(
        self, secret_id: int, version: int, level: str, value: bytes
    ) -> tuple[int, bytes, bytes]:
        generation = self._current_generation(level)
        nonce, ciphertext = seal(
            self._dek(level, generation), value, _secret_aad(secret_id, version)
        )
        return generation, nonce, ciphertext

    def _decrypt_version(self, name: str, secret_id: int, version: int) -> bytes:
        row = self._conn.execute(
            "SELECT classification, dek_generation, nonce, ciphertext FROM versions "
            "WHERE secret_id = ? AND version = ?",
            (secret_id, version),
        ).fetchone()
        if row is None:
            raise NotFound(f"secret {name!r} has no version {version}")
        try:
            return unseal(
                self._dek(row[0], row[1]), bytes(row[2]), bytes(row[3]),
                _secret_aad(secret_id, version),
            )
        except DecryptionFailed as e:
            raise VaultTampered(
                f"version {version} of secret {name!r} failed its integrity check"
            ) from e

    # ----- secrets -----------------------------------------------------------------------------

    def _insert_version(self, info: SecretInfo, version: int, value: bytes) -> None:
        level = info.classification.value
        generation, nonce, ciphertext = self._encrypt_version(info.id, version, level, value)
        meta = {
            "classification": level,
            "owner": info.owner,
            "note": info.note,
            "tags": list(info.tags),
            "expires": info.expires,
            "rotation_due": info.rotation_due,
        }
        self._conn.execute(
            "INSERT INTO versions (secret_id, version, created, actor, classification, "
            "dek_generation, nonce, ciphertext, meta) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (info.id, version, info.updated, self.actor, level, generation, nonce, ciphertext,
             canonical_json(meta).decode()),
        )

    def _set_tags(self, secret_id: int, tags: tuple[str, ...]) -> None:
        self._conn.execute("DELETE FROM secret_tags WHERE secret_id = ?", (secret_id,))
        self._conn.executemany(
            "INSERT INTO secret_tags (secret_id, tag) VALUES (?, ?)",
            [(secret_id, t) for t in tags],
        )

    def _insert_secret(self, new: NewSecret) -> SecretInfo:
        name = check_name(new.name)
        value = check_value(new.value)
        tags = check_tags(new.tags)
        note = check_note(new.note)
        now = self._now()
        owner = new.owner or self.actor
        expires = new.expires.isoformat() if new.expires else None
        rotation_due = new.rotation_due.isoformat() if new.rotation_due else None
        if self._conn.execute("SELECT 1 FROM secrets WHERE name = ?", (name,)).fetchone():
            raise AlreadyExists(f"a secret named {name!r} already exists")
        cursor = self._conn.execute(
            "INSERT INTO secrets (name, classification, owner, note, tags, created, updated, "
            "expires, rotation_due, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1)",
            (name, new.classification.value, owner, note, json.dumps(list(tags)), now, now,
             expires, rotation_due),
        )
        info = SecretInfo(
            cursor.lastrowid, name, new.classification, owner, note, tags, now, now, expires,
            rotation_due, 1,
        )
        self._set_tags(info.id, tags)
        self._insert_version(info, 1, value)
        level = info.classification.value
        self._event("secret.create", name, details={"version": 1, "classification": level})
        return info

    def add_secret(self, new: NewSecret) -> SecretInfo:
        with self._write():
            return self._insert_secret(new)

    def add_secrets(self, items: Iterable[NewSecret]) -> int:
        """Add many secrets in one transaction (imports, benchmarks); all or none."""
        count = 0
        with self._write():
            for item in items:
                self._insert_secret(item)
                count += 1
        return count

    def _info(self, name: str) -> SecretInfo:
        row = self._conn.execute(
            _SELECT_INFO + " WHERE name = ?", (name,)
        ).fetchone()
        if row is None:
            raise NotFound(f"no secret named {name!r}")
        return _row_to_info(row)

    def secret_info(self, name: str) -> SecretInfo:
        with self._read():
            return self._info(name)

    def get_secret(self, name: str, version: int | None = None, purpose: str = "read") -> bytes:
        """Decrypt a secret's value (the current version unless ``version``); an audited read."""
        if purpose not in READ_PURPOSES:
            raise UsageError(f"unknown read purpose {purpose!r}")
        with self._write():
            info = self._info(name)
            version = info.version if version is None else version
            value = self._decrypt_version(name, info.id, version)
            self._event(f"secret.{purpose}", name, details={"version": version})
        return value

    def update_secret(
        self,
        name: str,
        value: bytes | None = None,
        *,
        classification: Classification | None = None,
        tags: Iterable[str] | None = None,
        note: str | None = None,
        owner: str | None = None,
        expires: dt.date | None = None,
        clear_expires: bool = False,
        rotation_due: dt.date | None = None,
        clear_rotation_due: bool = False,
    ) -> SecretInfo:
        """Change a secret: a new value makes a new version; metadata alone changes in place.

        A classification change without a new value re-encrypts the current value under the new
        level's data key as a new version, so no value is ever held under two levels' keys.
        """
        with self._write():
            info = self._info(name)
            changes: dict[str, Any] = {}
            if classification is not None and classification != info.classification:
                changes["classification"] = classification
            if tags is not None and check_tags(tags) != info.tags:
                changes["tags"] = check_tags(tags)
            if note is not None and check_note(note) != info.note:
                changes["note"] = note
            if owner is not None and owner != info.owner:
                changes["owner"] = owner
            if expires is not None or clear_expires:
                new_exp = None if clear_expires else expires.isoformat()  # type: ignore[union-attr]
                if new_exp != info.expires:
                    changes["expires"] = new_exp
            if rotation_due is not None or clear_rotation_due:
                new_rot = None if clear_rotation_due else rotation_due.isoformat()  # type: ignore[union-attr]
                if new_rot != info.rotation_due:
                    changes["rotation_due"] = new_rot
            if value is None and not changes:
                return info
            if value is None and "classification" in changes:
                value = self._decrypt_version(name, info.id, info.version)
            new_version = info.version + 1 if value is not None else info.version
            updated = replace(info, **changes, updated=self._now(), version=new_version)
            self._conn.execute(
                "UPDATE secrets SET classification = ?, owner = ?, note = ?, tags = ?, "
                "updated = ?, expires = ?, rotation_due = ?, version = ? WHERE id = ?",
                (updated.classification.value, updated.owner, updated.note,
                 json.dumps(list(updated.tags)), updated.updated, updated.expires,
                 updated.rotation_due, updated.version, info.id),
            )
            if "tags" in changes:
                self._set_tags(info.id, updated.tags)
            if value is not None:
                self._insert_version(updated, new_version, check_value(value))
            details: dict[str, Any] = {"version": new_version, "fields": sorted(changes)}
            if "classification" in changes:
                details["classification"] = updated.classification.value
            self._event("secret.update", name, details=details)
            return updated

    def delete_secret(self, name: str) -> None:
        """Delete a secret and all its versions (SQLCipher secure_delete overwrites the pages)."""
        with self._write():
            info = self._info(name)
            self._conn.execute("DELETE FROM versions WHERE secret_id = ?", (info.id,))
            self._conn.execute("DELETE FROM secrets WHERE id = ?", (info.id,))
            self._event("secret.delete", name, details={"versions": info.version})

    def list_secrets(
        self,
        search: str | None = None,
        classification: Classification | None = None,
        tag: str | None = None,
        limit: int | None = None,
    ) -> list[SecretInfo]:
        """Metadata of the secrets that match, by name; values are never decrypted.

        ``search`` is a case-insensitive substring of name, tags, note or owner, answered from a
        trigram index (terms of one or two characters fall back to a scan of names).
        """
        where: list[str] = []
        args: list[Any] = []
        sql = _SELECT_INFO
        if search:
            if len(search) >= 3:
                where.append("id IN (SELECT rowid FROM secrets_fts WHERE secrets_fts MATCH ?)")
                args.append(_fts_phrase(search))
            else:
                where.append("name LIKE ? ESCAPE '\\'")
                escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
                args.append(f"%{escaped}%")
        if classification is not None:
            where.append("classification = ?")
            args.append(classification.value)
        if tag is not None:
            where.append("id IN (SELECT secret_id FROM secret_tags WHERE tag = ?)")
            args.append(tag)
        if where:
            sql += " WHERE " + " AND ".join(where)
        # "+name": sort in memory after a table scan; walking the name index fetches rows out of
        # order and decrypts pages repeatedly (3x slower at 100k secrets).
        sql += " ORDER BY +name"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit)
        with self._read() as conn:
            return [_row_to_info(r) for r in conn.execute(sql, args).fetchall()]

    def count_secrets(self) -> int:
        with self._read() as conn:
            return int(conn.execute("SELECT count(*) FROM secrets").fetchone()[0])

    def history(self, name: str) -> list[VersionInfo]:
        with self._read() as conn:
            info = self._info(name)
            rows = conn.execute(
                "SELECT version, created, actor, classification, meta FROM versions "
                "WHERE secret_id = ? ORDER BY version",
                (info.id,),
            ).fetchall()
        return [
            VersionInfo(r[0], r[1], r[2], Classification(r[3]), json.loads(r[4])) for r in rows
        ]

    # ----- keys and keyslots -------------------------------------------------------------------

    def change_passphrase(self, old: bytes, new: bytes) -> None:
        """Re-wrap the master key for the passphrase slot that ``old`` opens, under ``new``.

        Refused while two-factor slots exist: they mix the passphrase they were enrolled with into
        their KEK, and re-wrapping them needs their device; remove and re-enrol them instead.
        """
        with self._mutex:
            keys = self._k
            header = self._fresh_header()
            two_factor = [s.label or s.id for s in header.slots if needs_passphrase(s)]
            if two_factor:
                raise Refused(
                    "these two-factor keyslots use the current passphrase: "
                    f"{', '.join(two_factor)}; remove them, change it, then enrol them again"
                )
            unlocker = PassphraseUnlocker(old)
            for slot in (s for s in header.slots if s.kind == PASSPHRASE):
                kek = unlocker.derive_kek(slot)
                if unwrap_master_key(kek, slot, self.vault_id) == keys.master:
                    break
            else:
                self.backoff.record_failure(self.clock.now())
                raise WrongPassphrase("the current passphrase is wrong; nothing was changed")
            replacement, new_kek = new_passphrase_slot(
                new, keys.master, self.vault_id, now=slot.created,
                label=slot.label, kdf=argon2_params_from_slot(slot), slot_id=slot.id,
            )
            slots = tuple(replacement if s.id == slot.id else s for s in header.slots)
            with self._write(anchor=False):
                self._event("passphrase.change", slot.id)
            self._save_header(replace(header, slots=slots))
            if keys.slot_id == slot.id:
                keys.kek = new_kek

    def add_hardware_slot(
        self,
        source: SlotSecretSource,
        *,
        label: str,
        options: Mapping[str, Any] | None = None,
        passphrase: bytes | None = None,
        prompts: Prompts | None = None,
        cancel: threading.Event | None = None,
        on_status: StatusCallback | None = None,
    ) -> Keyslot:
        """Enrol a FIDO2 key, the TPM or the OS keyring as another way to open the vault.

        With ``passphrase`` the slot is two-factor: it needs the device and that passphrase, which
        must open one of the vault's passphrase slots (so a typo cannot lock anyone out).
        """
        label = _slot_label(label)
        with self._mutex:
            keys = self._k
            header = self._fresh_header()
            kdf = None
            if passphrase is not None:
                kdf = self._passphrase_slot_for(header, passphrase, keys.master)
            slot, _kek = new_hardware_slot(
                source, keys.master, self.vault_id, now=self._now(), label=label,
                options=options, passphrase=passphrase, two_factor_kdf=kdf, prompts=prompts,
                cancel=cancel, on_status=on_status,
                enrolled=[SlotRef(s.id, s.label, s.params) for s in header.slots
                          if s.kind == source.kind],
            )
            header = self._fresh_header()
            with self._write(anchor=False):
                self._event(
                    "keyslot.add", slot.id,
                    details={"kind": slot.kind, "label": label, "two_factor": kdf is not None},
                )
            self._save_header(replace(header, slots=(*header.slots, slot)))
            return slot

    def _passphrase_slot_for(
        self, header: Header, passphrase: bytes, master: bytes
    ) -> Argon2Params:
        """The Argon2id cost of the passphrase slot ``passphrase`` opens, or WrongPassphrase."""
        unlocker = PassphraseUnlocker(passphrase)
        for slot in (s for s in header.slots if s.kind == PASSPHRASE):
            if unwrap_master_key(unlocker.derive_kek(slot), slot, self.vault_id) == master:
                return argon2_params_from_slot(slot)
        raise WrongPassphrase("the passphrase does not open this vault; nothing was enrolled")

    def remove_slot(self, slot_id: str, source: SlotSecretSource | None = None) -> None:
        """Remove a keyslot. Never the last one, and never the last passphrase slot unless at
        least two security keys remain (one lost key must not lock the vault for good)."""
        with self._mutex:
            self._k  # noqa: B018 - raises VaultLocked
            header = self._fresh_header()
            slot = header.slot(slot_id)
            if slot is None:
                raise NotFound(f"no keyslot {slot_id}")
            rest = [s for s in header.slots if s.id != slot_id]
            if not rest:
                raise Refused("this is the vault's only keyslot; add another before removing it")
            fido2_left = sum(1 for s in rest if s.kind == SlotKind.Fido2.value)
            if (slot.kind == PASSPHRASE and not any(s.kind == PASSPHRASE for s in rest)
                    and fido2_left < MIN_FIDO2_KEYS):
                raise Refused(
                    "this is the last passphrase keyslot; enrol at least two security keys "
                    "before removing it"
                )
            if slot_id == self._k.slot_id:
                self._k.kek = b""
            with self._write(anchor=False):
                self._event("keyslot.remove", slot.id, details={"kind": slot.kind})
            self._save_header(replace(header, slots=tuple(rest)))
        if source is not None:
            source.forget(SlotRef(slot.id, slot.label, slot.params))

    def rename_slot(self, slot_id: str, label: str) -> None:
        label = _slot_label(label)
        with self._mutex:
            header = self._fresh_header()
            slot = header.slot(slot_id)
            if slot is None:
                raise NotFound(f"no keyslot {slot_id}")
            with self._write(anchor=False):
                self._event("keyslot.rename", slot.id, details={"label": label})
            self._save_header(replace(
                header, slots=tuple(replace(s, label=label) if s.id == slot_id else s
                                    for s in header.slots),
            ))

    def test_slot(
        self,
        slot_id: str,
        unlocker: KeyslotUnlocker,
        *,
        cancel: threading.Event | None = None,
        on_status: StatusCallback | None = None,
    ) -> None:
        """Check that ``unlocker`` still opens ``slot_id`` (the key works, the PIN is known)."""
        with self._mutex:
            master = self._k.master
            header = self._fresh_header()
            slot = header.slot(slot_id)
            if slot is None:
                raise NotFound(f"no keyslot {slot_id}")
            if slot.kind != unlocker.kind:
                raise UsageError(f"keyslot {slot_id} is a {slot.kind} slot, not {unlocker.kind}")
            try:
                if isinstance(unlocker, HardwareUnlocker):
                    unlocker.select([slot], cancel=cancel, on_status=on_status)
                kek = unlocker.derive_kek(slot, cancel=cancel, on_status=on_status)
                ok = unwrap_master_key(kek, slot, self.vault_id) == master
            except UserCancelled:
                raise
            except StrongroomError as e:
                self.record("keyslot.test", slot.id, Outcome.Failed,
                            {"kind": slot.kind, "error": type(e).__name__})
                raise
            if not ok:
                self.record("keyslot.test", slot.id, Outcome.Failed, {"kind": slot.kind})
                raise AuthenticationFailed(
                    f"keyslot {slot.label or slot.id} did not open the vault"
                )
            with self._write(anchor=False):
                self._event("keyslot.test", slot.id, details={"kind": slot.kind})
            header = self._fresh_header()
            now = self._now()
            self._save_header(replace(
                header, slots=tuple(replace(s, last_tested=now) if s.id == slot_id else s
                                    for s in header.slots),
            ))

    # ----- device-key blobs (app.signing.KeyBlobStore) -----------------------------------------

    def put_blob(self, store_name: str, blob: KeyBlob) -> None:
        with self._write() as conn:
            conn.execute(
                "INSERT INTO device_keys (store, key_id, label, data, created) "
                "VALUES (?, ?, ?, ?, ?)",
                (store_name, blob.key_id, blob.label, blob.data, self._now()),
            )
            self._event("device_key.store", blob.key_id,
                        details={"store": store_name, "label": blob.label})

    def blobs(self, store_name: str) -> list[KeyBlob]:
        with self._read() as conn:
            rows = conn.execute(
                "SELECT key_id, label, data FROM device_keys WHERE store = ? ORDER BY created",
                (store_name,),
            ).fetchall()
        return [KeyBlob(r[0], r[1], bytes(r[2])) for r in rows]

    def remove_blob(self, store_name: str, key_id: str) -> None:
        with self._write() as conn:
            gone = conn.execute(
                "DELETE FROM device_keys WHERE store = ? AND key_id = ?", (store_name, key_id)
            ).rowcount
            if not gone:
                raise NotFound(f"no {store_name} key {key_id} in this vault")
            self._event("device_key.remove", key_id, details={"store": store_name})

    def rotate_master_key(self, *, backup: bool = True) -> None:
        """Give the database a new random master key (SQLCipher rekey) and re-wrap the slot.

        Crash-safe: the header first holds the new key beside the old (``wrapped_next``), then the
        database is rekeyed, then the header keeps only the new key. An unlock in between finds
        whichever key opens the database and completes or abandons the rotation.
        """
        with self._mutex:
            keys = self._k
            header = self._fresh_header()
            others = [s.label or s.id for s in header.slots if s.id != keys.slot_id]
            if others:
                raise Refused(
                    "rotating the master key re-wraps only the keyslot used to unlock; remove or "
                    f"re-enrol these first: {', '.join(others)}"
                )
            if not keys.kek:
                raise Refused("unlock the vault again before rotating its master key")
            if backup:
                self.auto_backup("rekey")
            slot = header.slot(keys.slot_id)
            assert slot is not None  # noqa: S101 - checked above: the unlocking slot is in the header
            new_master = random_key()
            pending = replace(
                slot, wrapped_next=wrap_master_key(keys.kek, new_master, slot, self.vault_id)
            )
            self._save_header(replace(header, slots=(pending,)))
            old_master = keys.master
            with self._mutex, exclusive_lock(self.path / LOCK_FILE):
                store.rekey(self._conn, new_master)
            self._keys = _Keys(new_master, keys.slot_id, keys.kek)
            self._finish_rotation(old_master, new_master, recovered=False)

    def _finish_rotation(self, old_master: bytes, new_master: bytes, *, recovered: bool) -> None:
        """Re-wrap the DEKs under the new master key and drop the old key from the header."""
        old_wrap, new_wrap = _dek_wrap_key(old_master), _dek_wrap_key(new_master)
        with self._write(anchor=False) as conn:
            rows = conn.execute("SELECT level, generation, nonce, wrapped FROM deks").fetchall()
            for level, generation, nonce, wrapped in rows:
                aad = _dek_aad(self.vault_id, level, generation)
                try:
                    unseal(new_wrap, bytes(nonce), bytes(wrapped), aad)
                    continue  # already re-wrapped before an interruption
                except DecryptionFailed:
                    pass
                try:
                    dek = unseal(old_wrap, bytes(nonce), bytes(wrapped), aad)
                except DecryptionFailed as e:
                    raise VaultTampered(f"the data key for level {level} failed its check") from e
                new_nonce, new_wrapped = seal(new_wrap, dek, aad)
                conn.execute(
                    "UPDATE deks SET nonce = ?, wrapped = ? WHERE level = ? AND generation = ?",
                    (new_nonce, new_wrapped, level, generation),
                )
            self._event("vault.rekey", self.vault_id, details={"recovered": recovered})
        header = Header.load(self.header_path)
        if not (header.mac_ok(old_master) or header.mac_ok(new_master)):
            raise VaultTampered("the vault header was modified outside Strongroom")
        slots = tuple(
            s if s.wrapped_next is None else replace(s, wrapped=s.wrapped_next, wrapped_next=None)
            for s in header.slots
        )
        self._save_header(replace(header, slots=slots))

    def _abandon_rotation(self) -> None:
        header = self._fresh_header()
        slots = tuple(replace(s, wrapped_next=None) for s in header.slots)
        with self._write(anchor=False):
            self._event("vault.rekey", self.vault_id, Outcome.Failed, {"abandoned": True})
        self._save_header(replace(header, slots=slots))

    def rotate_dek(self, level: Classification, *, backup: bool = True) -> int:
        """New data key for one level; re-encrypts that level's versions only. Returns the count."""
        if backup:
            self.auto_backup(f"dek-{level.value}")
        with self._write() as conn:
            old_generation = self._current_generation(level.value)
            generation = old_generation + 1
            new_dek = self._new_dek(level, generation)
            rows = conn.execute(
                "SELECT secret_id, version, dek_generation, nonce, ciphertext FROM versions "
                "WHERE classification = ?",
                (level.value,),
            ).fetchall()
            for secret_id, version, gen, nonce, ciphertext in rows:
                aad = _secret_aad(secret_id, version)
                try:
                    old_dek = self._dek(level.value, gen)
                    value = unseal(old_dek, bytes(nonce), bytes(ciphertext), aad)
                except DecryptionFailed as e:
                    raise VaultTampered("a stored value failed its integrity check") from e
                new_nonce, new_ciphertext = seal(new_dek, value, aad)
                conn.execute(
                    "UPDATE versions SET dek_generation = ?, nonce = ?, ciphertext = ? "
                    "WHERE secret_id = ? AND version = ?",
                    (generation, new_nonce, new_ciphertext, secret_id, version),
                )
            conn.execute(
                "DELETE FROM deks WHERE level = ? AND generation < ?", (level.value, generation)
            )
            for key in [k for k in self._k.deks if k[0] == level.value and k[1] < generation]:
                del self._k.deks[key]
            self._event(
                "dek.rotate",
                level.value,
                details={"generation": generation, "versions": len(rows)},
            )
        return len(rows)

    def rotate_all(self) -> None:
        """Master key and every level's data key, after one automatic backup."""
        self.auto_backup("rotate")
        self.rotate_master_key(backup=False)
        for level in Classification:
            self.rotate_dek(level, backup=False)

    # ----- audit and backups -------------------------------------------------------------------

    def audit_verify(self) -> VerifyReport:
        with self._read():
            header = self._fresh_header()
            return self._log.verify(header.anchor)

    def audit_events(self, **filters: Any) -> list[Any]:
        with self._read():
            return self._log.events(**filters)

    def export_database(self, dest: Path) -> None:
        """Write an encrypted, consistent copy of the database (same key) to ``dest``."""
        with self._read() as conn:
            store.export_copy(conn, dest, self._k.master)

    def counts(self) -> dict[str, int]:
        with self._read() as conn:
            return counts(conn)

    def auto_backup(self, reason: str) -> Path:
        """Back up into the vault's backups/ before a migration or rekey; keep the last few."""
        from .backup import create_backup

        folder = self.path / BACKUP_DIR
        try:
            folder.mkdir(mode=0o700, exist_ok=True)
        except OSError as e:
            raise storage_error(e, str(folder)) from e
        stamp = self.clock.now().strftime("%Y%m%dT%H%M%S%fZ")
        dest = folder / f"auto-{stamp}-{reason}.srbk"
        create_backup(self, dest, automatic=True)
        for old in sorted(folder.glob("auto-*.srbk"))[:-AUTO_BACKUPS_KEPT]:
            with contextlib.suppress(OSError):
                old.unlink()
        return dest

    def integrity_check(self) -> list[str]:
        """SQLCipher's page-HMAC check plus SQLite's structural check; empty when sound."""
        with self._read() as conn:
            return integrity_problems(conn)


def counts(conn: Any) -> dict[str, int]:
    return {
        "secrets": int(conn.execute("SELECT count(*) FROM secrets").fetchone()[0]),
        "versions": int(conn.execute("SELECT count(*) FROM versions").fetchone()[0]),
        "audit_events": int(conn.execute("SELECT count(*) FROM audit").fetchone()[0]),
    }


def integrity_problems(conn: Any) -> list[str]:
    problems = [str(r[0]) for r in conn.execute("PRAGMA cipher_integrity_check").fetchall()]
    structural = [str(r[0]) for r in conn.execute("PRAGMA integrity_check").fetchall()]
    if structural != ["ok"]:
        problems += structural
    return problems


def remove_vault_files(path: Path, *, remove_dir: bool) -> None:
    """Delete what a failed restore wrote (only files Strongroom writes) and, if new, the folder."""
    for name in (DB_FILE, f"{DB_FILE}-wal", f"{DB_FILE}-shm", HEADER_FILE, LOCK_FILE, BACKOFF_FILE):
        with contextlib.suppress(OSError):
            (path / name).unlink()
    with contextlib.suppress(OSError):
        shutil.rmtree(path / BACKUP_DIR)
    if remove_dir:
        with contextlib.suppress(OSError):
            path.rmdir()


__all__ = [
    "AUTO_BACKUPS_KEPT",
    "BACKUP_DIR",
    "DB_FILE",
    "HEADER_FILE",
    "NewSecret",
    "StrongroomError",
    "Vault",
]
