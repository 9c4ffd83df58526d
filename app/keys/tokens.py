"""Find a key store, a token and a key: the installed providers, the tokens they see, and the key
a user names by label, hex id or fingerprint.

The installed key stores are the ``strongroom.keystores`` entry points: each names its backend's
:class:`~.ports.StoreKind` (what the store is and can do) and so the ``strongroom.backends``
entry point that makes its provider. Nothing is imported by name, and what differs between
stores is asked of their kind, never decided by a name.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable, Sequence

from ..errors import BackendUnavailable, NotFound, StrongroomError, UsageError
from ..plugins import BACKENDS_GROUP, KEYSTORES_GROUP, entry_points, load_backend
from . import module_config
from .fingerprints import hex_digits
from .ports import (
    KeyBlobStore,
    KeyInfo,
    KeyStore,
    KeyStoreProvider,
    RemoteDirectory,
    StoreKind,
    TokenInfo,
)

DEFAULT_STORE = "pkcs11"
ProviderLoader = Callable[[str], KeyStoreProvider]  # takes a StoreKind.entry_point


@functools.cache
def store_names() -> tuple[str, ...]:
    """The installed key stores' names in order (what ``--store`` offers); nothing is loaded."""
    return tuple(e.name for e in entry_points(KEYSTORES_GROUP))


@functools.cache
def kind_of(store: str) -> StoreKind:
    """What the installed key store ``store`` is and can do, as its backend declares it (the
    backend's package is imported; no provider is made and no device is touched)."""
    unknown = UsageError(f"unknown key store {store!r} (choose {' or '.join(store_names())})")
    try:
        kind = load_backend(KEYSTORES_GROUP, store, missing=unknown)
    except StrongroomError:
        raise
    except Exception as e:  # a broken backend package is reported in one sentence
        raise BackendUnavailable(
            f"the {store} key store failed to load ({type(e).__name__})") from e
    if not isinstance(kind, StoreKind):
        raise BackendUnavailable(f"the {store} key store does not say what it is")
    return kind


def _kind(store: str) -> StoreKind:
    """The kind named ``store``, or whose provider's entry point is ``store`` (``tpm-keys``)."""
    if store not in store_names():
        for name in store_names():
            with contextlib.suppress(StrongroomError):
                if kind_of(name).entry_point == store:
                    return kind_of(name)
    return kind_of(store)  # an unknown name is a UsageError that lists the stores


def load_provider(store: str = DEFAULT_STORE) -> KeyStoreProvider:
    """The installed provider of the key store ``store`` (a name from :func:`store_names`, or
    the entry point its kind names)."""
    kind = _kind(store)
    factory: Callable[[], KeyStoreProvider] = load_backend(
        BACKENDS_GROUP, kind.entry_point, missing=BackendUnavailable(
            f"no {store} key store is installed (entry point {BACKENDS_GROUP}:{kind.entry_point})"
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


def use_remotes(provider: KeyStoreProvider, remotes: RemoteDirectory | None) -> None:
    """Give a provider whose tokens are the vault's remotes (``StoreKind.needs_remotes``,
    OpenBao Transit) the unlocked vault's directory; others are left alone."""
    if not provider.kind.needs_remotes:
        return
    if remotes is None:
        raise UsageError(f"{provider.kind.title} keys are reached through the vault's remotes: "
                         "this needs the vault")
    provider.use_remotes(remotes)  # type: ignore[attr-defined]


def module_provider(load: ProviderLoader = load_provider) -> KeyStoreProvider:
    """The provider of the first installed key store whose tokens live in modules named by path
    (PKCS#11), for adding and forgetting modules; ``load`` takes its kind's entry point."""
    error: StrongroomError | None = None
    for name in store_names():
        try:
            kind = kind_of(name)
        except StrongroomError as e:
            error = error or e
            continue
        if kind.takes_modules:
            return load(kind.entry_point)
    raise error or BackendUnavailable("no installed key store takes modules")


def add_modules(provider: KeyStoreProvider, modules: Sequence[str]) -> None:
    """Tell a provider that takes modules about modules named by path (a missing file is
    NotFound)."""
    for path in modules:
        if not os.path.isfile(path):
            raise NotFound(f"no {provider.kind.title} module at {path}")
        add = getattr(provider, "add_module", None)
        if add is not None:
            add(path)


def find_tokens(provider: KeyStoreProvider, modules: Sequence[str] = ()) -> list[TokenInfo]:
    """Tokens in the named ``modules`` (each must exist), or in every known one."""
    if not modules:
        return provider.tokens()
    out: list[TokenInfo] = []
    for path in modules:
        if provider.kind.takes_modules and not os.path.isfile(path):
            raise NotFound(f"no {provider.kind.title} module at {path}")
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
    store: str = DEFAULT_STORE,
    *,
    modules: Sequence[str] = (),
    token: str | None = None,
    pin: str | None = None,
    blobs: KeyBlobStore | None = None,
    remotes: RemoteDirectory | None = None,
) -> tuple[TokenInfo, KeyStore]:
    """Load the provider, choose the token (label or serial; the only one when None) in
    ``modules`` (or every known module, or ``remotes`` for a store whose tokens are the vault's
    remotes) and open a store on it (logging in with ``pin``)."""
    provider = load_provider(store)
    require_available(provider)
    use_remotes(provider, remotes)
    takes_modules = provider.kind.takes_modules
    if takes_modules:
        add_modules(provider, modules)
    chosen = choose_token(find_tokens(provider, modules if takes_modules else ()), token)
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
