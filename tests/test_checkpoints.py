"""Audit checkpoints signed in hardware (SoftHSM2, swtpm): made, verified, and caught out.

A consistent rewrite of the audit chain (what someone holding the vault's keys could do) still
verifies as a chain, but no longer matches the hardware-signed checkpoints; a checkpoint by a key
the verifier does not know is untrusted, never valid.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from strongroom.app.crypto import canonical_json
from strongroom.app.errors import StrongroomError, VaultTampered
from strongroom.app.keys import algorithms, checkpoints
from strongroom.app.keys import tokens as key_tokens
from strongroom.app.keys.checkpoints import ACTION, Status
from strongroom.app.keys.ports import KeyType

from conftest import PASSPHRASE, Result, make_vault, run_cli
from helpers.audit_rewrite import rechain
from helpers.cli_checks import one_line_error
from helpers.softhsm import USER_PIN, softhsm  # noqa: F401 - session fixture
from helpers.swtpm import swtpm_fixture  # noqa: F401 - session fixture

# ----- in-process, on a SoftHSM2 token ------------------------------------------------------------


@pytest.fixture(scope="module")
def hsm(softhsm):  # noqa: F811 - the imported session fixture
    provider = key_tokens.load_provider("pkcs11")
    label = softhsm.take_token()
    token = key_tokens.choose_token(provider.tokens(softhsm.module), label)
    store = provider.open(token, softhsm.pin)
    key = store.generate("checkpoint signer", KeyType.EcP256)
    yield token, store, key
    store.close()


def test_a_checkpoint_is_signed_recorded_and_trusted_on_the_hardware(vault, hsm):
    token, store, key = hsm
    head = vault.audit_verify().head
    cp = checkpoints.create_checkpoint(vault, store, key, token=token)
    assert (cp.seq, cp.head_hash) == (head.seq, head.hash.hex())
    assert cp.fingerprint == key.fingerprint and cp.vault_id == vault.vault_id
    event = vault.audit_events(action=ACTION)[0]
    assert event.seq == head.seq + 1
    assert event.details["signature"] == base64.b64encode(cp.signature).decode()
    assert event.details["token_serial"] == token.serial and event.details["key_id"] == key.key_id
    assert algorithms.verify(key.public_key, cp.payload(), cp.signature, cp.algorithm)
    assert cp.payload().startswith(b"strongroom/v1/audit-checkpoint{")
    report = checkpoints.verify_checkpoints(vault, hardware_keys=store.list_keys())
    assert report.ok and [r.status for r in report.results] == [Status.Valid]
    assert report.results[0].trusted_by == "hardware"
    assert report.to_json()["last_valid_seq"] == head.seq


def test_an_unknown_signer_is_untrusted_until_trusted_by_file(vault, hsm, tmp_path):
    token, store, key = hsm
    checkpoints.create_checkpoint(vault, store, key, token=token)
    report = checkpoints.verify_checkpoints(vault)
    assert not report.ok
    assert report.results[0].status is Status.Untrusted
    assert "unknown key" in report.results[0].reason
    pem = algorithms.public_pem(key.public_key)
    trusted = checkpoints.verify_checkpoints(vault, trusted_keys=[pem])
    assert trusted.ok and trusted.results[0].trusted_by == "trust-file"


def test_a_failed_attempt_is_audited_but_is_no_checkpoint(vault, hsm, softhsm):  # noqa: F811
    token, store, key = hsm
    provider = key_tokens.load_provider("pkcs11")
    gone = provider.open(token, softhsm.pin)
    gone.close()  # a session that ended (token pulled, logout) before the signature
    with pytest.raises(StrongroomError):
        checkpoints.create_checkpoint(vault, gone, key, token=token)
    [failed] = vault.audit_events(action=ACTION)
    assert failed.outcome == "failed" and "signature" not in failed.details
    assert checkpoints.verify_checkpoints(vault).results == ()
    checkpoints.create_checkpoint(vault, store, key, token=token)
    pem = algorithms.public_pem(key.public_key)
    report = checkpoints.verify_checkpoints(vault, trusted_keys=[pem])
    assert report.ok and [r.status for r in report.results] == [Status.Valid]


def test_a_rewritten_history_fails_its_checkpoint(vault, hsm):
    token, store, key = hsm
    checkpoints.create_checkpoint(vault, store, key, token=token)
    first = vault.audit_events(before_seq=2)[0]

    def forge(seq, action, details):
        if seq == first.seq:
            return canonical_json({**json.loads(details), "forged": True}).decode()
        return details

    rechain(vault, forge)
    report = checkpoints.verify_checkpoints(vault, hardware_keys=[key])
    assert not report.ok
    assert report.results[0].status is Status.Invalid
    assert "history was rewritten" in report.results[0].reason


def test_deleting_the_signed_events_fails_the_checkpoint(vault, hsm):
    token, store, key = hsm
    for _ in range(3):
        vault.record("test.event", "x")
    cp = checkpoints.create_checkpoint(vault, store, key, token=token)
    # Move the checkpoint down to the place of a deleted event and rechain: its seq is gone.
    with vault._write() as conn:
        conn.execute("DELETE FROM audit WHERE seq >= ? AND action != ?", (cp.seq - 2, ACTION))
        conn.execute("UPDATE audit SET seq = ? WHERE action = ?", (cp.seq - 2, ACTION))
    rechain(vault)
    result = checkpoints.verify_checkpoints(vault, hardware_keys=[key]).results[0]
    assert result.status is Status.Invalid and "no event" in result.reason


def test_a_tampered_checkpoint_signature_is_invalid(vault, hsm):
    token, store, key = hsm
    checkpoints.create_checkpoint(vault, store, key, token=token)

    def flip(seq, action, details):
        if action != ACTION:
            return details
        d = json.loads(details)
        d["head_hash"] = "00" * 32
        return canonical_json(d).decode()

    rechain(vault, flip)
    result = checkpoints.verify_checkpoints(vault, hardware_keys=[key]).results[0]
    assert result.status is Status.Invalid and "does not verify" in result.reason


def test_a_forged_checkpoint_by_a_software_key_is_never_valid(vault, hsm):
    """Someone with the vault's keys can sign the head with their own key: it stays untrusted
    unless that very key is trusted, and it never passes as the hardware's."""
    _token, store, _key = hsm
    forger = ec.generate_private_key(ec.SECP256R1())
    spki = forger.public_key().public_bytes(serialization.Encoding.DER,
                                            serialization.PublicFormat.SubjectPublicKeyInfo)
    head = vault.audit_verify().head
    message = checkpoints.payload(vault.vault_id, head.seq, head.hash.hex())
    signature = forger.sign(message, ec.ECDSA(hashes.SHA256()))
    vault.record(ACTION, f"seq {head.seq}", details={
        "seq": head.seq, "head_hash": head.hash.hex(), "vault_id": vault.vault_id,
        "store": "pkcs11", "token_serial": "x", "key_id": "01", "key_label": "checkpoint signer",
        "fingerprint": hashlib.sha256(spki).hexdigest(),
        "algorithm": "ecdsa-sha256", "public_key": base64.b64encode(spki).decode(),
        "signature": base64.b64encode(signature).decode(),
    })
    result = checkpoints.verify_checkpoints(vault, hardware_keys=store.list_keys()).results[0]
    assert result.status is Status.Untrusted


def test_a_checkpoint_for_another_vault_is_invalid(vault, hsm, tmp_path):
    token, store, key = hsm
    other = make_vault(tmp_path / "other")
    try:
        checkpoints.create_checkpoint(other, store, key, token=token)
        event = other.audit_events(action=ACTION)[0]
    finally:
        other.lock()
    vault.record(ACTION, event.target, details=event.details)
    result = checkpoints.verify_checkpoints(vault, hardware_keys=[key]).results[0]
    assert result.status is Status.Invalid and "another vault" in result.reason


def test_a_malformed_checkpoint_event_is_invalid(vault, hsm):
    vault.record(ACTION, "seq 1", details={"seq": 1})
    result = checkpoints.verify_checkpoints(vault).results[0]
    assert result.status is Status.Invalid and "not a well-formed checkpoint" in result.reason


def test_no_checkpoint_over_a_broken_chain(vault, hsm):
    token, store, key = hsm
    with vault._write() as conn:
        conn.execute("UPDATE audit SET target = 'changed' WHERE seq = 1")
    with pytest.raises(VaultTampered, match="no checkpoint was signed"):
        checkpoints.create_checkpoint(vault, store, key, token=token)
    assert vault.audit_events(action=ACTION) == []


@pytest.mark.parametrize("key_type", [KeyType.EcP384, KeyType.Rsa3072, KeyType.Ed25519])
def test_checkpoints_with_each_key_type(vault, hsm, key_type):
    token, store, _ = hsm
    key = store.generate(f"cp-{key_type.value}", key_type)
    cp = checkpoints.create_checkpoint(vault, store, key, token=token)
    assert cp.algorithm == algorithms.default_algorithm(key)
    assert checkpoints.verify_checkpoints(vault, hardware_keys=[key]).ok


def test_a_checkpoint_signed_by_a_tpm_key(vault, swtpm, monkeypatch):
    monkeypatch.setenv("STRONGROOM_TPM_TCTI", swtpm.tcti)
    provider = key_tokens.load_provider("tpm")
    [token] = provider.tokens()
    store = provider.open(token, None, blobs=vault)
    try:
        key = store.generate("tpm checkpoint", KeyType.EcP256)
        cp = checkpoints.create_checkpoint(vault, store, key, token=token)
        assert cp.store == "tpm"
        report = checkpoints.verify_checkpoints(vault, hardware_keys=store.list_keys())
    finally:
        store.close()
    assert report.ok and report.results[0].trusted_by == "hardware"


# ----- the CLI ----------------------------------------------------------------------------------

CLI_TOKEN = "checkpoints-cli"


def cli(*args: str, vault: Path, pin: str | None = None) -> Result:
    return run_cli(*args, vault=vault, passphrases=[PASSPHRASE],
                   pins=None if pin is None else [pin])


def test_cli_checkpoint_and_verify(softhsm, tmp_path):  # noqa: F811 - the imported fixture
    softhsm.add_token(CLI_TOKEN)
    path = tmp_path / "vault"
    make_vault(path).lock()
    made = cli("--json", "keys", "generate", "--token", CLI_TOKEN, "--label", "auditor",
               "--type", "ec-p256", vault=path, pin=USER_PIN)
    assert made.code == 0, made.err
    pub = tmp_path / "auditor.pem"
    assert cli("keys", "export-pub", "--token", CLI_TOKEN, "--key", "auditor", "--out",
               str(pub), vault=path, pin=USER_PIN).code == 0

    signed = cli("--json", "audit", "checkpoint", "--token", CLI_TOKEN, "--key", "auditor",
                 vault=path, pin=USER_PIN)
    assert signed.code == 0, signed.err
    cp = json.loads(signed.out)
    assert cp["fingerprint"] == json.loads(made.out)["fingerprint"]

    # Nobody vouches for the signer: reported as untrusted; the chain alone is judged (exit 0)
    # unless trust is required.
    untrusted = cli("--json", "audit", "verify", vault=path)
    assert untrusted.code == 0, untrusted.err
    report = json.loads(untrusted.out)
    assert report["ok"] is True  # the chain itself is intact
    assert report["checkpoints"]["untrusted"] == 1
    text = cli("audit", "verify", vault=path)
    assert "UNTRUSTED" in text.text and "Checkpoints: 1" in text.text and "--trust" in text.text
    assert cli("audit", "verify", "--require-trusted", vault=path).code == 3
    stranger = tmp_path / "stranger.pem"
    stranger.write_bytes(ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    assert cli("audit", "verify", "--trust", str(stranger), vault=path).code == 3

    trusted = cli("--json", "audit", "verify", "--trust", str(pub), vault=path)
    assert trusted.code == 0, trusted.err
    assert json.loads(trusted.out)["checkpoints"]["last_valid_seq"] == cp["seq"]
    on_token = cli("--json", "audit", "verify", "--hardware", "--token", CLI_TOKEN, vault=path,
                   pin=USER_PIN)
    assert on_token.code == 0, on_token.err
    assert json.loads(on_token.out)["checkpoints"]["results"][0]["trusted_by"] == "hardware"

    # The history is rewritten consistently: the chain verifies, the checkpoint does not.
    from strongroom.app.keyslots import PassphraseUnlocker
    from strongroom.app.vault import Vault

    vault = Vault.open(path)
    vault.unlock(PassphraseUnlocker.from_text(PASSPHRASE))
    try:
        rechain(vault, lambda seq, action, details: (
            canonical_json({**json.loads(details), "x": 1}).decode() if seq == 1 else details))
    finally:
        vault.lock()
    rewritten = cli("audit", "verify", "--trust", str(pub), vault=path)
    assert rewritten.code == 3
    assert "INVALID" in rewritten.text and "history was rewritten" in rewritten.text

    one_line_error(cli("audit", "checkpoint", "--token", CLI_TOKEN, "--key", "auditor",
                       vault=path, pin="999999"), 4, "wrong PIN")
    one_line_error(cli("audit", "verify", "--trust", str(tmp_path / "none.pem"), vault=path),
                   1, "no public key file")
