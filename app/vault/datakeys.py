"""Per-level data keys (DEKs): made at random, wrapped under a key derived from the master key.

A secret's versions are sealed with AES-256-GCM under the DEK of their classification level and
generation; the associated data binds the secret id and version, and a wrapped DEK is bound to the
vault id, level and generation, so nothing moved between rows or vaults opens.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..crypto import DecryptionFailed, canonical_json, hkdf, random_key, seal, unseal
from ..errors import NotFound, VaultTampered
from ..model import Classification
from .layout import VaultKeys


def secret_aad(secret_id: int, version: int) -> bytes:
    return b"strongroom/v1/secret\x00%d\x00%d" % (secret_id, version)


def dek_aad(vault_id: str, level: str, generation: int) -> bytes:
    return canonical_json({"vault": vault_id, "level": level, "generation": generation})


def dek_wrap_key(master_key: bytes) -> bytes:
    return hkdf(master_key, "dek-wrap")


class DataKeys:
    """The data keys of one unlocked vault; unwrapped keys are cached in ``keys.deks`` (dropped
    when the vault locks)."""

    def __init__(self, conn: Any, keys: VaultKeys, vault_id: str, now: Callable[[], str]) -> None:
        self._conn = conn
        self._keys = keys
        self._vault_id = vault_id
        self._now = now

    def new(self, level: Classification, generation: int) -> bytes:
        dek = random_key()
        nonce, wrapped = seal(
            dek_wrap_key(self._keys.master), dek, dek_aad(self._vault_id, level.value, generation)
        )
        self._conn.execute(
            "INSERT INTO deks (level, generation, nonce, wrapped, created) VALUES (?, ?, ?, ?, ?)",
            (level.value, generation, nonce, wrapped, self._now()),
        )
        self._keys.deks[(level.value, generation)] = dek
        return dek

    def get(self, level: str, generation: int) -> bytes:
        cached = self._keys.deks.get((level, generation))
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
                dek_wrap_key(self._keys.master),
                bytes(row[0]),
                bytes(row[1]),
                dek_aad(self._vault_id, level, generation),
            )
        except DecryptionFailed as e:
            raise VaultTampered(f"the data key for level {level} failed its integrity check") from e
        self._keys.deks[(level, generation)] = dek
        return dek

    def current_generation(self, level: str) -> int:
        row = self._conn.execute(
            "SELECT max(generation) FROM deks WHERE level = ?", (level,)
        ).fetchone()
        if row is None or row[0] is None:
            raise VaultTampered(f"the data key for level {level} is missing")
        return int(row[0])

    def encrypt_version(
        self, secret_id: int, version: int, level: str, value: bytes
    ) -> tuple[int, bytes, bytes]:
        generation = self.current_generation(level)
        nonce, ciphertext = seal(
            self.get(level, generation), value, secret_aad(secret_id, version)
        )
        return generation, nonce, ciphertext

    def decrypt_version(self, name: str, secret_id: int, version: int) -> bytes:
        row = self._conn.execute(
            "SELECT classification, dek_generation, nonce, ciphertext FROM versions "
            "WHERE secret_id = ? AND version = ?",
            (secret_id, version),
        ).fetchone()
        if row is None:
            raise NotFound(f"secret {name!r} has no version {version}")
        try:
            return unseal(
                self.get(row[0], row[1]), bytes(row[2]), bytes(row[3]),
                secret_aad(secret_id, version),
            )
        except DecryptionFailed as e:
            raise VaultTampered(
                f"version {version} of secret {name!r} failed its integrity check"
            ) from e

    def forget_older(self, level: str, generation: int) -> None:
        """Drop cached keys of ``level`` older than ``generation`` (after a DEK rotation)."""
        for key in [k for k in self._keys.deks if k[0] == level and k[1] < generation]:
            del self._keys.deks[key]
