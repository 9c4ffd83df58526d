"""Thin, named uses of `cryptography` primitives: AES-256-GCM, HKDF-SHA256, Argon2id, HMAC.

Nothing here is a cipher or a KDF of our own; it only fixes parameters and labels in one place.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

KEY_BYTES = 32
NONCE_BYTES = 12
LABEL_PREFIX = b"strongroom/v1/"

# Argon2id bounds. The floor is RFC 9106's second recommended option (64 MiB, t=3, p=4); the
# ceilings keep a hostile header from making unlock take hours or exhaust memory.
ARGON2_MIN_MEMORY_KIB = 64 * 1024
ARGON2_MAX_MEMORY_KIB = 4 * 1024 * 1024
ARGON2_MIN_ITERATIONS = 3
ARGON2_MAX_ITERATIONS = 1000
ARGON2_LANES = 4


class DecryptionFailed(Exception):
    """An AES-GCM tag did not verify: wrong key, or data or associated data changed."""


def random_key() -> bytes:
    return secrets.token_bytes(KEY_BYTES)


def seal(key: bytes, plaintext: bytes, aad: bytes) -> tuple[bytes, bytes]:
    """Encrypt with AES-256-GCM under a fresh random nonce; returns (nonce, ciphertext+tag)."""
    nonce = secrets.token_bytes(NONCE_BYTES)
    return nonce, AESGCM(key).encrypt(nonce, plaintext, aad)


def unseal(key: bytes, nonce: bytes, ciphertext: bytes, aad: bytes) -> bytes:
    try:
        return AESGCM(key).decrypt(nonce, ciphertext, aad)
    except (InvalidTag, ValueError) as e:
        raise DecryptionFailed() from e


def hkdf(key: bytes, label: str, salt: bytes | None = None, length: int = KEY_BYTES) -> bytes:
    """Derive a purpose-bound subkey; ``label`` names the purpose under Strongroom's prefix."""
    return HKDF(
        algorithm=hashes.SHA256(), length=length, salt=salt, info=LABEL_PREFIX + label.encode()
    ).derive(key)


def mac(key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, hashlib.sha256).digest()


def mac_equal(a: bytes, b: bytes) -> bool:
    return hmac.compare_digest(a, b)


def canonical_json(obj: Any) -> bytes:
    """One byte string per value: sorted keys, no spaces, UTF-8."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True)
class Argon2Params:
    """Public Argon2id parameters of a passphrase keyslot."""

    salt: bytes
    iterations: int
    memory_kib: int = ARGON2_MIN_MEMORY_KIB
    lanes: int = ARGON2_LANES

    def check(self) -> None:
        """Raise ValueError if the parameters are outside what Strongroom accepts."""
        if len(self.salt) < 16:
            raise ValueError("Argon2id salt shorter than 16 bytes")
        if not ARGON2_MIN_MEMORY_KIB <= self.memory_kib <= ARGON2_MAX_MEMORY_KIB:
            raise ValueError(f"Argon2id memory {self.memory_kib} KiB out of range")
        if not ARGON2_MIN_ITERATIONS <= self.iterations <= ARGON2_MAX_ITERATIONS:
            raise ValueError(f"Argon2id iterations {self.iterations} out of range")
        if not 1 <= self.lanes <= 16:
            raise ValueError(f"Argon2id lanes {self.lanes} out of range")

    def derive(self, secret: bytes) -> bytes:
        self.check()
        return Argon2id(
            salt=self.salt,
            length=KEY_BYTES,
            iterations=self.iterations,
            lanes=self.lanes,
            memory_cost=self.memory_kib,
        ).derive(secret)


def calibrate_argon2(target_ms: int, memory_kib: int = ARGON2_MIN_MEMORY_KIB) -> Argon2Params:
    """Choose iterations so one derivation takes about ``target_ms`` on this machine."""
    salt = secrets.token_bytes(16)
    probe = Argon2Params(salt=salt, iterations=ARGON2_MIN_ITERATIONS, memory_kib=memory_kib)
    start = time.perf_counter()
    probe.derive(b"calibration")
    per_iteration = (time.perf_counter() - start) / ARGON2_MIN_ITERATIONS
    iterations = int(target_ms / 1000 / max(per_iteration, 1e-6))
    iterations = min(max(iterations, ARGON2_MIN_ITERATIONS), ARGON2_MAX_ITERATIONS)
    return Argon2Params(salt=salt, iterations=iterations, memory_kib=memory_kib)
