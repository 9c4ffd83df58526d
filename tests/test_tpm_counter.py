"""The TPM monotonic counter on a real swtpm: the MonotonicCounter contract, and what only a TPM
shows — the NV index's attributes, never defining over an index that exists, a counter read on
another TPM, the authorisation value kept off the wire, and nothing left loaded."""

from __future__ import annotations

from pathlib import Path

import pytest
from tpm2_pytss.constants import TPM2_NT, TPMA_NV
from tpm2_pytss.types import TPM2B_NV_PUBLIC, TPMS_NV_PUBLIC

from strongroom.app.errors import CounterGone
from strongroom.backends.tpm import TpmCounter, _nv
from strongroom.backends.tpm import counter as tpm_counter

from helpers.counter_contract import CounterContract, new_auth
from helpers.swtpm import (  # noqa: F401 - session fixtures
    esapi,
    open_handles,
    other_swtpm_fixture,
    swtpm_fixture,
)

NOTHING_LOADED = {"transient": 0, "loaded_sessions": 0, "saved_sessions": 0}


class TestTheContractOnSwtpm(CounterContract):
    @pytest.fixture
    def counter(self, swtpm) -> TpmCounter:
        return TpmCounter(swtpm.tcti)

    @pytest.fixture
    def unreachable(self, tmp_path: Path) -> TpmCounter:
        return TpmCounter(f"swtpm:path={tmp_path / 'no-such-socket'}")


def test_the_index_is_an_owner_counter_without_dictionary_attack_and_not_orderly(swtpm) -> None:
    counter, auth = TpmCounter(swtpm.tcti), new_auth()
    ref = counter.create(auth=auth)
    try:
        assert _nv.OWNER_FIRST <= ref.handle <= _nv.OWNER_LAST
        assert ref.label == f"TPM NV index 0x{ref.handle:08x}"
        with esapi(swtpm.tcti) as ctx:
            nv = ctx.tr_from_tpmpublic(ref.handle)
            public, _ = ctx.nv_read_public(nv)
            ctx.tr_close(nv)
        attrs = int(public.nvPublic.attributes)
        assert (attrs & TPMA_NV.TPM2_NT_MASK) >> TPMA_NV.TPM2_NT_SHIFT == TPM2_NT.COUNTER
        assert attrs & TPMA_NV.AUTHREAD and attrs & TPMA_NV.AUTHWRITE and attrs & TPMA_NV.NO_DA
        # An orderly counter would jump ahead after an unclean shutdown: a false rollback alarm.
        assert not attrs & TPMA_NV.ORDERLY
        assert not attrs & (TPMA_NV.OWNERWRITE | TPMA_NV.OWNERREAD | TPMA_NV.POLICYWRITE)
        assert attrs & TPMA_NV.WRITTEN  # counted once when made
        assert open_handles(swtpm.tcti) == NOTHING_LOADED
    finally:
        counter.forget(ref, auth=auth)
    assert open_handles(swtpm.tcti) == NOTHING_LOADED


def test_it_never_defines_over_an_index_that_exists(swtpm, monkeypatch) -> None:
    """Someone else's index sits where the random start points: it is left as it was."""
    taken = _nv.OWNER_FIRST
    theirs = b"someone else's authorisation 32"
    public = TPM2B_NV_PUBLIC(TPMS_NV_PUBLIC(
        nvIndex=taken, nameAlg=_nv.counter_public(taken).nvPublic.nameAlg,
        attributes=_nv.COUNTER_ATTRS, dataSize=8,
    ))
    with esapi(swtpm.tcti) as ctx:
        nv = ctx.nv_define_space(theirs, public)
        ctx.tr_set_auth(nv, theirs)
        ctx.nv_increment(nv)
        their_value = int.from_bytes(bytes(ctx.nv_read(nv, 8)), "big")
        ctx.tr_close(nv)
    monkeypatch.setattr(tpm_counter.secrets, "randbelow", lambda n: 0)
    counter, auth = TpmCounter(swtpm.tcti), new_auth()
    ref = counter.create(auth=auth)
    try:
        assert ref.handle == taken + 1
        with esapi(swtpm.tcti) as ctx:
            nv = ctx.tr_from_tpmpublic(taken)
            ctx.tr_set_auth(nv, theirs)
            assert int.from_bytes(bytes(ctx.nv_read(nv, 8)), "big") == their_value
            ctx.nv_undefine_space(nv)
    finally:
        counter.forget(ref, auth=auth)


def test_a_counter_read_on_another_tpm_says_so(swtpm, other_swtpm) -> None:
    counter, auth = TpmCounter(swtpm.tcti), new_auth()
    ref = counter.create(auth=auth)
    try:
        elsewhere = TpmCounter(other_swtpm.tcti)
        with pytest.raises(CounterGone, match="made on another TPM"):
            elsewhere.read(ref, auth=auth)
        with pytest.raises(CounterGone, match="another TPM"):
            elsewhere.forget(ref, auth=auth)
        assert counter.read(ref, auth=auth) >= 1
    finally:
        counter.forget(ref, auth=auth)


def test_a_counter_removed_and_defined_again_never_reads_lower(swtpm) -> None:
    """What makes the counter worth having: redefining the index does not reset it."""
    counter, auth = TpmCounter(swtpm.tcti), new_auth()
    ref = counter.create(auth=auth)
    for _ in range(5):
        high = counter.increment(ref, auth=auth)
    counter.forget(ref, auth=auth)
    with esapi(swtpm.tcti) as ctx:
        nv = ctx.nv_define_space(auth, _nv.counter_public(ref.handle))
        ctx.tr_close(nv)
    try:
        with pytest.raises(CounterGone, match="not the counter"):
            counter.read(ref, auth=auth)  # defined, never counted: no value to trust
        assert counter.increment(ref, auth=auth) > high
    finally:
        counter.forget(ref, auth=auth)


def test_the_authorisation_value_never_crosses_the_wire(swtpm, tmp_path: Path,
                                                       monkeypatch) -> None:
    capture = tmp_path / "tpm.pcap"
    monkeypatch.setenv("TCTI_PCAP_FILE", str(capture))
    counter, auth = TpmCounter(f"pcap:{swtpm.tcti}"), new_auth()
    ref = counter.create(auth=auth)
    counter.increment(ref, auth=auth)
    counter.read(ref, auth=auth)
    counter.forget(ref, auth=auth)
    traffic = capture.read_bytes()
    assert len(traffic) > 1000  # the capture saw the commands
    assert auth not in traffic
