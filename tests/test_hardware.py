"""Opt-in tests against real devices: ``pytest --hardware`` (all) or ``--hardware fido2,tpm``.

They never reset, wipe or re-PIN a device and never write to a token: the FIDO2 test makes one
non-resident credential (nothing is stored on the key), the TPM test seals to a transient object
(nothing persisted in the TPM), the PKCS#11 test only reads and signs with a key you name. PINs
are asked on the terminal (run with ``-s``). Without ``--hardware`` they are skipped and say so.

- fido2: a security key with hmac-secret/PRF plugged in (touch it twice to enrol, once to unlock)
- tpm: the platform TPM (``STRONGROOM_TPM_TCTI`` or ``device:/dev/tpmrm0``), usable by this user
- pkcs11: ``STRONGROOM_TEST_PKCS11_MODULE`` (module path), ``STRONGROOM_TEST_PKCS11_TOKEN``
  (label or serial) and ``STRONGROOM_TEST_PKCS11_KEY`` (label of an existing signing key)
"""

from __future__ import annotations

import getpass
import os
import sys
from pathlib import Path

import pytest

from strongroom.app.keys import algorithms
from strongroom.app.keys import tokens as key_tokens
from strongroom.app.keys.ports import SignAlgorithm
from strongroom.app.unlock_methods import HardwareUnlocker, SlotRef
from strongroom.app.vault import Vault

from conftest import make_vault
from helpers.keystore_contract import verify_signature


class TerminalPrompts:
    """Touch notes and PIN questions on the real terminal (pytest -s)."""

    def prompt_touch(self, device: str) -> None:
        print(f"\n>>> Touch {device} now", file=sys.__stderr__, flush=True)

    def request_pin(self, device: str, retries: int | None, *, new: bool = False) -> str | None:
        left = "" if retries is None else f" ({retries} tries left)"
        return getpass.getpass(f"\n>>> PIN for {device}{left}: ") or None


@pytest.mark.hardware("fido2")
def test_a_real_security_key_enrols_and_unlocks(tmp_path: Path) -> None:
    from strongroom.backends.fido2 import Fido2Source

    source = Fido2Source()
    usable = source.available()
    assert usable.ok, usable.reason
    vault = make_vault(tmp_path / "v")
    slot = vault.add_hardware_slot(source, label="hardware test", options={"uv": "discouraged"},
                                   prompts=TerminalPrompts())
    vault.lock()
    again = Vault.open(tmp_path / "v")
    again.unlock(HardwareUnlocker(source, again.vault_id, prompts=TerminalPrompts()))
    assert again.unlocked and again.header.slot(slot.id) is not None
    again.lock()


@pytest.mark.hardware("tpm")
def test_the_platform_tpm_seals_and_unseals() -> None:
    from strongroom.backends.tpm import TpmSealSource

    source = TpmSealSource(os.environ.get("STRONGROOM_TPM_TCTI"))
    usable = source.available()
    assert usable.ok, usable.reason
    enrolment = source.enrol(vault_id="hardware-test", label="TPM", options={"pcrs": [7]},
                             prompts=None)
    found = source.recover([SlotRef("s", "TPM", enrolment.params)], vault_id="hardware-test",
                           prompts=None)
    assert found == ("s", enrolment.secret)


@pytest.mark.hardware("pkcs11")
def test_a_real_token_lists_and_signs() -> None:
    module = os.environ.get("STRONGROOM_TEST_PKCS11_MODULE")
    token_name = os.environ.get("STRONGROOM_TEST_PKCS11_TOKEN")
    key_label = os.environ.get("STRONGROOM_TEST_PKCS11_KEY")
    if not (module and token_name and key_label):
        pytest.fail("set STRONGROOM_TEST_PKCS11_MODULE, _TOKEN and _KEY for the pkcs11 test")
    pin = getpass.getpass(f"\n>>> User PIN for {token_name}: ")
    _, store = key_tokens.open_store("pkcs11", modules=[module], token=token_name, pin=pin)
    try:
        key = next(k for k in store.list_keys() if k.label == key_label)
        algorithm = algorithms.default_algorithm(key)
        message = b"strongroom hardware test"
        verify_signature(key, store.sign(key, message, algorithm), message,
                         SignAlgorithm(algorithm))
    finally:
        store.close()
