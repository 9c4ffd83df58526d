"""What the Keys & Signing tree shows, gathered off the UI thread: modules, tokens and their keys.

The key stores are the installed ones the app layer lists, each with the kind its backend
declares (:class:`StoreKind`: its title, whether it takes modules, whether its keys have PINs of
their own…); their providers are loaded through the app layer, never imported from here.
Everything in this module that touches a provider runs on the section's hardware runner.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from strongroom.app.errors import (
    BackendUnavailable,
    PinRequired,
    StrongroomError,
)
from strongroom.app.keys import fingerprints, module_config
from strongroom.app.keys import tokens as key_tokens
from strongroom.app.keys.ports import (
    KeyBlobStore,
    KeyInfo,
    KeyStore,
    KeyStoreProvider,
    ModuleInfo,
    StoreKind,
    TokenInfo,
)
from strongroom.app.keys.remote_directory import VaultRemotes

LOGIN_NOTE = "log in to list its private keys"
ProviderLoader = key_tokens.ProviderLoader
TokenKey = tuple[str, str, str]  # (store, module, serial): stable while the token is plugged in


def token_key(token: TokenInfo) -> TokenKey:
    return (token.store, token.module, token.serial)


def grouped_hex(fingerprint: str) -> str:
    """'ab12cd34…' as 'AB12 CD34 …' for comparing by eye."""
    return fingerprints.grouped_hex(fingerprint)


def fingerprint_words(fingerprint: str) -> str:
    """The fingerprint as PGP words to read aloud (one per byte)."""
    return " ".join(fingerprints.fingerprint_words(fingerprint))


def size_text(n: int | None) -> str:
    if n is None:
        return "not reported"
    return f"{n // 1024} KiB" if n >= 10 * 1024 else f"{n} bytes"


@dataclass(frozen=True)
class TokenView:
    info: TokenInfo
    keys: tuple[KeyInfo, ...] = ()
    note: str = ""  # why no keys are listed ("log in to list its keys", an error)
    session: bool = False  # the console holds a logged-in session on it


@dataclass(frozen=True)
class ModuleView:
    kind: StoreKind  # the store it belongs to, and what that store can do
    path: str
    info: ModuleInfo | None = None
    tokens: tuple[TokenView, ...] = ()
    error: str = ""  # the backend or module cannot be used: why

    @property
    def store(self) -> str:
        return self.kind.name

    @property
    def title(self) -> str:
        return self.kind.title


@dataclass(frozen=True)
class Inventory:
    modules: tuple[ModuleView, ...] = field(default=())

    def tokens(self) -> list[TokenView]:
        return [t for m in self.modules for t in m.tokens]


class Backends:
    """The providers, loaded once on first use and used only from the hardware runner's thread;
    ``loader`` is given a kind's entry point (``pkcs11``, ``tpm-keys``). The stores' kinds are
    data, asked from any thread."""

    def __init__(self, loader: ProviderLoader = key_tokens.load_provider) -> None:
        self.loader = loader
        self._loaded: dict[str, KeyStoreProvider | StrongroomError] = {}

    @staticmethod
    def kind(store: str) -> StoreKind:
        """What the store named ``store`` can do (nothing special when it cannot say)."""
        try:
            return key_tokens.kind_of(store)
        except StrongroomError:
            return StoreKind.unknown(store)

    def get(self, name: str) -> KeyStoreProvider:
        found = self._loaded.get(name)
        if found is None:
            try:
                found = self.loader(name)
            except StrongroomError as e:
                found = e
            except Exception as e:  # noqa: BLE001 - a broken backend is shown, not raised
                found = BackendUnavailable(
                    f"the {name} backend failed to load ({type(e).__name__})")
            self._loaded[name] = found
        if isinstance(found, StrongroomError):
            raise found
        return found

    def for_token(self, token: TokenInfo) -> KeyStoreProvider:
        return self.get(self.kind(token.store).entry_point)


def open_store(backends: Backends, token: TokenInfo, pin: str | None,
               blobs: KeyBlobStore | None) -> KeyStore:
    return backends.for_token(token).open(token, pin, blobs=blobs)


def _token_view(backends: Backends, token: TokenInfo, stores: Mapping[TokenKey, KeyStore],
                blobs: KeyBlobStore | None) -> TokenView:
    held = stores.get(token_key(token))
    if held is None and "token-initialized" not in token.flags:
        return TokenView(token, note="the token is not initialised")
    try:
        if held is not None:
            return TokenView(held.token(), tuple(held.list_keys()), session=True)
        store = open_store(backends, token, None, blobs)
        try:
            keys = tuple(store.list_keys())
        finally:
            store.close()
    except PinRequired:
        return TokenView(token, note=LOGIN_NOTE)
    except StrongroomError as e:
        return TokenView(token, note=str(e))
    hidden = not keys and not token.logged_in and "login-required" in token.flags
    return TokenView(token, keys, note=LOGIN_NOTE if hidden else "")


def _module_view(backends: Backends, kind: StoreKind, provider: KeyStoreProvider,
                 module: ModuleInfo, stores: Mapping[TokenKey, KeyStore],
                 blobs: KeyBlobStore | None) -> ModuleView:
    try:
        tokens = provider.tokens(module.path)
    except StrongroomError as e:
        return ModuleView(kind, module.path, module, error=str(e))
    views = tuple(_token_view(backends, t, stores, blobs) for t in tokens)
    return ModuleView(kind, module.path, module, views)


def collect(backends: Backends, stores: Mapping[TokenKey, KeyStore],
            blobs: KeyBlobStore | None) -> Inventory:
    """Every module (detected or added), its tokens and their keys; unusable backends say why."""
    out: list[ModuleView] = []
    for name in key_tokens.store_names():
        kind = StoreKind.unknown(name)
        try:
            kind = key_tokens.kind_of(name)
            provider = backends.get(kind.entry_point)
            ready = provider.available()
            if not ready.ok:
                raise BackendUnavailable(ready.reason)
            if kind.needs_remotes:  # its tokens are the vault's remotes (OpenBao Transit)
                key_tokens.use_remotes(provider, None if blobs is None else VaultRemotes(blobs))
            modules = provider.modules()
        except StrongroomError as e:
            out.append(ModuleView(kind, "", error=str(e) or "not available"))
            continue
        out += [_module_view(backends, kind, provider, m, stores, blobs) for m in modules]
    return Inventory(tuple(out))


def add_module(backends: Backends, path: str) -> None:
    """Add a module by path to the store that takes modules (loaded now, so a bad file fails
    here) and remember it for the next start and the command line."""
    module_config.check_module_path(path)
    key_tokens.add_modules(key_tokens.module_provider(backends.get), [path])
    module_config.remember_module(path)


def forget_module(backends: Backends, path: str) -> None:
    """Stop using a module the user added: off the remembered list and out of this session."""
    module_config.forget_module(path)
    forget = getattr(key_tokens.module_provider(backends.get), "forget_module", None)
    if forget is not None:
        forget(path)
