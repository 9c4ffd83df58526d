"""The hardware-keyslot core: KEK derivation, slot binding, inventory, backend discovery."""

from __future__ import annotations

import base64
import json
import secrets
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from keyrings.alt.file import PlaintextKeyring

from strongroom.app import unlock_methods
from strongroom.app.crypto import Argon2Params
from strongroom.app.errors import Refused, UsageError, WrongDevice
from strongroom.app.keyslots import Keyslot, WrappedKey, normalize_passphrase
from strongroom.app.unlock_methods import derive_slot_kek, inventory_warnings, load_source
from strongroom.backends.keyring import KeyringSource

from conftest import PASSPHRASE, make_vault


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def independent_hkdf(ikm: bytes, salt: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(ikm)


def test_fido2_kek_is_hkdf_over_the_prf_output_salted_with_the_credential_id() -> None:
    prf, cred = secrets.token_bytes(32), secrets.token_bytes(64)
    params = {"credential_id": b64(cred), "prf_salt": b64(secrets.token_bytes(32))}
    kek = derive_slot_kek("fido2", params, prf)
    assert kek == independent_hkdf(prf, cred, b"strongroom/v1/keyslot/fido2")
    other_cred = {**params, "credential_id": b64(secrets.token_bytes(64))}
    assert derive_slot_kek("fido2", other_cred, prf) != kek


def test_other_kinds_use_their_random_salt_and_their_own_label() -> None:
    secret, salt = secrets.token_bytes(32), secrets.token_bytes(32)
    kek = derive_slot_kek("tpm", {"kek_salt": b64(salt)}, secret)
    assert kek == independent_hkdf(secret, salt, b"strongroom/v1/keyslot/tpm")
    assert derive_slot_kek("keyring", {"kek_salt": b64(salt)}, secret) != kek


def test_two_factor_mixes_an_argon2id_key_from_the_passphrase() -> None:
    secret, salt = secrets.token_bytes(32), secrets.token_bytes(32)
    argon = Argon2Params(salt=secrets.token_bytes(16), iterations=3, memory_kib=65536, lanes=4)
    params = {
        "kek_salt": b64(salt),
        "passphrase": {"kdf": "argon2id", "salt": b64(argon.salt), "iterations": 3,
                       "memory_kib": 65536, "lanes": 4},
    }
    phrase = normalize_passphrase(PASSPHRASE)
    kek = derive_slot_kek("tpm", params, secret, phrase)
    expected = independent_hkdf(secret + argon.derive(phrase), salt,
                                b"strongroom/v1/keyslot/tpm+passphrase")
    assert kek == expected
    assert derive_slot_kek("tpm", params, secret, b"other") != kek
    with pytest.raises(UsageError, match="also needs the passphrase"):
        derive_slot_kek("tpm", params, secret)


def test_a_short_device_secret_is_refused() -> None:
    with pytest.raises(WrongDevice, match="short secret"):
        derive_slot_kek("tpm", {"kek_salt": b64(b"s" * 32)}, b"x" * 16)


def _slot(kind: str, sid: str) -> Keyslot:
    return Keyslot(sid, kind, sid, {}, WrappedKey(b"", b""), "2026-01-01T00:00:00Z")


def test_inventory_warns_about_a_single_security_key_and_the_keyring() -> None:
    one_key = [_slot("passphrase", "p"), _slot("fido2", "a")]
    assert any("only one security key" in w for w in inventory_warnings(one_key))
    two_keys = [*one_key, _slot("fido2", "b")]
    assert inventory_warnings(two_keys) == []
    no_fallback = [_slot("tpm", "t")]
    assert any("no passphrase" in w for w in inventory_warnings(no_fallback))
    assert any("keyring" in w for w in inventory_warnings([*two_keys, _slot("keyring", "k")]))
    assert any("does not know" in w for w in inventory_warnings([_slot("quantum", "q")]))


def test_backends_are_found_through_entry_points() -> None:
    assert type(load_source("keyring")).__name__ == "KeyringSource"
    with pytest.raises(UsageError, match="unknown unlock method"):
        load_source("smoke-signal")
    status = unlock_methods.availability("keyring")
    assert isinstance(status.ok, bool) and (status.ok or status.reason)


def test_passphrase_change_is_refused_while_two_factor_slots_use_it(tmp_path: Path) -> None:
    kr = PlaintextKeyring()
    kr.file_path = str(tmp_path / "kr.cfg")
    vault = make_vault(tmp_path / "v")
    vault.add_hardware_slot(KeyringSource(kr), label="2fa",
                            passphrase=normalize_passphrase(PASSPHRASE))
    before = json.loads((tmp_path / "v" / "header.json").read_text())
    with pytest.raises(Refused, match="two-factor keyslots use the current passphrase: 2fa"):
        vault.change_passphrase(normalize_passphrase(PASSPHRASE), b"a brand new passphrase 42!")
    assert json.loads((tmp_path / "v" / "header.json").read_text()) == before
    vault.lock()
