"""Hardware keys for the CLI and ceremonies: find a provider, a token and a key; sign files; verify.

Providers come from the ``strongroom.backends`` entry points (``pkcs11``, ``tpm-keys``), never by
import. Signing hashes files in chunks on this side (the token signs the digest; Ed25519 needs the
whole message), writes each signature atomically, and records each token operation in the vault's
audit log with the module, token serial, key id and fingerprint, the algorithm and the SHA-256 of
what was signed — never a PIN or key material. Signature files are raw: DER ECDSA-Sig-Value for
ECDSA, the RSA signature block, the 64-byte Ed25519 signature.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, decode_dss_signature

from ..audit import Outcome
from ..errors import (
    BackendUnavailable,
    IntegrityError,
    NotFound,
    Refused,
    StorageError,
    StrongroomError,
    Unsupported,
    UsageError,
    UserCancelled,
)
from ..fsutil import atomic_write, fsync_dir, storage_error, write_temp
from ..plugins import BACKENDS_GROUP, load_backend
from . import module_config
from .ports import (
    KeyBlobStore,
    KeyInfo,
    KeyStore,
    KeyStoreProvider,
    KeyType,
    ProgressCallback,
    SignAlgorithm,
    TokenInfo,
)

STORES = ("pkcs11", "tpm")
# --store (and TokenInfo.store) → entry point name; the entry point names are accepted too.
ENTRY_POINTS = {"pkcs11": "pkcs11", "tpm": "tpm-keys", "tpm-keys": "tpm-keys"}
CHUNK = 1 << 20
PUBLIC_MODE = 0o644  # signatures, public keys, CSRs and certificates are public
SIG_SUFFIX = ".sig"

PublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey

# Per key family: the algorithms it signs with, the default first.
_FAMILY_ALGORITHMS: dict[str, tuple[SignAlgorithm, ...]] = {
    "ec-p256": (SignAlgorithm.EcdsaSha256, SignAlgorithm.EcdsaSha384),
    "ec-p384": (SignAlgorithm.EcdsaSha384, SignAlgorithm.EcdsaSha256),
    "rsa": (SignAlgorithm.RsaPssSha256, SignAlgorithm.RsaPssSha384,
            SignAlgorithm.RsaPkcs1Sha256, SignAlgorithm.RsaPkcs1Sha384),
    "ed25519": (SignAlgorithm.Ed25519,),
}


class Recorder(Protocol):
    """What signing needs of the vault: ``Vault.record``."""

    def record(
        self,
        action: str,
        target: str,
        outcome: Outcome = Outcome.Ok,
        details: dict[str, Any] | None = None,
    ) -> None: ...

    def record_many(
        self,
        action: str,
        entries: Sequence[tuple[str, dict[str, Any]]],
        outcome: Outcome = Outcome.Ok,
    ) -> None: ...


class CorruptSignature(IntegrityError):
    """A signature file is not a signature of this key's kind (not DER, wrong length)."""


class BadSignature(IntegrityError):
    """A well-formed signature that does not verify: wrong key, or the data changed."""


# ----- providers, tokens, keys -------------------------------------------------------------------


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


def _hex(text: str) -> str:
    return "".join(c for c in text.lower() if c not in ": ")


def find_key(keys: Sequence[KeyInfo], query: str) -> KeyInfo:
    """The key named by label, hex id, or fingerprint prefix (4+ hex digits); one or an error."""
    query = query.strip()
    if not query:
        raise UsageError("name a key by label, hex id or fingerprint")
    by_label = [k for k in keys if k.label == query]
    if len(by_label) == 1:
        return by_label[0]
    wanted = _hex(query)
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


# ----- algorithms --------------------------------------------------------------------------------


def public_key_of(key: KeyInfo) -> PublicKey:
    if not key.public_key:
        raise Unsupported(f"key '{key.label}' has no readable public key on the token")
    return load_public_key(key.public_key)


def key_family(key: KeyInfo) -> str:
    """'ec-p256', 'ec-p384', 'rsa' or 'ed25519' (from the public key, else its algorithm name)."""
    if key.public_key:
        return _family(load_public_key(key.public_key))
    name = key.algorithm
    if name.startswith("RSA"):
        return "rsa"
    family = {"EC P-256": "ec-p256", "EC P-384": "ec-p384", "Ed25519": "ed25519"}.get(name)
    if family is None:
        raise Unsupported(f"Strongroom cannot sign with a {name} key")
    return family


def _family(public: PublicKey) -> str:
    if isinstance(public, rsa.RSAPublicKey):
        return "rsa"
    if isinstance(public, ed25519.Ed25519PublicKey):
        return "ed25519"
    if isinstance(public, ec.EllipticCurvePublicKey):
        family = {"secp256r1": "ec-p256", "secp384r1": "ec-p384"}.get(public.curve.name)
        if family is not None:
            return family
        raise Unsupported(f"Strongroom cannot sign with an EC {public.curve.name} key")
    raise Unsupported(f"Strongroom cannot sign with a {type(public).__name__} key")


def allowed_algorithms(key: KeyInfo) -> tuple[SignAlgorithm, ...]:
    """The signature algorithms this key signs with, its default first."""
    return _FAMILY_ALGORITHMS[key_family(key)]


def default_algorithm(key: KeyInfo) -> SignAlgorithm:
    """EC P-256 → ecdsa-sha256, P-384 → ecdsa-sha384, RSA → rsa-pss-sha256, Ed25519 → ed25519."""
    return allowed_algorithms(key)[0]


def choose_algorithm(key: KeyInfo, requested: str | None) -> SignAlgorithm:
    allowed = allowed_algorithms(key)
    if requested is None:
        return allowed[0]
    try:
        algorithm = SignAlgorithm(requested)
    except ValueError:
        raise UsageError(
            f"unknown algorithm {requested!r} (choose from {', '.join(a.value for a in allowed)})"
        ) from None
    if algorithm not in allowed:
        raise Unsupported(
            f"a {key.algorithm} key does not sign with {algorithm.value} "
            f"(it signs with {', '.join(a.value for a in allowed)})"
        )
    return algorithm


def hash_name(algorithm: SignAlgorithm) -> str | None:
    """The hash an algorithm signs a digest of ('sha256'/'sha384'); None for Ed25519."""
    return SignAlgorithm(algorithm).hash_name


def _hash(name: str) -> hashes.HashAlgorithm:
    return hashes.SHA384() if name == "sha384" else hashes.SHA256()


# ----- public keys and verification --------------------------------------------------------------


def load_public_key(data: bytes) -> PublicKey:
    """A public key from a DER or PEM SubjectPublicKeyInfo, or from a PEM/DER certificate."""
    loaders: list[Callable[[bytes], Any]] = []
    if data.lstrip().startswith(b"-----BEGIN"):
        if b"CERTIFICATE-----" in data:
            loaders.append(lambda d: x509.load_pem_x509_certificate(d).public_key())
        else:
            loaders.append(serialization.load_pem_public_key)
    else:
        loaders += [serialization.load_der_public_key,
                    lambda d: x509.load_der_x509_certificate(d).public_key()]
    for load in loaders:
        with contextlib.suppress(ValueError, UnsupportedAlgorithm):
            public = load(data)
            if isinstance(public, ec.EllipticCurvePublicKey | rsa.RSAPublicKey
                          | ed25519.Ed25519PublicKey):
                return public
            raise Unsupported(f"a {type(public).__name__} public key is not supported")
    raise UsageError("not a public key (PEM or DER SubjectPublicKeyInfo, or a certificate)")


def spki_der(public: PublicKey) -> bytes:
    return public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def public_pem(spki: bytes) -> bytes:
    return load_public_key(spki).public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def check_signature_form(public: PublicKey, signature: bytes) -> None:
    """CorruptSignature unless ``signature`` has the shape this key's signatures have."""
    if isinstance(public, ed25519.Ed25519PublicKey):
        if len(signature) != 64:
            raise CorruptSignature(
                f"not an Ed25519 signature: {len(signature)} bytes, not 64"
            )
    elif isinstance(public, rsa.RSAPublicKey):
        size = (public.key_size + 7) // 8
        if len(signature) != size:
            raise CorruptSignature(
                f"not a signature of this RSA {public.key_size} key: {len(signature)} bytes, "
                f"not {size}"
            )
    else:
        try:
            r, s = decode_dss_signature(signature)
        except ValueError:
            raise CorruptSignature("not an ECDSA signature: the file is not DER") from None
        if not (0 < r < 1 << public.curve.key_size and 0 < s < 1 << public.curve.key_size):
            raise CorruptSignature(f"not an ECDSA {public.curve.name} signature: r or s is "
                                   "out of range")


def verify(
    public_key: bytes | PublicKey,
    data: bytes,
    signature: bytes,
    algorithm: SignAlgorithm | str,
    *,
    prehashed: bool = False,
) -> bool:
    """Whether ``signature`` is ``algorithm``'s signature over ``data`` (the message, or with
    ``prehashed`` its digest) by ``public_key`` (SPKI DER/PEM or a loaded key).

    A signature that cannot be one of this key's (not DER, wrong length) raises CorruptSignature;
    an algorithm that does not fit the key raises Unsupported.
    """
    public = load_public_key(public_key) if isinstance(public_key, bytes) else public_key
    algorithm = SignAlgorithm(algorithm)
    if algorithm not in _FAMILY_ALGORITHMS[_family(public)]:
        raise Unsupported(f"{algorithm.value} does not apply to this {_family(public)} key")
    check_signature_form(public, signature)
    name = algorithm.hash_name
    try:
        if isinstance(public, ed25519.Ed25519PublicKey):
            if prehashed:
                raise Unsupported("Ed25519 signs the whole message; give the file, not a digest")
            public.verify(signature, data)
            return True
        assert name is not None  # noqa: S101 - every non-Ed25519 algorithm has a hash
        chosen: Any = Prehashed(_hash(name)) if prehashed else _hash(name)
        if prehashed and len(data) != chosen.digest_size:
            raise UsageError(f"a {name} digest is {chosen.digest_size} bytes, not {len(data)}")
        if isinstance(public, rsa.RSAPublicKey):
            if algorithm in (SignAlgorithm.RsaPssSha256, SignAlgorithm.RsaPssSha384):
                pad: Any = padding.PSS(mgf=padding.MGF1(_hash(name)),
                                       salt_length=padding.PSS.AUTO)
            else:
                pad = padding.PKCS1v15()
            public.verify(signature, data, pad, chosen)
        else:
            public.verify(signature, data, ec.ECDSA(chosen))
    except InvalidSignature:
        return False
    return True


# ----- hashing files -----------------------------------------------------------------------------


@dataclass(frozen=True)
class FileDigest:
    """What the token signs for one file, and the file's SHA-256 for the audit log."""

    path: Path
    signed: bytes = b""  # the digest under the algorithm's hash, or the message for Ed25519
    sha256: str = ""
    size: int = 0


def digest_file(path: Path, algorithm: SignAlgorithm) -> FileDigest:
    """Hash ``path`` in chunks (keep it whole for Ed25519, which signs the message)."""
    name = hash_name(algorithm)
    sha256 = hashlib.sha256()
    other = hashlib.new(name) if name is not None and name != "sha256" else None
    whole = bytearray() if name is None else None
    size = 0
    try:
        with path.open("rb") as f:
            while chunk := f.read(CHUNK):
                size += len(chunk)
                sha256.update(chunk)
                if other is not None:
                    other.update(chunk)
                if whole is not None:
                    whole += chunk
    except FileNotFoundError:
        raise NotFound(f"no file {path} to sign") from None
    except IsADirectoryError:
        raise UsageError(f"{path} is a directory, not a file") from None
    except OSError as e:
        raise StorageError(f"could not read {path}: {e.strerror or type(e).__name__}") from e
    signed = bytes(whole) if whole is not None else (other or sha256).digest()
    return FileDigest(path, signed, sha256.hexdigest(), size)


# ----- signing files -----------------------------------------------------------------------------


@dataclass(frozen=True)
class SignedFile:
    """One signature written: the input (None for a bare digest), the signature file, hashes."""

    source: Path | None
    signature: Path
    sha256: str  # of the file signed (or the digest given)
    algorithm: SignAlgorithm

    def to_json(self) -> dict[str, Any]:
        return {"file": None if self.source is None else str(self.source),
                "signature": str(self.signature), "sha256": self.sha256,
                "algorithm": self.algorithm.value}


def audit_details(token: TokenInfo | None, key: KeyInfo | None = None,
                  **extra: Any) -> dict[str, Any]:
    """The who-and-what of a token operation for the audit log (never a PIN or key material)."""
    details: dict[str, Any] = {}
    if token is not None:
        details |= {"store": token.store, "module": token.module, "token": token.label,
                    "token_serial": token.serial}
    if key is not None:
        details |= {"key_id": key.key_id, "key_label": key.label,
                    "fingerprint": key.fingerprint}
    return details | extra


def record(vault: Recorder | None, action: str, target: str, details: dict[str, Any],
           outcome: Outcome = Outcome.Ok) -> None:
    if vault is not None:
        vault.record(action, target, outcome, details)


def record_failure(vault: Recorder | None, action: str, target: str, details: dict[str, Any],
                   error: BaseException) -> None:
    """Best effort: a refused or failed token operation is an audit event too."""
    if vault is None or isinstance(error, UsageError):
        return
    # The user sees the original error, not a failure to record it.
    with contextlib.suppress(Exception):
        vault.record(action, target, Outcome.Failed,
                     {**details, "error": type(error).__name__})


def signature_paths(paths: Sequence[Path], out: Path | None, out_dir: Path | None) -> list[Path]:
    """Where each signature goes (``out`` for one file, ``out_dir``/NAME.sig for many);
    checked before any token work: the directory exists, no clash with an input or another."""
    if (out is None) == (out_dir is None):
        raise UsageError("give either --out SIG (one file) or --out-dir DIR")
    if out is not None:
        if len(paths) != 1:
            raise UsageError("--out takes one file; use --out-dir for several")
        dests = [out]
    else:
        assert out_dir is not None  # noqa: S101 - checked above
        if not out_dir.is_dir():
            raise NotFound(f"no directory {out_dir} for the signatures")
        dests = [out_dir / f"{p.name}{SIG_SUFFIX}" for p in paths]
    seen: dict[Path, Path] = {}
    inputs = {p.resolve() for p in paths}
    for src, dest in zip(paths, dests, strict=True):
        if not dest.parent.is_dir():
            raise NotFound(f"no directory {dest.parent} for the signature {dest.name}")
        real = dest.resolve()
        if real in inputs:
            raise UsageError(f"the signature {dest} would overwrite an input file")
        if real in seen:
            raise UsageError(f"{seen[real].name} and {src.name} would both be signed into {dest}")
        seen[real] = src
    return dests


def _write_temp(dest: Path, data: bytes) -> Path:
    """A fsynced sibling temp file holding ``data`` (renamed over ``dest`` later)."""
    return write_temp(dest, data, PUBLIC_MODE)


def write_public(dest: Path, data: bytes) -> None:
    """Write a public artefact (public key, CSR, certificate) atomically; the directory must
    exist (NotFound otherwise, before anything is written)."""
    if not dest.parent.is_dir():
        raise NotFound(f"no directory {dest.parent} for {dest.name}")
    atomic_write(dest, data, PUBLIC_MODE)


def _commit(temps: Sequence[tuple[Path, Path]]) -> None:
    """Rename each temp file over its destination (the audit events are already recorded)."""
    dirs: set[Path] = set()
    for i, (tmp, dest) in enumerate(temps):
        try:
            os.replace(tmp, dest)
        except OSError as e:
            for left, _ in temps[i:]:
                with contextlib.suppress(OSError):
                    left.unlink()
            raise storage_error(e, dest.name) from e
        dirs.add(dest.parent)
    for d in dirs:
        fsync_dir(d)


def _discard(temps: Iterable[tuple[Path, Path]]) -> None:
    for tmp, _ in temps:
        with contextlib.suppress(OSError):
            tmp.unlink()


def sign_files(
    store: KeyStore,
    key: KeyInfo,
    paths: Sequence[Path],
    algorithm: SignAlgorithm,
    *,
    out: Path | None = None,
    out_dir: Path | None = None,
    vault: Recorder | None = None,
    token: TokenInfo | None = None,
    cancel: threading.Event | None = None,
    on_progress: ProgressCallback | None = None,
) -> list[SignedFile]:
    """Sign ``paths`` in one session and write their signatures, all or none.

    Every signature is made and written to a temp file, then each is recorded in the audit log,
    then renamed into place: after any failure (wrong PIN, cancel, token removed, disk full) no
    existing file has changed. ``on_progress(done, total)`` counts signatures.
    """
    if not paths:
        raise UsageError("no files to sign")
    algorithm = SignAlgorithm(algorithm)
    dests = signature_paths(paths, out, out_dir)
    digests = [digest_file(p, algorithm) for p in paths]
    prehashed = algorithm is not SignAlgorithm.Ed25519
    temps: list[tuple[Path, Path]] = []
    base = audit_details(token, key, operation="sign", algorithm=algorithm.value)
    try:
        signatures = store.sign_many(
            key, [d.signed for d in digests], algorithm, prehashed=prehashed,
            cancel=cancel, on_progress=on_progress,
        )
        for dest, sig in zip(dests, signatures, strict=False):
            temps.append((_write_temp(dest, sig), dest))
        if len(temps) != len(digests):
            if cancel is not None and cancel.is_set():
                raise UserCancelled("signing cancelled")
            raise StrongroomError(f"the token returned {len(temps)} of {len(digests)} signatures")
        if vault is not None:
            vault.record_many("keys.sign", [
                (d.path.name, {**base, "file": str(d.path), "size": d.size, "sha256": d.sha256,
                               "signature_file": str(dest)})
                for d, (_, dest) in zip(digests, temps, strict=True)
            ])
        _commit(temps)
    except BaseException as e:
        _discard(temps)
        record_failure(vault, "keys.sign", key.label, {**base, "files": len(paths)}, e)
        raise
    return [SignedFile(d.path, dest, d.sha256, algorithm) for d, dest in zip(digests, dests,
                                                                           strict=True)]


def sign_digest(
    store: KeyStore,
    key: KeyInfo,
    digest_hex: str,
    algorithm: SignAlgorithm,
    out: Path,
    *,
    vault: Recorder | None = None,
    token: TokenInfo | None = None,
) -> SignedFile:
    """Sign a digest computed elsewhere (``--digest HEX``) under ``algorithm``'s hash."""
    algorithm = SignAlgorithm(algorithm)
    name = hash_name(algorithm)
    if name is None:
        raise Unsupported("Ed25519 signs the whole message; give the file, not a digest")
    try:
        digest = bytes.fromhex(_hex(digest_hex))
    except ValueError:
        raise UsageError("--digest takes hex digits") from None
    size = hashlib.new(name).digest_size
    if len(digest) != size:
        raise UsageError(f"a {name} digest is {size} bytes ({size * 2} hex digits), "
                         f"not {len(digest)}")
    [dest] = signature_paths([Path(f"digest-{digest.hex()[:16]}")], out, None)
    details = audit_details(token, key, operation="sign-digest", algorithm=algorithm.value,
                            digest=digest.hex(), signature_file=str(dest))
    temps: list[tuple[Path, Path]] = []
    try:
        sig = store.sign(key, digest, algorithm, prehashed=True)
        temps.append((_write_temp(dest, sig), dest))
        record(vault, "keys.sign", f"digest {digest.hex()[:16]}", details)
        _commit(temps)
    except BaseException as e:
        _discard(temps)
        record_failure(vault, "keys.sign", key.label, details, e)
        raise
    return SignedFile(None, dest, digest.hex(), algorithm)


def import_certificate(
    store: KeyStore,
    key: KeyInfo,
    cert_der: bytes,
    *,
    vault: Recorder | None = None,
    token: TokenInfo | None = None,
) -> None:
    """Store an X.509 certificate (DER) on the token next to ``key``, audited. Refused when the
    certificate is for another key, or the store keeps no certificates (the TPM)."""
    if spki_der(load_public_key(key.public_key)) != spki_der(load_public_key(cert_der)):
        raise Refused(f"the certificate's public key is not that of key '{key.label}'")
    importer = getattr(store, "import_certificate", None)
    if importer is None:
        raise Unsupported(f"the {store.store} key store does not keep certificates")
    details = audit_details(token, key, operation="import-cert",
                            sha256=hashlib.sha256(cert_der).hexdigest())
    try:
        importer(key, cert_der)
    except BaseException as e:
        record_failure(vault, "keys.import_cert", key.label, details, e)
        raise
    record(vault, "keys.import_cert", key.label, details)


def generate_key(
    store: KeyStore,
    label: str,
    key_type: KeyType,
    key_id: bytes | None = None,
    *,
    vault: Recorder | None = None,
    token: TokenInfo | None = None,
) -> KeyInfo:
    """Generate a key pair on the device (non-extractable) and record it."""
    details = audit_details(token, operation="generate", key_type=key_type.value,
                            key_label=label)
    try:
        key = store.generate(label, key_type, key_id)
    except BaseException as e:
        record_failure(vault, "keys.generate", label, details, e)
        raise
    record(vault, "keys.generate", label, audit_details(token, key, operation="generate",
                                                         key_type=key_type.value))
    return key


# ----- fingerprints for ceremonies ---------------------------------------------------------------

def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


# The PGP word list (Juola & Zimmermann, 1995): bytes at even positions read from the two-syllable
# list, bytes at odd positions from the three-syllable list, so a swapped or dropped word is heard.
PGP_EVEN = _words("""
    aardvark absurd accrue acme adrift adult afflict ahead aimless Algol allow alone ammo ancient
    apple artist assume Athens atlas Aztec baboon backfield backward banjo beaming bedlamp beehive
    beeswax befriend Belfast berserk billiard bison blackjack blockade blowtorch bluebird bombast
    bookshelf brackish breadline breakup brickyard briefcase Burbank button buzzard cement chairlift
    chatter checkup chisel choking chopper Christmas clamshell classic classroom cleanup clockwork
    cobra commence concert cowbell crackdown cranky crowfoot crucial crumpled crusade cubic
    dashboard deadbolt deckhand dogsled dragnet drainage dreadful drifter dropper drumbeat drunken
    Dupont dwelling eating edict egghead eightball endorse endow enlist erase escape exceed eyeglass
    eyetooth facial fallout flagpole flatfoot flytrap fracture framework freedom frighten gazelle
    Geiger glitter glucose goggles goldfish gremlin guidance hamlet highchair hockey indoors indulge
    inverse involve island jawbone keyboard kickoff kiwi klaxon locale lockup merit minnow miser
    Mohawk mural music necklace Neptune newborn nightbird Oakland obtuse offload optic orca payday
    peachy pheasant physique playhouse Pluto preclude prefer preshrunk printer prowler pupil puppy
    python quadrant quiver quota ragtime ratchet rebirth reform regain reindeer rematch repay
    retouch revenge reward rhythm ribcage ringbolt robust rocker ruffled sailboat sawdust scallion
    scenic scorecard Scotland seabird select sentence shadow shamrock showgirl skullcap skydive
    slingshot slowdown snapline snapshot snowcap snowslide solo southward soybean spaniel spearhead
    spellbind spheroid spigot spindle spyglass stagehand stagnate stairway standard stapler
    steamship sterling stockman stopwatch stormy sugar surmount suspense sweatband swelter tactics
    talon tapeworm tempest tiger tissue tonic topmost tracker transit trauma treadmill Trojan
    trouble tumor tunnel tycoon uncut unearth unwind uproot upset upshot vapor village virus Vulcan
    waffle wallet watchword wayside willow woodlark Zulu
""")
PGP_ODD = _words("""
    adroitness adviser aftermath aggregate alkali almighty amulet amusement antenna applicant Apollo
    armistice article asteroid Atlantic atmosphere autopsy Babylon backwater barbecue belowground
    bifocals bodyguard bookseller borderline bottomless Bradbury bravado Brazilian breakaway
    Burlington businessman butterfat Camelot candidate cannonball Capricorn caravan caretaker
    celebrate cellulose certify chambermaid Cherokee Chicago clergyman coherence combustion commando
    company component concurrent confidence conformist congregate consensus consulting corporate
    corrosion councilman crossover crucifix cumbersome customer Dakota decadence December decimal
    designing detector detergent determine dictator dinosaur direction disable disbelief disruptive
    distortion document embezzle enchanting enrollment enterprise equation equipment escapade Eskimo
    everyday examine existence exodus fascinate filament finicky forever fortitude frequency
    gadgetry Galveston getaway glossary gossamer graduate gravity guitarist hamburger Hamilton
    handiwork hazardous headwaters hemisphere hesitate hideaway holiness hurricane hydraulic
    impartial impetus inception indigo inertia infancy inferno informant insincere insurgent
    integrate intention inventive Istanbul Jamaica Jupiter leprosy letterhead liberty maritime
    matchmaker maverick Medusa megaton microscope microwave midsummer millionaire miracle misnomer
    molasses molecule Montana monument mosquito narrative nebula newsletter Norwegian October Ohio
    onlooker opulent Orlando outfielder Pacific pandemic Pandora paperweight paragon paragraph
    paramount passenger pedigree Pegasus penetrate perceptive performance pharmacy phonetic
    photograph pioneer pocketful politeness positive potato processor provincial proximate puberty
    publisher pyramid quantity racketeer rebellion recipe recover repellent replica reproduce
    resistor responsive retraction retrieval retrospect revenue revival revolver sandalwood sardonic
    Saturday savagery scavenger sensation sociable souvenir specialist speculate stethoscope
    stupendous supportive surrender suspicious sympathy tambourine telephone therapist tobacco
    tolerance tomorrow torpedo tradition travesty trombonist truncated typewriter ultimate undaunted
    underfoot unicorn unify universe unravel upcoming vacancy vagabond vertigo Virginia visitor
    vocalist voyager warranty Waterloo whimsical Wichita Wilmington Wyoming yesteryear Yucatan
""")


def _fingerprint_bytes(fingerprint_hex: str) -> bytes:
    try:
        raw = bytes.fromhex(_hex(fingerprint_hex))
    except ValueError:
        raise UsageError("a fingerprint is hex digits") from None
    if not raw:
        raise UsageError("an empty fingerprint")
    return raw


def fingerprint_words(fingerprint_hex: str) -> list[str]:
    """The fingerprint as PGP words (one per byte, alternating lists) to read aloud."""
    raw = _fingerprint_bytes(fingerprint_hex)
    return [(PGP_EVEN if i % 2 == 0 else PGP_ODD)[b] for i, b in enumerate(raw)]


def grouped_hex(fingerprint_hex: str, group: int = 4) -> str:
    """'ab12cd34…' as 'AB12 CD34 …' for comparing by eye."""
    text = _fingerprint_bytes(fingerprint_hex).hex().upper()
    return " ".join(text[i:i + group] for i in range(0, len(text), group))
