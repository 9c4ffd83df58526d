"""The Keys & Signing operations run on the hardware runner (no Qt here).

They go through the app layer the CLI uses (``app.keys``), so both front ends sign, verify,
generate and audit the same way: each token operation is recorded with the module, token serial,
key id and fingerprint, and for signing the SHA-256 of what was signed; never a PIN or key
material. Public artefacts are written atomically.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from strongroom.app.access.approvals import Approval
from strongroom.app.errors import AuthenticationFailed, StrongroomError
from strongroom.app.keys import algorithms, checkpoints, signing
from strongroom.app.keys import certificates as x509req
from strongroom.app.keys.ports import Capability, KeyInfo, KeyStore, SignAlgorithm, TokenInfo
from strongroom.app.keys.signing import SignedFile as Signed
from strongroom.app.vault import Vault

from .inventory import Backends, open_store

FileProgress = Callable[[int, int], None]


def algorithms_for(key: KeyInfo) -> tuple[SignAlgorithm, ...]:
    """The signature algorithms ``key`` signs with, its default first (none: cannot sign)."""
    try:
        return algorithms.allowed_algorithms(key)
    except StrongroomError:
        return ()


def sign_files(vault: Vault, store: KeyStore, token: TokenInfo, key: KeyInfo,
               files: Sequence[Path], algorithm: SignAlgorithm, out_dir: Path | None,
               cancel: threading.Event, on_file: FileProgress, *,
               approval: Approval | None = None) -> list[Signed]:
    """Detached ``<file>.sig`` signatures (in ``out_dir``, else beside each file), each audited.

    Files of one folder are signed all or none (``signing.sign_files``): a cancel or an
    error leaves no signature of that folder behind. ``approval``: a second operator's, for a
    high-value key (it serves one signing: one folder).
    """
    groups: dict[Path, list[Path]] = {}
    for path in files:
        groups.setdefault(out_dir or path.parent, []).append(path)
    done: list[Signed] = []
    total = len(files)
    for folder, paths in groups.items():
        offset = len(done)
        done += signing.sign_files(
            store, key, paths, algorithm, out_dir=folder, vault=vault, token=token,
            cancel=cancel, on_progress=lambda n, _t, o=offset: on_file(o + n, total),
            approval=approval)
    return done


def load_public_key(data: bytes) -> bytes:
    """A public key (PEM/DER SubjectPublicKeyInfo or certificate) as SPKI DER."""
    return algorithms.spki_der(algorithms.load_public_key(data))


def verify_file(spki_der: bytes, path: Path, signature: bytes,
                algorithm: SignAlgorithm) -> bool:
    """Whether ``signature`` over the file at ``path`` verifies under the public key."""
    digest = signing.digest_file(path, algorithm)
    return algorithms.verify(spki_der, digest.signed, signature, algorithm,
                             prehashed=algorithm is not SignAlgorithm.Ed25519)


def write_recorded(vault: Vault, dest: Path, data: bytes, action: str,
                   details: dict[str, object]) -> Path:
    """Write a public artefact and record it; if it cannot be recorded, the file does not stay."""
    signing.write_public(dest, data)
    try:
        signing.record(vault, action, dest.name, details)
    except BaseException:
        dest.unlink(missing_ok=True)
        raise
    return dest


def export_public(vault: Vault, token: TokenInfo, key: KeyInfo, dest: Path) -> Path:
    return write_recorded(vault, dest, algorithms.public_pem(key.public_key), "keys.export",
                          signing.audit_details(token, key, operation="export-public",
                                                file=str(dest)))


@dataclass(frozen=True)
class CsrOrder:
    """A CSR or self-signed certificate to make; ``days`` only for a certificate."""

    subject: str
    sans: tuple[str, ...]
    days: int
    self_signed: bool
    dest: Path


def make_csr(vault: Vault, store: KeyStore, token: TokenInfo, key: KeyInfo,
             order: CsrOrder) -> Path:
    """Build the request or certificate, signed on the token, write it and record it."""
    action = "keys.certificate" if order.self_signed else "keys.csr"
    details = signing.audit_details(token, key, operation=action.split(".")[1],
                                    subject=order.subject, sans=list(order.sans),
                                    file=str(order.dest))
    try:
        if order.self_signed:
            data = x509req.build_self_signed(store, key, order.subject, days=order.days,
                                             sans=order.sans)
        else:
            data = x509req.build_csr(store, key, order.subject, sans=order.sans)
    except BaseException as e:
        signing.record_failure(vault, action, key.label, details, e)
        raise
    return write_recorded(vault, order.dest, data, action, details)


# ----- audit checkpoints -------------------------------------------------------------------------


def can_checkpoint(key: KeyInfo) -> bool:
    """Whether ``key`` can sign an audit checkpoint (a signing key whose public key is known)."""
    return Capability.Sign in key.capabilities and bool(key.public_key) \
        and bool(algorithms_for(key))


def sign_checkpoint(vault: Vault, store: KeyStore, token: TokenInfo,
                    key: KeyInfo) -> checkpoints.Checkpoint:
    """Sign the audit chain's head with ``key`` and record it (``audit.checkpoint``)."""
    return checkpoints.create_checkpoint(vault, store, key, token=token)


def checkpoint_with_pin(backends: Backends, vault: Vault, token: TokenInfo, key: KeyInfo,
                        pin: str) -> checkpoints.Checkpoint:
    """A checkpoint through a session opened with ``pin`` for this one call and closed after it;
    a wrong PIN is recorded as a failed ``keys.login`` (no checkpoint was attempted)."""
    try:
        store = open_store(backends, token, pin, vault)
    except AuthenticationFailed as e:
        signing.record_failure(vault, "keys.login", token.label,
                               signing.audit_details(token, operation="login"), e)
        raise
    try:
        return sign_checkpoint(vault, store, token, key)
    finally:
        store.close()
