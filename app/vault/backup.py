"""Backups: one file holding a consistent encrypted copy of the database and the keyslot header.

Layout (all lengths big-endian)::

    b"STRONGROOM-BACKUP\\n" | u32 format | u32 len | manifest JSON | u32 len | header JSON
    | u64 len | database (SQLCipher-encrypted, same master key) | 32-byte HMAC-SHA256

The HMAC covers every byte before it, under a key derived from the master key, so a truncated,
bit-flipped or spliced file is refused before anything is written. The manifest is plain JSON with
the vault id, the counts and digests; it names no secret. Verifying opens the copy in a private
temporary directory, runs SQLCipher's page check, walks the audit chain and decrypts every version.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from .. import database
from ..audit import AuditLog, Outcome
from ..crypto import DecryptionFailed, hkdf, mac, mac_equal
from ..errors import (
    AccessDenied,
    AuthenticationFailed,
    BackupInvalid,
    HeaderCorrupt,
    NotFound,
    Refused,
    StrongroomError,
    VaultTampered,
    WrongPassphrase,
)
from ..fsutil import fsync_dir, storage_error
from ..header import Header
from ..keyslots import PASSPHRASE, KeyslotUnlocker, unwrap_master_key, unwrap_operator_key
from ..model import iso
from .consistency import check_database, check_pages
from .integrity import export_database
from .layout import (
    AUTO_BACKUPS_KEPT,
    BACKUP_DIR,
    DB_FILE,
    HEADER_FILE,
    WORK_PREFIX,
    VaultKeys,
    counts,
    integrity_problems,
    remove_stale_work,
)
from .session import VaultSession

MAGIC = b"STRONGROOM-BACKUP\n"
FORMAT = 1
MAC_BYTES = 32
MAX_MANIFEST_BYTES = 1024 * 1024


@dataclass(frozen=True)
class BackupReport:
    path: Path
    vault_id: str
    created: str
    counts: dict[str, int]
    audit_head: int
    size: int
    # Values at levels whose data key the verifying operator does not hold: their version rows
    # and key wraps are checked, their plaintext cannot be (by design).
    not_held: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "file": str(self.path),
            "vault_id": self.vault_id,
            "created": self.created,
            "counts": self.counts,
            "audit_head": self.audit_head,
            "bytes": self.size,
            "values_not_held": self.not_held,
            "ok": True,
        }


def _backup_mac_key(master_key: bytes, vault_id: str) -> bytes:
    return hkdf(master_key, "backup-mac", salt=vault_id.encode())


def create_backup(vault: VaultSession, dest: Path, *, automatic: bool = False) -> BackupReport:
    """Write a backup of an unlocked vault to ``dest`` (which must not exist)."""
    dest = Path(dest)
    if dest.exists() and not dest.is_char_device():
        raise Refused(f"{dest} already exists; choose a new file name")
    action = "backup.auto" if automatic else "backup.create"
    # The snapshot holds this "begin" event; the outcome is recorded once the file is written.
    vault.record("backup.begin", dest.name, details={"automatic": automatic})
    try:
        report = _write_backup(vault, dest)
    except StrongroomError as e:
        vault.record(action, dest.name, Outcome.Failed, {"reason": str(e)})
        raise
    vault.record(action, dest.name, details={"bytes": report.size, **report.counts})
    return report


def _write_backup(vault: VaultSession, dest: Path) -> BackupReport:
    remove_stale_work(vault.path)
    work = Path(tempfile.mkdtemp(prefix=f"{WORK_PREFIX}{os.getpid()}-", dir=vault.path))
    try:
        copy = work / DB_FILE
        with vault._read() as conn:
            check_pages(conn)  # a damaged page, even a free one, is not carried into a backup
        export_database(vault, copy)
        db_bytes = copy.read_bytes()
        header = vault.header
        with vault._read() as conn:  # counts and head from the same snapshot
            found = counts(conn)
            head = AuditLog(conn, vault.vault_id).head()
        created = iso(vault.clock.now())
        manifest = {
            "vault_id": vault.vault_id,
            "created": created,
            "counts": found,
            "audit_head": 0 if head is None else head.seq,
            "db_sha256": hashlib.sha256(db_bytes).hexdigest(),
            "schema": database.SCHEMA_VERSION,
        }
        header_bytes = header.to_bytes()
        manifest_bytes = json.dumps(manifest, sort_keys=True).encode()
        body = b"".join(
            [
                MAGIC,
                struct.pack(">I", FORMAT),
                struct.pack(">I", len(manifest_bytes)),
                manifest_bytes,
                struct.pack(">I", len(header_bytes)),
                header_bytes,
                struct.pack(">Q", len(db_bytes)),
                db_bytes,
            ]
        )
        tag = mac(_backup_mac_key(vault._unlocked_keys.master, vault.vault_id), body)
        write_new(dest, body + tag)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return BackupReport(
        dest, vault.vault_id, created, found, 0 if head is None else head.seq, len(body) + MAC_BYTES
    )


def write_new(dest: Path, data: bytes) -> None:
    """Write ``data`` to a new file; on failure remove what was written (never a partial backup)."""
    created = False
    try:
        if dest.is_char_device():  # e.g. /dev/stdout or /dev/full
            with dest.open("wb") as f:
                f.write(data)
                f.flush()
            return
        fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        created = True
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        fsync_dir(dest.resolve().parent)
    except OSError as e:
        if created:
            with contextlib.suppress(OSError):
                dest.unlink()
        raise storage_error(e, str(dest)) from e


@dataclass(frozen=True)
class ParsedBackup:
    manifest: dict[str, Any]
    header: Header
    header_bytes: bytes
    db_bytes: bytes
    body: bytes
    tag: bytes


def _read_exact(f: BinaryIO, n: int, what: str) -> bytes:
    data = f.read(n)
    if len(data) != n:
        raise BackupInvalid(f"the backup is truncated (in its {what})")
    return data


def parse(path: Path) -> ParsedBackup:
    try:
        size = path.stat().st_size
        f = path.open("rb")
    except FileNotFoundError as e:
        raise NotFound(f"no backup file at {path}") from e
    except OSError as e:
        raise BackupInvalid(f"cannot read {path}: {e.strerror}") from e
    with f:
        if f.read(len(MAGIC)) != MAGIC:
            raise BackupInvalid(f"{path.name} is not a Strongroom backup")
        (fmt,) = struct.unpack(">I", _read_exact(f, 4, "format"))
        if fmt != FORMAT:
            raise BackupInvalid(f"{path.name} has backup format {fmt}; this version reads {FORMAT}")
        (n,) = struct.unpack(">I", _read_exact(f, 4, "manifest"))
        if n > MAX_MANIFEST_BYTES:
            raise BackupInvalid("the backup is corrupt (manifest length)")
        manifest_bytes = _read_exact(f, n, "manifest")
        (n,) = struct.unpack(">I", _read_exact(f, 4, "header"))
        if n > MAX_MANIFEST_BYTES:
            raise BackupInvalid("the backup is corrupt (header length)")
        header_bytes = _read_exact(f, n, "header")
        (n,) = struct.unpack(">Q", _read_exact(f, 8, "database"))
        if n > size:
            raise BackupInvalid("the backup is truncated (in its database)")
        db_bytes = _read_exact(f, n, "database")
        tag = _read_exact(f, MAC_BYTES, "checksum")
        if f.read(1):
            raise BackupInvalid("the backup has trailing data after its checksum")
    try:
        manifest = json.loads(manifest_bytes)
        if not isinstance(manifest, dict) or not isinstance(manifest.get("vault_id"), str) \
                or type(manifest.get("audit_head")) is not int or manifest["audit_head"] < 0:
            raise ValueError("manifest")
        header = Header.from_bytes(header_bytes, "the backup's header")
    except (ValueError, HeaderCorrupt, RecursionError) as e:  # RecursionError: nested too deep
        raise BackupInvalid("the backup is corrupt (manifest or header)") from e
    if header.vault_id != manifest["vault_id"]:
        raise BackupInvalid("the backup is corrupt (its header and manifest disagree)")
    body_len = len(MAGIC) + 4 + 4 + len(manifest_bytes) + 4 + len(header_bytes) + 8 + len(db_bytes)
    with path.open("rb") as f:
        body = f.read(body_len)
    return ParsedBackup(manifest, header, header_bytes, db_bytes, body, tag)


def backup_vault_id(path: Path) -> str:
    """The vault id a backup belongs to (read without any key)."""
    return str(parse(path).manifest["vault_id"])


def _unlock_header(header: Header, unlocker: KeyslotUnlocker) -> VaultKeys:
    """The keys the unlocker opens in ``header``: the master key and the slot's operator's."""
    for slot in (s for s in header.slots if s.kind == unlocker.kind):
        kek = unlocker.derive_kek(slot)
        master = unwrap_master_key(kek, slot, header.vault_id)
        if master is not None:
            operator_key = unwrap_operator_key(kek, slot, header.vault_id) or b""
            return VaultKeys(master, slot.id, kek, operator_id=slot.operator or "",
                             operator_key=operator_key)
    if unlocker.kind == PASSPHRASE:
        raise WrongPassphrase("the passphrase does not open this backup")
    raise AuthenticationFailed(f"the {unlocker.kind} key does not open this backup")


def _check_open(parsed: ParsedBackup, keys: VaultKeys, work: Path, path: Path) -> BackupReport:
    """Check the copy in ``work`` deeply: pages, structure, counts, audit chain, every value
    the verifying operator holds the level key of."""
    master = keys.master
    if not mac_equal(mac(_backup_mac_key(master, parsed.header.vault_id), parsed.body), parsed.tag):
        raise BackupInvalid(f"{path.name} failed its checksum: it is corrupt or was modified")
    if hashlib.sha256(parsed.db_bytes).hexdigest() != parsed.manifest.get("db_sha256"):
        raise BackupInvalid(f"{path.name} failed its checksum: the database copy differs")
    db = work / DB_FILE
    db.write_bytes(parsed.db_bytes)
    (work / HEADER_FILE).write_bytes(parsed.header_bytes)
    vault = VaultSession.open(work)
    try:
        conn = database.connect(db, master)
    except VaultTampered as e:
        raise BackupInvalid(f"the database in {path.name} does not open") from e
    try:
        problems = integrity_problems(conn)
        if problems:
            raise BackupInvalid(f"the database in {path.name} is damaged: {problems[0]}")
        found = counts(conn)
        if found != parsed.manifest.get("counts"):
            raise BackupInvalid(f"{path.name} holds other counts than its manifest records")
        vault._attach(conn, keys)
        check_database(conn, vault.vault_id, db)
        report = AuditLog(conn, vault.vault_id).verify(parsed.header.anchor)
        if not report.ok:
            raise BackupInvalid(
                f"the audit log in {path.name} fails verification: {report.reason}"
            )
        rows = conn.execute("SELECT s.name, v.secret_id, v.version FROM versions v "
                            "JOIN secrets s ON s.id = v.secret_id").fetchall()
        not_held = 0
        try:
            for name, secret_id, version in rows:
                try:
                    vault._deks.decrypt_version(name, secret_id, version)
                except AccessDenied:
                    not_held += 1
        except (VaultTampered, DecryptionFailed) as e:
            raise BackupInvalid(f"a stored value in {path.name} does not decrypt") from e
    finally:
        vault.lock()
    return BackupReport(
        path, parsed.header.vault_id, str(parsed.manifest.get("created")), found,
        int(parsed.manifest["audit_head"]), len(parsed.body) + MAC_BYTES, not_held,
    )


def verify_backup(
    path: Path, unlocker: KeyslotUnlocker, *, expect_vault_id: str | None = None
) -> BackupReport:
    """Open a backup in a private temporary directory and check it through; the live vault is
    never opened. ``expect_vault_id`` refuses a backup of another vault."""
    parsed = parse(Path(path))
    if expect_vault_id is not None and parsed.header.vault_id != expect_vault_id:
        raise BackupInvalid(
            f"{Path(path).name} is a backup of another vault ({parsed.header.vault_id[:8]}…), "
            f"not this one ({expect_vault_id[:8]}…)"
        )
    keys = _unlock_header(parsed.header, unlocker)
    work = Path(tempfile.mkdtemp(prefix="strongroom-verify-"))
    try:
        return _check_open(parsed, keys, work, Path(path))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def auto_backup(vault: VaultSession, reason: str) -> Path:
    """Back up into the vault's backups/ before a migration or rekey; keep the last few."""
    folder = vault.path / BACKUP_DIR
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
    except OSError as e:
        raise storage_error(e, str(folder)) from e
    stamp = vault.clock.now().strftime("%Y%m%dT%H%M%S%fZ")
    dest = folder / f"auto-{stamp}-{reason}.srbk"
    create_backup(vault, dest, automatic=True)
    for old in sorted(folder.glob("auto-*.srbk"))[:-AUTO_BACKUPS_KEPT]:
        with contextlib.suppress(OSError):
            old.unlink()
    return dest
