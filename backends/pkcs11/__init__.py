"""PKCS#11 tokens and HSMs as a key store (python-pkcs11), found through the entry point
``pkcs11`` → :func:`provider`.

One worker thread per module owns the library and all its sessions (:mod:`._worker`); the
provider lists modules (``provider.KNOWN_MODULES`` plus any the user adds) and tokens, and opens
a :class:`Pkcs11KeyStore` on a token. Importing this package never fails when python-pkcs11 is
missing: :func:`provider` then returns a stand-in whose ``available()`` says why.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from strongroom.app.errors import BackendUnavailable
from strongroom.app.unlock_methods import Availability

__all__ = ["Pkcs11Provider", "UnavailableProvider", "available", "provider"]


class UnavailableProvider:
    """Stands in when python-pkcs11 cannot load: says why, raises only when used."""

    store = "pkcs11"

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def available(self) -> Availability:
        return Availability(False, self.reason)

    def __getattr__(self, name: str) -> Any:
        raise BackendUnavailable(f"PKCS#11 is unavailable: {self.reason}")


def available() -> Availability:
    try:
        import pkcs11  # noqa: F401
    except ImportError as e:
        return Availability(False, f"python-pkcs11 is not installed or does not load: {e}")
    return Availability(True)


def provider(extra_modules: Sequence[str] = ()) -> Any:
    """The ``pkcs11`` KeyStoreProvider (or a stand-in saying why PKCS#11 cannot be used)."""
    status = available()
    if not status.ok:
        return UnavailableProvider(status.reason)
    from .provider import Pkcs11Provider

    return Pkcs11Provider(extra_modules)


def __getattr__(name: str) -> Any:
    if name in ("Pkcs11Provider", "Pkcs11KeyStore"):
        from . import provider as _provider_module
        from . import store as _store_module

        return {"Pkcs11Provider": _provider_module.Pkcs11Provider,
                "Pkcs11KeyStore": _store_module.Pkcs11KeyStore}[name]
    raise AttributeError(name)
