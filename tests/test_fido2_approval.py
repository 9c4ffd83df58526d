"""A security key's approval signs the exact operation: the WebAuthn challenge of the assertion that
opens the approver's keyslot is the approval's digest, and the assertion (checked under the public
key kept at enrolment) is in the audit event of the approved operation. On software CTAP2
authenticators through python-fido2's real client."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from fido2 import cbor
from fido2.cose import CoseKey
from fido2.utils import websafe_decode
from keyrings.alt.file import PlaintextKeyring

from strongroom.app.access import approvals, operator_admin
from strongroom.app.errors import AccessDenied
from strongroom.app.keyslots import (
    Keyslot,
    PassphraseUnlocker,
    WrappedKey,
    b64d,
    b64e,
    normalize_passphrase,
)
from strongroom.app.model import Classification
from strongroom.app.unlock_methods import (
    Challenge,
    Enrolment,
    HardwareUnlocker,
    SlotRef,
    SlotSecretSource,
)
from strongroom.app.vault import NewSecret, Vault
from strongroom.backends.fido2 import ORIGIN, RP_ID, Fido2Source
from strongroom.backends.fido2._evidence import NO_PUBLIC_KEY
from strongroom.backends.keyring import KeyringSource
from strongroom.backends.tpm import TpmSealSource

from conftest import PASSPHRASE
from helpers.soft_ctap2 import SoftAuthenticator
from helpers.swtpm import SwtpmHandle, swtpm_fixture  # noqa: F401 - session fixture

CAROL, DAVE = "carol pass phrase 2", "dave pass phrase 3"
CHALLENGE = hashlib.sha256(b"some operation").digest()


def add(vault: Vault, name: str, passphrase: str, *roles: str, **kw: object) -> None:
    operator_admin.add_operator(vault, name, passphrase.encode(), roles=list(roles),
                                kdf_time_ms=10, **kw)  # type: ignore[arg-type]


def as_(path: Path, passphrase: str, operator: str | None = None) -> Vault:
    v = Vault.open(path)
    v.unlock(PassphraseUnlocker.from_text(passphrase), operator=operator)
    return v


@pytest.fixture
def admins(tmp_path: Path) -> Path:
    """alice (creator, every role), carol and dave (Administrators, approvers), and one Critical
    secret."""
    path = tmp_path / "team"
    with Vault.create(path, normalize_passphrase(PASSPHRASE), kdf_time_ms=10,
                      actor="alice") as v:
        v.add_secret(NewSecret("crit", b"critical value", Classification.Critical))
        v.add_secret(NewSecret("crit2", b"other critical value", Classification.Critical))
        add(v, "carol", CAROL, "Administrator", "Custodian")
        ok = approvals.approve(v, "access.change", "operator:dave", "carol",
                               PassphraseUnlocker.from_text(CAROL))
        add(v, "dave", DAVE, "Administrator", approval=ok)
    return path


def enrol_carols_key(path: Path, source: SlotSecretSource) -> Mapping[str, Any]:
    """carol enrols ``source`` as her own keyslot; returns its params."""
    with as_(path, CAROL, "carol") as carol:
        return carol.add_hardware_slot(source, label="carol's key").params


def client_data(evidence: Mapping[str, Any]) -> dict[str, Any]:
    return json.loads(base64.b64decode(evidence["client_data_json"]))


def check_signature(evidence: Mapping[str, Any], cose_public_key: str) -> None:
    """The assertion checked here, apart from the backend: python-fido2's COSE key over
    authenticatorData ‖ SHA-256(clientDataJSON)."""
    key = CoseKey.parse(cbor.decode(b64d(cose_public_key)))
    signed = (b64d(evidence["authenticator_data"])
              + hashlib.sha256(b64d(evidence["client_data_json"])).digest())
    key.verify(signed, b64d(evidence["signature"]))


class OldFido2Source(Fido2Source):
    """Enrols as Strongroom did before approvals kept the credential's public key."""

    def enrol(self, **kwargs: Any) -> Enrolment:
        made = super().enrol(**kwargs)
        params = {k: v for k, v in made.params.items() if k != "cose_public_key"}
        return Enrolment(params=params, secret=made.secret)


# ----- the assertion signs the operation ----------------------------------------------------------


def test_a_security_key_approval_signs_the_operation_and_the_reveal_event_keeps_it(
        admins: Path) -> None:
    key = SoftAuthenticator()
    source = Fido2Source(lambda: [key])
    params = enrol_carols_key(admins, source)
    assert isinstance(params["cose_public_key"], str)  # kept at enrolment, public data
    with as_(admins, PASSPHRASE) as alice:
        ok = approvals.approve(alice, "secret.reveal", "crit", "carol",
                               HardwareUnlocker(source, alice.vault_id))
        assert ok.method == "fido2"
        evidence = ok.evidence
        assert evidence["verified"] is True and "reason" not in evidence
        assert evidence["credential_id"] == params["credential_id"]
        assert evidence["cose_public_key"] == params["cose_public_key"]
        assert evidence["user_present"] is True and evidence["user_verified"] is False
        assert evidence["counter"] >= 1
        data = client_data(evidence)
        assert data["type"] == "webauthn.get" and data["origin"] == ORIGIN
        assert websafe_decode(data["challenge"]) == bytes.fromhex(ok.digest)
        assert b64d(evidence["authenticator_data"])[:32] == hashlib.sha256(
            RP_ID.encode()).digest()
        check_signature(evidence, params["cose_public_key"])

        assert alice.get_secret("crit", approval=ok) == b"critical value"
        [read] = alice.audit_events(action="secret.read", target="crit")
        recorded = read.details["approval"]
        assert recorded["method"] == "fido2" and recorded["digest"] == ok.digest
        assert recorded["evidence"] == evidence  # who, when, what, and the assertion
        check_signature(recorded["evidence"], params["cose_public_key"])


def test_each_approval_signs_its_own_digest(admins: Path) -> None:
    key = SoftAuthenticator()
    source = Fido2Source(lambda: [key])
    enrol_carols_key(admins, source)
    with as_(admins, PASSPHRASE) as alice:
        first = approvals.approve(alice, "secret.reveal", "crit", "carol",
                                  HardwareUnlocker(source, alice.vault_id))
        second = approvals.approve(alice, "secret.reveal", "crit", "carol",
                                   HardwareUnlocker(source, alice.vault_id))
        assert first.digest != second.digest
        for approval in (first, second):
            signed = websafe_decode(client_data(approval.evidence)["challenge"])
            assert signed == bytes.fromhex(approval.digest)
        assert second.evidence["counter"] > first.evidence["counter"]


def test_an_assertion_cannot_be_replayed_for_another_operation(admins: Path) -> None:
    key = SoftAuthenticator()
    source = Fido2Source(lambda: [key])
    enrol_carols_key(admins, source)
    with as_(admins, PASSPHRASE) as alice:
        crit = approvals.approve(alice, "secret.reveal", "crit", "carol",
                                 HardwareUnlocker(source, alice.vault_id))
        crit2 = approvals.approve(alice, "secret.reveal", "crit2", "carol",
                                  HardwareUnlocker(source, alice.vault_id))
        # crit2's digest and nonce (so the digest check passes), crit's assertion.
        forged = replace(crit2, evidence=crit.evidence)
        with pytest.raises(AccessDenied, match="assertion is for another operation"):
            alice.get_secret("crit2", approval=forged)
        garbled = replace(crit2, evidence={**crit2.evidence, "client_data_json": "not json"})
        with pytest.raises(AccessDenied, match="assertion is for another operation"):
            alice.get_secret("crit2", approval=garbled)
        whys = [e.details.get("why") for e in alice.audit_events(action="access.denied")]
        assert whys.count("assertion-other-operation") == 2
        assert not alice.audit_events(action="secret.read")  # nothing revealed, nothing spent
        assert alice.get_secret("crit2", approval=crit2) == b"other critical value"
        assert alice.get_secret("crit", approval=crit) == b"critical value"


def test_a_slot_enrolled_before_the_public_key_was_kept_still_approves_unverified(
        admins: Path) -> None:
    key = SoftAuthenticator()
    source = OldFido2Source(lambda: [key])
    params = enrol_carols_key(admins, source)
    assert "cose_public_key" not in params
    with as_(admins, PASSPHRASE) as alice:
        ok = approvals.approve(alice, "secret.reveal", "crit", "carol",
                               HardwareUnlocker(source, alice.vault_id))
        assert ok.evidence["verified"] is False
        assert ok.evidence["reason"] == NO_PUBLIC_KEY
        assert "cose_public_key" not in ok.evidence
        assert websafe_decode(client_data(ok.evidence)["challenge"]) == bytes.fromhex(ok.digest)
        # Possession is still proven: the PRF output opened carol's slot.
        assert alice.get_secret("crit", approval=ok) == b"critical value"
        [read] = alice.audit_events(action="secret.read", target="crit")
        assert read.details["approval"]["evidence"]["reason"] == NO_PUBLIC_KEY


def test_a_passphrase_approval_carries_no_assertion(admins: Path) -> None:
    with as_(admins, PASSPHRASE) as alice:
        ok = approvals.approve(alice, "secret.reveal", "crit", "carol",
                               PassphraseUnlocker.from_text(CAROL))
        assert ok.evidence == {}
        alice.get_secret("crit", approval=ok)
        [read] = alice.audit_events(action="secret.read", target="crit")
        assert "evidence" not in read.details["approval"]


# ----- the backend's check -----------------------------------------------------------------------


def test_an_assertion_under_the_wrong_public_key_is_recorded_unverified() -> None:
    key = SoftAuthenticator()
    source = Fido2Source(lambda: [key])
    mine = source.enrol(vault_id="v", label="mine", options={}, prompts=None)
    other = source.enrol(vault_id="v", label="other", options={}, prompts=None)
    raw = bytearray(b64d(mine.params["cose_public_key"]))
    raw[-1] ^= 0x01  # a point off the curve, or another key
    cases: list[tuple[Any, str]] = [
        (other.params["cose_public_key"], "signature does not check"),
        (b64e(bytes(raw)), "signature does not check"),
        ("", "does not parse"), ("%%", "does not parse"), (7, "does not parse"),
        (None, NO_PUBLIC_KEY),
    ]
    for wrong, reason in cases:
        challenge = Challenge(CHALLENGE)
        slot = SlotRef("s", "mine", {**mine.params, "cose_public_key": wrong})
        assert source.recover([slot], vault_id="v", prompts=None, challenge=challenge) == (
            "s", mine.secret)
        assert challenge.evidence is not None and challenge.evidence["verified"] is False
        assert reason in challenge.evidence["reason"], wrong

    challenge = Challenge(CHALLENGE)
    source.recover([SlotRef("s", "mine", mine.params)], vault_id="v", prompts=None,
                   challenge=challenge)
    assert challenge.evidence is not None and challenge.evidence["verified"] is True
    assert websafe_decode(client_data(challenge.evidence)["challenge"]) == CHALLENGE


def test_without_a_challenge_nothing_is_signed_or_kept() -> None:
    key = SoftAuthenticator()
    source = Fido2Source(lambda: [key])
    made = source.enrol(vault_id="v", label="k", options={}, prompts=None)
    unlocker = HardwareUnlocker(source, "v")
    unlocker.select([_keyslot(made)])
    assert unlocker.evidence is None
    unlocker.challenge = CHALLENGE
    unlocker.select([_keyslot(made)])
    assert unlocker.evidence is not None and unlocker.evidence["verified"] is True


def _keyslot(made: Enrolment) -> Keyslot:
    return Keyslot(id="s", kind="fido2", label="k", params=made.params,
                   wrapped=WrappedKey(b"", b""), created="now")


# ----- sources that sign nothing accept the challenge and ignore it ------------------------------


def file_keyring(folder: Path) -> PlaintextKeyring:
    ring = PlaintextKeyring()
    ring.file_path = str(folder / "keyring_pass.cfg")
    return ring


@pytest.mark.parametrize("kind", ["keyring", "tpm"])
def test_sources_that_sign_nothing_ignore_the_challenge(
        kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    if kind == "tpm":
        swtpm: SwtpmHandle = request.getfixturevalue("swtpm")
        source: SlotSecretSource = TpmSealSource(swtpm.tcti)
    else:
        source = KeyringSource(file_keyring(tmp_path))
    made = source.enrol(vault_id="v", label="k", options={}, prompts=None)
    challenge = Challenge(CHALLENGE)
    found = source.recover([SlotRef("s", "k", made.params)], vault_id="v", prompts=None,
                           challenge=challenge)
    assert found == ("s", made.secret) and challenge.evidence is None
    source.forget(SlotRef("s", "k", made.params))


def test_a_keyring_approval_carries_no_assertion(admins: Path, tmp_path: Path) -> None:
    source = KeyringSource(file_keyring(tmp_path / "ring"))
    enrol_carols_key(admins, source)
    with as_(admins, PASSPHRASE) as alice:
        ok = approvals.approve(alice, "secret.reveal", "crit", "carol",
                               HardwareUnlocker(source, alice.vault_id))
        assert ok.method == "keyring" and ok.evidence == {}
        assert alice.get_secret("crit", approval=ok) == b"critical value"
