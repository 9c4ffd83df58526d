"""Keyslots: each wraps the vault's master key with AES-256-GCM under a key-encryption key (KEK).

A slot has a kind (how its KEK is obtained), public parameters, and the wrapped key. The AAD binds
the vault id, the slot id, the kind and the parameters, so a header whose parameters were edited
fails to unwrap. New kinds (FIDO2, TPM, OS keyring) plug in through :class:`KeyslotUnlocker`.
"""

from __future__ import annotations

import base64
import secrets
import threading
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, runtime_checkable

from .crypto import Argon2Params, DecryptionFailed, calibrate_argon2, canonical_json, seal, unseal
from .errors import UserCancelled

FORMAT_VERSION = 1
PASSPHRASE = "passphrase"  # noqa: S105 - the keyslot kind, not a password

StatusCallback = Callable[[str], None]


def b64e(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def b64d(text: str) -> bytes:
    """Strict base64; ValueError for anything else (a header edited to hold null, a number or a
    list where base64 text was is malformed, not a crash)."""
    if not isinstance(text, str):
        raise ValueError(f"expected base64 text, not {type(text).__name__}")
    return base64.b64decode(text.encode("ascii"), validate=True)


def new_slot_id() -> str:
    return secrets.token_hex(4)


@dataclass(frozen=True)
class WrappedKey:
    nonce: bytes
    ciphertext: bytes


@dataclass(frozen=True)
class Keyslot:
    """One way to open the vault. Nothing in it is secret."""

    id: str
    kind: str
    label: str
    params: Mapping[str, Any]
    wrapped: WrappedKey
    created: str
    last_used: str | None = None
    last_tested: str | None = None
    # While a master-key rotation is in flight, the new key wrapped under the same KEK.
    wrapped_next: WrappedKey | None = None
    # The operator this slot belongs to, and that operator's key wrapped under the same KEK
    # (absent on a slot made before operators, until it is next used: access/adoption.py).
    operator: str | None = None
    wrapped_operator: WrappedKey | None = None

    def aad(self, vault_id: str) -> bytes:
        return canonical_json(
            {
                "format": FORMAT_VERSION,
                "vault": vault_id,
                "slot": self.id,
                "kind": self.kind,
                "params": dict(self.params),
            }
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "kind": self.kind,
            "label": self.label,
            "params": dict(self.params),
            "nonce": b64e(self.wrapped.nonce),
            "wrapped": b64e(self.wrapped.ciphertext),
            "created": self.created,
            "last_used": self.last_used,
        }
        if self.last_tested is not None:
            out["last_tested"] = self.last_tested
        if self.wrapped_next is not None:
            out["next_nonce"] = b64e(self.wrapped_next.nonce)
            out["next_wrapped"] = b64e(self.wrapped_next.ciphertext)
        if self.operator is not None:
            out["operator"] = self.operator
        if self.wrapped_operator is not None:
            out["operator_nonce"] = b64e(self.wrapped_operator.nonce)
            out["operator_wrapped"] = b64e(self.wrapped_operator.ciphertext)
        return out

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> Keyslot:
        """Parse one slot; raises ValueError/KeyError/TypeError on anything malformed."""
        params = obj["params"]
        if not isinstance(params, dict):
            raise TypeError("params must be an object")
        for key in ("id", "kind", "label", "created"):
            if not isinstance(obj[key], str):
                raise TypeError(f"{key} must be a string")
        wrapped_next = None
        if "next_wrapped" in obj:
            wrapped_next = WrappedKey(b64d(obj["next_nonce"]), b64d(obj["next_wrapped"]))
        wrapped_operator = None
        if "operator_wrapped" in obj:
            wrapped_operator = WrappedKey(b64d(obj["operator_nonce"]),
                                          b64d(obj["operator_wrapped"]))
        operator = obj.get("operator")
        if operator is not None and (not isinstance(operator, str) or not 0 < len(operator) <= 64):
            raise TypeError("operator must be an operator id")
        last_used, last_tested = obj.get("last_used"), obj.get("last_tested")
        for stamp in (last_used, last_tested):
            if stamp is not None and not isinstance(stamp, str):
                raise TypeError("last_used and last_tested must be strings")
        slot = cls(
            id=obj["id"],
            kind=obj["kind"],
            label=obj["label"],
            params=params,
            wrapped=WrappedKey(b64d(obj["nonce"]), b64d(obj["wrapped"])),
            created=obj["created"],
            last_used=last_used,
            last_tested=last_tested,
            wrapped_next=wrapped_next,
            operator=operator,
            wrapped_operator=wrapped_operator,
        )
        # Argon2id costs are checked here, when the header is read: a header asking for 1
        # iteration or 1 TiB is corrupt, not a wrong passphrase (and costs no attempt).
        if slot.kind == PASSPHRASE:
            argon2_params_from_slot(slot)
        if isinstance(params.get("passphrase"), dict):  # a two-factor slot's Argon2id
            argon2_params_from_mapping(params["passphrase"])
        return slot


def wrap_master_key(kek: bytes, master_key: bytes, slot: Keyslot, vault_id: str) -> WrappedKey:
    nonce, ciphertext = seal(kek, master_key, slot.aad(vault_id))
    return WrappedKey(nonce, ciphertext)


def unwrap_master_key(
    kek: bytes, slot: Keyslot, vault_id: str, wrapped: WrappedKey | None = None
) -> bytes | None:
    """The master key, or None if this KEK does not open this slot (or the slot was edited)."""
    wrapped = wrapped or slot.wrapped
    try:
        return unseal(kek, wrapped.nonce, wrapped.ciphertext, slot.aad(vault_id))
    except DecryptionFailed:
        return None


def operator_key_aad(slot: Keyslot, vault_id: str, operator_id: str) -> bytes:
    return canonical_json({"format": FORMAT_VERSION, "vault": vault_id, "slot": slot.id,
                           "operator": operator_id, "purpose": "operator-key"})


def wrap_operator_key(kek: bytes, operator_key: bytes, slot: Keyslot, vault_id: str,
                      operator_id: str) -> Keyslot:
    """``slot`` as belonging to ``operator_id``, carrying that operator's key under its KEK."""
    nonce, ciphertext = seal(kek, operator_key, operator_key_aad(slot, vault_id, operator_id))
    return replace(slot, operator=operator_id, wrapped_operator=WrappedKey(nonce, ciphertext))


def unwrap_operator_key(kek: bytes, slot: Keyslot, vault_id: str) -> bytes | None:
    """The operator key this slot carries, or None (none, or the KEK or slot do not match)."""
    if slot.operator is None or slot.wrapped_operator is None:
        return None
    try:
        return unseal(kek, slot.wrapped_operator.nonce, slot.wrapped_operator.ciphertext,
                      operator_key_aad(slot, vault_id, slot.operator))
    except DecryptionFailed:
        return None


@runtime_checkable
class KeyslotUnlocker(Protocol):
    """A port: obtains the KEK for slots of one kind (passphrase, FIDO2, TPM, keyring)."""

    @property
    def kind(self) -> str: ...

    def derive_kek(
        self,
        slot: Keyslot,
        *,
        cancel: threading.Event | None = None,
        on_status: StatusCallback | None = None,
    ) -> bytes: ...


def normalize_passphrase(passphrase: str) -> bytes:
    """NFC-normalise so the same passphrase typed on another OS or keyboard opens the vault."""
    return unicodedata.normalize("NFC", passphrase).encode("utf-8")


def argon2_params_from_slot(slot: Keyslot) -> Argon2Params:
    return argon2_params_from_mapping(slot.params)


def argon2_params_from_mapping(p: Mapping[str, Any]) -> Argon2Params:
    """Argon2id parameters as stored in a slot; ValueError if absent, malformed or out of range."""
    if p.get("kdf") != "argon2id":
        raise ValueError("a passphrase slot without Argon2id parameters")
    salt, costs = p["salt"], (p["iterations"], p["memory_kib"], p["lanes"])
    if not isinstance(salt, str) or any(type(c) is not int for c in costs):
        raise ValueError("Argon2id parameters of the wrong type")
    params = Argon2Params(salt=b64d(salt), iterations=costs[0], memory_kib=costs[1],
                          lanes=costs[2])
    params.check()
    return params


@dataclass
class PassphraseUnlocker:
    """Derives a passphrase slot's KEK with Argon2id using the parameters stored in the slot."""

    passphrase: bytes = field(repr=False)
    kind: str = PASSPHRASE

    @classmethod
    def from_text(cls, passphrase: str) -> PassphraseUnlocker:
        return cls(normalize_passphrase(passphrase))

    def derive_kek(
        self,
        slot: Keyslot,
        *,
        cancel: threading.Event | None = None,
        on_status: StatusCallback | None = None,
    ) -> bytes:
        if cancel is not None and cancel.is_set():
            raise UserCancelled()
        if on_status is not None:
            on_status("Deriving the key from your passphrase")
        kek = argon2_params_from_slot(slot).derive(self.passphrase)
        if cancel is not None and cancel.is_set():
            raise UserCancelled()
        return kek


def passphrase_slot_params(params: Argon2Params) -> dict[str, Any]:
    return {
        "kdf": "argon2id",
        "salt": b64e(params.salt),
        "iterations": params.iterations,
        "memory_kib": params.memory_kib,
        "lanes": params.lanes,
    }


def new_passphrase_slot(
    passphrase: bytes,
    master_key: bytes,
    vault_id: str,
    *,
    now: str,
    label: str = "Passphrase",
    kdf_time_ms: int | None = None,
    kdf: Argon2Params | None = None,
    slot_id: str | None = None,
) -> tuple[Keyslot, bytes]:
    """Enrol a passphrase: calibrate Argon2id (or reuse ``kdf``'s cost with a new salt) and wrap
    the master key. Returns the slot and its KEK."""
    if kdf is None:
        kdf = calibrate_argon2(kdf_time_ms if kdf_time_ms is not None else 1000)
    else:
        kdf = replace(kdf, salt=secrets.token_bytes(16))
    slot = Keyslot(
        id=slot_id or new_slot_id(),
        kind=PASSPHRASE,
        label=label,
        params=passphrase_slot_params(kdf),
        wrapped=WrappedKey(b"", b""),
        created=now,
    )
    kek = kdf.derive(passphrase)
    return replace(slot, wrapped=wrap_master_key(kek, master_key, slot, vault_id)), kek
