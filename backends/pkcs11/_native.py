"""The few Cryptoki calls python-pkcs11 0.10 does not expose, made through ctypes.

python-pkcs11's Token keeps neither the free-memory counters of ``CK_TOKEN_INFO`` nor offers a
``C_Login`` on an open session (its ``Token.open(user_pin=…)`` leaks the session when the PIN is
wrong), and a search on a dead session leaves an exception in its finaliser, so the session is
checked with ``C_GetSessionInfo`` first. This module makes those calls through the same
module's function list (``dlopen`` returns the library python-pkcs11 already loaded and
initialised). Every function here must run on the module's worker thread.
"""

from __future__ import annotations

import ctypes
import sys
from dataclasses import dataclass

CK_ULONG = ctypes.c_ulong
CK_RV = CK_ULONG
UNAVAILABLE = CK_ULONG(-1).value  # CK_UNAVAILABLE_INFORMATION

CKR_OK = 0x0
CKR_USER_ALREADY_LOGGED_IN = 0x100
CKU_USER = 1

# Windows modules pack Cryptoki structures on 1-byte boundaries; elsewhere natural alignment.
_PACK = 1 if sys.platform == "win32" else 0


class _Version(ctypes.Structure):
    _pack_ = _PACK or 8
    _fields_ = (("major", ctypes.c_ubyte), ("minor", ctypes.c_ubyte))


class _TokenInfo(ctypes.Structure):
    _pack_ = _PACK or 8
    _fields_ = (
        ("label", ctypes.c_char * 32),
        ("manufacturerID", ctypes.c_char * 32),
        ("model", ctypes.c_char * 16),
        ("serialNumber", ctypes.c_char * 16),
        ("flags", CK_ULONG),
        ("ulMaxSessionCount", CK_ULONG),
        ("ulSessionCount", CK_ULONG),
        ("ulMaxRwSessionCount", CK_ULONG),
        ("ulRwSessionCount", CK_ULONG),
        ("ulMaxPinLen", CK_ULONG),
        ("ulMinPinLen", CK_ULONG),
        ("ulTotalPublicMemory", CK_ULONG),
        ("ulFreePublicMemory", CK_ULONG),
        ("ulTotalPrivateMemory", CK_ULONG),
        ("ulFreePrivateMemory", CK_ULONG),
        ("hardwareVersion", _Version),
        ("firmwareVersion", _Version),
        ("utcTime", ctypes.c_char * 16),
    )


class _SessionInfo(ctypes.Structure):
    _pack_ = _PACK or 8
    _fields_ = (("slotID", CK_ULONG), ("state", CK_ULONG), ("flags", CK_ULONG),
                ("ulDeviceError", CK_ULONG))


_GetSessionInfo = ctypes.CFUNCTYPE(CK_RV, CK_ULONG, ctypes.POINTER(_SessionInfo))
_GetTokenInfo = ctypes.CFUNCTYPE(CK_RV, CK_ULONG, ctypes.POINTER(_TokenInfo))
_Login = ctypes.CFUNCTYPE(CK_RV, CK_ULONG, CK_ULONG, ctypes.c_void_p, CK_ULONG)
_Logout = ctypes.CFUNCTYPE(CK_RV, CK_ULONG)

# CK_FUNCTION_LIST up to C_Logout, in the order of the PKCS#11 2.40 header.
_FUNCTIONS = (
    "C_Initialize", "C_Finalize", "C_GetInfo", "C_GetFunctionList", "C_GetSlotList",
    "C_GetSlotInfo", "C_GetTokenInfo", "C_GetMechanismList", "C_GetMechanismInfo", "C_InitToken",
    "C_InitPIN", "C_SetPIN", "C_OpenSession", "C_CloseSession", "C_CloseAllSessions",
    "C_GetSessionInfo", "C_GetOperationState", "C_SetOperationState", "C_Login", "C_Logout",
)


class _FunctionList(ctypes.Structure):
    _pack_ = _PACK or 8
    _fields_ = (("version", _Version), *((name, ctypes.c_void_p) for name in _FUNCTIONS))


@dataclass(frozen=True)
class TokenCounters:
    """The parts of CK_TOKEN_INFO python-pkcs11 drops; None where the token says unavailable."""

    flags: int
    free_public_memory: int | None
    free_private_memory: int | None
    total_public_memory: int | None
    total_private_memory: int | None


def _counter(value: int) -> int | None:
    return None if value == UNAVAILABLE else value


class NativeModule:
    """ctypes view of one already-loaded module's function list."""

    def __init__(self, path: str) -> None:
        self._dll = ctypes.CDLL(path)
        get_list = self._dll.C_GetFunctionList
        get_list.restype = CK_RV
        get_list.argtypes = (ctypes.POINTER(ctypes.POINTER(_FunctionList)),)
        table = ctypes.POINTER(_FunctionList)()
        rv = get_list(ctypes.byref(table))
        if rv != CKR_OK or not table:
            raise OSError(f"C_GetFunctionList returned 0x{rv:x}")
        functions = table.contents
        self._get_token_info = _GetTokenInfo(functions.C_GetTokenInfo)
        self._get_session_info = _GetSessionInfo(functions.C_GetSessionInfo)
        self._login = _Login(functions.C_Login)
        self._logout = _Logout(functions.C_Logout)

    def token_counters(self, slot_id: int) -> TokenCounters | None:
        """Flags and memory counters of the token in ``slot_id``; None if the call fails."""
        info = _TokenInfo()
        if self._get_token_info(slot_id, ctypes.byref(info)) != CKR_OK:
            return None
        return TokenCounters(
            flags=info.flags,
            free_public_memory=_counter(info.ulFreePublicMemory),
            free_private_memory=_counter(info.ulFreePrivateMemory),
            total_public_memory=_counter(info.ulTotalPublicMemory),
            total_private_memory=_counter(info.ulTotalPrivateMemory),
        )

    def session_rv(self, session_handle: int) -> int:
        """C_GetSessionInfo's CK_RV: CKR_OK while the session is alive."""
        info = _SessionInfo()
        return int(self._get_session_info(session_handle, ctypes.byref(info)))

    def login_user(self, session_handle: int, pin: str) -> int:
        """C_Login as the user; returns the CK_RV. The PIN buffer is wiped before returning."""
        raw = pin.encode("utf-8")
        buf = ctypes.create_string_buffer(raw, len(raw))
        try:
            return int(self._login(session_handle, CKU_USER, ctypes.addressof(buf), len(raw)))
        finally:
            ctypes.memset(buf, 0, len(raw))

    def logout(self, session_handle: int) -> int:
        return int(self._logout(session_handle))
