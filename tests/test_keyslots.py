"""Keyslot wrap/unwrap and the header: round trips, and every edit makes unwrapping fail."""

from __future__ import annotations

import dataclasses
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from strongroom.app.crypto import (
    ARGON2_MIN_ITERATIONS,
    ARGON2_MIN_MEMORY_KIB,
    Argon2Params,
    calibrate_argon2,
)
from strongroom.app.errors import HeaderCorrupt
from strongroom.app.header import AuditAnchor, Header
from strongroom.app.keyslots import (
    Keyslot,
    PassphraseUnlocker,
    WrappedKey,
    new_passphrase_slot,
    unwrap_master_key,
    wrap_master_key,
)

keys = st.binary(min_size=32, max_size=32)
json_scalars = st.one_of(st.integers(-(2**31), 2**31), st.text(max_size=20), st.booleans())
params = st.dictionaries(st.text(min_size=1, max_size=10), json_scalars, max_size=5)
ids = st.text(alphabet="0123456789abcdef", min_size=8, max_size=8)


def slot_with(kek: bytes, master: bytes, vault_id: str, slot_id: str, p: dict) -> Keyslot:
    blank = Keyslot(slot_id, "test", "label", p, WrappedKey(b"", b""), "2026-01-01T00:00:00Z")
    return dataclasses.replace(blank, wrapped=wrap_master_key(kek, master, blank, vault_id))


@given(kek=keys, master=keys, vault_id=ids, slot_id=ids, p=params)
def test_wrap_then_unwrap_returns_the_master_key(kek, master, vault_id, slot_id, p) -> None:
    slot = slot_with(kek, master, vault_id, slot_id, p)
    assert unwrap_master_key(kek, slot, vault_id) == master
    # The slot survives its JSON form unchanged.
    again = Keyslot.from_json(json.loads(json.dumps(slot.to_json())))
    assert unwrap_master_key(kek, again, vault_id) == master


@given(kek=keys, other=keys, master=keys, vault_id=ids, slot_id=ids, p=params)
def test_another_kek_does_not_unwrap(kek, other, master, vault_id, slot_id, p) -> None:
    slot = slot_with(kek, master, vault_id, slot_id, p)
    if other != kek:
        assert unwrap_master_key(other, slot, vault_id) is None


@given(kek=keys, master=keys, vault_id=ids, slot_id=ids, p=params, data=st.data())
def test_any_edit_of_bound_fields_fails_to_unwrap(kek, master, vault_id, slot_id, p, data) -> None:
    slot = slot_with(kek, master, vault_id, slot_id, p)
    which = data.draw(st.sampled_from(["params", "kind", "id", "vault", "nonce", "ciphertext"]))
    if which == "params":
        edited = dict(p)
        edited[data.draw(st.text(min_size=1, max_size=10))] = data.draw(json_scalars)
        if edited == p:
            return
        slot = dataclasses.replace(slot, params=edited)
    elif which == "kind":
        slot = dataclasses.replace(slot, kind="other")
    elif which == "id":
        slot = dataclasses.replace(slot, id=slot_id[::-1] + "x")
    elif which == "vault":
        vault_id = vault_id + "0"
    else:
        blob = bytearray(getattr(slot.wrapped, which))
        bit = data.draw(st.integers(0, len(blob) * 8 - 1))
        blob[bit // 8] ^= 1 << (bit % 8)
        slot = dataclasses.replace(
            slot, wrapped=dataclasses.replace(slot.wrapped, **{which: bytes(blob)})
        )
    assert unwrap_master_key(kek, slot, vault_id) is None


def test_label_and_last_used_are_not_bound() -> None:
    # Renaming a slot in the UI must not lock the user out.
    slot = slot_with(b"k" * 32, b"m" * 32, "v", "00000000", {"a": 1})
    renamed = dataclasses.replace(slot, label="Recovery", last_used="2026-02-02T00:00:00Z")
    assert unwrap_master_key(b"k" * 32, renamed, "v") == b"m" * 32


FAST = Argon2Params(salt=b"\0" * 16, iterations=ARGON2_MIN_ITERATIONS)


@settings(max_examples=6, deadline=None)
@given(passphrase=st.text(min_size=1, max_size=40), master=keys)
def test_passphrase_slot_round_trip(passphrase: str, master: bytes) -> None:
    secret = passphrase.encode()
    slot, kek = new_passphrase_slot(secret, master, "vault", now="t", kdf=FAST)
    assert slot.params["memory_kib"] >= 64 * 1024
    assert slot.params["salt"] != FAST.salt  # a fresh salt every time
    assert PassphraseUnlocker(secret).derive_kek(slot) == kek
    assert unwrap_master_key(kek, slot, "vault") == master
    wrong = PassphraseUnlocker(secret + b"!").derive_kek(slot)
    assert unwrap_master_key(wrong, slot, "vault") is None


def test_nfc_normalisation_makes_composed_and_decomposed_equal() -> None:
    composed = PassphraseUnlocker.from_text("caf\u00e9 au lait")
    decomposed = PassphraseUnlocker.from_text("cafe\u0301 au lait")
    assert composed.passphrase == decomposed.passphrase


@pytest.mark.parametrize(
    "bad",
    [
        {"memory_kib": ARGON2_MIN_MEMORY_KIB - 1},
        {"iterations": ARGON2_MIN_ITERATIONS - 1},
        {"iterations": 10_000},
        {"memory_kib": 64 * 1024 * 1024},
        {"salt": b"short"},
        {"lanes": 0},
    ],
)
def test_argon2_parameters_outside_bounds_are_refused(bad: dict) -> None:
    params = dataclasses.replace(FAST, **bad)
    with pytest.raises(ValueError):
        params.derive(b"x")


def test_calibration_hits_the_floor_for_tiny_targets_and_scales_up() -> None:
    tiny = calibrate_argon2(1)
    assert tiny.iterations == ARGON2_MIN_ITERATIONS
    assert tiny.memory_kib == ARGON2_MIN_MEMORY_KIB
    bigger = calibrate_argon2(1500)
    assert bigger.iterations > tiny.iterations


def make_header() -> tuple[Header, bytes]:
    master = b"M" * 32
    slot = slot_with(b"k" * 32, master, "vid", "abcdef01", {"a": 1})
    header = Header("vid", "2026-01-01T00:00:00Z", (slot,), AuditAnchor(7, b"h" * 32))
    return header.sealed(master), master


def test_header_round_trip_and_mac() -> None:
    header, master = make_header()
    again = Header.from_bytes(header.to_bytes())
    assert again == header
    assert again.mac_ok(master)
    assert not again.mac_ok(b"N" * 32)


@pytest.mark.parametrize(
    "edit",
    [
        lambda o: o["anchor"].update(seq=6),
        lambda o: o["slots"][0].update(label="renamed by someone else"),
        lambda o: o.update(created="2020-01-01T00:00:00Z"),
    ],
)
def test_header_mac_detects_edits(edit) -> None:
    header, master = make_header()
    obj = json.loads(header.to_bytes())
    edit(obj)
    assert not Header.from_bytes(json.dumps(obj).encode()).mac_ok(master)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not json",
        b"[]",
        b'{"magic": "something-else"}',
        b'{"magic": "strongroom-vault-header", "format": 99}',
        b'{"magic": "strongroom-vault-header", "format": 1, "vault_id": "v", "created": "t",'
        b' "slots": []}',
        b'{"magic": "strongroom-vault-header", "format": 1, "vault_id": "v", "created": "t",'
        b' "slots": [{"id": 1}]}',
        b"\xff\xfe",
    ],
)
def test_malformed_headers_raise_header_corrupt(data: bytes) -> None:
    with pytest.raises(HeaderCorrupt):
        Header.from_bytes(data)
