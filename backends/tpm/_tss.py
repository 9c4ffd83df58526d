"""Everything that speaks ESAPI (tpm2-pytss): the storage key, sealing, signing keys, properties.

Imported only by the TPM worker thread once the library is known to load (:mod:`._worker`), so the
rest of the package stays importable where tpm2-pytss or libtss2 is missing. Functions here take
an open ``ESAPI`` context, leave no handle loaded when they return, and raise the library's
``TSS2_Exception`` for the caller to translate.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

# ESYS logs every TPM error code to stderr; the backend reports errors itself.
os.environ.setdefault("TSS2_LOG", "all+none")

from tpm2_pytss import ESAPI
from tpm2_pytss.constants import (
    ESYS_TR,
    TPM2_ALG,
    TPM2_CAP,
    TPM2_HC,
    TPM2_PT,
    TPM2_RC,
    TPM2_RH,
    TPM2_SE,
    TPM2_ST,
    TPMA_OBJECT,
    TPMA_PERMANENT,
    TPMA_SESSION,
)
from tpm2_pytss.TSS2_Exception import TSS2_Exception
from tpm2_pytss.types import (
    TPM2B_DIGEST,
    TPM2B_PRIVATE,
    TPM2B_PUBLIC,
    TPM2B_SENSITIVE_CREATE,
    TPML_PCR_SELECTION,
    TPMS_SENSITIVE_CREATE,
    TPMT_PUBLIC,
    TPMT_SIG_SCHEME,
    TPMT_SIGNATURE,
    TPMT_SYM_DEF,
    TPMT_TK_HASHCHECK,
)

# The well-known persistent handle of a provisioned storage root key (TCG provisioning guidance).
SRK_PERSISTENT = 0x81000001
PCR_BANK = "sha256"

_O = TPMA_OBJECT
SRK_ATTRS = (
    _O.FIXEDTPM | _O.FIXEDPARENT | _O.SENSITIVEDATAORIGIN | _O.USERWITHAUTH | _O.NODA
    | _O.RESTRICTED | _O.DECRYPT
)
# Device-bound signing keys: generated inside (sensitiveDataOrigin), never duplicable.
SIGNING_ATTRS = (
    _O.FIXEDTPM | _O.FIXEDPARENT | _O.SENSITIVEDATAORIGIN | _O.USERWITHAUTH | _O.SIGN_ENCRYPT
)
SIGNING_TEMPLATES = {"ec-p256": "ecc256", "ec-p384": "ecc384", "rsa-3072": "rsa3072"}

# TPM_PT properties tpm2-pytss does not name (TPM 2.0 Part 2, 6.13).
PT_VENDOR_STRING_1 = 0x106
PT_FIRMWARE_VERSION_1 = 0x10B

# Response codes the backend tells apart (format-one codes with handle/session bits stripped).
RC_AUTH_FAIL = int(TPM2_RC.AUTH_FAIL)
RC_BAD_AUTH = int(TPM2_RC.BAD_AUTH)
RC_LOCKOUT = int(TPM2_RC.LOCKOUT)
RC_POLICY_FAIL = int(TPM2_RC.POLICY_FAIL)
RC_INTEGRITY = int(TPM2_RC.INTEGRITY)
RC_PCR_CHANGED = int(TPM2_RC.PCR_CHANGED)


def open_context(tcti: str) -> ESAPI:
    """An ESAPI context on ``tcti`` (e.g. "device:/dev/tpmrm0", "swtpm:path=/run/swtpm.sock")."""
    return ESAPI(tcti)


def error_code(e: TSS2_Exception) -> int:
    """The TPM response code without its handle/session/parameter number."""
    return int(e.error)


def _aes128cfb() -> TPMT_SYM_DEF:
    sym = TPMT_SYM_DEF(algorithm=TPM2_ALG.AES)
    sym.keyBits.aes = 128
    sym.mode.aes = TPM2_ALG.CFB
    return sym


# ----- capabilities ---------------------------------------------------------------------------


def properties(ctx: ESAPI, first: int, count: int) -> dict[int, int]:
    _more, cap = ctx.get_capability(TPM2_CAP.TPM_PROPERTIES, first, count)
    props = cap.data.tpmProperties
    return {int(props.tpmProperty[i].property): int(props.tpmProperty[i].value)
            for i in range(props.count)}


def handles(ctx: ESAPI, first: int) -> list[int]:
    _more, cap = ctx.get_capability(TPM2_CAP.HANDLES, first, 64)
    h = cap.data.handles
    return [int(h.handle[i]) for i in range(h.count)]


@dataclass(frozen=True)
class TpmFacts:
    """What GetCapability says about the TPM (for TokenInfo and ModuleInfo)."""

    manufacturer: str
    vendor: str
    firmware: str
    spec: str
    in_lockout: bool
    owner_auth_set: bool


def _chars(value: int) -> str:
    return value.to_bytes(4, "big").decode("ascii", "replace").replace("\x00", "").strip()


def facts(ctx: ESAPI) -> TpmFacts:
    fixed = properties(ctx, TPM2_PT.FIXED, 64)
    perm = properties(ctx, TPM2_PT.PERMANENT, 1).get(int(TPM2_PT.PERMANENT), 0)
    words = (_chars(fixed.get(PT_VENDOR_STRING_1 + i, 0)) for i in range(4))
    vendor = " ".join(w for w in words if w)
    fw1 = fixed.get(PT_FIRMWARE_VERSION_1, 0)
    fw2 = fixed.get(PT_FIRMWARE_VERSION_1 + 1, 0)
    level = fixed.get(int(TPM2_PT.REVISION), 0)
    return TpmFacts(
        manufacturer=_chars(fixed.get(int(TPM2_PT.MANUFACTURER), 0)),
        vendor=vendor,
        firmware=f"{fw1 >> 16}.{fw1 & 0xFFFF}.{fw2 >> 16}.{fw2 & 0xFFFF}",
        spec=f"2.0 rev {level // 100}.{level % 100:02d}",
        in_lockout=bool(perm & TPMA_PERMANENT.INLOCKOUT),
        owner_auth_set=bool(perm & TPMA_PERMANENT.OWNERAUTHSET),
    )


def da_retries(ctx: ESAPI) -> tuple[int | None, bool]:
    """(authorisation failures left before lockout, in lockout now) from the DA counters."""
    var = properties(ctx, TPM2_PT.LOCKOUT_COUNTER, 2)
    perm = properties(ctx, TPM2_PT.PERMANENT, 1).get(int(TPM2_PT.PERMANENT), 0)
    counter = var.get(int(TPM2_PT.LOCKOUT_COUNTER))
    limit = var.get(int(TPM2_PT.MAX_AUTH_FAIL))
    left = None if counter is None or limit is None else max(0, limit - counter)
    return left, bool(perm & TPMA_PERMANENT.INLOCKOUT)


# ----- the storage root key -------------------------------------------------------------------


@dataclass(frozen=True)
class Srk:
    handle: ESYS_TR
    name: bytes
    transient: bool


def srk_template() -> TPM2B_PUBLIC:
    """The standard ECC P-256 storage key (as tpm2-tools' default primary): same TPM, same key."""
    return TPM2B_PUBLIC.parse("ecc256:aes128cfb", objectAttributes=SRK_ATTRS)


def _name(ctx: ESAPI, handle: ESYS_TR) -> bytes:
    return bytes(ctx.tr_get_name(handle))


@contextmanager
def storage_key(ctx: ESAPI, want_name: bytes | None = None) -> Iterator[Srk]:
    """The persistent SRK at 0x81000001 if present (and the one wanted), else a created one."""
    srk: Srk | None = None
    if SRK_PERSISTENT in handles(ctx, TPM2_HC.PERSISTENT_FIRST):
        handle = ctx.tr_from_tpmpublic(SRK_PERSISTENT)
        name = _name(ctx, handle)
        if want_name is None or name == want_name:
            srk = Srk(handle, name, transient=False)
        else:
            ctx.tr_close(handle)
    if srk is None:
        handle, *_ = ctx.create_primary(None, srk_template(), ESYS_TR.OWNER)
        srk = Srk(handle, _name(ctx, handle), transient=True)
    try:
        yield srk
    finally:
        if srk.transient:
            ctx.flush_context(srk.handle)
        else:
            ctx.tr_close(srk.handle)


@contextmanager
def session(ctx: ESAPI, kind: TPM2_SE, *, salt: ESYS_TR | None = None,
            attrs: int = 0) -> Iterator[ESYS_TR]:
    """An auth session, salted with ``salt`` (so its key is secret) and AES-128-CFB when salted."""
    sym = _aes128cfb() if salt is not None else TPMT_SYM_DEF(algorithm=TPM2_ALG.NULL)
    handle = ctx.start_auth_session(
        salt if salt is not None else ESYS_TR.NONE, ESYS_TR.NONE, kind, sym, TPM2_ALG.SHA256
    )
    try:
        if attrs:
            ctx.trsess_set_attributes(handle, TPMA_SESSION.CONTINUESESSION | attrs)
        yield handle
    finally:
        ctx.flush_context(handle)


@contextmanager
def loaded(ctx: ESAPI, parent: ESYS_TR, public: bytes, private: bytes,
           session1: ESYS_TR = ESYS_TR.PASSWORD) -> Iterator[ESYS_TR]:
    pub, _ = TPM2B_PUBLIC.unmarshal(public)
    priv, _ = TPM2B_PRIVATE.unmarshal(private)
    handle = ctx.load(parent, priv, pub, session1=session1)
    try:
        yield handle
    finally:
        ctx.flush_context(handle)


# ----- sealing --------------------------------------------------------------------------------


def pcr_selection(pcrs: Sequence[int]) -> TPML_PCR_SELECTION:
    return TPML_PCR_SELECTION.parse(f"{PCR_BANK}:{','.join(str(p) for p in pcrs)}")


def _apply_policy(ctx: ESAPI, s: ESYS_TR, pcrs: Sequence[int], pin: bool) -> None:
    if pcrs:
        # An empty digest: the TPM takes the PCRs' current values.
        ctx.policy_pcr(s, TPM2B_DIGEST(), pcr_selection(pcrs))
    if pin:
        ctx.policy_auth_value(s)


def policy_digest(ctx: ESAPI, pcrs: Sequence[int], pin: bool) -> bytes:
    with session(ctx, TPM2_SE.TRIAL) as trial:
        _apply_policy(ctx, trial, pcrs, pin)
        return bytes(ctx.policy_get_digest(trial))


@dataclass(frozen=True)
class Sealed:
    public: bytes
    private: bytes
    srk_name: bytes


def seal(ctx: ESAPI, secret: bytes, pcrs: Sequence[int], pin: bytes | None) -> Sealed:
    """Seal ``secret`` under the SRK; unsealing needs the PCRs' values of now (and the PIN)."""
    with storage_key(ctx) as srk:
        attrs = _O.FIXEDTPM | _O.FIXEDPARENT
        policy = b""
        if pcrs or pin is not None:
            policy = policy_digest(ctx, pcrs, pin is not None)
        else:
            attrs |= _O.USERWITHAUTH
        area = TPMT_PUBLIC(
            type=TPM2_ALG.KEYEDHASH, nameAlg=TPM2_ALG.SHA256, objectAttributes=attrs,
            authPolicy=TPM2B_DIGEST(policy),
        )
        area.parameters.keyedHashDetail.scheme.scheme = TPM2_ALG.NULL
        sensitive = TPM2B_SENSITIVE_CREATE(
            TPMS_SENSITIVE_CREATE(userAuth=pin or b"", data=secret)
        )
        # A salted session encrypts the secret (the first parameter) on its way to the TPM.
        with session(ctx, TPM2_SE.HMAC, salt=srk.handle, attrs=TPMA_SESSION.DECRYPT) as s:
            private, public, *_ = ctx.create(
                srk.handle, sensitive, TPM2B_PUBLIC(area), session1=s
            )
        return Sealed(public.marshal(), private.marshal(), srk.name)


def unseal(ctx: ESAPI, sealed: Sealed, pcrs: Sequence[int], pin: bytes | None) -> bytes:
    """The sealed secret; raises the TPM's error (policy, auth, integrity) for the caller."""
    policy = bool(pcrs) or pin is not None
    with storage_key(ctx, sealed.srk_name) as srk:
        if srk.name != sealed.srk_name:
            raise WrongStorageKey()
        with loaded(ctx, srk.handle, sealed.public, sealed.private) as obj, session(
            ctx, TPM2_SE.POLICY if policy else TPM2_SE.HMAC, salt=srk.handle,
            attrs=TPMA_SESSION.ENCRYPT,  # the secret comes back encrypted
        ) as s:
            if policy:
                _apply_policy(ctx, s, pcrs, pin is not None)
            if pin is not None:
                ctx.tr_set_auth(obj, pin)
            return bytes(ctx.unseal(obj, session1=s))


def check_sealed(sealed: Sealed) -> None:
    """ValueError unless each blob is exactly one well-framed TPM2B (no TPM is asked): a blob
    damaged in the header is a malformed slot, not a TPM failure."""
    try:
        _, used_public = TPM2B_PUBLIC.unmarshal(sealed.public)
        _, used_private = TPM2B_PRIVATE.unmarshal(sealed.private)
    except TSS2_Exception as e:
        raise ValueError(f"a sealed blob is not well framed ({e})") from e
    if (used_public, used_private) != (len(sealed.public), len(sealed.private)):
        raise ValueError("a sealed blob has bytes after its end")


class WrongStorageKey(Exception):
    """The blob's parent is not this TPM's storage key (another TPM, or its owner was cleared)."""


# ----- signing keys ---------------------------------------------------------------------------


def create_signing_key(ctx: ESAPI, template: str, pin: bytes | None) -> Sealed:
    with storage_key(ctx) as srk:
        sensitive = TPM2B_SENSITIVE_CREATE(TPMS_SENSITIVE_CREATE(userAuth=pin or b""))
        with session(ctx, TPM2_SE.HMAC, salt=srk.handle, attrs=TPMA_SESSION.DECRYPT) as s:
            private, public, *_ = ctx.create(
                srk.handle, sensitive,
                TPM2B_PUBLIC.parse(template, objectAttributes=SIGNING_ATTRS), session1=s,
            )
        return Sealed(public.marshal(), private.marshal(), srk.name)


def srk_name(ctx: ESAPI) -> bytes:
    with storage_key(ctx) as srk:
        return srk.name


def srk_names(ctx: ESAPI) -> set[bytes]:
    """Names of the storage keys this TPM can be a parent with (persistent and created)."""
    names = {srk_name(ctx)}
    if SRK_PERSISTENT in handles(ctx, TPM2_HC.PERSISTENT_FIRST):
        handle, *_ = ctx.create_primary(None, srk_template(), ESYS_TR.OWNER)
        try:
            names.add(_name(ctx, handle))
        finally:
            ctx.flush_context(handle)
    return names


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
