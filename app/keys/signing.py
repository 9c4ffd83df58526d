"""Sign files on a token and write what comes out: digests made here, signatures written all or
none, public artefacts written atomically, and every token operation in the vault's audit log.

Files are hashed in chunks on this side (the token signs the digest; Ed25519 needs the whole
message). Each audit event names the module, token serial, key id and fingerprint, the algorithm
and the SHA-256 of what was signed — never a PIN or key material.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ..audit import Outcome
from ..errors import (
    NotFound,
    Refused,
    StorageError,
    StrongroomError,
    Unsupported,
    UsageError,
    UserCancelled,
)
from ..fsutil import atomic_write, fsync_dir, storage_error, sync_files, write_temp
from ..keyslots import StatusCallback
from .algorithms import hash_name, load_public_key, spki_der
from .fingerprints import hex_digits
from .ports import KeyInfo, KeyStore, KeyType, ProgressCallback, SignAlgorithm, TokenInfo
from .signature_paths import signature_paths

CHUNK = 1 << 20
PUBLIC_MODE = 0o644  # signatures, public keys, CSRs and certificates are public


class Recorder(Protocol):
    """What signing needs of the vault: ``Vault.record``."""

    def record(
        self,
        action: str,
        target: str,
        outcome: Outcome = Outcome.Ok,
        details: dict[str, Any] | None = None,
    ) -> None: ...

    def record_many(
        self,
        action: str,
        entries: Sequence[tuple[str, dict[str, Any]]],
        outcome: Outcome = Outcome.Ok,
    ) -> None: ...

    def authorize_key(self, permission: str, key_id: str, label: str, token: str | None,
                      approval: Any = None) -> dict[str, Any]:
        """The acting operator's grant (and approval) to use or manage a key, or AccessDenied
        (access/key_access.py)."""
        ...


def authorize(vault: Recorder | None, permission: str, key_id: str, label: str,
              token: TokenInfo | None, approval: Any = None) -> dict[str, Any]:
    if vault is None:
        return {}
    serial = None if token is None else (token.serial or token.label)
    return vault.authorize_key(permission, key_id, label, serial, approval)


# ----- hashing files -----------------------------------------------------------------------------


@dataclass(frozen=True)
class FileDigest:
    """What the token signs for one file, and the file's SHA-256 for the audit log."""

    path: Path
    signed: bytes = b""  # the digest under the algorithm's hash, or the message for Ed25519
    sha256: str = ""
    size: int = 0


def digest_file(path: Path, algorithm: SignAlgorithm) -> FileDigest:
    """Hash ``path`` in chunks (keep it whole for Ed25519, which signs the message)."""
    name = hash_name(algorithm)
    sha256 = hashlib.sha256()
    other = hashlib.new(name) if name is not None and name != "sha256" else None
    whole = bytearray() if name is None else None
    size = 0
    try:
        with path.open("rb") as f:
            while chunk := f.read(CHUNK):
                size += len(chunk)
                sha256.update(chunk)
                if other is not None:
                    other.update(chunk)
                if whole is not None:
                    whole += chunk
    except FileNotFoundError:
        raise NotFound(f"no file {path} to sign") from None
    except IsADirectoryError:
        raise UsageError(f"{path} is a directory, not a file") from None
    except OSError as e:
        raise StorageError(f"could not read {path}: {e.strerror or type(e).__name__}") from e
    signed = bytes(whole) if whole is not None else (other or sha256).digest()
    return FileDigest(path, signed, sha256.hexdigest(), size)


# ----- signing files -----------------------------------------------------------------------------


@dataclass(frozen=True)
class SignedFile:
    """One signature written: the input (None for a bare digest), the signature file, hashes."""

    source: Path | None
    signature: Path
    sha256: str  # of the file signed (or the digest given)
    algorithm: SignAlgorithm

    def to_json(self) -> dict[str, Any]:
        return {"file": None if self.source is None else str(self.source),
                "signature": str(self.signature), "sha256": self.sha256,
                "algorithm": self.algorithm.value}


def audit_details(token: TokenInfo | None, key: KeyInfo | None = None,
                  **extra: Any) -> dict[str, Any]:
    """The who-and-what of a token operation for the audit log (never a PIN or key material)."""
    details: dict[str, Any] = {}
    if token is not None:
        details |= {"store": token.store, "module": token.module, "token": token.label,
                    "token_serial": token.serial}
    if key is not None:
        details |= {"key_id": key.key_id, "key_label": key.label,
                    "fingerprint": key.fingerprint}
    return details | extra


def record(vault: Recorder | None, action: str, target: str, details: dict[str, Any],
           outcome: Outcome = Outcome.Ok) -> None:
    if vault is not None:
        vault.record(action, target, outcome, details)


def record_failure(vault: Recorder | None, action: str, target: str, details: dict[str, Any],
                   error: BaseException) -> None:
    """Best effort: a refused or failed token operation is an audit event too."""
    if vault is None or isinstance(error, UsageError):
        return
    # The user sees the original error, not a failure to record it.
    with contextlib.suppress(Exception):
        vault.record(action, target, Outcome.Failed,
                     {**details, "error": type(error).__name__})


def _write_temp(dest: Path, data: bytes) -> Path:
    """A sibling temp file holding ``data``, not yet synced (``_sync`` does the batch), to be
    renamed over ``dest`` later."""
    return write_temp(dest, data, PUBLIC_MODE, sync=False)


def _sync(temps: Sequence[tuple[Path, Path]]) -> None:
    """Make every temp file's data durable, in one pass, before any is renamed into place."""
    try:
        sync_files([tmp for tmp, _ in temps])
    except OSError as e:
        raise storage_error(e, temps[0][1].name) from e


def write_public(dest: Path, data: bytes) -> None:
    """Write a public artefact (public key, CSR, certificate) atomically; the directory must
    exist (NotFound otherwise, before anything is written)."""
    if not dest.parent.is_dir():
        raise NotFound(f"no directory {dest.parent} for {dest.name}")
    atomic_write(dest, data, PUBLIC_MODE)


def _commit(temps: Sequence[tuple[Path, Path]]) -> None:
    """Rename each temp file over its destination (the audit events are already recorded)."""
    dirs: set[Path] = set()
    for i, (tmp, dest) in enumerate(temps):
        try:
            os.replace(tmp, dest)
        except OSError as e:
            for left, _ in temps[i:]:
                with contextlib.suppress(OSError):
                    left.unlink()
            raise storage_error(e, dest.name) from e
        dirs.add(dest.parent)
    for d in dirs:
        fsync_dir(d)


def _discard(temps: Iterable[tuple[Path, Path]]) -> None:
    for tmp, _ in temps:
        with contextlib.suppress(OSError):
            tmp.unlink()


def sign_files(
    store: KeyStore,
    key: KeyInfo,
    paths: Sequence[Path],
    algorithm: SignAlgorithm,
    *,
    out: Path | None = None,
    out_dir: Path | None = None,
    vault: Recorder | None = None,
    token: TokenInfo | None = None,
    cancel: threading.Event | None = None,
    on_progress: ProgressCallback | None = None,
    on_status: StatusCallback | None = None,
    force: bool = True,
    approval: Any = None,
) -> list[SignedFile]:
    """Sign ``paths`` in one session and write their signatures, all or none.

    Every signature is made and written to a temp file, all are synced in one pass, then each is
    recorded in the audit log, then renamed into place (one directory fsync after the renames):
    after any failure (wrong PIN, cancel, token removed, disk full) no existing file has changed.
    ``on_progress(done, total)`` counts signatures. ``force`` False refuses to replace an
    existing signature file (the CLI without --force).
    """
    if not paths:
        raise UsageError("no files to sign")
    algorithm = SignAlgorithm(algorithm)
    dests = signature_paths(paths, out, out_dir, force=force)
    digests = [digest_file(p, algorithm) for p in paths]
    prehashed = algorithm is not SignAlgorithm.Ed25519
    temps: list[tuple[Path, Path]] = []
    base = audit_details(token, key, operation="sign", algorithm=algorithm.value)
    base["access"] = authorize(vault, "use", key.key_id, key.label, token, approval)
    try:
        signatures = store.sign_many(
            key, [d.signed for d in digests], algorithm, prehashed=prehashed,
            cancel=cancel, on_progress=on_progress, on_status=on_status,
        )
        for dest, sig in zip(dests, signatures, strict=False):
            temps.append((_write_temp(dest, sig), dest))
        if len(temps) != len(digests):
            if cancel is not None and cancel.is_set():
                raise UserCancelled("signing cancelled")
            raise StrongroomError(f"the token returned {len(temps)} of {len(digests)} signatures")
        _sync(temps)
        if vault is not None:
            vault.record_many("keys.sign", [
                (d.path.name, {**base, "file": str(d.path), "size": d.size, "sha256": d.sha256,
                               "signature_file": str(dest)})
                for d, (_, dest) in zip(digests, temps, strict=True)
            ])
        _commit(temps)
    except BaseException as e:
        _discard(temps)
        record_failure(vault, "keys.sign", key.label, {**base, "files": len(paths)}, e)
        raise
    return [SignedFile(d.path, dest, d.sha256, algorithm) for d, dest in zip(digests, dests,
                                                                           strict=True)]


def sign_digest(
    store: KeyStore,
    key: KeyInfo,
    digest_hex: str,
    algorithm: SignAlgorithm,
    out: Path,
    *,
    vault: Recorder | None = None,
    token: TokenInfo | None = None,
    cancel: threading.Event | None = None,
    on_status: StatusCallback | None = None,
    force: bool = True,
    approval: Any = None,
) -> SignedFile:
    """Sign a digest computed elsewhere (``--digest HEX``) under ``algorithm``'s hash."""
    algorithm = SignAlgorithm(algorithm)
    name = hash_name(algorithm)
    if name is None:
        raise Unsupported("Ed25519 signs the whole message; give the file, not a digest")
    try:
        digest = bytes.fromhex(hex_digits(digest_hex))
    except ValueError:
        raise UsageError("--digest takes hex digits") from None
    size = hashlib.new(name).digest_size
    if len(digest) != size:
        raise UsageError(f"a {name} digest is {size} bytes ({size * 2} hex digits), "
                         f"not {len(digest)}")
    [dest] = signature_paths([Path(f"digest-{digest.hex()[:16]}")], out, None, force=force)
    details = audit_details(token, key, operation="sign-digest", algorithm=algorithm.value,
                            digest=digest.hex(), signature_file=str(dest))
    details["access"] = authorize(vault, "use", key.key_id, key.label, token, approval)
    temps: list[tuple[Path, Path]] = []
    try:
        sig = store.sign(key, digest, algorithm, prehashed=True, cancel=cancel,
                         on_status=on_status)
        temps.append((_write_temp(dest, sig), dest))
        _sync(temps)
        record(vault, "keys.sign", f"digest {digest.hex()[:16]}", details)
        _commit(temps)
    except BaseException as e:
        _discard(temps)
        record_failure(vault, "keys.sign", key.label, details, e)
        raise
    return SignedFile(None, dest, digest.hex(), algorithm)


def import_certificate(
    store: KeyStore,
    key: KeyInfo,
    cert_der: bytes,
    *,
    vault: Recorder | None = None,
    token: TokenInfo | None = None,
) -> None:
    """Store an X.509 certificate (DER) on the token next to ``key``, audited. Refused when the
    certificate is for another key, or the store keeps no certificates (the TPM)."""
    if spki_der(load_public_key(key.public_key)) != spki_der(load_public_key(cert_der)):
        raise Refused(f"the certificate's public key is not that of key '{key.label}'")
    importer = getattr(store, "import_certificate", None)
    if importer is None:
        raise Unsupported(f"the {store.store} key store does not keep certificates")
    details = audit_details(token, key, operation="import-cert",
                            sha256=hashlib.sha256(cert_der).hexdigest())
    try:
        importer(key, cert_der)
    except BaseException as e:
        record_failure(vault, "keys.import_cert", key.label, details, e)
        raise
    record(vault, "keys.import_cert", key.label, details)


def generate_key(
    store: KeyStore,
    label: str,
    key_type: KeyType,
    key_id: bytes | None = None,
    *,
    vault: Recorder | None = None,
    token: TokenInfo | None = None,
    cancel: threading.Event | None = None,
    on_status: StatusCallback | None = None,
) -> KeyInfo:
    """Generate a key pair on the device (non-extractable) and record it."""
    details = audit_details(token, operation="generate", key_type=key_type.value,
                            key_label=label)
    authorize(vault, "manage", "", label, token)
    try:
        key = store.generate(label, key_type, key_id, cancel=cancel, on_status=on_status)
    except BaseException as e:
        record_failure(vault, "keys.generate", label, details, e)
        raise
    record(vault, "keys.generate", label, audit_details(token, key, operation="generate",
                                                         key_type=key_type.value))
    return key
