"""The Keys & Signing operations as plain functions run on the hardware runner (no Qt here).

Each token operation is recorded in the vault's audit log with the module, token serial, key id
and fingerprint, and for signing the SHA-256 of what was signed; never a PIN or key material.
Files are written atomically; a signature whose audit event cannot be recorded does not stay.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from strongroom.app.audit import Outcome
from strongroom.app.errors import (
    NotFound,
    StorageError,
    Unsupported,
    UsageError,
    UserCancelled,
)
from strongroom.app.fsutil import atomic_write
from strongroom.app.signing import KeyInfo, KeyStore, SignAlgorithm, TokenInfo
from strongroom.app.vault import Vault

CHUNK = 1 << 20
PUBLIC_MODE = 0o644  # signatures, public keys and CSRs are public

ALGORITHMS: dict[str, tuple[SignAlgorithm, ...]] = {
    "EC P-256": (SignAlgorithm.EcdsaSha256, SignAlgorithm.EcdsaSha384),
    "EC P-384": (SignAlgorithm.EcdsaSha384, SignAlgorithm.EcdsaSha256),
    "RSA": (SignAlgorithm.RsaPssSha256, SignAlgorithm.RsaPssSha384,
            SignAlgorithm.RsaPkcs1Sha256, SignAlgorithm.RsaPkcs1Sha384),
    "Ed25519": (SignAlgorithm.Ed25519,),
}
HASH_OF = {
    SignAlgorithm.EcdsaSha256: "sha256", SignAlgorithm.RsaPssSha256: "sha256",
    SignAlgorithm.RsaPkcs1Sha256: "sha256", SignAlgorithm.EcdsaSha384: "sha384",
    SignAlgorithm.RsaPssSha384: "sha384", SignAlgorithm.RsaPkcs1Sha384: "sha384",
}

FileProgress = Callable[[int, int], None]


def algorithms_for(algorithm: str) -> tuple[SignAlgorithm, ...]:
    """The signature algorithms a key of ``algorithm`` ("EC P-256", "RSA 3072") can make."""
    family = "RSA" if algorithm.startswith("RSA") else algorithm
    return ALGORITHMS.get(family, ())


def audit_details(token: TokenInfo, key: KeyInfo | None = None, **extra: Any) -> dict[str, Any]:
    details: dict[str, Any] = {"store": token.store, "module": token.module,
                               "token": token.label, "token_serial": token.serial}
    if key is not None:
        details |= {"key_id": key.key_id, "key_label": key.label,
                    "fingerprint": key.fingerprint}
    return details | extra


def record_or_undo(vault: Vault, action: str, target: str, details: dict[str, Any],
                   written: Sequence[Path] = ()) -> None:
    """Record ``action``; if that fails, remove what was written for it and re-raise."""
    try:
        vault.record(action, target, details=details)
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise


def record_failure(vault: Vault | None, action: str, target: str,
                   details: dict[str, Any]) -> None:
    """Best effort: a refused token operation (wrong PIN) is worth an audit event too."""
    if vault is None:
        return
    # The user sees the original error, not a failure to record it.
    with contextlib.suppress(Exception):
        vault.record(action, target, Outcome.Failed, details)


def write_public(path: Path, data: bytes) -> None:
    atomic_write(path, data, PUBLIC_MODE)


# ----- signing -----------------------------------------------------------------------------------


def signature_path(path: Path, out_dir: Path | None) -> Path:
    return (out_dir or path.parent) / f"{path.name}.sig"


def _digests(path: Path, hash_name: str | None) -> tuple[bytes, str]:
    """(what the token signs: the message or its digest, the file's SHA-256 hex)."""
    sha256 = hashlib.sha256()
    algo = hashlib.new(hash_name) if hash_name and hash_name != "sha256" else None
    whole = bytearray() if hash_name is None else None
    try:
        with path.open("rb") as f:
            while chunk := f.read(CHUNK):
                sha256.update(chunk)
                if algo is not None:
                    algo.update(chunk)
                if whole is not None:
                    whole += chunk
    except FileNotFoundError as e:
        raise NotFound(f"no file {path.name} to sign") from e
    except OSError as e:
        raise StorageError(f"could not read {path.name}: {e.strerror or type(e).__name__}") from e
    if whole is not None:
        return bytes(whole), sha256.hexdigest()
    return (algo or sha256).digest(), sha256.hexdigest()


@dataclass(frozen=True)
class Signed:
    source: Path
    signature: Path
    sha256: str


def sign_files(vault: Vault, store: KeyStore, key: KeyInfo, files: Sequence[Path],
               algorithm: SignAlgorithm, out_dir: Path | None, cancel: threading.Event,
               on_file: FileProgress) -> list[Signed]:
    """Detached signatures (``<file>.sig``) for ``files`` in one token session, each audited.

    A cancel stops after the file being written; the files signed until then are returned."""
    hash_name = HASH_OF.get(algorithm)
    if hash_name is None and algorithm is not SignAlgorithm.Ed25519:
        raise Unsupported(f"cannot sign files with {algorithm.value}")
    token = store.token()
    sums: list[str] = []

    def items() -> Iterator[bytes]:
        for path in files:
            data, sha = _digests(path, hash_name)
            sums.append(sha)
            yield data

    done: list[Signed] = []
    signatures = store.sign_many(key, items(), algorithm, prehashed=hash_name is not None,
                                 cancel=cancel, on_progress=None)
    try:
        for i, signature in enumerate(signatures):
            source = files[i]
            dest = signature_path(source, out_dir)
            write_public(dest, signature)
            record_or_undo(vault, "key.sign", source.name, audit_details(
                token, key, algorithm=algorithm.value, sha256=sums[i], signature=dest.name),
                [dest])
            done.append(Signed(source, dest, sums[i]))
            on_file(i + 1, len(files))
            if cancel.is_set():
                break
    except UserCancelled:
        pass  # what was signed before the cancel stays, written and recorded
    finally:
        close = getattr(signatures, "close", None)
        if close is not None:
            close()
    return done


# ----- verifying and exporting -------------------------------------------------------------------


def load_public_key(data: bytes) -> bytes:
    """A public key PEM (or DER) file's SubjectPublicKeyInfo as DER."""
    try:
        key = (serialization.load_pem_public_key(data) if b"-----BEGIN" in data
               else serialization.load_der_public_key(data))
    except (ValueError, TypeError) as e:
        raise UsageError("the file is not a public key in PEM or DER form") from e
    return key.public_bytes(serialization.Encoding.DER,
                            serialization.PublicFormat.SubjectPublicKeyInfo)


def public_pem(spki_der: bytes) -> bytes:
    return serialization.load_der_public_key(spki_der).public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def _hash(name: str) -> hashes.HashAlgorithm:
    return hashes.SHA384() if name == "sha384" else hashes.SHA256()


def verify_file(spki_der: bytes, path: Path, signature: bytes,
                algorithm: SignAlgorithm) -> bool:
    """Whether ``signature`` over the file at ``path`` verifies under the public key."""
    hash_name = HASH_OF.get(algorithm)
    message, _sha = _digests(path, hash_name)
    key = serialization.load_der_public_key(spki_der)
    try:
        if algorithm is SignAlgorithm.Ed25519:
            if not isinstance(key, ed25519.Ed25519PublicKey):
                raise UsageError("an Ed25519 signature needs an Ed25519 public key")
            key.verify(signature, message)
            return True
        assert hash_name is not None  # noqa: S101 - every other algorithm has a hash
        prehashed = Prehashed(_hash(hash_name))
        if isinstance(key, ec.EllipticCurvePublicKey) and algorithm.value.startswith("ecdsa"):
            key.verify(signature, message, ec.ECDSA(prehashed))
        elif isinstance(key, rsa.RSAPublicKey) and algorithm.value.startswith("rsa-pss"):
            pss = padding.PSS(mgf=padding.MGF1(_hash(hash_name)),
                              salt_length=padding.PSS.AUTO)
            key.verify(signature, message, pss, prehashed)
        elif isinstance(key, rsa.RSAPublicKey) and algorithm.value.startswith("rsa-pkcs1"):
            key.verify(signature, message, padding.PKCS1v15(), prehashed)
        else:
            raise UsageError(f"a {algorithm.value} signature cannot come from this public key")
    except InvalidSignature:
        return False
    return True


def export_public(vault: Vault, token: TokenInfo, key: KeyInfo, dest: Path) -> Path:
    write_public(dest, public_pem(key.public_key))
    record_or_undo(vault, "key.export-public", dest.name, audit_details(token, key), [dest])
    return dest
