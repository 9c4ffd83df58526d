"""Wrapping a level's data key to one operator: X25519 to the operator's public key, HKDF-SHA256,
AES-256-GCM with the vault id, level, generation and operator id as associated data.

An Administrator can wrap a data key to an operator who is not present (a grant), and only the
holder of the operator key (itself wrapped under that operator's own keyslots) can unwrap it.
Everything here composes `cryptography`; nothing is a primitive of our own.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from ..crypto import DecryptionFailed, canonical_json, hkdf, seal, unseal


@dataclass(frozen=True)
class WrappedDek:
    ephemeral: bytes  # the sender's one-time X25519 public key
    nonce: bytes
    ciphertext: bytes


def new_operator_key() -> tuple[bytes, bytes]:
    """A new operator key: (private, public), 32 raw bytes each."""
    private = X25519PrivateKey.generate()
    return _raw_private(private), _raw_public(private.public_key())


def public_of(private: bytes) -> bytes:
    return _raw_public(X25519PrivateKey.from_private_bytes(private).public_key())


def dek_wrap_aad(vault_id: str, level: str, generation: int, operator_id: str) -> bytes:
    return canonical_json({"vault": vault_id, "level": level, "generation": generation,
                           "operator": operator_id, "purpose": "dek-to-operator"})


def wrap_to(public: bytes, dek: bytes, aad: bytes) -> WrappedDek:
    ephemeral = X25519PrivateKey.generate()
    epk = _raw_public(ephemeral.public_key())
    shared = ephemeral.exchange(X25519PublicKey.from_public_bytes(public))
    nonce, ciphertext = seal(_wrap_key(shared, epk, public), dek, aad)
    return WrappedDek(epk, nonce, ciphertext)


def unwrap_with(private: bytes, wrapped: WrappedDek, aad: bytes) -> bytes:
    """The data key; DecryptionFailed when this operator key does not open it (or it changed)."""
    key = X25519PrivateKey.from_private_bytes(private)
    try:
        shared = key.exchange(X25519PublicKey.from_public_bytes(wrapped.ephemeral))
    except ValueError as e:  # a low-order point: tampered
        raise DecryptionFailed() from e
    wrap_key = _wrap_key(shared, wrapped.ephemeral, _raw_public(key.public_key()))
    return unseal(wrap_key, wrapped.nonce, wrapped.ciphertext, aad)


def _wrap_key(shared: bytes, ephemeral: bytes, recipient: bytes) -> bytes:
    return hkdf(shared, "dek-to-operator", salt=ephemeral + recipient)


def _raw_private(key: X25519PrivateKey) -> bytes:
    return key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())


def _raw_public(key: X25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)
