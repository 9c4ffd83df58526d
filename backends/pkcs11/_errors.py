"""Translate python-pkcs11's CKR_* exceptions into Strongroom's error types (one sentence each)."""

from __future__ import annotations

from pkcs11 import TokenFlag
from pkcs11 import exceptions as p11e

from strongroom.app.errors import (
    DeviceRemoved,
    HardwareError,
    PinBlocked,
    PinRequired,
    Refused,
    StrongroomError,
    Unsupported,
    UserCancelled,
    WrongPin,
)

GONE = (p11e.DeviceRemoved, p11e.TokenNotPresent, p11e.SessionHandleInvalid, p11e.SessionClosed)
UNSUPPORTED = (
    p11e.MechanismInvalid,
    p11e.MechanismParamInvalid,
    p11e.FunctionNotSupported,
    p11e.KeySizeRange,
    p11e.DomainParamsInvalid,
    p11e.KeyTypeInconsistent,
)

# CK_RV values met outside python-pkcs11 (ctypes C_Login).
_RV = {
    0xA0: p11e.PinIncorrect,
    0xA1: p11e.PinInvalid,
    0xA2: p11e.PinLenRange,
    0xA3: p11e.PinExpired,
    0xA4: p11e.PinLocked,
    0x30: p11e.DeviceError,
    0x32: p11e.DeviceRemoved,
    0xE0: p11e.TokenNotPresent,
    0xB0: p11e.SessionClosed,
    0xB3: p11e.SessionHandleInvalid,
    0x104: p11e.UserPinNotInitialized,
    0x54: p11e.FunctionNotSupported,
}


def rv_error(rv: int) -> p11e.PKCS11Error:
    """The python-pkcs11 exception for a raw CK_RV (a generic one for codes not listed)."""
    cls = _RV.get(rv)
    return cls() if cls is not None else p11e.PKCS11Error(f"CKR 0x{rv:x}")


def pin_retry_note(flags: int) -> str:
    """What the token's flags say about PIN attempts left, as a clause ('' when nothing)."""
    if flags & TokenFlag.USER_PIN_FINAL_TRY:
        return "; the next wrong PIN is the final try before the token locks"
    if flags & TokenFlag.USER_PIN_COUNT_LOW:
        return "; few tries are left before the token locks"
    return ""


def translate(e: Exception, where: str, *, token_flags: int | None = None) -> StrongroomError:
    """A Strongroom error for a PKCS#11 failure while ``where`` ("signing on token 'x'")."""
    if isinstance(e, StrongroomError):
        return e
    name = type(e).__name__
    if isinstance(e, p11e.PinLocked):
        return PinBlocked(f"{where}: the token's user PIN is locked; unblock it with the SO PIN")
    if isinstance(e, p11e.PinIncorrect | p11e.PinInvalid | p11e.PinLenRange):
        note = pin_retry_note(token_flags or 0)
        return WrongPin(f"{where}: wrong PIN{note}", retries=None)
    if isinstance(e, p11e.PinExpired):
        return Refused(f"{where}: the token's user PIN has expired; change it first")
    if isinstance(e, p11e.UserPinNotInitialized):
        return HardwareError(f"{where}: the token has no user PIN set; initialise it first")
    if isinstance(e, p11e.UserNotLoggedIn):
        return PinRequired(f"{where}: the token needs its user PIN for this")
    if isinstance(e, GONE):
        return DeviceRemoved(f"{where}: the token was removed or its session ended ({name})")
    if isinstance(e, UNSUPPORTED):
        return Unsupported(f"{where}: the token does not support this ({name})")
    if isinstance(e, p11e.FunctionCancelled):
        return UserCancelled(f"{where}: cancelled")
    if isinstance(e, p11e.TokenWriteProtected | p11e.SessionReadOnly):
        return Refused(f"{where}: the token is write-protected")
    if isinstance(e, p11e.DeviceMemory):
        return HardwareError(f"{where}: the token is out of memory")
    detail = str(e).strip()
    return HardwareError(f"{where}: the token failed ({name}{': ' + detail if detail else ''})")
