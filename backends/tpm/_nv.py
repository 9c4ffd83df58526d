"""ESAPI for NV counters: define, read, increment and undefine one; the TPM's identity.

Imported only by the TPM worker thread, after :mod:`._tss` (which silences ESYS's own logging).
Functions take an open ``ESAPI`` context, leave no handle loaded, and raise the library's
``TSS2_Exception`` for :mod:`.counter` to translate.

A counter index (TPM_NT_COUNTER) can only be incremented: on its first increment the TPM starts
it above every counter it has held, so even a counter undefined and defined again at the same
index never reads lower than before. It is read and incremented with its own authorisation
value (AUTHREAD | AUTHWRITE), proved in an HMAC session so that the value never crosses the wire;
NO_DA, because a 256-bit random value needs no dictionary-attack guard and a caller hammering it
must not lock out the TPM's PIN-protected keys. Defining and undefining take the owner
hierarchy's authorisation (empty on most machines, as the rest of this backend assumes).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from tpm2_pytss import ESAPI
from tpm2_pytss.constants import (
    ESYS_TR,
    TPM2_ALG,
    TPM2_CAP,
    TPM2_NT,
    TPM2_SE,
    TPMA_NV,
    TPMA_SESSION,
)
from tpm2_pytss.types import TPM2B_NV_PUBLIC, TPMS_NV_PUBLIC

from ._tss import session, srk_template

# The TCG handle registry leaves this NV range to the TPM owner (Registry of Reserved TPM 2.0
# Handles and Localities, 2.2).
OWNER_FIRST = 0x01800000
OWNER_LAST = 0x01BFFFFF
COUNTER_SIZE = 8
COUNTER_ATTRS = (
    TPMA_NV.AUTHWRITE | TPMA_NV.AUTHREAD | TPMA_NV.NO_DA
    | (TPM2_NT.COUNTER << TPMA_NV.TPM2_NT_SHIFT)
)


@contextmanager
def _device_key(ctx: ESAPI) -> Iterator[tuple[ESYS_TR, bytes]]:
    """The storage key of the standard template, always created (never the persistent one,
    which an administrator may replace): the same TPM with the same owner seed gives the same
    key, so its name identifies the TPM until its owner hierarchy is cleared."""
    handle, *_ = ctx.create_primary(None, srk_template(), ESYS_TR.OWNER)
    try:
        yield handle, bytes(ctx.tr_get_name(handle))
    finally:
        ctx.flush_context(handle)


def device_id(ctx: ESAPI) -> str:
    """This TPM's identity (its owner storage key's name, hex)."""
    with _device_key(ctx) as (_, name):
        return name.hex()


def defined(ctx: ESAPI, first: int = OWNER_FIRST, last: int = OWNER_LAST) -> set[int]:
    """The NV indexes defined from ``first`` to ``last``."""
    found: set[int] = set()
    start = first
    while start <= last:
        more, cap = ctx.get_capability(TPM2_CAP.HANDLES, start, 128)
        handles = [int(cap.data.handles.handle[i]) for i in range(cap.data.handles.count)]
        found.update(h for h in handles if first <= h <= last)
        if not more or not handles or handles[-1] >= last:
            break
        start = handles[-1] + 1
    return found


def counter_public(index: int) -> TPM2B_NV_PUBLIC:
    return TPM2B_NV_PUBLIC(TPMS_NV_PUBLIC(
        nvIndex=index, nameAlg=TPM2_ALG.SHA256, attributes=COUNTER_ATTRS, dataSize=COUNTER_SIZE,
    ))


def define(ctx: ESAPI, index: int, auth: bytes) -> str:
    """Define a counter at ``index`` (the TPM refuses one that exists: NV_DEFINED) and return
    the TPM's identity. The session is salted with the storage key, so the new authorisation
    value travels encrypted."""
    with _device_key(ctx) as (key, name):
        with session(ctx, TPM2_SE.HMAC, salt=key, attrs=TPMA_SESSION.DECRYPT) as s:
            nv = ctx.nv_define_space(auth, counter_public(index), ESYS_TR.OWNER, session1=s)
        ctx.tr_close(nv)
        return name.hex()


@contextmanager
def _opened(ctx: ESAPI, index: int, auth: bytes) -> Iterator[tuple[ESYS_TR, ESYS_TR]]:
    """The index and an HMAC session that proves ``auth`` for it without sending it."""
    nv = ctx.tr_from_tpmpublic(index)
    try:
        ctx.tr_set_auth(nv, auth)
        with session(ctx, TPM2_SE.HMAC) as s:
            yield nv, s
    finally:
        ctx.tr_close(nv)


def _value(ctx: ESAPI, nv: ESYS_TR, s: ESYS_TR) -> int:
    return int.from_bytes(bytes(ctx.nv_read(nv, COUNTER_SIZE, 0, session1=s)), "big")


def read(ctx: ESAPI, index: int, auth: bytes) -> int:
    with _opened(ctx, index, auth) as (nv, s):
        return _value(ctx, nv, s)


def increment(ctx: ESAPI, index: int, auth: bytes) -> int:
    """Add one; the new value."""
    with _opened(ctx, index, auth) as (nv, s):
        ctx.nv_increment(nv, session1=s)
        return _value(ctx, nv, s)


def is_counter(ctx: ESAPI, index: int) -> bool:
    """Whether ``index`` holds a counter with this backend's attributes (written or not)."""
    nv = ctx.tr_from_tpmpublic(index)
    try:
        public, _ = ctx.nv_read_public(nv)
    finally:
        ctx.tr_close(nv)
    attrs = int(public.nvPublic.attributes) & ~int(TPMA_NV.WRITTEN)
    return attrs == int(COUNTER_ATTRS) and int(public.nvPublic.dataSize) == COUNTER_SIZE


def undefine(ctx: ESAPI, index: int, auth: bytes | None) -> None:
    """Remove the counter at ``index`` (owner authorisation), after proving ``auth`` opens it
    (a read) when given: a counter this caller did not make is never removed."""
    if auth is not None:
        read(ctx, index, auth)
    nv = ctx.tr_from_tpmpublic(index)
    try:
        ctx.nv_undefine_space(nv, ESYS_TR.OWNER)
    except BaseException:
        ctx.tr_close(nv)
        raise
