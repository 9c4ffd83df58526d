"""What speaks ESAPI (tpm2-pytss): the storage key, sessions, sealing, the TPM's properties.

Imported only by the TPM worker thread once the library is known to load (:mod:`._worker`), so the
rest of the package stays importable where tpm2-pytss or libtss2 is missing. Functions here take
an open ``ESAPI`` context, leave no handle loaded when they return, and raise the library's
``TSS2_Exception`` for the caller to translate. Signing keys are :mod:`._signing`'s; NV
counters are :mod:`._nv`'s.
"""

from __future__ import annotations

import os
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
    TPM2_SE,
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
    TPMT_SYM_DEF,
)

# The well-known persistent handle of a provisioned storage root key (TCG provisioning guidance).
SRK_PERSISTENT = 0x81000001
PCR_BANK = "sha256"

_O = TPMA_OBJECT
SRK_ATTRS = (
    _O.FIXEDTPM | _O.FIXEDPARENT | _O.SENSITIVEDATAORIGIN | _O.USERWITHAUTH | _O.NODA
    | _O.RESTRICTED | _O.DECRYPT
)

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
