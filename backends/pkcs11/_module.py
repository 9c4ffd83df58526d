"""A loaded PKCS#11 module as its worker thread holds it: the library, ctypes view, login counts.

Everything here runs on the module's worker (see :mod:`._worker`); ``loaded`` is the only way in.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass, field
from typing import Any

import pkcs11
from pkcs11 import exceptions as p11e

from strongroom.app.errors import HardwareError, NotFound
from strongroom.app.keys.ports import ModuleInfo, TokenInfo

from ._errors import translate
from ._kind import KIND
from ._native import NativeModule
from ._worker import assert_on_worker, module_key

STORE = KIND.name
_TAG_KEY = secrets.token_bytes(32)

# CK_TOKEN_INFO flag bits → the names the inventory shows (PKCS#11 2.40 §3.2).
TOKEN_FLAGS = (
    (0x00000001, "rng"),
    (0x00000002, "write-protected"),
    (0x00000004, "login-required"),
    (0x00000008, "user-pin-initialized"),
    (0x00000020, "restore-key-not-needed"),
    (0x00000040, "clock-on-token"),
    (0x00000100, "protected-authentication-path"),
    (0x00000200, "dual-crypto-operations"),
    (0x00000400, "token-initialized"),
    (0x00000800, "secondary-authentication"),
    (0x00010000, "user-pin-count-low"),
    (0x00020000, "user-pin-final-try"),
    (0x00040000, "user-pin-locked"),
    (0x00080000, "user-pin-to-be-changed"),
    (0x00100000, "so-pin-count-low"),
    (0x00200000, "so-pin-final-try"),
    (0x00400000, "so-pin-locked"),
    (0x00800000, "so-pin-to-be-changed"),
    (0x01000000, "error-state"),
)


def flag_names(flags: int) -> tuple[str, ...]:
    return tuple(name for bit, name in TOKEN_FLAGS if flags & bit)


def _version(v: tuple[int, int]) -> str:
    return f"{v[0]}.{v[1]}"


@dataclass
class LoadedModule:
    """One module's library handle and per-slot login counts (worker-thread state)."""

    path: str
    key: str
    lib: Any  # pkcs11.lib (a Cython class the stubs type as a function)
    native: NativeModule
    logins: dict[int, int] = field(default_factory=dict)
    # A keyed hash (random per-process key, memory only) of the PIN each slot was logged in with:
    # a token already logged in answers CKR_USER_ALREADY_LOGGED_IN without checking a second
    # store's PIN, so the store checks it against this instead.
    login_tags: dict[int, bytes] = field(default_factory=dict)

    def pin_tag(self, pin: str) -> bytes:
        return hmac.new(_TAG_KEY, pin.encode("utf-8"), hashlib.sha256).digest()

    def info(self, detected: bool, shown_path: str) -> ModuleInfo:
        return ModuleInfo(
            path=shown_path,
            description=self.lib.library_description,
            manufacturer=self.lib.manufacturer_id,
            library_version=_version(self.lib.library_version),
            cryptoki_version=_version(self.lib.cryptoki_version),
            detected=detected,
        )

    def slot(self, slot_id: int) -> Any:
        for slot in self.lib.get_slots(token_present=True):
            if slot.slot_id == slot_id:
                return slot
        raise p11e.TokenNotPresent()

    def token_info(self, slot: Any, shown_path: str) -> TokenInfo:
        """TokenInfo for the token in ``slot``, with free memory and current flags."""
        token = slot.get_token()
        counters = self.native.token_counters(slot.slot_id)
        flags = counters.flags if counters is not None else int(token.flags)
        return TokenInfo(
            store=STORE,
            module=shown_path,
            slot=int(slot.slot_id),
            label=token.label,
            manufacturer=token.manufacturer_id,
            model=token.model,
            serial=token.serial.decode("ascii", "replace").strip(),
            flags=flag_names(flags),
            free_public_memory=counters.free_public_memory if counters else None,
            free_private_memory=counters.free_private_memory if counters else None,
            logged_in=self.logins.get(int(slot.slot_id), 0) > 0,
        )

    def tokens(self, shown_path: str) -> list[TokenInfo]:
        """Tokens in every slot; one that fails to describe itself (gone, broken) is left out."""
        try:
            slots = self.lib.get_slots(token_present=True)
        except p11e.PKCS11Error as e:
            raise translate(e, f"listing the slots of {shown_path}") from e
        out = []
        for slot in slots:
            try:
                out.append(self.token_info(slot, shown_path))
            except p11e.PKCS11Error:
                continue
        return out

    def current_flags(self, slot_id: int) -> int:
        counters = self.native.token_counters(slot_id)
        return counters.flags if counters is not None else 0


_loaded: dict[str, LoadedModule] = {}


def loaded(path: str) -> LoadedModule:
    """The module at ``path``, loaded and initialised on first use (on its worker)."""
    key = module_key(path)
    assert_on_worker(key)
    module = _loaded.get(key)
    if module is not None:
        return module
    if not os.path.isfile(key):
        raise NotFound(f"no PKCS#11 module at {path}")
    try:
        lib = pkcs11.lib(key)
    except p11e.PKCS11Error as e:
        reason = str(e).strip() or type(e).__name__
        if "loading" in reason:
            raise HardwareError(f"{path} is not a loadable PKCS#11 module: {reason}") from e
        raise translate(e, f"initialising the PKCS#11 module {path}") from e
    try:
        native = NativeModule(key)
    except (OSError, AttributeError) as e:
        raise HardwareError(f"{path} is not a PKCS#11 module: {e}") from e
    module = _loaded[key] = LoadedModule(path=path, key=key, lib=lib, native=native)
    return module
