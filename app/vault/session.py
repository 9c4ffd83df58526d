"""The vault's lifecycle core: open, unlock and lock; transactions, the header and audit events.

The vault is an SQLCipher database opened by a random master key that keyslots wrap. Every change
and every read of a value is an audit event written in the same transaction, so if the event cannot
be written the operation does not happen; after each write the header's anchor follows the audit
log's head. What the vault does with an open database lives in the parts beside this module.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Self

from .. import database
from ..audit import AuditLog, Outcome
from ..errors import (
    AuthenticationFailed,
    HeaderCorrupt,
    NotFound,
    RollbackDetected,
    VaultLocked,
    VaultTampered,
    WrongPassphrase,
)
from ..fsutil import exclusive_lock
from ..header import AuditAnchor, Header
from ..keyslots import (
    PASSPHRASE,
    Keyslot,
    KeyslotUnlocker,
    StatusCallback,
    unwrap_master_key,
)
from ..model import Clock, SystemClock, iso
from ..unlock_methods import HardwareUnlocker, needs_passphrase
from . import counter, witness
from .backoff import Backoff, delay_after
from .consistency import check_anchor, check_database
from .datakeys import DataKeys
from .layout import (
    BACKOFF_FILE,
    DB_FILE,
    HEADER_FILE,
    LOCK_FILE,
    UNLOCK_LOCK_FILE,
    VaultKeys,
    current_user,
    remove_stale_work,
)


class VaultSession:
    """One vault folder, locked or unlocked (:meth:`open`, or ``Vault.create``). The parts build on
    what this keeps: the connection and keys, write transactions under the cross-process lock, the
    checked header and its audit anchor, and each change's audit event in its own transaction."""

    def __init__(self, path: Path, header: Header, clock: Clock | None = None) -> None:
        self.path = path
        self.header = header
        self.clock: Clock = clock or SystemClock()
        self.actor = current_user()
        self._conn: Any = None
        self._keys: VaultKeys | None = None
        self._audit: AuditLog | None = None
        self._mutex = threading.RLock()
        self.backoff = Backoff(path / BACKOFF_FILE, witness.backoff_file(header.vault_id, path),
                               path / UNLOCK_LOCK_FILE)
        self._accepting_rollback = False
        self.accepted_rollback: RollbackDetected | None = None

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
    def open(cls, path: Path, clock: Clock | None = None) -> Self:
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
        operator: str | None = None,
        prefer: str | None = None,
    ) -> None:
        """The first ``unlocker.kind`` slot it opens (``operator``'s only; ``prefer``'s first)."""
        with self._mutex:
            if self.unlocked:
                return
            slots = [s for s in self.header.slots if s.kind == unlocker.kind]
            if prefer is not None and (first := self.header.operator_named(prefer)):
                slots.sort(key=lambda s: s.operator != first.id)
            if operator is not None:
                ref = self.header.operator_named(operator)
                if ref is None:
                    raise NotFound(f"no operator named {operator!r} in this vault")
                slots = [s for s in slots if s.operator == ref.id]
            if not slots:
                raise AuthenticationFailed(f"this vault has no {unlocker.kind} keyslot"
                                           + ("" if operator is None else f" of {operator}"))
            with self.backoff.attempt(self.clock.now()) as attempt:
                if isinstance(unlocker, HardwareUnlocker):
                    # The device says which slot it opens (a FIDO2 key is probed before a touch).
                    slots = unlocker.select(slots, cancel=cancel, on_status=on_status)
                for slot in slots:
                    kek = unlocker.derive_kek(slot, cancel=cancel, on_status=on_status)
                    master = unwrap_master_key(kek, slot, self.vault_id)
                    if master is not None:
                        break
                else:
                    attempt.refused = True
                    wait = delay_after(attempt.failed.failures)
                    then = f"; wait {wait:.0f} s before the next attempt" if wait else ""
                    if unlocker.kind == PASSPHRASE:
                        raise WrongPassphrase(f"the passphrase does not open this vault{then}",
                                              wait)
                    what = f"the {unlocker.kind} key"
                    if any(needs_passphrase(s) for s in slots):
                        what += " with this passphrase (two-factor keyslot)"
                    raise AuthenticationFailed(f"{what} does not open this vault{then}", wait)
            self._open_with(slot, kek, master)

    def _open_with(self, slot: Keyslot, kek: bytes, master: bytes) -> None:
        try:
            self._open_database(slot, kek, master)
            self._migrate()
            self._bind_operator(slot, kek)
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
                conn = database.connect(self.db_path, pending)
            except VaultTampered:
                conn = database.connect(self.db_path, master)
                self._attach_checked(conn, VaultKeys(master, slot.id, kek))
                self._abandon_rotation()
            else:
                self._attach_checked(conn, VaultKeys(pending, slot.id, kek))
                self._finish_rotation(master, pending, recovered=True)
        else:
            conn = database.connect(self.db_path, master)
            self._attach_checked(conn, VaultKeys(master, slot.id, kek))

    def _attach_checked(self, conn: Any, keys: VaultKeys) -> None:
        """Attach, then check the database is sound, this vault's, and as new as the header."""
        self._attach(conn, keys)
        try:
            check_database(conn, self.vault_id, self.db_path)
            # Another process may have written since open() read the header: read the header,
            # the head and the witness again, under the write lock so that none moves between.
            with exclusive_lock(self.path / LOCK_FILE):
                now = Header.load(self.header_path)
                self.header = now if now.mac_ok(keys.master) else self.header
                head, seen = self._log.head(), witness.load(self.vault_id, self.path)
            try:
                check_anchor(self.header, head)
                witness.check(seen, head, self._log.hash_at)
                counter.check(self)  # layer 3: the TPM counter, when the header names one
            except RollbackDetected as e:
                if not self._accepting_rollback:
                    raise
                self.accepted_rollback = e  # vault/rollback.py records it once unlocked
        except BaseException:
            self.lock()
            raise

    def _record_unlock(self, slot: Keyslot) -> None:
        failures = self.backoff.state()
        with self._write(anchor=False):
            if failures.failures:
                self._event("vault.unlock", self.vault_id, Outcome.Failed, {
                    "failures": failures.failures, "first": failures.first_failure,
                    "last": failures.last_failure})
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
        remove_stale_work(self.path)  # backup copies a killed process left behind

    def _attach(self, conn: Any, keys: VaultKeys) -> None:
        self._conn = conn
        self._keys = keys
        self._audit = AuditLog(conn, self.vault_id)

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

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.lock()

    # ----- supplied by the parts above (app/vault/__init__.py binds them) ------------------------

    def auto_backup(self, reason: str) -> Path:
        """Back up into backups/ before a migration or rekey (vault/backup.py)."""
        raise NotImplementedError

    def _finish_rotation(self, old_master: bytes, new_master: bytes, *, recovered: bool) -> None:
        """Complete a master-key rotation (vault/rotation.py); unlock resumes one."""
        raise NotImplementedError

    def _abandon_rotation(self) -> None:
        """Drop a half-made master key the database never got (vault/rotation.py)."""
        raise NotImplementedError

    def _migrate(self) -> None:
        """Bring an older schema up to date at unlock (vault/migration.py)."""
        raise NotImplementedError

    def _bind_operator(self, slot: Keyslot, kek: bytes) -> None:
        """Act as the unlocking slot's operator (access/adoption.py)."""
        raise NotImplementedError

    # ----- what the parts use -----------------------------------------------------------------

    @property
    def _unlocked_keys(self) -> VaultKeys:
        if self._keys is None:
            raise VaultLocked("the vault is locked")
        return self._keys

    @property
    def _log(self) -> AuditLog:
        if self._audit is None:
            raise VaultLocked("the vault is locked")
        return self._audit

    @property
    def _deks(self) -> DataKeys:
        return DataKeys(self._conn, self._unlocked_keys, self.vault_id, self._now)

    def _now(self) -> str:
        return iso(self.clock.now())

    @contextlib.contextmanager
    def _write(self, anchor: bool = True, header_master: bytes | None = None) -> Iterator[Any]:
        """One write transaction under the vault's file lock; the header anchor follows commit.

        ``header_master``: the key the header is MAC'd under, when not the session's (a master-key
        rotation finishing).
        """
        with self._mutex:
            conn = self._conn
            if conn is None:
                raise VaultLocked("the vault is locked")
            with exclusive_lock(self.path / LOCK_FILE):
                with database.translated():
                    conn.execute("BEGIN IMMEDIATE")
                try:
                    yield conn
                    header = self._announce(self._log.head(), header_master)
                    with database.translated():
                        conn.execute("COMMIT")
                except BaseException:
                    with contextlib.suppress(Exception):
                        conn.execute("ROLLBACK")
                    raise
                if anchor:  # the header just read and checked: the file lock kept it as it was
                    self._save_header(header)

    @contextlib.contextmanager
    def _read(self) -> Iterator[Any]:
        with self._mutex:
            if self._conn is None:
                raise VaultLocked("the vault is locked")
            with database.translated():
                yield self._conn

    def _fresh_header(self) -> Header:
        """The header as it is on disk now (another process may have changed it), checked."""
        header = Header.load(self.header_path)
        if not header.mac_ok(self._unlocked_keys.master):
            raise VaultTampered("the vault header was modified outside Strongroom")
        return header

    def _save_header(self, header: Header) -> None:
        header = replace(header, anchor=self._log.head(), pending=None)
        header = counter.advance(self, header).sealed(self._unlocked_keys.master)
        header.save(self.header_path)
        self.header = header
        witness.save(self.vault_id, self.path, header.anchor, self._now())

    def _announce(self, head: AuditAnchor | None, header_master: bytes | None = None) -> Header:
        """Before a commit: record in the header the audit head the commit will leave, so an
        unlock after a crash between commit and header write tells it from an old header.
        Returns the header as it now is on disk (checked)."""
        master = header_master or self._unlocked_keys.master
        header = Header.load(self.header_path)
        if not header.mac_ok(master):
            raise VaultTampered("the vault header was modified outside Strongroom")
        if head is None or head == header.anchor:
            return header
        header = counter.announce(replace(header, pending=head)).sealed(master)
        header.save(self.header_path)
        self.header = header
        return header

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
