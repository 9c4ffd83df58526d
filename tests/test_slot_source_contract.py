"""The SlotSecretSource contract run against every unlock-method backend: FIDO2 on the software
CTAP2 authenticator (through python-fido2's real client), the TPM on swtpm, and the OS keyring
on a file keyring (keyrings.alt)."""

from __future__ import annotations

import base64
import configparser
from collections.abc import Hashable, Mapping
from pathlib import Path
from typing import Any, ClassVar

import pytest
from keyring.backends import fail
from keyrings.alt.file import PlaintextKeyring

import strongroom.backends.fido2 as fido2_backend
from strongroom.app.errors import WrongDevice
from strongroom.app.unlock_methods import SlotRef, SlotSecretSource
from strongroom.backends.fido2 import Fido2Source
from strongroom.backends.keyring import KeyringSource
from strongroom.backends.tpm import TpmSealSource

from helpers.slot_source_contract import WAIT_LIMIT_S, SlotSourceContract, Stall
from helpers.soft_ctap2 import SoftAuthenticator
from helpers.swtpm import (  # noqa: F401 - session fixtures
    SwtpmHandle,
    open_handles,
    other_swtpm_fixture,
    swtpm_fixture,
)

FIDO2_PIN = "4821"
TPM_PIN = "2468"

def flip_inside(blob: str) -> str:
    """The base64 blob with one byte in its middle changed (its framing stays well-formed)."""
    raw = bytearray(base64.b64decode(blob))
    raw[len(raw) // 2] ^= 0x01
    return base64.b64encode(bytes(raw)).decode("ascii")


class TestFido2Source(SlotSourceContract):
    """A soft key with a PIN set (so an edited ``uv`` really asks for it), enrolled with uv
    "discouraged"."""

    KIND = "fido2"
    PIN = FIDO2_PIN
    REFUSES_ENROLLED = True
    EDITS: ClassVar[Mapping[str, Any]] = {"uv": "required"}  # the other value a header may hold

    @pytest.fixture
    def device(self) -> SoftAuthenticator:
        return SoftAuthenticator(pin=FIDO2_PIN, product_name="Contract key")

    @pytest.fixture
    def source(self, device: SoftAuthenticator) -> SlotSecretSource:
        return Fido2Source(lambda: [device])

    @pytest.fixture
    def other_source(self) -> SlotSecretSource:
        other = SoftAuthenticator(product_name="Other key")
        return Fido2Source(lambda: [other])

    @pytest.fixture
    def unavailable(self) -> tuple[SlotSecretSource, list[str]]:
        return Fido2Source(lambda: []), ["no FIDO2 security key is visible", fido2_backend.HINT]

    def footprint(self, device: SoftAuthenticator) -> Hashable:
        return frozenset(device.credential_ids())

    def user_waits(self, device: SoftAuthenticator) -> int | None:
        return device.touches_requested

    def stall(self, device: SoftAuthenticator) -> Stall:
        def never_touched() -> None:
            # A backend deaf to the cancel fails with DeviceTimeout here instead of hanging.
            device.touch_after, device.touch_timeout = None, WAIT_LIMIT_S

        return Stall(options={}, pin=None, begin=never_touched)


class TestTpmSource(SlotSourceContract):
    """swtpm, slots sealed to the default PCR policy (PCR 7)."""

    KIND = "tpm"
    PIN = TPM_PIN
    # The generic edit changes a blob's first byte, its TPM2B size: that is the test below.
    EDITS: ClassVar[Mapping[str, Any]] = {"public": flip_inside, "private": flip_inside}

    @pytest.fixture
    def device(self, swtpm: SwtpmHandle) -> SwtpmHandle:
        return swtpm

    @pytest.fixture
    def source(self, device: SwtpmHandle) -> SlotSecretSource:
        return TpmSealSource(device.tcti)

    @pytest.fixture
    def other_source(self, other_swtpm: SwtpmHandle) -> SlotSecretSource:
        return TpmSealSource(other_swtpm.tcti)

    @pytest.fixture
    def unavailable(self, tmp_path: Path) -> tuple[SlotSecretSource, list[str]]:
        return TpmSealSource(f"swtpm:path={tmp_path}/nothing-here"), [
            "nothing-here", "does not answer"]

    def footprint(self, device: SwtpmHandle) -> Hashable:
        return tuple(sorted(open_handles(device.tcti).items()))

    def stall(self, device: SwtpmHandle) -> Stall:
        # The TPM waits for the user only at its PIN prompt.
        return Stall(options={"pcrs": [], "pin": True}, pin=TPM_PIN, begin=lambda: None)

    def test_a_blob_with_damaged_framing_is_wrong_device(self, source: SlotSecretSource) -> None:
        params = dict(self.enrol(source).params)
        for key in ("public", "private"):
            raw = bytearray(base64.b64decode(params[key]))
            raw[0] ^= 0x01  # the TPM2B size prefix
            damaged = {**params, key: base64.b64encode(bytes(raw)).decode("ascii")}
            with pytest.raises(WrongDevice):
                self.recover(source, SlotRef("s", "damaged", damaged))


class TestKeyringSource(SlotSourceContract):
    """A plaintext file keyring chosen explicitly (as PYTHON_KEYRING_BACKEND would)."""

    KIND = "keyring"
    KEEPS_OUTSIDE = True

    @staticmethod
    def file_keyring(path: Path) -> PlaintextKeyring:
        keyring = PlaintextKeyring()
        keyring.file_path = str(path / "keyring_pass.cfg")
        return keyring

    @pytest.fixture
    def device(self, tmp_path: Path) -> PlaintextKeyring:
        return self.file_keyring(tmp_path / "keyring")

    @pytest.fixture
    def source(self, device: PlaintextKeyring) -> SlotSecretSource:
        return KeyringSource(device)

    @pytest.fixture
    def other_source(self, tmp_path: Path) -> SlotSecretSource:
        return KeyringSource(self.file_keyring(tmp_path / "other-user"))

    @pytest.fixture
    def unavailable(self) -> tuple[SlotSecretSource, list[str]]:
        return KeyringSource(fail.Keyring()), ["no OS credential store"]

    def footprint(self, device: PlaintextKeyring) -> Hashable:
        parser = configparser.RawConfigParser()
        parser.read(device.file_path)
        return frozenset((s, o) for s in parser.sections() for o in parser.options(s))
