"""Audit checkpoints in the console: signed from Keys & Signing on a real SoftHSM2 token, checked
by the Audit Log's "Verify chain" over the same real vault, clicked offscreen.

One token of this module's own is used throughout, in order: log in, generate a key, sign a
checkpoint by clicking; a wrong PIN in the checkpoint's own PIN dialog; then the Audit Log says
untrusted, valid once the exported public key is trusted, and INVALID after a consistent rewrite
of the history (what someone holding the vault's keys could do).
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import json
from collections.abc import Iterator
from typing import Any

import pytest
from PySide6.QtCore import Qt

from strongroom.app.crypto import canonical_json
from strongroom.app.errors import BackendUnavailable
from strongroom.app.keys import algorithms, checkpoints
from strongroom.app.keys import tokens as key_tokens
from strongroom.app.keys.checkpoints import ACTION, Status
from strongroom.app.keys.ports import KeyType
from strongroom.ui.audit.section import AuditSection
from strongroom.ui.keys.dialogs import TokenPinDialog
from strongroom.ui.keys.inventory import token_key
from strongroom.ui.keys.model import KeyNode, TokenNode, selection_of
from strongroom.ui.keys.section import KeysSection
from strongroom.ui.workers import Task

from conftest import make_vault
from helpers.audit_rewrite import rechain
from helpers.softhsm import SoftHsm, softhsm  # noqa: F401
from helpers.ui_services import NoClipboard, make_services

WAIT_MS = 60_000
KEY_LABEL = "checkpoint-signer"



@pytest.fixture(scope="module")
def token(softhsm: SoftHsm) -> str:  # noqa: F811 - the imported fixture
    """The label of this module's own SoftHSM2 token."""
    return softhsm.take_token()


@pytest.fixture(scope="module")
def world(qapp, tmp_path_factory: pytest.TempPathFactory, token: str) -> Iterator[dict]:
    """One vault, one Keys section and one Audit section for the module (steps build on each
    other)."""
    base = tmp_path_factory.mktemp("ui-checkpoints")
    harness = make_services(base / "console.ini", lambda _s: NoClipboard())
    pkcs11 = key_tokens.load_provider("pkcs11")

    def providers(name: str) -> Any:
        if name == "pkcs11":
            return pkcs11
        raise BackendUnavailable("no TPM in this test")

    vault = make_vault(base / "vault")
    keys = KeysSection(harness.services, providers=providers)
    keys.resize(1100, 700)
    keys.show()
    audit = AuditSection(harness.services)
    world = {"harness": harness, "vault": vault, "keys": keys, "audit": audit, "base": base}
    yield world
    keys.vault_locked()
    audit.vault_locked()
    keys.hw.wait()
    harness.services.runner.wait()
    vault.lock()
    for section in (keys, audit):
        section.close()
        section.deleteLater()


def finish(qtbot, task: Task | None) -> None:
    assert task is not None
    qtbot.waitUntil(lambda: task.done, timeout=WAIT_MS)


def idle(qtbot, section: KeysSection) -> None:
    qtbot.waitUntil(lambda: section.task is None, timeout=WAIT_MS)


def nodes(section: KeysSection) -> list:
    return [section.model.node(i) for i in section.model.indexes()]


def token_node(section: KeysSection, label: str) -> TokenNode:
    return next(n for n in nodes(section) if isinstance(n, TokenNode)
                and n.token.info.label == label)


def key_node(section: KeysSection, label: str) -> KeyNode:
    [node] = [n for n in nodes(section) if isinstance(n, KeyNode)
              and n.token.info.label == label]
    return node


def select(section: KeysSection, node: Any) -> None:
    section.select(selection_of(node))
    assert section.selected() == node


def checkpoint_events(vault: Any) -> list:
    return vault.audit_events(action=ACTION)


@pytest.fixture
def keys(qtbot, world: dict) -> KeysSection:
    section = world["keys"]
    if section.vault is None:
        section.vault_unlocked(world["vault"])
    qtbot.waitUntil(lambda: section.task is None and section.model.rowCount() > 0,
                    timeout=WAIT_MS)
    return section


@pytest.fixture
def audit(qtbot, world: dict) -> AuditSection:
    section = world["audit"]
    if section.vault is None:
        section.vault_unlocked(world["vault"])
    qtbot.waitUntil(lambda: not section.model.loading, timeout=WAIT_MS)
    return section


# ----- Keys & Signing ----------------------------------------------------------------------------


def test_clicking_sign_audit_checkpoint_records_a_checkpoint_that_verifies(
    qtbot, keys: KeysSection, world: dict, softhsm: SoftHsm, token: str  # noqa: F811
) -> None:
    vault, harness = world["vault"], world["harness"]
    select(keys, token_node(keys, token))
    assert not keys.checkpoint_button.isEnabled()  # a token, not a key
    dialog = keys.ask_login()
    assert dialog is not None
    dialog.pin.setText(softhsm.pin)
    dialog.ok_button.click()
    qtbot.waitUntil(lambda: keys.pin_dialog is None, timeout=WAIT_MS)
    idle(qtbot, keys)
    finish(qtbot, keys.generate(token_node(keys, token).token.info, KeyType.EcP256, KEY_LABEL))
    qtbot.waitUntil(lambda: keys.task is None and any(
        isinstance(n, KeyNode) for n in nodes(keys)), timeout=WAIT_MS)
    node = world["node"] = key_node(keys, token)
    select(keys, node)
    assert keys.checkpoint_button.isEnabled()
    head = vault.audit_verify().head
    assert checkpoint_events(vault) == []

    qtbot.mouseClick(keys.checkpoint_button, Qt.MouseButton.LeftButton)
    assert keys.task is not None and not keys.checkpoint_button.isEnabled()  # in the worker
    idle(qtbot, keys)

    assert harness.errors == []
    assert harness.statuses[-1] == f"Checkpoint of audit event {head.seq} signed by {KEY_LABEL}."
    [event] = checkpoint_events(vault)
    assert event.outcome == "ok" and event.details["seq"] == head.seq
    assert event.details["head_hash"] == head.hash.hex()
    assert event.details["fingerprint"] == node.key.fingerprint
    pem = algorithms.public_pem(node.key.public_key)
    trusted = checkpoints.verify_checkpoints(vault, trusted_keys=[pem])
    assert [r.status for r in trusted.results] == [Status.Valid] and trusted.ok
    # Signed by the token's key, not merely recorded: nobody vouching means untrusted.
    assert [r.status for r in checkpoints.verify_checkpoints(vault).results] == \
        [Status.Untrusted]
    assert keys.checkpoint_button.isEnabled()


def test_scheduled_checkpoints_sign_while_logged_in_and_stop_at_logout(
    qtbot, keys: KeysSection, world: dict, token: str
) -> None:
    vault, harness = world["vault"], world["harness"]
    node = world["node"]
    keys.ms_per_hour = 150  # an "hour" of 150 ms
    select(keys, node)
    before = len(checkpoint_events(vault))
    keys.schedule_row.hours.setValue(1)
    qtbot.mouseClick(keys.schedule_row.on, Qt.MouseButton.LeftButton)
    assert keys.scheduled == node and keys.schedule_row.on.isChecked()
    assert harness.statuses[-1] == (f"An audit checkpoint will be signed with {KEY_LABEL} every "
                                    "1 h while the vault is open.")
    qtbot.waitUntil(lambda: len(checkpoint_events(vault)) >= before + 2, timeout=WAIT_MS)
    assert harness.errors == []

    select(keys, token_node(keys, token))
    finish(qtbot, keys.logout_selected())  # the session goes: nothing signs without a prompt
    qtbot.waitUntil(lambda: keys.scheduled is None, timeout=WAIT_MS)
    idle(qtbot, keys)
    assert harness.errors[-1] == (f"Scheduled checkpoints stopped: log in to {token} first "
                                  "(the console never keeps a PIN).")
    assert not keys.schedule_row.on.isChecked()
    after = len(checkpoint_events(vault))
    qtbot.wait(400)  # two more "hours": no tick signs
    assert len(checkpoint_events(vault)) == after


def test_a_schedule_is_refused_for_keys_that_would_prompt(
    keys: KeysSection, world: dict, token: str
) -> None:
    from dataclasses import replace

    errors = world["harness"].errors
    node = world["node"]
    assert keys.stores == {}  # logged out by the test before
    assert keys.unattended_refusal(node) == (f"log in to {token} first (the console never "
                                             "keeps a PIN)")
    tpm = replace(node, token=replace(node.token, info=replace(node.token.info, store="tpm")))
    assert keys.unattended_refusal(tpm) is None  # a TPM key without a PIN signs unprompted
    guarded = replace(tpm, key=replace(tpm.key, needs_pin=True))
    assert "has a PIN" in (keys.unattended_refusal(guarded) or "")
    select(keys, token_node(keys, token))  # no key selected
    keys.schedule_row.on.click()
    assert not keys.schedule_row.on.isChecked() and keys.scheduled is None
    assert errors[-1] == ("Scheduled checkpoints need a key usable without a PIN prompt: "
                          "select a key.")


def test_a_wrong_pin_signs_no_checkpoint_and_says_so_in_the_dialog(
    qtbot, keys: KeysSection, world: dict, softhsm: SoftHsm, token: str  # noqa: F811
) -> None:
    vault = world["vault"]
    node = world["node"]  # as listed while logged in
    assert keys.stores == {}  # no session held: the checkpoint must ask the PIN
    before = len(checkpoint_events(vault))
    logins = len(vault.audit_events(action="keys.login", outcome="failed"))

    dialog = keys.ask_checkpoint(node)
    assert isinstance(dialog, TokenPinDialog) and dialog.ok_button.text() == "Sign checkpoint"
    dialog.pin.setText("999999")
    dialog.ok_button.click()
    assert dialog.pin.text() == ""  # handed over once, not kept
    qtbot.waitUntil(lambda: dialog.error.isVisible(), timeout=WAIT_MS)
    idle(qtbot, keys)
    assert "wrong PIN" in dialog.error.text()
    assert dialog.isVisible() and keys.pin_dialog is dialog
    assert len(checkpoint_events(vault)) == before
    assert len(vault.audit_events(action="keys.login", outcome="failed")) == logins + 1
    assert "999999" not in repr(vault.audit_events(limit=3))

    # The right PIN in the same dialog signs, and the session is not kept.
    dialog.pin.setText(softhsm.pin)
    dialog.ok_button.click()
    qtbot.waitUntil(lambda: keys.pin_dialog is None, timeout=WAIT_MS)
    idle(qtbot, keys)
    assert len(checkpoint_events(vault)) == before + 1
    assert world["harness"].statuses[-1].endswith(f"signed by {KEY_LABEL}.")
    assert token_key(node.token.info) not in keys.stores
    assert softhsm.pin not in repr(vault.audit_events(limit=3))


# ----- Audit Log ---------------------------------------------------------------------------------


def test_verify_chain_reports_the_checkpoints_as_untrusted(
    qtbot, audit: AuditSection, world: dict
) -> None:
    n = world["checkpoints"] = len(checkpoint_events(world["vault"]))
    assert n >= 4  # clicked, scheduled twice, after the wrong PIN
    task = audit.verify_chain()
    assert not audit.verify_button.isEnabled()
    finish(qtbot, task)
    assert "intact" in audit.verify_label.text()
    text = audit.checkpoint_label.text()
    assert text.startswith(f"Checkpoints: {n} (0 valid, {n} untrusted, 0 invalid)")
    assert "strongroom audit verify --hardware" in text and "INVALID" not in text
    assert audit.checkpoint_label.isVisibleTo(audit)
    assert audit.checkpoint_label.property("role") != "error"


def test_trusting_the_exported_public_key_makes_them_valid(
    qtbot, audit: AuditSection, keys: KeysSection, world: dict
) -> None:
    pem = world["base"] / "signer.pub.pem"
    finish(qtbot, keys.export_public(world["node"], pem))  # the key as listed while logged in
    finish(qtbot, audit.trust_key_file(pem))
    n, text = world["checkpoints"], audit.checkpoint_label.text()
    assert text.startswith(f"Checkpoints: {n} ({n} valid, 0 untrusted, 0 invalid)")
    assert f"signed by {KEY_LABEL}" in text and "signer.pub.pem" in text
    assert audit.checkpoint_label.property("role") == "ok"
    assert audit.trusted_files == [pem]


def test_a_file_that_is_not_a_public_key_is_refused_in_one_sentence(
    qtbot, audit: AuditSection, world: dict
) -> None:
    errors = world["harness"].errors
    errors.clear()
    bogus = world["base"] / "notes.txt"
    bogus.write_text("not a key")
    kept = list(audit.trusted_files)
    finish(qtbot, audit.trust_key_file(bogus))
    assert len(errors) == 1 and errors[0].startswith("notes.txt: not a public key")
    assert audit.trusted_files == kept


def test_a_rewritten_history_shows_the_checkpoints_invalid(
    qtbot, audit: AuditSection, world: dict
) -> None:
    vault, harness = world["vault"], world["harness"]

    def forge(seq: int, _action: str, details: str) -> str:
        if seq == 1:
            return canonical_json({**json.loads(details), "forged": True}).decode()
        return details

    rechain(vault, forge)
    finish(qtbot, audit.verify_chain())
    assert "intact" in audit.verify_label.text()  # the chain alone cannot tell
    n, text = world["checkpoints"], audit.checkpoint_label.text()
    assert text.startswith(f"Checkpoints: {n} (0 valid, 0 untrusted, {n} invalid)")
    assert text.count("is INVALID") == n and "history was rewritten" in text
    assert audit.checkpoint_label.property("role") == "error"
    assert "color:" in audit.checkpoint_label.styleSheet()
    assert "INVALID" in harness.statuses[-1]


def test_locking_forgets_the_trusted_files_and_the_verdict(audit: AuditSection) -> None:
    assert audit.trusted_files
    audit.vault_locked()
    assert audit.trusted_files == [] and not audit.checkpoint_label.isVisibleTo(audit)
    assert audit.verify_chain() is None and audit.trust_key_file("x.pem") is None
