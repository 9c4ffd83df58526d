"""The TPM keyslot on a real swtpm: seal and unseal, through a vault, PCR policy, PIN, lockout,
another TPM's blob, availability, and that no handle is left loaded in the TPM.

What every unlock method shares (availability, forget, another device's slot, cancel, tampered
params, two-factor, no secret in public) is checked by the contract in
tests/test_slot_source_contract.py."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from strongroom.app.errors import (
    AuthenticationFailed,
    PinBlocked,
    UsageError,
    UserCancelled,
    WrongDevice,
    WrongPin,
)
from strongroom.app.keyslots import b64d
from strongroom.app.unlock_methods import HardwareUnlocker, SlotRef, load_source
from strongroom.app.vault import Vault
from strongroom.backends.tpm import ENV_TCTI, PcrStateChanged, TpmSealSource, _tss

from conftest import make_vault
from helpers.swtpm import (  # noqa: F401 - session fixtures
    PinPrompts,
    esapi,
    extend_pcr,
    open_handles,
    other_swtpm_fixture,
    set_dictionary_attack,
    swtpm_fixture,
)

NOTHING_LOADED = {"transient": 0, "loaded_sessions": 0, "saved_sessions": 0}
DEBUG_PCR = 16  # resettable, and nothing else extends it under swtpm


def enrol(src: TpmSealSource, options: dict, prompts=None):
    return src.enrol(vault_id="v", label="TPM", options=options, prompts=prompts)


def recover(src: TpmSealSource, *refs: SlotRef, prompts=None) -> tuple[str, bytes]:
    return src.recover(list(refs), vault_id="v", prompts=prompts)


def test_seal_then_unseal_returns_the_secret_and_leaves_nothing_loaded(swtpm):
    src = TpmSealSource(swtpm.tcti)
    statuses: list[str] = []
    enrolment = src.enrol(
        vault_id="v", label="TPM", options={"pcrs": [7, DEBUG_PCR]}, prompts=None,
        on_status=statuses.append,
    )
    assert len(enrolment.secret) == 32
    params = enrolment.params
    assert params["pcrs"] == [7, DEBUG_PCR] and params["pcr_bank"] == "sha256"
    assert params["pin"] is False
    blob = b64d(params["public"]) + b64d(params["private"])
    assert enrolment.secret not in blob  # the private part is wrapped by the TPM
    assert enrolment.secret.hex() not in json.dumps(params)
    assert open_handles(swtpm.tcti) == NOTHING_LOADED

    assert recover(src, SlotRef("s1", "TPM", params)) == ("s1", enrolment.secret)
    assert statuses  # the UI is told what is happening
    assert open_handles(swtpm.tcti) == NOTHING_LOADED


def test_the_secret_never_crosses_the_wire_in_the_clear(swtpm, tmp_path: Path, monkeypatch):
    capture = tmp_path / "tpm.pcap"
    monkeypatch.setenv("TCTI_PCAP_FILE", str(capture))  # libtss2's pcap TCTI records all traffic
    tcti = f"pcap:{swtpm.tcti}"
    src = TpmSealSource(tcti)
    enrolment = enrol(src, {"pcrs": []})  # no policy at all: only session encryption protects it
    assert recover(src, SlotRef("s", "", enrolment.params))[1] == enrolment.secret
    pin = "pin-never-on-the-wire-42"
    with_pin = enrol(src, {"pcrs": [7], "pin": True}, prompts=PinPrompts([pin]))
    assert recover(src, SlotRef("p", "", with_pin.params),
                   prompts=PinPrompts([pin]))[1] == with_pin.secret
    traffic = capture.read_bytes()
    assert len(traffic) > 1000
    assert enrolment.secret not in traffic  # neither into Create nor out of Unseal
    assert with_pin.secret not in traffic
    assert pin.encode() not in traffic  # sent encrypted into Create, then only as an HMAC key

    # Control: the same object unsealed over a plain password session shows up in the capture.
    sealed = _tss.Sealed(b64d(enrolment.params["public"]), b64d(enrolment.params["private"]),
                         bytes.fromhex(enrolment.params["srk_name"]))
    with esapi(tcti) as ctx, _tss.storage_key(ctx) as srk, _tss.loaded(
        ctx, srk.handle, sealed.public, sealed.private
    ) as obj:
        assert bytes(ctx.unseal(obj)) == enrolment.secret
    assert enrolment.secret in capture.read_bytes()


def test_default_policy_is_pcr_7_and_two_enrolments_differ(swtpm):
    src = TpmSealSource(swtpm.tcti)
    a, b = enrol(src, {}), enrol(src, {"pcrs": []})
    assert a.params["pcrs"] == [7]
    assert b.params["pcrs"] == []
    assert a.secret != b.secret
    assert recover(src, SlotRef("b", "", b.params))[1] == b.secret


def test_vault_opens_with_the_tpm_slot(swtpm, tmp_path: Path):
    vault = make_vault(tmp_path / "v")
    src = TpmSealSource(swtpm.tcti)
    slot = vault.add_hardware_slot(src, label="TPM", options={"pcrs": [7]})
    assert slot.kind == "tpm" and slot.params["srk_name"]
    vault.lock()

    reopened = Vault.open(tmp_path / "v")
    assert [s.kind for s in reopened.header.slots] == ["passphrase", "tpm"]
    reopened.unlock(HardwareUnlocker(src, reopened.vault_id))
    assert reopened.unlocked
    reopened.test_slot(slot.id, HardwareUnlocker(src, reopened.vault_id))
    reopened.lock()
    assert open_handles(swtpm.tcti) == NOTHING_LOADED


def test_pcr_change_refuses_with_a_clear_error(swtpm, tmp_path: Path):
    vault = make_vault(tmp_path / "v")
    src = TpmSealSource(swtpm.tcti)
    vault.add_hardware_slot(src, label="TPM", options={"pcrs": [DEBUG_PCR]})
    vault.lock()

    extend_pcr(swtpm.tcti, DEBUG_PCR)
    with pytest.raises(PcrStateChanged) as caught:
        vault.unlock(HardwareUnlocker(src, vault.vault_id))
    assert isinstance(caught.value, AuthenticationFailed)
    assert caught.value.pcrs == (DEBUG_PCR,)
    assert "PCR 16 state changed since this slot was enrolled" in str(caught.value)
    assert "re-enrol" in str(caught.value)
    assert not vault.unlocked
    assert open_handles(swtpm.tcti) == NOTHING_LOADED


def test_pcr_change_on_an_unselected_pcr_does_not_matter(swtpm):
    src = TpmSealSource(swtpm.tcti)
    enrolment = enrol(src, {"pcrs": [7]})
    extend_pcr(swtpm.tcti, DEBUG_PCR)
    assert recover(src, SlotRef("s", "", enrolment.params))[1] == enrolment.secret


def test_pin_slot_needs_the_right_pin(swtpm, tmp_path: Path):
    vault = make_vault(tmp_path / "v")
    src = TpmSealSource(swtpm.tcti)
    vault.add_hardware_slot(
        src, label="TPM+PIN", options={"pcrs": [7], "pin": True},
        prompts=PinPrompts(["2468"]),
    )
    vault.lock()

    wrong = PinPrompts(["1357"])
    with pytest.raises(WrongPin) as caught:
        vault.unlock(HardwareUnlocker(src, vault.vault_id, prompts=wrong))
    assert isinstance(caught.value.retries, int) and caught.value.retries > 0
    assert "1357" not in str(caught.value)
    assert wrong.asked[0][0] == "TPM" and wrong.asked[0][2] is False
    assert open_handles(swtpm.tcti) == NOTHING_LOADED

    right = PinPrompts(["2468"])
    vault.unlock(HardwareUnlocker(src, vault.vault_id, prompts=right))
    assert vault.unlocked
    # The prompt shows the retries left from the TPM's DA counter.
    assert isinstance(right.asked[0][1], int) and right.asked[0][1] >= caught.value.retries


def test_pin_prompt_cancelled_or_missing(swtpm):
    src = TpmSealSource(swtpm.tcti)
    with pytest.raises(UserCancelled):
        enrol(src, {"pin": True}, prompts=PinPrompts([None]))
    enrolment = enrol(src, {"pcrs": [], "pin": True}, prompts=PinPrompts(["1234"]))
    with pytest.raises(UserCancelled):
        recover(src, SlotRef("s", "", enrolment.params), prompts=PinPrompts([None]))
    assert recover(src, SlotRef("s", "", enrolment.params),
                   prompts=PinPrompts(["1234"]))[1] == enrolment.secret


def test_too_many_wrong_pins_block_the_pin(other_swtpm):
    src = TpmSealSource(other_swtpm.tcti)
    enrolment = enrol(src, {"pcrs": [], "pin": True}, prompts=PinPrompts(["4321"]))
    ref = SlotRef("s", "", enrolment.params)
    set_dictionary_attack(other_swtpm.tcti, max_tries=2, recovery_s=600)
    try:
        with pytest.raises(WrongPin) as caught:
            recover(src, ref, prompts=PinPrompts(["0000"]))
        assert caught.value.retries == 1
        with pytest.raises(PinBlocked):
            recover(src, ref, prompts=PinPrompts(["0000"]))
        never_asked = PinPrompts(["4321"])
        with pytest.raises(PinBlocked):
            recover(src, ref, prompts=never_asked)
        assert never_asked.asked == []  # locked out: the PIN is not even asked for
    finally:
        set_dictionary_attack(other_swtpm.tcti, max_tries=1000)
    assert recover(src, ref, prompts=PinPrompts(["4321"]))[1] == enrolment.secret
    assert open_handles(other_swtpm.tcti) == NOTHING_LOADED


def test_blob_sealed_by_another_tpm_is_refused(swtpm, other_swtpm):
    theirs = enrol(TpmSealSource(other_swtpm.tcti), {"pcrs": [7]})
    ours = TpmSealSource(swtpm.tcti)
    with pytest.raises(WrongDevice, match="sealed to another TPM"):
        recover(ours, SlotRef("s", "laptop", theirs.params))
    assert open_handles(swtpm.tcti) == NOTHING_LOADED

    # Even with a forged parent name the TPM refuses to load another TPM's blob.
    forged = dict(theirs.params)
    forged["srk_name"] = enrol(ours, {"pcrs": []}).params["srk_name"]
    with pytest.raises(WrongDevice, match="sealed to another TPM"):
        recover(ours, SlotRef("s", "laptop", forged))
    assert open_handles(swtpm.tcti) == NOTHING_LOADED


def test_pin_slot_of_another_tpm_is_refused_without_asking_for_the_pin(swtpm, other_swtpm):
    theirs = enrol(TpmSealSource(other_swtpm.tcti), {"pcrs": [], "pin": True},
                   prompts=PinPrompts(["1111"]))
    never_asked = PinPrompts(["1111"])
    with pytest.raises(WrongDevice, match="sealed to another TPM"):
        recover(TpmSealSource(swtpm.tcti), SlotRef("s", "", theirs.params), prompts=never_asked)
    assert never_asked.asked == []


def test_a_slot_without_pin_is_tried_before_one_that_prompts(swtpm):
    src = TpmSealSource(swtpm.tcti)
    with_pin = enrol(src, {"pcrs": [], "pin": True}, prompts=PinPrompts(["1111"]))
    without = enrol(src, {"pcrs": []})
    never_asked = PinPrompts([])
    found = recover(src, SlotRef("pin", "", with_pin.params), SlotRef("plain", "", without.params),
                    prompts=never_asked)
    assert found == ("plain", without.secret) and never_asked.asked == []


def test_unavailable_without_the_library():
    code = (
        "import sys; sys.modules['tpm2_pytss'] = None\n"
        "from strongroom.backends.tpm import source, key_provider\n"
        "a, b = source().available(), key_provider().available()\n"
        "print(a.ok, b.ok); print(a.reason)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60,
    ).stdout.splitlines()
    assert out[0] == "False False"
    assert "tpm2-pytss cannot be loaded" in out[1]


def test_available_and_found_through_the_entry_point(swtpm, monkeypatch):
    monkeypatch.setenv(ENV_TCTI, swtpm.tcti)
    src = load_source("tpm")
    assert isinstance(src, TpmSealSource) and src.tcti == swtpm.tcti
    assert src.available().ok


@pytest.mark.parametrize("options", [
    {"pcrs": [24]}, {"pcrs": "7"}, {"pcrs": [True]}, {"pin": True, "colour": "red"},
])
def test_bad_options_are_usage_errors(swtpm, options):
    with pytest.raises(UsageError):
        enrol(TpmSealSource(swtpm.tcti), options, prompts=PinPrompts(["1"]))


