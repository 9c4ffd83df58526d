"""Per-level data keys (DEKs): made at random, each wrapped to every operator who holds the level.

A secret's versions are sealed with AES-256-GCM under the DEK of their classification level and
generation; the associated data binds the secret id and version, and a DEK's wrap is bound to the
vault id, level, generation and operator (access/custody.py), so nothing moved between rows,
operators or vaults opens. The master key (the database key) opens no DEK: an operator without a
grant on a level cannot decrypt its values even with the vault files and a debugger.

Vaults from before operators wrapped DEKs under a key derived from the master key
(``dek_wrap_key``); access/adoption.py re-wraps them to the first operator and empties those
columns, which stay in the table's shape as the generation's record.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..access import custody
from ..access import policy as access_policy
from ..crypto import DecryptionFailed, canonical_json, hkdf, random_key, seal, unseal
from ..errors import AccessDenied, NotFound, Refused, VaultTampered
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
        """A new DEK for ``level``, wrapped to every operator whose grants need the level (split
        2-of-N among them when the policy puts the level under dual control)."""
        holders = custody.holders_needed(self._conn, level.value, self._now())
        if not holders:
            raise Refused(f"no operator holds a grant on level {level.value}, so a new data key "
                          "for it could be opened by nobody")
        dek = random_key()
        self._conn.execute(
            "INSERT INTO deks (level, generation, nonce, wrapped, created) VALUES (?, ?, ?, ?, ?)",
            (level.value, generation, b"", b"", self._now()),
        )
        split = custody.distribute(self._conn, self._vault_id, level.value, generation, dek,
                                   holders, dual=self.dual(level.value))
        if not split and any(o.id == self._keys.operator_id for o in holders):
            self._keys.deks[(level.value, generation)] = dek
        return dek

    def dual(self, level: str) -> bool:
        return level in access_policy.load(self._conn).dual_control_levels

    def get(self, level: str, generation: int) -> bytes:
        """The DEK, unwrapped with the acting operator's key; AccessDenied if they hold none,
        or hold a share and no second holder's share came with an approval."""
        cached = self._keys.deks.get((level, generation))
        if cached is not None:
            return cached
        row = self._conn.execute("SELECT nonce, wrapped FROM deks WHERE level = ? AND "
                                 "generation = ?", (level, generation)).fetchone()
        if row is None:
            raise VaultTampered(f"the data key for level {level} is missing")
        if bytes(row[1]):  # a vault (or backup) from before operators: under the master key
            try:
                dek = unseal(dek_wrap_key(self._keys.master), bytes(row[0]), bytes(row[1]),
                             dek_aad(self._vault_id, level, generation))
            except DecryptionFailed as e:
                raise VaultTampered(f"the data key for level {level} failed its integrity "
                                    "check") from e
        else:
            opened = custody.open_wrap(custody.unwrap(
                self._conn, self._vault_id, level, generation, self._keys.operator_id,
                self._keys.operator_key), level, generation)
            if isinstance(opened, custody.Share):
                return self._combined(opened)  # never cached: each use needs both holders
            dek = opened
        self._keys.deks[(level, generation)] = dek
        return dek

    def _combined(self, mine: custody.Share) -> bytes:
        theirs = self._keys.co_shares.get((mine.level, mine.generation))
        if theirs is None or theirs[0] == self._keys.operator_id:
            others = [n for n in custody.holder_names(self._conn, mine.level)]
            raise AccessDenied(
                f"level {mine.level} is under dual control: its key opens only with a second "
                f"holder present; have one of them approve (holders: {', '.join(others)})",
                target=mine.level, details={"missing": "second holder's share",
                                            "level": mine.level, "holders": others})
        return custody.combine(mine, theirs[1])

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
