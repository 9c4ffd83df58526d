"""Key grants on a real SoftHSM2 token: signing needs a Custodian role and a grant on the key or
its token; a key marked high-value needs a second operator; the device-health gate can hold keys;
each decision is in the audit log."""

from __future__ import annotations

from pathlib import Path

import pytest

from strongroom.app.access import access_changes, approvals, operator_admin, policy
from strongroom.app.access.grants import Scope
from strongroom.app.errors import AccessDenied
from strongroom.app.keys import algorithms, signing
from strongroom.app.keys import tokens as key_tokens
from strongroom.app.keys.ports import KeyType
from strongroom.app.keyslots import PassphraseUnlocker, normalize_passphrase
from strongroom.app.vault import Vault

from conftest import PASSPHRASE
from helpers.softhsm import softhsm  # noqa: F401 - session fixture

BOB, CAROL = "bob pass phrase 5", "carol pass phrase 6"


def as_(path: Path, passphrase: str) -> Vault:
    v = Vault.open(path)
    v.unlock(PassphraseUnlocker.from_text(passphrase))
    return v


@pytest.fixture
def signer(softhsm, tmp_path):  # noqa: F811 - the imported session fixture
    token, store = key_tokens.open_store("pkcs11", token=softhsm.take_token(), pin=softhsm.pin)
    key = store.generate("release", KeyType.EcP256)
    path = tmp_path / "vault"
    with Vault.create(path, normalize_passphrase(PASSPHRASE), kdf_time_ms=10,
                      actor="alice") as v:
        operator_admin.add_operator(v, "bob", BOB.encode(), roles=["Custodian"], kdf_time_ms=10)
    doc = tmp_path / "doc.txt"
    doc.write_text("release notes")
    yield path, token, store, key, doc
    store.close()


def sign(vault: Vault, token, store, key, doc: Path, **kw) -> None:
    signing.sign_files(store, key, [doc], algorithms.default_algorithm(key), vault=vault,
                       token=token, out=doc.parent / "doc.txt.sig", **kw)


def test_signing_needs_a_grant_on_the_key_or_its_token(signer) -> None:
    path, token, store, key, doc = signer
    with as_(path, BOB) as bob:
        before = sorted(p.name for p in doc.parent.iterdir())
        with pytest.raises(AccessDenied, match="bob has no use grant on key 'release'"):
            sign(bob, token, store, key, doc)
        assert sorted(p.name for p in doc.parent.iterdir()) == before  # no signature written
    with as_(path, PASSPHRASE) as alice:
        access_changes.add_grant(alice, "bob", Scope("token", token.serial), "use",
                                 justification="release signing")
    with as_(path, BOB) as bob:
        sign(bob, token, store, key, doc)
        assert (doc.parent / "doc.txt.sig").exists()
    with as_(path, PASSPHRASE) as alice:
        [event] = alice.audit_events(action="keys.sign", outcome="ok")
        assert event.actor == "bob" and event.details["access"]["grant"] > 0
        [denied] = alice.audit_events(action="access.denied")
        assert denied.actor == "bob" and denied.target == "release"


def test_a_high_value_key_needs_a_second_operator(signer) -> None:
    path, token, store, key, doc = signer
    with as_(path, PASSPHRASE) as alice:
        operator_admin.add_operator(alice, "carol", CAROL.encode(), roles=["Custodian"],
                                    kdf_time_ms=10)
        access_changes.set_policy(alice, policy.Policy(high_value_keys=("release",)))
        with pytest.raises(AccessDenied, match="Signing with a high-value key is a two-person"):
            sign(alice, token, store, key, doc)
        assert not (doc.parent / "doc.txt.sig").exists()
        ok = approvals.approve(alice, "key.sign", key.key_id, "carol",
                               PassphraseUnlocker.from_text(CAROL))
        sign(alice, token, store, key, doc, approval=ok)
        [event] = alice.audit_events(action="keys.sign", outcome="ok")
        assert event.details["access"]["approval"]["approver"] == "carol"


def test_the_health_gate_holds_a_gated_key(signer) -> None:
    path, token, store, key, doc = signer
    with as_(path, PASSPHRASE) as alice:
        access_changes.set_policy(alice, policy.Policy(health_keys=("release",)))
        with pytest.raises(AccessDenied, match="device-health gate"):
            sign(alice, token, store, key, doc)
