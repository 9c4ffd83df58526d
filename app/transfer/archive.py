"""The Strongroom archive: secrets with all their metadata in one passphrase-encrypted file.

Layout (lengths big-endian; docs/archive-format.md has the full description)::

    b"STRONGROOM-ARCHIVE\\n" | u32 format (1) | u32 H | header (H bytes of canonical JSON)
    | 12-byte nonce | u64 P | payload (P bytes: AES-256-GCM ciphertext with its 16-byte tag)

The header is public: format, created, vault id, count, cipher, the Argon2id parameters and
salt (as a passphrase keyslot keeps them, never under its floor of 64 MiB and 3 passes) and a
key check. The passphrase (NFC, UTF-8) gives K = Argon2id(passphrase); the payload key is
HKDF-SHA256(K, "strongroom/v1/archive/payload") and the key check is HMAC-SHA256 under
HKDF-SHA256(K, "strongroom/v1/archive/check") of b"strongroom archive key check". The magic,
format, length and header are the payload's associated data, so a changed header fails like a
changed payload. The payload is the canonical JSON ``{"format": 1, "secrets": [...]}``; each
secret has name, kind, value (base64 of the stored bytes), classification, tags, note, owner,
expires and rotation_due.

Reading, as the other importers do: a file over 256 MiB, not an archive, truncated, with
trailing bytes, a damaged header or hostile KDF costs is :class:`ArchiveInvalid` (a
BadImportFile, exit 2); a key check that does not match is WrongFilePassword (exit 4; a changed
salt or KDF cost reads the same); a payload that fails its tag under the right key was changed
after it was written: :class:`ArchiveTampered` (exit 3).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import entries
from ..access.approvals import Approval
from ..crypto import (
    NONCE_BYTES,
    Argon2Params,
    DecryptionFailed,
    calibrate_argon2,
    canonical_json,
    hkdf,
    mac,
    mac_equal,
    seal,
    unseal,
)
from ..errors import BadImportFile, IntegrityError, UsageError, WrongFilePassword
from ..keyslots import (
    argon2_params_from_mapping,
    b64d,
    b64e,
    normalize_passphrase,
    passphrase_slot_params,
)
from ..model import Classification
from ..passphrase_strength import require_strong
from ..vault.session import VaultSession
from .common import read_limited
from .exporting import ExportedSecret, ExportPlan, ExportResult, run
from .model import ImportItem, ParsedFile, file_digest

FORMAT = "archive"
MAGIC = b"STRONGROOM-ARCHIVE\n"
VERSION = 1
CIPHER = "aes-256-gcm"
MAX_ARCHIVE_BYTES = 256 * 1024 * 1024
MAX_HEADER_BYTES = 64 * 1024
_KEY_CHECK = b"strongroom archive key check"
_PREFIX = struct.Struct(">II")  # format, header length
_PAYLOAD_LENGTH = struct.Struct(">Q")


class ArchiveInvalid(BadImportFile):
    """The file is not a whole Strongroom archive: another file, truncated, damaged (exit 2)."""


class ArchiveTampered(IntegrityError):
    """The archive opens with its passphrase but its header or contents were changed (exit 3)."""


@dataclass(frozen=True)
class ArchivedSecret:
    """One secret as the archive keeps it."""

    name: str
    kind: str
    value: bytes = field(repr=False)
    classification: Classification = Classification.Moderate
    tags: tuple[str, ...] = ()
    note: str = ""
    owner: str = ""
    expires: dt.date | None = None
    rotation_due: dt.date | None = None

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "value": b64e(self.value),
                "classification": self.classification.value, "tags": list(self.tags),
                "note": self.note, "owner": self.owner,
                "expires": self.expires.isoformat() if self.expires else None,
                "rotation_due": self.rotation_due.isoformat() if self.rotation_due else None}


@dataclass(frozen=True)
class Archive:
    """An archive opened: its public header and its secrets."""

    header: dict[str, Any]
    secrets: tuple[ArchivedSecret, ...]


def _date(text: str | None) -> dt.date | None:
    return dt.date.fromisoformat(text) if text else None


def from_export(secret: ExportedSecret) -> ArchivedSecret:
    i = secret.info
    return ArchivedSecret(i.name, i.kind, secret.value, i.classification, i.tags, i.note,
                          i.owner, _date(i.expires), _date(i.rotation_due))


def _keys(passphrase: str, params: Argon2Params) -> tuple[bytes, bytes]:
    """(payload key, key check) from the passphrase."""
    root = params.derive(normalize_passphrase(passphrase))
    return hkdf(root, "archive/payload"), mac(hkdf(root, "archive/check"), _KEY_CHECK)


def kdf_for(kdf_time_ms: int) -> Argon2Params:
    """Argon2id costs for a new archive: about ``kdf_time_ms`` here, never under the floor."""
    return calibrate_argon2(kdf_time_ms)


def encode(secrets: Sequence[ArchivedSecret], passphrase: str, params: Argon2Params, *,
           vault_id: str, created: str) -> bytes:
    """The archive file's bytes (see the module docstring)."""
    payload = canonical_json({"format": VERSION, "secrets": [s.to_json() for s in secrets]})
    key, check = _keys(passphrase, params)
    header = canonical_json({"format": VERSION, "created": created, "vault": vault_id,
                             "count": len(secrets), "cipher": CIPHER,
                             "kdf": passphrase_slot_params(params), "key_check": b64e(check)})
    aad = MAGIC + _PREFIX.pack(VERSION, len(header)) + header
    nonce, ciphertext = seal(key, payload, aad)
    size = len(aad) + len(nonce) + _PAYLOAD_LENGTH.size + len(ciphertext)
    if size > MAX_ARCHIVE_BYTES:
        raise UsageError(f"the archive would be {size // 2**20} MiB, more than the "
                         f"{MAX_ARCHIVE_BYTES // 2**20} MiB an archive may hold; export fewer "
                         "secrets at a time (filter by classification, tag or search)")
    return aad + nonce + _PAYLOAD_LENGTH.pack(len(ciphertext)) + ciphertext


def export_archive(vault: VaultSession, export: ExportPlan, path: Path, passphrase: str, *,
                   approval: Approval | None = None, force: bool = False,
                   kdf_time_ms: int = 1000) -> ExportResult:
    """Write the planned secrets to a new archive at ``path``, encrypted under ``passphrase``."""
    require_strong(passphrase)
    params = kdf_for(kdf_time_ms)
    created, vault_id = vault._now(), vault.vault_id

    def archive(secrets: Sequence[ExportedSecret]) -> tuple[bytes, tuple[str, ...]]:
        return encode([from_export(s) for s in secrets], passphrase, params,
                      vault_id=vault_id, created=created), ()

    return run(vault, export, path, archive, approval=approval, force=force)


# ----- reading ---------------------------------------------------------------------------------


def _split(data: bytes) -> tuple[bytes, bytes, bytes, bytes]:
    """(associated data, header, nonce, ciphertext), or ArchiveInvalid naming what is wrong."""
    if len(data) > MAX_ARCHIVE_BYTES:
        raise ArchiveInvalid(f"the file is larger than the {MAX_ARCHIVE_BYTES // 2**20} MiB an "
                             "archive may be")
    if not data.startswith(MAGIC):
        if data and MAGIC.startswith(data):
            raise ArchiveInvalid("the archive is truncated")
        raise ArchiveInvalid("the file is not a Strongroom archive")
    start = len(MAGIC) + _PREFIX.size
    if len(data) < start:
        raise ArchiveInvalid("the archive is truncated")
    version, header_length = _PREFIX.unpack_from(data, len(MAGIC))
    if version != VERSION:
        raise ArchiveInvalid(f"the archive has format {version}; this Strongroom reads format "
                             f"{VERSION}")
    if header_length > MAX_HEADER_BYTES:
        raise ArchiveInvalid("the archive header is damaged (too long)")
    body = start + header_length + NONCE_BYTES + _PAYLOAD_LENGTH.size
    if len(data) < body:
        raise ArchiveInvalid("the archive is truncated")
    (payload_length,) = _PAYLOAD_LENGTH.unpack_from(data, body - _PAYLOAD_LENGTH.size)
    if len(data) < body + payload_length:
        raise ArchiveInvalid("the archive is truncated")
    if len(data) > body + payload_length:
        raise ArchiveInvalid("the archive has bytes after its end; it was changed")
    aad = data[: start + header_length]
    nonce = data[start + header_length: start + header_length + NONCE_BYTES]
    return aad, data[start:start + header_length], nonce, data[body:]


def _header(text: bytes) -> tuple[dict[str, Any], Argon2Params, bytes]:
    """The header, its Argon2id parameters (refused outside the keyslot bounds) and key check."""
    try:
        header = json.loads(text.decode("utf-8"))
        if not isinstance(header, dict) or header.get("format") != VERSION \
                or header.get("cipher") != CIPHER or type(header.get("count")) is not int:
            raise ValueError("fields")
        params = argon2_params_from_mapping(header["kdf"])
        check = b64d(header["key_check"])
    except (ValueError, KeyError, TypeError, UnicodeDecodeError, binascii.Error):
        raise ArchiveInvalid("the archive header is damaged or asks for KDF costs outside "
                             "Strongroom's bounds") from None
    return header, params, check


def open_archive(data: bytes, passphrase: str) -> Archive:
    """The archive's header and secrets; ArchiveInvalid (exit 2), WrongFilePassword (exit 4)
    or ArchiveTampered (exit 3)."""
    aad, header_text, nonce, ciphertext = _split(data)
    header, params, check = _header(header_text)
    key, expected = _keys(passphrase, params)
    if not mac_equal(check, expected):
        raise WrongFilePassword("the passphrase does not open this archive")
    try:
        payload = unseal(key, nonce, ciphertext, aad)
    except DecryptionFailed:
        raise ArchiveTampered("the archive was changed after it was written: its header or "
                             "contents fail their integrity check") from None
    secrets = _secrets(payload)
    if len(secrets) != header["count"]:
        raise ArchiveInvalid("the archive holds another number of secrets than its header says")
    return Archive(header, secrets)


def _secrets(payload: bytes) -> tuple[ArchivedSecret, ...]:
    try:
        doc = json.loads(payload.decode("utf-8"))
        if not isinstance(doc, dict) or doc.get("format") != VERSION:
            raise ValueError("format")
        rows = doc["secrets"]
        if not isinstance(rows, list):
            raise TypeError("secrets")
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise ArchiveInvalid("the archive's contents are not a Strongroom secrets list") from None
    out: list[ArchivedSecret] = []
    names: set[str] = set()
    for n, row in enumerate(rows, 1):
        secret = _secret(row, n)
        if secret.name in names:
            raise ArchiveInvalid(f"secret {n} in the archive repeats the name {secret.name!r}")
        names.add(secret.name)
        out.append(secret)
    return tuple(out)


def _secret(row: Any, n: int) -> ArchivedSecret:
    try:
        if not isinstance(row, dict) or set(row) != set(ArchivedSecret.__dataclass_fields__):
            raise ValueError("fields")
        texts = [row[k] for k in ("name", "kind", "note", "owner")]
        tags = row["tags"]
        if not all(isinstance(t, str) for t in texts) or not isinstance(tags, list) \
                or not all(isinstance(t, str) for t in tags) or row["kind"] not in entries.KINDS:
            raise TypeError("types")
        return ArchivedSecret(
            name=row["name"], kind=row["kind"],
            value=base64.b64decode(row["value"], validate=True),
            classification=Classification(row["classification"]), tags=tuple(tags),
            note=row["note"], owner=row["owner"], expires=_date(row["expires"]),
            rotation_due=_date(row["rotation_due"]))
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise ArchiveInvalid(f"secret {n} in the archive is malformed") from None


def read_archive(data: bytes, passphrase: str) -> ParsedFile:
    """An archive as an import reads it: one item per secret, each keeping its classification."""
    archive = open_archive(data, passphrase)
    items = tuple(
        ImportItem(name=s.name, kind=s.kind, value=s.value, tags=s.tags, note=s.note,
                   expires=s.expires, source=f"secret {n}",
                   classification=s.classification.value, rotation_due=s.rotation_due)
        for n, s in enumerate(archive.secrets, 1))
    return ParsedFile(FORMAT, file_digest(data), len(data), items)


def read_archive_file(path: Path, passphrase: str) -> ParsedFile:
    """:func:`read_archive` of the file at ``path`` (refused unread when over 256 MiB)."""
    return read_archive(read_limited(path, MAX_ARCHIVE_BYTES, "archive"), passphrase)
