"""Find a key store, a token and a key: the installed providers, the tokens they see, and the key
a user names by label, hex id or fingerprint.

Providers come from the ``strongroom.backends`` entry points (``pkcs11``, ``tpm-keys``), never by
import.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

from ..errors import BackendUnavailable, NotFound, UsageError
from ..plugins import BACKENDS_GROUP, load_backend
from . import module_config
from .fingerprints import hex_digits
from .ports import KeyBlobStore, KeyInfo, KeyStore, KeyStoreProvider, TokenInfo

STORES = ("pkcs11", "tpm")
# --store (and TokenInfo.store) → entry point name; the entry point names are accepted too.
ENTRY_POINTS = {"pkcs11": "pkcs11", "tpm": "tpm-keys", "tpm-keys": "tpm-keys"}


def load_provider(store: str = "pkcs11") -> KeyStoreProvider:
    """The installed key-store provider for ``store``: "pkcs11", "tpm" (or an entry point name)."""
    name = ENTRY_POINTS.get(store)
    if name is None:
        raise UsageError(f"unknown key store {store!r} (choose {' or '.join(STORES)})")
    factory: Callable[[], KeyStoreProvider] = load_backend(
        BACKENDS_GROUP, name, missing=BackendUnavailable(
            f"no {store} key store is installed (entry point {BACKENDS_GROUP}:{name})"
        ))
    provider = factory()
    remember = getattr(provider, "remember_module", None)
    if remember is not None:
        # Modules the user added earlier (module_config); one uninstalled since is left out.
        for path in module_config.remembered_modules():
            if os.path.isfile(path):
                remember(path)
    return provider


def require_available(provider: KeyStoreProvider) -> None:
    usable = provider.available()
    if not usable.ok:
        raise BackendUnavailable(f"the {provider.store} key store cannot be used: {usable.reason}")


def add_modules(provider: KeyStoreProvider, modules: Sequence[str]) -> None:
    """Tell a PKCS#11 provider about modules named by path (a missing file is NotFound)."""
    for path in modules:
        if not os.path.isfile(path):
            raise NotFound(f"no PKCS#11 module at {path}")
        add = getattr(provider, "add_module", None)
        if add is not None:
            add(path)


def find_tokens(provider: KeyStoreProvider, modules: Sequence[str] = ()) -> list[TokenInfo]:
    """Tokens in the named ``modules`` (each must exist), or in every known one."""
    if not modules:
        return provider.tokens()
    out: list[TokenInfo] = []
    for path in modules:
        if provider.store == "pkcs11" and not os.path.isfile(path):
            raise NotFound(f"no PKCS#11 module at {path}")
        out += provider.tokens(path)
    return out


def _token_name(t: TokenInfo) -> str:
    return f"'{t.label}' (serial {t.serial})"


def choose_token(tokens: Sequence[TokenInfo], wanted: str | None) -> TokenInfo:
    """The token whose label or serial is ``wanted``, or the only token when none is named."""
    if wanted is None:
        ready = [t for t in tokens if "token-initialized" in t.flags]
        tokens = ready or list(tokens)
        if len(tokens) == 1:
            return tokens[0]
        if not tokens:
            raise NotFound("no token is present; plug one in or name its module with --module")
        raise UsageError(
            "several tokens are present; choose one with --token: "
            + ", ".join(_token_name(t) for t in tokens)
        )
    found = [t for t in tokens if wanted in (t.label, t.serial)]
    if not found:
        present = ", ".join(_token_name(t) for t in tokens) or "none"
        raise NotFound(f"no token labelled {wanted!r} (present: {present})")
    if len(found) > 1:
        raise UsageError(
            f"several tokens are labelled {wanted!r}; name one by serial: "
            + ", ".join(_token_name(t) for t in found)
        )
    return found[0]


def open_store(
    store: str = "pkcs11",
    *,
    modules: Sequence[str] = (),
    token: str | None = None,
    pin: str | None = None,
    blobs: KeyBlobStore | None = None,
) -> tuple[TokenInfo, KeyStore]:
    """Load the provider, choose the token (label or serial; the only one when None) in
    ``modules`` (or every known module) and open a store on it (logging in with ``pin``)."""
    provider = load_provider(store)
    require_available(provider)
    if provider.store == "pkcs11":
        add_modules(provider, modules)
    chosen = choose_token(find_tokens(provider, modules if provider.store == "pkcs11" else ()),
                          token)
    return chosen, provider.open(chosen, pin, blobs=blobs)


def find_key(keys: Sequence[KeyInfo], query: str) -> KeyInfo:
    """The key named by label, hex id, or fingerprint prefix (4+ hex digits); one or an error."""
    query = query.strip()
    if not query:
        raise UsageError("name a key by label, hex id or fingerprint")
    by_label = [k for k in keys if k.label == query]
    if len(by_label) == 1:
        return by_label[0]
    wanted = hex_digits(query)
    is_hex = len(wanted) >= 2 and all(c in "0123456789abcdef" for c in wanted)
    found = list(by_label)
    if is_hex:
        found += [k for k in keys if k.key_id.lower() == wanted and k not in found]
        if len(wanted) >= 4:
            found += [k for k in keys if k.fingerprint.startswith(wanted) and k not in found]
    if not found:
        raise NotFound(f"no key {query!r} on this token (see 'strongroom keys list')")
    if len(found) > 1:
        raise UsageError(
            f"{query!r} matches {len(found)} keys; name one by fingerprint: "
            + ", ".join(f"'{k.label}' (id {k.key_id or '-'}, {k.fingerprint[:16]})" for k in found)
        )
    return found[0]
