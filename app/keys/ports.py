"""The key-store port: signing keys that live in hardware (PKCS#11 tokens and HSMs, the TPM).

Private keys never leave the device: a :class:`KeyStore` lists keys, generates them on the
device (never extractable), signs, and hands out public keys. The CLI, the console and the
ceremony feature use this port and do not care which backend holds a key: where they must
behave differently they ask the store's :class:`StoreKind` what it can do, never for a store by
its name. Backends live in ``backends/pkcs11``, ``backends/tpm`` and ``backends/openbao``
(Transit); each declares its kind in the
``strongroom.keystores`` entry points, and none is imported here.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from ..keyslots import StatusCallback
from ..plugins import Availability

if TYPE_CHECKING:
    from ..remotes.config import Remote


class KeyType(StrEnum):
    """Key types Strongroom generates (``--type``)."""

    EcP256 = "ec-p256"
    EcP384 = "ec-p384"
    Rsa3072 = "rsa-3072"
    Rsa4096 = "rsa-4096"
    Ed25519 = "ed25519"


class SignAlgorithm(StrEnum):
    """Signature algorithms; ECDSA signatures are DER-encoded (as openssl and X.509 expect)."""

    EcdsaSha256 = "ecdsa-sha256"
    EcdsaSha384 = "ecdsa-sha384"
    RsaPssSha256 = "rsa-pss-sha256"
    RsaPssSha384 = "rsa-pss-sha384"
    RsaPkcs1Sha256 = "rsa-pkcs1-sha256"
    RsaPkcs1Sha384 = "rsa-pkcs1-sha384"
    Ed25519 = "ed25519"

    @property
    def hash_name(self) -> str | None:
        """The hash that is signed ("sha256", "sha384"); None for Ed25519, which signs the
        message itself."""
        return None if self is SignAlgorithm.Ed25519 else self.value.rsplit("-", 1)[1]


class PssSalt(StrEnum):
    """The salt length of a key store's RSA-PSS signatures (a certificate names it inside what
    is signed, so it must be known before signing)."""

    HashLength = "hash-length"  # always the hash's length (PKCS#11's CKM_RSA_PKCS_PSS as used)
    Unknown = "unknown"  # not fixed (a TPM may use the longest): ask the store with a signature


@dataclass(frozen=True)
class StoreKind:
    """A kind of key store and what it can do, declared by its backend (a ``strongroom.keystores``
    entry point names it) so that callers ask this instead of comparing store names."""

    name: str  # what --store takes, TokenInfo.store and KeyInfo.store carry: "pkcs11", "tpm"
    title: str  # what people call it: "PKCS#11", "TPM"
    entry_point: str  # the ``strongroom.backends`` entry point that makes its provider
    takes_modules: bool = False  # its tokens live in modules (shared libraries) named by path
    keeps_blobs_in_vault: bool = False  # its keys are blobs the vault keeps: open() needs blobs
    # A PIN belongs to each key (asked once the key is known; one given when generating becomes
    # the new key's), as a TPM key's authorisation value, instead of a login to the token.
    key_pins: bool = False
    keeps_certificates: bool = False  # an issued certificate can be stored next to its key
    pss_salt: PssSalt = PssSalt.Unknown
    # Its tokens are the vault's remotes (OpenBao Transit): the provider lists and opens them
    # through a RemoteDirectory given with ``use_remotes()`` (the unlocked vault's).
    needs_remotes: bool = False

    @classmethod
    def unknown(cls, name: str) -> StoreKind:
        """A store that cannot say what it is (its backend fails to load): known by its name
        and taken to do nothing special."""
        return cls(name=name, title=name, entry_point=name)


class Capability(StrEnum):
    Sign = "sign"
    Verify = "verify"
    Decrypt = "decrypt"
    Encrypt = "encrypt"
    Wrap = "wrap"
    Unwrap = "unwrap"
    Derive = "derive"


@dataclass(frozen=True)
class TokenInfo:
    """One token (or the TPM) as the inventory shows it."""

    store: str  # the key store's name (StoreKind.name): "pkcs11", "tpm"
    module: str  # module path, or the TCTI for the TPM
    slot: int | None
    label: str
    manufacturer: str
    model: str
    serial: str
    # e.g. "login-required", "user-pin-locked"; "token-initialized" when the token is ready for
    # use (a store without that notion always says so)
    flags: tuple[str, ...]
    free_public_memory: int | None = None
    free_private_memory: int | None = None
    logged_in: bool = False


@dataclass(frozen=True)
class KeyInfo:
    """One key pair on a device. ``public_key`` is the DER SubjectPublicKeyInfo."""

    store: str  # the key store's name (StoreKind.name)
    token_label: str
    token_serial: str
    label: str
    key_id: str  # hex of CKA_ID (PKCS#11) or Strongroom's id for a TPM key
    algorithm: str  # human form: "EC P-256", "RSA 3072", "Ed25519"
    key_type: KeyType | None  # None for a type Strongroom does not generate (e.g. RSA 2048)
    capabilities: frozenset[Capability]
    sensitive: bool
    extractable: bool
    public_key: bytes = field(repr=False)
    has_certificate: bool = False
    # The key has a PIN of its own (a TPM key's authorisation value); PKCS#11 keys are used
    # under the token's login instead.
    needs_pin: bool = False

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the SubjectPublicKeyInfo, lower-case hex."""
        return hashlib.sha256(self.public_key).hexdigest()

    @property
    def warnings(self) -> tuple[str, ...]:
        out = []
        if self.extractable:
            out.append("the private key is extractable: it can leave the device")
        if not self.sensitive:
            out.append("the private key is not marked sensitive: its value can be read out")
        return tuple(out)


ProgressCallback = Callable[[int, int], None]


@runtime_checkable
class KeyStore(Protocol):
    """A port implemented in ``backends/``: one token (PKCS#11) or the TPM, logged in if needed.

    Implementations own their device sessions on one thread; callers may call from any thread.
    Errors are :mod:`errors` types (WrongPin with retries, PinBlocked, DeviceRemoved, Unsupported).

    Every method that waits on the device takes ``cancel`` (checked between the steps the device
    allows: a set Event raises UserCancelled, and one set before the call means nothing is done)
    and ``on_status`` (told what is being waited for, e.g. a slow key generation; the UI shows it
    only when the wait is real).
    """

    store: str  # kind.name
    kind: StoreKind

    def available(self) -> Availability: ...

    def token(self) -> TokenInfo: ...

    def list_keys(
        self, *, cancel: threading.Event | None = None, on_status: StatusCallback | None = None
    ) -> list[KeyInfo]: ...

    def generate(
        self,
        label: str,
        key_type: KeyType,
        key_id: bytes | None = None,
        *,
        cancel: threading.Event | None = None,
        on_status: StatusCallback | None = None,
    ) -> KeyInfo:
        """Generate a key pair on the device: sensitive, never extractable."""
        ...

    def sign(
        self,
        key: KeyInfo,
        data: bytes,
        algorithm: SignAlgorithm,
        *,
        prehashed: bool = False,
        cancel: threading.Event | None = None,
        on_status: StatusCallback | None = None,
    ) -> bytes:
        """Sign ``data``: the message, or with ``prehashed`` its digest under the algorithm's hash
        (not for Ed25519, which raises Unsupported). The signature verifies over the message."""
        ...

    def sign_many(
        self,
        key: KeyInfo,
        items: Iterable[bytes],
        algorithm: SignAlgorithm,
        *,
        prehashed: bool = False,
        cancel: threading.Event | None = None,
        on_progress: ProgressCallback | None = None,
        on_status: StatusCallback | None = None,
    ) -> Iterator[bytes]:
        """Sign many messages in one session, yielding each signature in order."""
        ...

    def close(self) -> None:
        """Log out and release the session and the worker."""
        ...


@dataclass(frozen=True)
class ModuleInfo:
    """A PKCS#11 module (shared library) and what it says about itself."""

    path: str
    description: str
    manufacturer: str
    library_version: str
    cryptoki_version: str
    detected: bool  # found in a well-known place rather than added by the user


@dataclass(frozen=True)
class KeyBlob:
    """A device key's opaque blobs kept in the vault (a TPM key's public/private parts, which
    only that TPM can load). Backend-defined bytes; nothing here is usable off the device."""

    key_id: str
    label: str
    data: bytes = field(repr=False)


class KeyBlobStore(Protocol):
    """Where a backend whose keys are not stored on the device (the TPM) keeps their blobs."""

    def put_blob(self, store: str, blob: KeyBlob) -> None: ...

    def blobs(self, store: str) -> list[KeyBlob]: ...

    def remove_blob(self, store: str, key_id: str) -> None: ...


class RemoteDirectory(Protocol):
    """The vault's remotes and their credentials, for a store whose tokens are remotes
    (``StoreKind.needs_remotes``). A credential is bytes from the vault, never argv or env."""

    def remotes(self) -> Sequence[Remote]: ...

    def credential(self, name: str) -> bytes: ...


@runtime_checkable
class KeyStoreProvider(Protocol):
    """A port implemented in ``backends/``: finds tokens and opens a :class:`KeyStore` on one.

    Made by the ``strongroom.backends`` entry point its :class:`StoreKind` names.
    """

    store: str  # kind.name
    kind: StoreKind

    def available(self) -> Availability: ...

    def modules(self) -> list[ModuleInfo]:
        """PKCS#11: the detected and added modules; the TPM: one entry for its TCTI."""
        ...

    def tokens(self, module: str | None = None) -> list[TokenInfo]:
        """Tokens present (in ``module``, or in every known module)."""
        ...

    def open(
        self,
        token: TokenInfo,
        pin: str | None,
        *,
        blobs: KeyBlobStore | None = None,
    ) -> KeyStore:
        """Open a session (logging in with ``pin`` when given) on one token."""
        ...
