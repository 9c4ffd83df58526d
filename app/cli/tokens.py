"""What the key commands share: the store and token chosen by the options, a logged-in session
(PIN from ``--pin-fd`` or a prompt), the options themselves, and how keys are printed.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import (
    AuthenticationFailed,
    NotFound,
    StorageError,
    StrongroomError,
    Unsupported,
    UsageError,
    WrongPin,
)
from ..keys import algorithms, fingerprints
from ..keys import tokens as key_tokens
from ..keys.ports import KeyInfo, KeyStore, KeyStoreProvider, SignAlgorithm, StoreKind, TokenInfo
from ..keys.signing import audit_details, record_failure
from ..vault import Vault
from .common import Context


def provider_for(ctx: Context, vault: Vault | None = None) -> KeyStoreProvider:
    """The chosen store's provider (a store whose tokens are the vault's remotes gets the
    unlocked ``vault``'s)."""
    provider = key_tokens.load_provider(ctx.args.store)
    key_tokens.require_available(provider)
    key_tokens.add_modules(provider, modules_of(ctx, provider))
    if provider.kind.needs_remotes:
        from ..keys.remote_directory import VaultRemotes  # only a remote-backed store needs it

        key_tokens.use_remotes(provider, None if vault is None else VaultRemotes(vault))
    return provider


def modules_of(ctx: Context, provider: KeyStoreProvider) -> list[str]:
    """The ``--module`` paths, for a store that takes modules (ignored by the others)."""
    return list(ctx.args.module or ()) if provider.kind.takes_modules else []


def token_for(ctx: Context, provider: KeyStoreProvider) -> TokenInfo:
    tokens = key_tokens.find_tokens(provider, modules_of(ctx, provider))
    return key_tokens.choose_token(tokens, getattr(ctx.args, "token", None))


def _pin(ctx: Context, kind: StoreKind, token: TokenInfo) -> str | None:
    if kind.key_pins:
        # Using a key: asked once the key is known to have a PIN (session). Generating: a PIN
        # on --pin-fd becomes the new key's PIN.
        if getattr(ctx.args, "key", None) or ctx.args.pin_fd is None:
            return None
        return ctx.next_pin(f"PIN for the new {kind.title} key: ")
    if "login-required" not in token.flags and ctx.args.pin_fd is None:
        return None
    return ctx.next_pin(f"PIN for token '{token.label}': ")


def _pin_error(e: AuthenticationFailed) -> AuthenticationFailed:
    retries = getattr(e, "retries", None)
    if isinstance(e, WrongPin) and retries is not None and "attempt" not in str(e):
        return WrongPin(f"{e} ({retries} attempts left)", retries)
    return e


@contextlib.contextmanager
def session(ctx: Context, vault: Vault | None) -> Iterator[tuple[TokenInfo, KeyStore]]:
    """A logged-in store on the chosen token (a store that keeps its keys' blobs in the vault,
    like the TPM, gets them from ``vault``)."""
    provider = provider_for(ctx, vault)
    kind = provider.kind
    if kind.keeps_blobs_in_vault and vault is None:
        raise UsageError(f"{kind.title} keys are kept in the vault: this needs the vault")
    token = token_for(ctx, provider)
    pin = _pin(ctx, kind, token)
    try:
        store = provider.open(token, pin, blobs=vault)
        if pin is None and _key_needs_pin(ctx, kind, store):
            # A key with a PIN of its own (a TPM key's): asked once the key is known.
            store.close()
            pin = ctx.next_pin(f"PIN for the {kind.title} key '{ctx.args.key}': ")
            store = provider.open(token, pin, blobs=vault)
    except AuthenticationFailed as e:
        record_failure(vault, "keys.login", token.label,
                       audit_details(token, operation="login"), e)
        raise _pin_error(e) from e
    finally:
        pin = None
    try:
        yield token, store
    finally:
        store.close()


def _key_needs_pin(ctx: Context, kind: StoreKind, store: KeyStore) -> bool:
    wanted = getattr(ctx.args, "key", None)
    if not kind.key_pins or not wanted:
        return False
    try:
        return key_tokens.find_key(store.list_keys(), wanted).needs_pin
    except StrongroomError:
        return False  # the command reports the unknown or ambiguous key itself


@contextlib.contextmanager
def vault_if(ctx: Context, needed: bool) -> Iterator[Vault | None]:
    if not needed:
        yield None
        return
    with ctx.unlocked() as vault:
        yield vault


def needs_vault(ctx: Context) -> bool:
    """Whether the chosen store keeps its keys' blobs in the vault, or its tokens are the
    vault's remotes (so even listing opens it)."""
    kind = key_tokens.kind_of(ctx.args.store)
    return kind.keeps_blobs_in_vault or kind.needs_remotes


def key_json(key: KeyInfo) -> dict[str, Any]:
    try:
        allowed = [a.value for a in algorithms.allowed_algorithms(key)]
    except Unsupported:
        allowed = []
    return {
        "label": key.label,
        "key_id": key.key_id,
        "algorithm": key.algorithm,
        "key_type": None if key.key_type is None else key.key_type.value,
        "fingerprint": key.fingerprint,
        "fingerprint_words": fingerprints.fingerprint_words(key.fingerprint),
        "store": key.store,
        "token_label": key.token_label,
        "token_serial": key.token_serial,
        "capabilities": sorted(c.value for c in key.capabilities),
        "sensitive": key.sensitive,
        "extractable": key.extractable,
        "has_certificate": key.has_certificate,
        "needs_pin": key.needs_pin,
        "algorithms": allowed,
        "default_algorithm": allowed[0] if allowed else None,
        "warnings": list(key.warnings),
    }


def token_json(t: TokenInfo) -> dict[str, Any]:
    out = dataclasses.asdict(t)
    out["flags"] = list(t.flags)
    return out


def key_text(key: KeyInfo) -> str:
    lines = [
        f"{key.label}  id {key.key_id or '-'}  {key.algorithm}",
        f"  fingerprint {fingerprints.grouped_hex(key.fingerprint)}",
        f"  words       {' '.join(fingerprints.fingerprint_words(key.fingerprint))}",
    ]
    lines += [f"  warning: {w}" for w in key.warnings]
    return "\n".join(lines)


def read_file(path: str, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise NotFound(f"no {what} file {path}") from None
    except IsADirectoryError:
        raise UsageError(f"{path} is a directory, not a {what} file") from None
    except OSError as e:
        raise StorageError(f"could not read {path}: {e.strerror or type(e).__name__}") from e


def device_options(cp: Any, *, token: bool = True) -> None:
    # The installed key stores (entry points); the help names the two Strongroom ships.
    cp.add_argument("--store", choices=key_tokens.store_names(),
                    default=key_tokens.DEFAULT_STORE,
                    help="pkcs11 (tokens, HSMs; default), tpm, or transit (OpenBao Transit keys "
                    "of a remote: --token REMOTE)")
    cp.add_argument("--module", action="append", metavar="PATH",
                    help="PKCS#11 module (repeatable; default: the detected modules)")
    if token:
        cp.add_argument("--token", metavar="LABEL",
                        help="token label or serial (--store transit: the remote's name)")


def algorithm_option(cp: Any) -> None:
    cp.add_argument("--algorithm", choices=[a.value for a in SignAlgorithm], metavar="A",
                    help="signature algorithm (default: the key's: ecdsa-sha256/384, "
                    "rsa-pss-sha256, ed25519)")
