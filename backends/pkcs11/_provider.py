"""Pkcs11Provider: finds PKCS#11 modules and their tokens, and opens a Pkcs11KeyStore on one.

``KNOWN_MODULES`` is the one table of where common modules install (SoftHSM2, OpenSC, YubiKey
PIV, YubiHSM 2, tpm2-pkcs11) on Linux, macOS and Windows; the user adds others by path.
"""

from __future__ import annotations

import glob
import os
import sys
from collections.abc import Sequence

from strongroom.app.errors import HardwareError, NotFound, StrongroomError
from strongroom.app.keys.ports import KeyBlobStore, ModuleInfo, TokenInfo
from strongroom.app.plugins import Availability

from ._kind import KIND
from ._module import STORE, loaded
from ._worker import module_key, worker_for
from .store import Pkcs11KeyStore

_PF = os.environ.get("PROGRAMFILES", r"C:\Program Files")
_PF86 = os.environ.get("PROGRAMFILES(X86)", r"C:\Program Files (x86)")

# (platform prefix, glob pattern); "*" covers the Debian/Ubuntu multiarch directory.
KNOWN_MODULES: tuple[tuple[str, str], ...] = (
    # SoftHSM2
    ("linux", "/usr/lib/softhsm/libsofthsm2.so"),
    ("linux", "/usr/lib/*/softhsm/libsofthsm2.so"),
    ("linux", "/usr/lib64/softhsm/libsofthsm2.so"),
    ("linux", "/usr/lib64/pkcs11/libsofthsm2.so"),
    ("linux", "/usr/local/lib/softhsm/libsofthsm2.so"),
    ("darwin", "/opt/homebrew/lib/softhsm/libsofthsm2.so"),
    ("darwin", "/usr/local/lib/softhsm/libsofthsm2.so"),
    ("win32", r"C:\SoftHSM2\lib\softhsm2-x64.dll"),
    ("win32", r"C:\SoftHSM2\lib\softhsm2.dll"),
    # OpenSC (smart cards, PIV, CAC, …)
    ("linux", "/usr/lib/*/opensc-pkcs11.so"),
    ("linux", "/usr/lib/*/pkcs11/opensc-pkcs11.so"),
    ("linux", "/usr/lib64/opensc-pkcs11.so"),
    ("linux", "/usr/lib64/pkcs11/opensc-pkcs11.so"),
    ("darwin", "/Library/OpenSC/lib/opensc-pkcs11.so"),
    ("darwin", "/opt/homebrew/lib/opensc-pkcs11.so"),
    ("darwin", "/usr/local/lib/opensc-pkcs11.so"),
    ("win32", _PF + r"\OpenSC Project\OpenSC\pkcs11\opensc-pkcs11.dll"),
    ("win32", _PF86 + r"\OpenSC Project\OpenSC\pkcs11\opensc-pkcs11.dll"),
    # YubiKey PIV (yubico-piv-tool)
    ("linux", "/usr/lib/*/libykcs11.so"),
    ("linux", "/usr/lib64/libykcs11.so"),
    ("linux", "/usr/local/lib/libykcs11.so"),
    ("darwin", "/opt/homebrew/lib/libykcs11.dylib"),
    ("darwin", "/usr/local/lib/libykcs11.dylib"),
    ("win32", _PF + r"\Yubico\Yubico PIV Tool\bin\libykcs11.dll"),
    # YubiHSM 2 (yubihsm-shell)
    ("linux", "/usr/lib/*/pkcs11/yubihsm_pkcs11.so"),
    ("linux", "/usr/lib64/pkcs11/yubihsm_pkcs11.so"),
    ("linux", "/usr/local/lib/pkcs11/yubihsm_pkcs11.so"),
    ("darwin", "/opt/homebrew/lib/pkcs11/yubihsm_pkcs11.dylib"),
    ("darwin", "/usr/local/lib/pkcs11/yubihsm_pkcs11.dylib"),
    ("win32", _PF + r"\Yubico\YubiHSM Shell\bin\pkcs11\yubihsm_pkcs11.dll"),
    # tpm2-pkcs11
    ("linux", "/usr/lib/*/pkcs11/libtpm2_pkcs11.so"),
    ("linux", "/usr/lib/*/libtpm2_pkcs11.so"),
    ("linux", "/usr/lib64/pkcs11/libtpm2_pkcs11.so"),
    ("linux", "/usr/local/lib/libtpm2_pkcs11.so"),
    ("darwin", "/opt/homebrew/lib/libtpm2_pkcs11.dylib"),
)


def detect_modules(platform: str | None = None) -> list[str]:
    """Installed modules from KNOWN_MODULES for ``platform``, one path per real library."""
    platform = platform or sys.platform
    found: list[str] = []
    seen: set[str] = set()
    for where, pattern in KNOWN_MODULES:
        if not platform.startswith(where):
            continue
        for path in sorted(glob.glob(pattern)) if "*" in pattern else [pattern]:
            key = module_key(path)
            if os.path.isfile(path) and key not in seen:
                seen.add(key)
                found.append(path)
    return found


class Pkcs11Provider:
    """The ``pkcs11`` KeyStoreProvider: modules, tokens, and stores opened on tokens."""

    store = STORE
    kind = KIND

    def __init__(self, extra_modules: Sequence[str] = ()) -> None:
        self._added: list[str] = []
        for path in extra_modules:
            self._remember(path)

    def _remember(self, path: str) -> str:
        path = os.path.abspath(os.path.expanduser(path))
        if module_key(path) not in {module_key(p) for p in self._added}:
            self._added.append(path)
        return path

    def remember_module(self, path: str) -> None:
        """Know a module by path without loading it yet (the modules the user added before)."""
        self._remember(path)

    def forget_module(self, path: str) -> None:
        """Stop listing a module the user added (a module already loaded stays loaded)."""
        key = module_key(os.path.abspath(os.path.expanduser(path)))
        self._added = [p for p in self._added if module_key(p) != key]

    def available(self) -> Availability:
        return Availability(True)  # this module imports only where python-pkcs11 loads

    def add_module(self, path: str) -> ModuleInfo:
        """Add a module by path; it is loaded now, so a bad path fails here with the reason."""
        path = self._remember(path)
        try:
            return self._info(path, detected=False)
        except StrongroomError:
            self._added = [p for p in self._added if p != path]
            raise

    def _info(self, path: str, *, detected: bool) -> ModuleInfo:
        _exists(path)
        return worker_for(path).run(lambda: loaded(path).info(detected, path))

    def modules(self) -> list[ModuleInfo]:
        """Detected modules that load (a broken install is left out) and every added module
        (whose failure to load is raised: the user named it)."""
        out: list[ModuleInfo] = []
        seen: set[str] = set()
        for path in detect_modules():
            try:
                out.append(self._info(path, detected=True))
            except (HardwareError, NotFound):
                continue
            seen.add(module_key(path))
        for path in self._added:
            if module_key(path) not in seen:
                seen.add(module_key(path))
                out.append(self._info(path, detected=False))
        return out

    def tokens(self, module: str | None = None) -> list[TokenInfo]:
        """Tokens present in ``module`` (any path), or in every known module (a detected module
        whose slots cannot be read is left out; an added one's failure is raised)."""
        if module is not None:
            path = os.path.abspath(os.path.expanduser(module))
            _exists(path)
            return worker_for(path).run(lambda: _tokens(path))
        out: list[TokenInfo] = []
        for info in self.modules():
            try:
                out += worker_for(info.path).run(lambda p=info.path: _tokens(p))
            except StrongroomError:
                if not info.detected:
                    raise
        return out

    def open(
        self,
        token: TokenInfo,
        pin: str | None,
        *,
        blobs: KeyBlobStore | None = None,
    ) -> Pkcs11KeyStore:
        """Open a session on ``token`` (logging in with ``pin`` when given); keys live on the
        token, so ``blobs`` is not used."""
        _exists(token.module)
        return Pkcs11KeyStore(token.module, token, pin)


def _exists(path: str) -> None:
    """NotFound before any worker thread is started for a path that holds no file."""
    if not os.path.isfile(path):
        raise NotFound(f"no PKCS#11 module at {path}")


def _tokens(path: str) -> list[TokenInfo]:
    return loaded(path).tokens(path)
