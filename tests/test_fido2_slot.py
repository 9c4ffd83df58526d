"""The FIDO2 keyslot through the vault, on software CTAP2 authenticators (tests/helpers/soft_ctap2)
driven by python-fido2's real client: enrol, find the key silently, unlock, and every error.

What every unlock method shares (availability, cancel, tampered or moved params, two-factor,
test_slot, no secret in public) is checked by the contract in tests/test_slot_source_contract.py."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from pathlib import Path

import pytest

import strongroom.backends.fido2 as fido2_backend
from strongroom.app.errors import (
    AlreadyExists,
    DeviceNotFound,
    DeviceTimeout,
    HeaderCorrupt,
    PinBlocked,
    PinRequired,
    Unsupported,
    UsageError,
    UserCancelled,
    WrongDevice,
    WrongPin,
)
from strongroom.app.keyslots import b64d, unwrap_master_key
from strongroom.app.unlock_methods import HardwareUnlocker, derive_slot_kek
from strongroom.app.vault import Vault
from strongroom.backends.fido2 import RP_ID, Fido2Source

from conftest import make_vault
from helpers.soft_ctap2 import PIN_RETRIES_MAX, SoftAuthenticator, prf_expected

PIN = "4821"


class Prompts:
    """Strongroom's Prompts as a test double: answers PINs from a list, records every ask."""

    def __init__(self, *pins: str | None) -> None:
        self.pins = list(pins)
        self.touches: list[str] = []
        self.pin_requests: list[tuple[str, int | None]] = []

    def prompt_touch(self, device: str) -> None:
        self.touches.append(device)

    def request_pin(self, device: str, retries: int | None, *, new: bool = False) -> str | None:
        self.pin_requests.append((device, retries))
        return self.pins.pop(0) if self.pins else None


def source(*keys: SoftAuthenticator) -> Fido2Source:
    return Fido2Source(lambda: list(keys))


def reset_counts(*keys: SoftAuthenticator) -> None:
    for k in keys:
        k.touches_requested = 0
        k.closes = 0


def unlock(path: Path, *keys: SoftAuthenticator, prompts: Prompts | None = None,
           passphrase: bytes | None = None, cancel: threading.Event | None = None) -> Vault:
    vault = Vault.open(path)
    vault.unlock(
        HardwareUnlocker(source(*keys), vault.vault_id, prompts=prompts or Prompts(),
                         passphrase=passphrase),
        cancel=cancel,
    )
    return vault


@pytest.fixture
def vault_path(tmp_path: Path) -> Path:
    return tmp_path / "v"


def enrolled(vault_path: Path, *keys: SoftAuthenticator, uv: str = "discouraged",
             pins: Iterable[str | None] = ()) -> list[str]:
    """A vault at ``vault_path`` with one FIDO2 slot per key; returns the slot ids, locked."""
    vault = make_vault(vault_path)
    ids = []
    for key in keys:
        slot = vault.add_hardware_slot(source(key), label=key.product_name,
                                       options={"uv": uv}, prompts=Prompts(*pins))
        ids.append(slot.id)
    vault.lock()
    reset_counts(*keys)
    return ids


# ----- enrolment ------------------------------------------------------------------------------


def test_enrolment_stores_public_params_and_the_prf_output_opens_the_slot(
    vault_path: Path,
) -> None:
    key = SoftAuthenticator(product_name="Key A")
    vault = make_vault(vault_path)
    prompts = Prompts()
    slot = vault.add_hardware_slot(source(key), label="A", prompts=prompts)
    assert slot.kind == "fido2"
    assert set(slot.params) == {"credential_id", "prf_salt", "uv", "rp_id", "aaguid", "device",
                                "cose_public_key"}
    assert slot.params["uv"] == "discouraged"
    assert slot.params["rp_id"] == RP_ID
    assert slot.params["aaguid"] == key.aaguid.hex()
    assert slot.params["device"] == "Key A"
    credential_id = b64d(slot.params["credential_id"])
    assert key.credential_ids() == [credential_id]
    assert len(b64d(slot.params["prf_salt"])) == 32
    assert prompts.touches == ["Key A", "Key A"]  # create, then evaluate
    assert prompts.pin_requests == []

    # The slot opens with the PRF output computed independently of fido2 and of the backend.
    secret = prf_expected(key.cred_random(credential_id, uv=False), b64d(slot.params["prf_salt"]))
    kek = derive_slot_kek("fido2", slot.params, secret)
    assert unwrap_master_key(kek, slot, vault.vault_id) is not None
    vault.lock()


def test_enrol_with_several_keys_plugged_in_uses_the_one_touched(vault_path: Path) -> None:
    idle = SoftAuthenticator(touch_after=None, touch_timeout=None, product_name="idle")
    chosen = SoftAuthenticator(touch_after=0.05, product_name="chosen")
    vault = make_vault(vault_path)
    slot = vault.add_hardware_slot(source(idle, chosen), label="chosen", prompts=Prompts())
    assert b64d(slot.params["credential_id"]) in chosen.credential_ids()
    assert idle.credential_ids() == []
    vault.lock()


def test_the_same_key_twice_is_refused_before_any_touch(vault_path: Path) -> None:
    key = SoftAuthenticator(product_name="Key A")
    vault = make_vault(vault_path)
    first = vault.add_hardware_slot(source(key), label="A", prompts=Prompts())
    reset_counts(key)
    before = vault.header
    with pytest.raises(AlreadyExists, match=f"already enrolled .* {first.label}"):
        vault.add_hardware_slot(source(key), label="A again", prompts=Prompts())
    assert key.touches_requested == 0 and len(key.credential_ids()) == 1
    assert vault.header == before
    # Another key is still welcome, and the first one still opens the vault.
    other = SoftAuthenticator(product_name="Key B")
    vault.add_hardware_slot(source(other), label="B", prompts=Prompts())
    assert [s.kind for s in vault.header.slots] == ["passphrase", "fido2", "fido2"]
    vault.lock()
    assert unlock(vault_path, key).unlocked


def test_prf_absent_is_unsupported_at_enrolment_and_nothing_is_added(vault_path: Path) -> None:
    vault = make_vault(vault_path)
    with pytest.raises(Unsupported, match="PRF"):
        vault.add_hardware_slot(source(SoftAuthenticator(hmac_secret=False)), label="old key",
                                prompts=Prompts())
    assert [s.kind for s in vault.header.slots] == ["passphrase"]
    vault.lock()


def test_bad_uv_option_is_a_usage_error(vault_path: Path) -> None:
    vault = make_vault(vault_path)
    with pytest.raises(UsageError, match="uv"):
        vault.add_hardware_slot(source(SoftAuthenticator()), label="k",
                                options={"uv": "preferred"})
    vault.lock()


# ----- unlocking ------------------------------------------------------------------------------


def test_either_enrolled_key_opens_and_only_the_holder_is_touched(vault_path: Path) -> None:
    a, b = SoftAuthenticator(product_name="A"), SoftAuthenticator(product_name="B")
    stranger = SoftAuthenticator(product_name="stranger")
    slot_a, slot_b = enrolled(vault_path, a, b)
    for holder, slot_id in ((a, slot_a), (b, slot_b)):
        reset_counts(a, b, stranger)
        prompts = Prompts()
        vault = unlock(vault_path, stranger, holder, prompts=prompts)
        assert vault.unlocked
        newest = vault.audit_events(action="vault.unlock")[0]
        assert newest.details["slot"] == slot_id
        assert holder.touches_requested == 1
        assert stranger.touches_requested == 0
        assert prompts.touches == [holder.product_name]
        assert holder.closes > 0 and stranger.closes > 0  # handles are not left open
        vault.lock()


def test_with_both_keys_plugged_in_only_one_is_touched(vault_path: Path) -> None:
    a, b = SoftAuthenticator(product_name="A"), SoftAuthenticator(product_name="B")
    enrolled(vault_path, a, b)
    vault = unlock(vault_path, a, b)
    assert vault.unlocked
    assert a.touches_requested + b.touches_requested == 1
    vault.lock()


def test_a_key_enrolled_nowhere_is_wrong_device_and_never_touched(vault_path: Path) -> None:
    enrolled(vault_path, SoftAuthenticator())
    stranger = SoftAuthenticator(product_name="stranger")
    vault = Vault.open(vault_path)
    with pytest.raises(WrongDevice, match="stranger"):
        vault.unlock(HardwareUnlocker(source(stranger), vault.vault_id, prompts=Prompts()))
    assert not vault.unlocked
    assert stranger.touches_requested == 0


def test_no_device_is_device_not_found_with_the_hint(vault_path: Path) -> None:
    enrolled(vault_path, SoftAuthenticator())
    vault = Vault.open(vault_path)
    with pytest.raises(DeviceNotFound) as e:
        vault.unlock(HardwareUnlocker(source(), vault.vault_id))
    assert e.value.hint == fido2_backend.HINT
    assert not vault.unlocked


def test_uv_required_asks_for_the_pin_and_uses_the_uv_secret(vault_path: Path) -> None:
    key = SoftAuthenticator(pin=PIN, product_name="PIN key")
    enrol_prompts = Prompts(PIN)
    vault = make_vault(vault_path)
    slot = vault.add_hardware_slot(source(key), label="pin", options={"uv": "required"},
                                   prompts=enrol_prompts)
    assert enrol_prompts.pin_requests == [("PIN key", PIN_RETRIES_MAX)]  # asked once, not twice
    vault.lock()
    credential_id, salt = b64d(slot.params["credential_id"]), b64d(slot.params["prf_salt"])
    kek = derive_slot_kek("fido2", slot.params,
                          prf_expected(key.cred_random(credential_id, uv=True), salt))
    assert unwrap_master_key(kek, slot, vault.vault_id) is not None

    prompts = Prompts(PIN)
    reopened = unlock(vault_path, key, prompts=prompts)
    assert reopened.unlocked
    assert prompts.pin_requests == [("PIN key", PIN_RETRIES_MAX)]
    reopened.lock()


def test_wrong_pin_says_how_many_tries_are_left(vault_path: Path) -> None:
    key = SoftAuthenticator(pin=PIN)
    enrolled(vault_path, key, uv="required", pins=[PIN])
    vault = Vault.open(vault_path)
    with pytest.raises(WrongPin) as e:
        vault.unlock(HardwareUnlocker(source(key), vault.vault_id, prompts=Prompts("0000")))
    assert e.value.retries == PIN_RETRIES_MAX - 1
    assert str(PIN_RETRIES_MAX - 1) in str(e.value)
    assert PIN not in str(e.value) and "0000" not in str(e.value)
    assert not vault.unlocked
    assert key.touches_requested == 0  # the PIN comes before the touch


def test_pin_blocked_and_power_cycle_lockout_are_pin_blocked(vault_path: Path) -> None:
    key = SoftAuthenticator(pin=PIN)
    enrolled(vault_path, key, uv="required", pins=[PIN])
    vault = Vault.open(vault_path)
    for _ in range(2):
        with pytest.raises(WrongPin):
            vault.unlock(HardwareUnlocker(source(key), vault.vault_id, prompts=Prompts("0000")))
    with pytest.raises(PinBlocked, match="unplug"):
        vault.unlock(HardwareUnlocker(source(key), vault.vault_id, prompts=Prompts("0000")))
    key.power_cycle()
    key.pin_retries = 1
    with pytest.raises(PinBlocked, match="reset"):
        vault.unlock(HardwareUnlocker(source(key), vault.vault_id, prompts=Prompts("0000")))
    with pytest.raises(PinBlocked):
        vault.unlock(HardwareUnlocker(source(key), vault.vault_id, prompts=Prompts(PIN)))
    assert not vault.unlocked


def test_pin_required_without_prompts_and_pin_prompt_cancelled(vault_path: Path) -> None:
    key = SoftAuthenticator(pin=PIN)
    enrolled(vault_path, key, uv="required", pins=[PIN])
    vault = Vault.open(vault_path)
    with pytest.raises(PinRequired):
        vault.unlock(HardwareUnlocker(source(key), vault.vault_id, prompts=None))
    prompts = Prompts(None)
    with pytest.raises(UserCancelled):
        vault.unlock(HardwareUnlocker(source(key), vault.vault_id, prompts=prompts))
    assert len(prompts.pin_requests) == 1
    assert not vault.unlocked
    assert key.pin_retries == PIN_RETRIES_MAX


def test_untouched_key_is_device_timeout(vault_path: Path) -> None:
    key = SoftAuthenticator()
    enrolled(vault_path, key)
    key.touch_after, key.touch_timeout = None, 0.05
    vault = Vault.open(vault_path)
    with pytest.raises(DeviceTimeout):
        vault.unlock(HardwareUnlocker(source(key), vault.vault_id, prompts=Prompts()))
    assert not vault.unlocked


# ----- availability and discovery -------------------------------------------------------------


def test_a_hanging_device_listing_gives_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fido2_backend, "LIST_TIMEOUT_S", 0.05)
    release = threading.Event()

    def hang() -> list[SoftAuthenticator]:
        release.wait(5)
        return []

    try:
        result = Fido2Source(hang).available()  # returns while hang() still waits
        assert not result.ok and "did not finish" in result.reason
    finally:
        release.set()


def test_a_malformed_credential_id_is_header_corrupt(vault_path: Path) -> None:
    key = SoftAuthenticator()
    enrolled(vault_path, key)
    path = vault_path / "header.json"
    header = json.loads(path.read_text())
    header["slots"][1]["params"]["credential_id"] = "not base64!"
    path.write_text(json.dumps(header))
    vault = Vault.open(vault_path)
    with pytest.raises(HeaderCorrupt):
        vault.unlock(HardwareUnlocker(source(key), vault.vault_id, prompts=Prompts()))
    assert not vault.unlocked
    assert key.touches_requested == 0


def test_a_key_that_wants_its_pin_to_enrol_still_unlocks_without_it(vault_path: Path) -> None:
    # An older key with a PIN set and no makeCredUvNotRqd: creating the credential needs the PIN,
    # but with uv "discouraged" the PRF is always evaluated without UV, at enrolment and unlock.
    key = SoftAuthenticator(pin=PIN, make_cred_uv_not_required=False)
    enrol_prompts = Prompts(PIN)
    vault = make_vault(vault_path)
    vault.add_hardware_slot(source(key), label="old", prompts=enrol_prompts)
    assert len(enrol_prompts.pin_requests) == 1
    vault.lock()
    prompts = Prompts()
    reopened = unlock(vault_path, key, prompts=prompts)
    assert reopened.unlocked
    assert prompts.pin_requests == []
    reopened.lock()


def test_uv_required_on_a_key_without_a_pin_is_unsupported(vault_path: Path) -> None:
    vault = make_vault(vault_path)
    with pytest.raises(Unsupported, match="PIN set"):
        vault.add_hardware_slot(source(SoftAuthenticator()), label="k",
                                options={"uv": "required"}, prompts=Prompts(PIN))
    assert [s.kind for s in vault.header.slots] == ["passphrase"]
    vault.lock()
