"""Device-bound signing keys in the TPM (app.keys.ports.KeyStore, store ``tpm``).

A key is generated inside the TPM under the storage root key (fixedTPM, fixedParent,
sensitiveDataOrigin: it can never leave this TPM), optionally with a PIN as its authorisation
value (the TPM's dictionary-attack counter limits guesses). The TPM keeps nothing: the key's
public and wrapped private blobs are stored through a :class:`KeyBlobStore` (the vault), and only
this TPM can load them again. Messages are hashed in Python and signed with TPM2_Sign.

The token's serial is the first 16 hex digits of SHA-256 over the storage root key's TPM name:
stable for this TPM until its owner hierarchy is cleared (which also orphans every key).
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from collections.abc import Generator, Iterable
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.serialization import load_der_public_key

from strongroom.app.errors import (
    AlreadyExists,
    HardwareError,
    NotFound,
    PinBlocked,
    PinRequired,
    Unsupported,
    UsageError,
    WrongDevice,
    WrongPin,
)
from strongroom.app.keys.ports import (
    Capability,
    KeyBlob,
    KeyBlobStore,
    KeyInfo,
    KeyType,
    ProgressCallback,
    PssSalt,
    SignAlgorithm,
    StoreKind,
    TokenInfo,
)
from strongroom.app.keyslots import StatusCallback
from strongroom.app.plugins import Availability

from ._blob import TpmKeyBlob
from ._worker import TpmWorker, check_cancel, library, report, worker_for
from .seal import pin_bytes

KIND = StoreKind(
    name="tpm",
    title="TPM",
    entry_point="tpm-keys",  # `tpm` is the TPM unlock method's
    keeps_blobs_in_vault=True,
    key_pins=True,
    pss_salt=PssSalt.Unknown,  # TPM2_Sign chooses (often the longest salt)
)
STORE = KIND.name
# Signatures per trip to the TPM worker: the key is loaded, used and flushed within one trip.
CHUNK = 16

# Key types the TPM generates: the ESAPI template and the human name. RSA 4096 and Ed25519 are
# beyond TPM 2.0 (and swtpm); EC P-384 is common but optional.
KEY_TYPES: dict[KeyType, tuple[str, str]] = {
    KeyType.EcP256: ("ecc256", "EC P-256"),
    KeyType.EcP384: ("ecc384", "EC P-384"),
    KeyType.Rsa3072: ("rsa3072", "RSA 3072"),
}

KEY_TYPE_BY_VALUE = {t.value: t for t in KeyType}

# Signature algorithm: (TPM scheme, hash, key family).
ALGORITHMS: dict[SignAlgorithm, tuple[str, str, str]] = {
    SignAlgorithm.EcdsaSha256: ("ecdsa", "sha256", "ec"),
    SignAlgorithm.EcdsaSha384: ("ecdsa", "sha384", "ec"),
    SignAlgorithm.RsaPssSha256: ("pss", "sha256", "rsa"),
    SignAlgorithm.RsaPssSha384: ("pss", "sha384", "rsa"),
    SignAlgorithm.RsaPkcs1Sha256: ("pkcs1", "sha256", "rsa"),
    SignAlgorithm.RsaPkcs1Sha384: ("pkcs1", "sha384", "rsa"),
}


def _signing_library() -> Any:
    """The signing-key ESAPI (:mod:`._signing`), or BackendUnavailable as :func:`library` says."""
    library()
    from . import _signing  # loads nothing that library()'s _tss did not

    return _signing


def _availability(worker: TpmWorker) -> Availability:
    try:
        worker.call(library().facts)
    except HardwareError as e:
        return Availability(False, str(e))
    except Exception as e:  # noqa: BLE001 - any TPM error means: not usable here
        return Availability(False, f"the TPM at {worker.tcti} does not answer ({e})")
    return Availability(True)


def _token_info(worker: TpmWorker) -> TokenInfo:
    tss = library()
    try:
        facts = worker.call(tss.facts)
        srk = worker.call(tss.srk_name)
    except tss.TSS2_Exception as e:
        raise HardwareError(f"the TPM at {worker.tcti} did not describe itself ({e})") from e
    flags = ["token-initialized"]
    if facts.in_lockout:
        flags.append("in-lockout")
    if facts.owner_auth_set:
        flags.append("owner-auth-set")
    return TokenInfo(
        store=STORE, module=worker.tcti, slot=None,
        label=f"TPM 2.0 ({facts.vendor or facts.manufacturer})",
        manufacturer=facts.manufacturer,
        model=f"{facts.vendor} {facts.spec}, firmware {facts.firmware}".strip(),
        serial=hashlib.sha256(srk).hexdigest()[:16],
        flags=tuple(flags),
    )


class TpmKeyStore:
    """app.keys.ports.KeyStore on the TPM; every ESAPI call runs on the TCTI's worker thread."""

    store = STORE
    kind = KIND

    def __init__(self, tcti: str, blobs: KeyBlobStore, pin: str | None = None) -> None:
        self.tcti = tcti
        self._blobs = blobs
        self._pin = pin_bytes(pin) if pin else None
        self._worker = worker_for(tcti)
        self._tss = library()
        self._signing = _signing_library()
        self._worker.hold()
        self._closed = False
        try:
            self._token = _token_info(self._worker)
            self._srk_name = self._worker.call(self._tss.srk_name)
        except BaseException:
            self.close()
            raise

    # ----- inventory -------------------------------------------------------------------------

    def available(self) -> Availability:
        return _availability(self._worker)

    def token(self) -> TokenInfo:
        return self._token

    def _entries(self) -> list[tuple[KeyBlob, TpmKeyBlob]]:
        out = []
        for blob in self._blobs.blobs(STORE):
            try:
                parsed = TpmKeyBlob.from_bytes(blob.data)
            except (KeyError, TypeError, ValueError):
                continue  # not a key this version understands
            if parsed.srk_name == self._srk_name:  # keys of another TPM are not on this token
                out.append((blob, parsed))
        return out

    def _info(self, blob: KeyBlob, parsed: TpmKeyBlob) -> KeyInfo:
        der, attrs = self._signing.public_info(parsed.public)
        key_type = KEY_TYPE_BY_VALUE.get(parsed.key_type)
        return KeyInfo(
            store=STORE, token_label=self._token.label, token_serial=self._token.serial,
            label=blob.label, key_id=blob.key_id, algorithm=_algorithm_name(der),
            key_type=key_type, capabilities=frozenset({Capability.Sign, Capability.Verify}),
            sensitive=self._signing.never_in_clear(attrs),
            extractable=not self._signing.fixed(attrs), public_key=der, needs_pin=parsed.pin,
        )

    def list_keys(
        self, *, cancel: threading.Event | None = None, on_status: StatusCallback | None = None
    ) -> list[KeyInfo]:
        """This TPM's keys (blobs kept in the vault, read here); ``cancel`` between keys."""
        self._check_open()
        check_cancel(cancel)
        out = []
        for blob, parsed in self._entries():
            check_cancel(cancel)
            out.append(self._info(blob, parsed))
        return out

    def _find(self, key: KeyInfo) -> tuple[KeyBlob, TpmKeyBlob]:
        for blob, parsed in self._entries():
            if blob.key_id == key.key_id:
                return blob, parsed
        raise NotFound(f"no TPM key {key.label or key.key_id} on this TPM")

    # ----- generation ------------------------------------------------------------------------

    def generate(
        self,
        label: str,
        key_type: KeyType,
        key_id: bytes | None = None,
        *,
        cancel: threading.Event | None = None,
        on_status: StatusCallback | None = None,
    ) -> KeyInfo:
        """A new key in the TPM, its blobs kept in the vault; ``cancel`` before the TPM starts
        and after it ends (the new key is then dropped, never kept)."""
        self._check_open()
        if key_type not in KEY_TYPES:
            raise Unsupported(f"the TPM does not generate {key_type.value} keys")
        if not label.strip():
            raise UsageError("a TPM key needs a label")
        kid = (key_id or secrets.token_bytes(8)).hex()
        existing = self._blobs.blobs(STORE)
        if any(b.key_id == kid for b in existing):
            raise AlreadyExists(f"a TPM key with id {kid} already exists")
        if any(b.label == label for b in existing):
            # A label names one key: signing, CSRs and checkpoints find keys by it.
            raise AlreadyExists(f"a TPM key labelled '{label}' already exists")
        template, _name = KEY_TYPES[key_type]
        check_cancel(cancel)
        report(on_status, f"Generating a {key_type.value} key in the TPM (RSA can take a minute)")
        try:
            made = self._worker.call(self._signing.create_signing_key, template, self._pin)
        except self._tss.TSS2_Exception as e:
            raise HardwareError(f"the TPM could not generate a {key_type.value} key ({e})") from e
        check_cancel(cancel)
        parsed = TpmKeyBlob(key_type.value, made.public, made.private, made.srk_name,
                          self._pin is not None)
        blob = KeyBlob(key_id=kid, label=label, data=parsed.to_bytes())
        self._blobs.put_blob(STORE, blob)
        return self._info(blob, parsed)

    # ----- signing ---------------------------------------------------------------------------

    def _prepare(self, key: KeyInfo, algorithm: SignAlgorithm) -> tuple[KeyBlob, TpmKeyBlob, str,
                                                                         str]:
        self._check_open()
        if algorithm not in ALGORITHMS:
            raise Unsupported(f"the TPM does not sign with {algorithm.value}")
        scheme, hash_name, family = ALGORITHMS[algorithm]
        blob, parsed = self._find(key)
        if not parsed.key_type.startswith(family):
            raise Unsupported(f"{algorithm.value} does not apply to a {key.algorithm} key")
        if parsed.pin and self._pin is None:
            raise PinRequired(f"TPM key {blob.label} needs its PIN")
        return blob, parsed, scheme, hash_name

    def _digest(self, data: bytes, hash_name: str, prehashed: bool) -> bytes:
        if not prehashed:
            return hashlib.new(hash_name, data).digest()
        if len(data) != hashlib.new(hash_name).digest_size:
            raise UsageError(f"a prehashed {hash_name} digest must be "
                             f"{hashlib.new(hash_name).digest_size} bytes")
        return data

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
        check_cancel(cancel)
        signatures = self.sign_many(key, [data], algorithm, prehashed=prehashed, cancel=cancel,
                                    on_status=on_status)
        return next(signatures)

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
    ) -> Generator[bytes, None, None]:
        """Sign each item (hashed here) in runs of :data:`CHUNK` per key load; ``on_progress`` and
        ``cancel`` are honoured between signatures."""
        blob, parsed, scheme, hash_name = self._prepare(key, algorithm)
        todo = list(items)
        report(on_status, f"Signing with the TPM key {blob.label}")
        return self._sign_iter(blob, parsed, todo, scheme, hash_name, prehashed, cancel,
                               on_progress)

    def _sign_iter(self, blob: KeyBlob, parsed: TpmKeyBlob, todo: list[bytes], scheme: str,
                   hash_name: str, prehashed: bool, cancel: threading.Event | None,
                   on_progress: ProgressCallback | None) -> Generator[bytes, None, None]:
        tss = self._tss
        sealed = tss.Sealed(parsed.public, parsed.private, parsed.srk_name)
        pin = self._pin if parsed.pin else None
        done = 0
        while done < len(todo):
            check_cancel(cancel)
            chunk = [self._digest(d, hash_name, prehashed) for d in todo[done:done + CHUNK]]
            try:
                signed = self._worker.call(self._signing.sign_batch, sealed, pin, chunk, scheme,
                                           hash_name, cancel)
            except tss.WrongStorageKey as e:
                raise WrongDevice(f"TPM key {blob.label} belongs to another TPM") from e
            except tss.TSS2_Exception as e:
                raise self._error(e, blob.label) from e
            for parts in signed:
                check_cancel(cancel)
                done += 1
                if on_progress is not None:
                    on_progress(done, len(todo))
                if isinstance(parts, tuple):
                    r, s = parts
                    yield encode_dss_signature(int.from_bytes(r, "big"),
                                               int.from_bytes(s, "big"))
                else:
                    yield parts

    def _error(self, e: Any, label: str) -> HardwareError | WrongPin | PinBlocked | WrongDevice:
        tss = self._tss
        code = tss.error_code(e)
        if code in (tss.RC_AUTH_FAIL, tss.RC_BAD_AUTH):
            try:
                retries, locked = self._worker.call(tss.da_retries)
            except Exception:  # noqa: BLE001 - the count is a courtesy
                retries, locked = None, False
            if not locked:
                return WrongPin(f"wrong PIN for TPM key {label}", retries)
            code = tss.RC_LOCKOUT
        if code == tss.RC_LOCKOUT:
            return PinBlocked(
                "the TPM is locked out after too many wrong PINs; wait for its lockout to "
                "expire or reset it with the lockout authorisation"
            )
        if code == tss.RC_INTEGRITY:
            return WrongDevice(f"TPM key {label} belongs to another TPM")
        return HardwareError(f"the TPM could not use key {label} ({e})")

    # ----- life cycle ------------------------------------------------------------------------

    def delete(self, key: KeyInfo) -> None:
        """Forget a key: drop its blobs (the TPM holds nothing of it)."""
        blob, _ = self._find(key)
        self._blobs.remove_blob(STORE, blob.key_id)

    def _check_open(self) -> None:
        if self._closed:
            raise UsageError("the TPM key store is closed")

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._pin = None
            self._worker.release()


def _algorithm_name(der: bytes) -> str:
    public = load_der_public_key(der)
    if isinstance(public, ec.EllipticCurvePublicKey):
        return {"secp256r1": "EC P-256", "secp384r1": "EC P-384"}.get(
            public.curve.name, f"EC {public.curve.name}"
        )
    if isinstance(public, rsa.RSAPublicKey):
        return f"RSA {public.key_size}"
    return type(public).__name__
