"""ESAPI for device-bound signing keys: create, load, sign digests, read the public part.

Imported only by the TPM worker thread through :mod:`.keys`, after :mod:`._tss` (which silences
ESYS's own logging). A key is created under :mod:`._tss`'s storage root key and comes back as the
same wrapped :class:`~._tss.Sealed` pair as a sealed secret; functions here take an open ``ESAPI``
context, leave no handle loaded once a run of signatures ends, and raise the library's
``TSS2_Exception`` (or :class:`~._tss.WrongStorageKey`) for :mod:`.keys` to translate.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

from tpm2_pytss import ESAPI
from tpm2_pytss.constants import ESYS_TR, TPM2_ALG, TPM2_RH, TPM2_SE, TPM2_ST, TPMA_SESSION
from tpm2_pytss.constants import TPMA_OBJECT as _O
from tpm2_pytss.types import (
    TPM2B_DIGEST,
    TPM2B_PRIVATE,
    TPM2B_PUBLIC,
    TPM2B_SENSITIVE_CREATE,
    TPMS_SENSITIVE_CREATE,
    TPMT_SIG_SCHEME,
    TPMT_SIGNATURE,
    TPMT_SYM_DEF,
    TPMT_TK_HASHCHECK,
)

from ._tss import Sealed, WrongStorageKey, session, storage_key

# Device-bound signing keys: generated inside (sensitiveDataOrigin), never duplicable.
SIGNING_ATTRS = (
    _O.FIXEDTPM | _O.FIXEDPARENT | _O.SENSITIVEDATAORIGIN | _O.USERWITHAUTH | _O.SIGN_ENCRYPT
)
SIGNING_TEMPLATES = {"ec-p256": "ecc256", "ec-p384": "ecc384", "rsa-3072": "rsa3072"}


def create_signing_key(ctx: ESAPI, template: str, pin: bytes | None) -> Sealed:
    with storage_key(ctx) as srk:
        sensitive = TPM2B_SENSITIVE_CREATE(TPMS_SENSITIVE_CREATE(userAuth=pin or b""))
        with session(ctx, TPM2_SE.HMAC, salt=srk.handle, attrs=TPMA_SESSION.DECRYPT) as s:
            private, public, *_ = ctx.create(
                srk.handle, sensitive,
                TPM2B_PUBLIC.parse(template, objectAttributes=SIGNING_ATTRS), session1=s,
            )
        return Sealed(public.marshal(), private.marshal(), srk.name)


def load_key(ctx: ESAPI, blob: Sealed) -> ESYS_TR:
    """Load a signing key and return its handle (the caller flushes it); the SRK is gone again."""
    with storage_key(ctx, blob.srk_name) as srk:
        if srk.name != blob.srk_name:
            raise WrongStorageKey()
        pub, _ = TPM2B_PUBLIC.unmarshal(blob.public)
        priv, _ = TPM2B_PRIVATE.unmarshal(blob.private)
        return ctx.load(srk.handle, priv, pub)


@dataclass(frozen=True)
class LoadedKey:
    handle: ESYS_TR
    session: ESYS_TR  # an HMAC session for a PIN-protected key, else the password session


def open_key(ctx: ESAPI, blob: Sealed, pin: bytes | None) -> LoadedKey:
    """Load a signing key for a run of signatures; :func:`close_key` flushes it."""
    handle = load_key(ctx, blob)
    if pin is None:
        return LoadedKey(handle, ESYS_TR.PASSWORD)
    try:
        # An HMAC session proves the PIN without sending it: it never crosses the wire.
        s = ctx.start_auth_session(
            ESYS_TR.NONE, ESYS_TR.NONE, TPM2_SE.HMAC, TPMT_SYM_DEF(algorithm=TPM2_ALG.NULL),
            TPM2_ALG.SHA256,
        )
        ctx.tr_set_auth(handle, pin)
    except BaseException:
        ctx.flush_context(handle)
        raise
    return LoadedKey(handle, s)


def close_key(ctx: ESAPI, key: LoadedKey) -> None:
    try:
        if key.session != ESYS_TR.PASSWORD:
            ctx.flush_context(key.session)
    finally:
        ctx.flush_context(key.handle)


def sign_with(ctx: ESAPI, key: LoadedKey, digest: bytes, scheme: str,
              hash_name: str) -> tuple[bytes, bytes] | bytes:
    return signature_parts(sign_digest(ctx, key.handle, digest, scheme, hash_name, key.session))


def sign_batch(ctx: ESAPI, blob: Sealed, pin: bytes | None, digests: Sequence[bytes],
               scheme: str, hash_name: str,
               cancel: threading.Event | None) -> list[tuple[bytes, bytes] | bytes]:
    """Load the key, sign ``digests`` (stopping early on ``cancel``), flush the key.

    One call loads, uses and flushes, so callers on other threads never find the TPM's few
    object slots taken by a key someone else left loaded between calls.
    """
    key = open_key(ctx, blob, pin)
    try:
        out = []
        for digest in digests:
            if cancel is not None and cancel.is_set():
                break
            out.append(sign_with(ctx, key, digest, scheme, hash_name))
        return out
    finally:
        close_key(ctx, key)


_HASHES = {"sha256": TPM2_ALG.SHA256, "sha384": TPM2_ALG.SHA384}
_SCHEMES = {"ecdsa": TPM2_ALG.ECDSA, "pss": TPM2_ALG.RSAPSS, "pkcs1": TPM2_ALG.RSASSA}


def sign_digest(ctx: ESAPI, key: ESYS_TR, digest: bytes, scheme: str, hash_name: str,
                session1: ESYS_TR = ESYS_TR.PASSWORD) -> TPMT_SIGNATURE:
    sig_scheme = TPMT_SIG_SCHEME(scheme=_SCHEMES[scheme])
    sig_scheme.details.any.hashAlg = _HASHES[hash_name]
    ticket = TPMT_TK_HASHCHECK(tag=TPM2_ST.HASHCHECK, hierarchy=TPM2_RH.NULL)
    return ctx.sign(key, TPM2B_DIGEST(digest), sig_scheme, ticket, session1=session1)


def signature_parts(sig: TPMT_SIGNATURE) -> tuple[bytes, bytes] | bytes:
    """(r, s) for ECDSA, the signature bytes for RSA."""
    if sig.sigAlg == TPM2_ALG.ECDSA:
        return bytes(sig.signature.ecdsa.signatureR), bytes(sig.signature.ecdsa.signatureS)
    if sig.sigAlg == TPM2_ALG.RSAPSS:
        return bytes(sig.signature.rsapss.sig)
    return bytes(sig.signature.rsassa.sig)


def public_info(public: bytes) -> tuple[bytes, int]:
    """(SubjectPublicKeyInfo DER, objectAttributes) of a marshalled TPM2B_PUBLIC."""
    pub, _ = TPM2B_PUBLIC.unmarshal(public)
    return pub.to_der(), int(pub.publicArea.objectAttributes)


def fixed(attrs: int) -> bool:
    """fixedTPM and fixedParent: the TPM refuses to duplicate the key anywhere."""
    return bool(attrs & _O.FIXEDTPM) and bool(attrs & _O.FIXEDPARENT)


def never_in_clear(attrs: int) -> bool:
    """A fixedTPM key's private part never leaves the TPM unwrapped (no plain duplication)."""
    return bool(attrs & _O.FIXEDTPM)
