"""PKCS#11 tokens and HSMs as a key store (python-pkcs11). The entry point
``strongroom.keystores:pkcs11`` names :data:`KEY_STORE_KIND`; ``strongroom.backends:pkcs11`` makes
its provider (:func:`provider`).

One worker thread per module owns the library and all its sessions (:mod:`._worker`); the
:class:`Pkcs11Provider` lists modules (``KNOWN_MODULES`` plus any the user adds) and tokens, and
opens a :class:`Pkcs11KeyStore` on a token. Importing this package never fails when python-pkcs11
is missing: :func:`provider` then returns a stand-in whose ``available()`` says why.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from strongroom.app.errors import BackendUnavailable
from strongroom.app.keys.ports import KeyStoreProvider
from strongroom.app.plugins import Availability

from ._kind import KIND as KEY_STORE_KIND

try:
    import pkcs11 as _pkcs11  # noqa: F401
except ImportError as e:  # pragma: no cover - python-pkcs11 is a dependency
    _IMPORT_ERROR: str | None = f"python-pkcs11 is not installed or does not load: {e}"
else:
    _IMPORT_ERROR = None
    from ._provider import KNOWN_MODULES, Pkcs11Provider, detect_modules
    from .store import Pkcs11KeyStore

__all__ = [
    "KEY_STORE_KIND",
    "KNOWN_MODULES",
    "Pkcs11KeyStore",
    "Pkcs11Provider",
    "UnavailableProvider",
    "available",
    "detect_modules",
    "provider",
]


class UnavailableProvider:
    """Stands in when python-pkcs11 cannot load: says why, raises only when used."""

    store = KEY_STORE_KIND.name
    kind = KEY_STORE_KIND

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def available(self) -> Availability:
        return Availability(False, self.reason)

    def __getattr__(self, name: str) -> Any:
        raise BackendUnavailable(f"PKCS#11 is unavailable: {self.reason}")


def available() -> Availability:
    """Whether python-pkcs11 can be imported here (and why not)."""
    if _IMPORT_ERROR is not None:
        return Availability(False, _IMPORT_ERROR)
    return Availability(True)


def provider(extra_modules: Sequence[str] = ()) -> KeyStoreProvider:
    """The ``pkcs11`` key store (or a stand-in saying why PKCS#11 cannot be used)."""
    if _IMPORT_ERROR is not None:
        return UnavailableProvider(_IMPORT_ERROR)
    return Pkcs11Provider(extra_modules)
