"""The OS-keyring keyslot, on a real file keyring (keyrings.alt), through the vault and the CLI.

What every unlock method shares (availability, forget and remove, another keyring's slot,
tampered params, two-factor, no secret in public) is checked by the contract in
tests/test_slot_source_contract.py."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from keyring.backends import fail
from keyrings.alt.file import PlaintextKeyring

from strongroom.app import unlock_methods
from strongroom.app.errors import (
    AuthenticationFailed,
    HardwareError,
    NotFound,
    Refused,
    UsageError,
    WrongDevice,
)
from strongroom.app.unlock_methods import HardwareUnlocker
from strongroom.app.vault import Vault
from strongroom.backends.keyring import SERVICE, KeyringSource

from conftest import PASSPHRASE, make_vault, run_cli, snapshot, unlocker

KEYRING_ENV = {"PYTHON_KEYRING_BACKEND": "keyrings.alt.file.PlaintextKeyring"}


@pytest.fixture
def file_keyring(tmp_path: Path) -> PlaintextKeyring:
    kr = PlaintextKeyring()
    kr.file_path = str(tmp_path / "keyring" / "keyring_pass.cfg")
    return kr


def test_enrol_then_unlock_with_the_keyring_alone(tmp_path: Path, file_keyring) -> None:
    vault = make_vault(tmp_path / "v")
    source = KeyringSource(file_keyring)
    slot = vault.add_hardware_slot(source, label="laptop keyring")
    assert slot.kind == "keyring" and slot.params["service"] == SERVICE
    vault.lock()

    stored = file_keyring.get_password(SERVICE, slot.params["entry"])
    assert stored is not None
    # The header keeps the entry name, never the slot key.
    header = (tmp_path / "v" / "header.json").read_text()
    assert stored not in header

    reopened = Vault.open(tmp_path / "v")
    reopened.unlock(HardwareUnlocker(source, reopened.vault_id))
    assert reopened.unlocked
    events = reopened.audit_events(action="vault.unlock")
    assert events[-1].details == {"slot": slot.id, "kind": "keyring"}
    assert reopened.header.slot(slot.id).last_used is not None
    reopened.lock()


def test_an_entry_gone_from_the_keyring_refuses_and_keeps_the_vault_locked(
    tmp_path: Path, file_keyring
) -> None:
    vault = make_vault(tmp_path / "v")
    source = KeyringSource(file_keyring)
    slot = vault.add_hardware_slot(source, label="kr")
    vault.lock()
    file_keyring.delete_password(SERVICE, slot.params["entry"])
    reopened = Vault.open(tmp_path / "v")
    with pytest.raises(WrongDevice, match="holds no key for this vault"):
        reopened.unlock(HardwareUnlocker(source, reopened.vault_id))
    assert not reopened.unlocked


def test_a_damaged_or_swapped_entry_does_not_open_the_vault(tmp_path: Path, file_keyring) -> None:
    vault = make_vault(tmp_path / "v")
    source = KeyringSource(file_keyring)
    slot = vault.add_hardware_slot(source, label="kr")
    vault.lock()
    entry = slot.params["entry"]
    file_keyring.set_password(SERVICE, entry, "not base64 !!")
    with pytest.raises(WrongDevice, match="damaged"):
        Vault.open(tmp_path / "v").unlock(HardwareUnlocker(source, vault.vault_id))
    # A well-formed but different key: the AES-GCM unwrap fails and counts as a failed unlock.
    file_keyring.set_password(SERVICE, entry, "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE=")
    reopened = Vault.open(tmp_path / "v")
    with pytest.raises(AuthenticationFailed, match="keyring key does not open this vault"):
        reopened.unlock(HardwareUnlocker(source, reopened.vault_id))
    assert not reopened.unlocked


def test_slot_admin_rules(tmp_path: Path, file_keyring) -> None:
    vault = make_vault(tmp_path / "v")
    source = KeyringSource(file_keyring)
    passphrase_slot = vault.header.slots[0]
    with pytest.raises(Refused, match="only keyslot"):
        vault.remove_slot(passphrase_slot.id)
    kr = vault.add_hardware_slot(source, label="kr")
    with pytest.raises(Refused, match="last passphrase keyslot"):
        vault.remove_slot(passphrase_slot.id)
    with pytest.raises(NotFound):
        vault.remove_slot("nosuchid")
    vault.rename_slot(kr.id, "renamed")
    assert vault.header.slot(kr.id).label == "renamed"
    with pytest.raises(UsageError):
        vault.rename_slot(kr.id, "  ")
    vault.test_slot(kr.id, HardwareUnlocker(source, vault.vault_id))
    assert vault.header.slot(kr.id).last_tested is not None
    file_keyring.delete_password(SERVICE, kr.params["entry"])
    with pytest.raises(WrongDevice):
        vault.test_slot(kr.id, HardwareUnlocker(source, vault.vault_id))
    outcomes = [e.outcome for e in vault.audit_events(action="keyslot.test")]  # newest first
    assert outcomes == ["failed", "ok"]
    assert any("keyring" in w for w in unlock_methods.inventory_warnings(vault.header.slots))
    vault.lock()
    # The header changes above stay MAC-valid: the vault still opens by passphrase.
    Vault.open(tmp_path / "v").unlock(unlocker())


def test_availability_says_why_not() -> None:
    assert not KeyringSource(fail.Keyring()).available().ok
    assert "no OS credential store" in KeyringSource(fail.Keyring()).available().reason
    implicit = KeyringSource()
    implicit._backend = PlaintextKeyring()  # as if keyring had picked it by priority
    reason = implicit.available()
    assert not reason.ok and "PYTHON_KEYRING_BACKEND" in reason.reason
    assert KeyringSource(PlaintextKeyring()).available().ok
    with pytest.raises(HardwareError, match="no OS credential store"):
        KeyringSource(fail.Keyring()).enrol(vault_id="x", label="l", options={}, prompts=None)


def test_the_cli_adds_lists_unlocks_with_and_removes_a_keyring_slot(tmp_path: Path) -> None:
    vault = tmp_path / "v"
    env = {**KEYRING_ENV, "XDG_DATA_HOME": str(tmp_path / "data")}
    assert run_cli("init", "--kdf-time-ms", "10", vault=vault, passphrases=[PASSPHRASE]).code == 0
    added = run_cli("unlock-method", "add", "keyring", "--json", vault=vault,
                    passphrases=[PASSPHRASE], env=env)
    assert added.code == 0, added.err
    slot_id = json.loads(added.out)["slot"]["id"]
    listed = json.loads(run_cli("unlock-method", "list", "--json", vault=vault, env=env).out)
    assert [s["kind"] for s in listed["slots"]] == ["passphrase", "keyring"]
    assert listed["available"]["keyring"]["ok"] is True
    assert any("keyring" in w for w in listed["warnings"])

    # No passphrase at all: the keyring opens the vault.
    shown = run_cli("--unlock", "keyring", "secret", "list", "--json", vault=vault, env=env)
    assert shown.code == 0, shown.err
    tested = run_cli("--unlock", "keyring", "unlock-method", "test", slot_id, "--json",
                     vault=vault, env=env)
    assert tested.code == 0 and json.loads(tested.out)["ok"] is True

    # Another user's (empty) keyring: exit 4, one line, nothing changed.
    before = snapshot(vault)
    other = run_cli("--unlock", "keyring", "secret", "list", vault=vault,
                    env={**KEYRING_ENV, "XDG_DATA_HOME": str(tmp_path / "other")})
    assert other.code == 4 and other.err.count("\n") == 1
    assert "holds no key for this vault" in other.err
    assert snapshot(vault) == before

    removed = run_cli("unlock-method", "remove", slot_id, vault=vault, passphrases=[PASSPHRASE],
                      env=env)
    assert removed.code == 0, removed.err
    gone = run_cli("--unlock", "keyring", "secret", "list", vault=vault, env=env)
    assert gone.code == 4 and "no keyring keyslot" in gone.err


def test_the_cli_refuses_bad_requests_in_one_line(tmp_path: Path) -> None:
    vault = tmp_path / "v"
    assert run_cli("init", "--kdf-time-ms", "10", vault=vault, passphrases=[PASSPHRASE]).code == 0
    before = snapshot(vault)
    cases = [
        (("unlock-method", "add", "smartcard"), 2),
        (("unlock-method", "add", "tpm", "--pcrs", "7,x"), 2),
        (("unlock-method", "remove", "nosuchid"), 1),
        (("--unlock", "carrier-pigeon", "secret", "list"), 2),
    ]
    for args, code in cases:
        result = run_cli(*args, vault=vault, passphrases=[PASSPHRASE],
                         env={"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"})
        assert result.code == code, (args, result.err)
        assert result.err.count("\n") == 1 and result.err.startswith("strongroom: ")
        assert snapshot(vault) == before
    # The default keyring here is the plaintext file store: refused unless chosen explicitly.
    implicit = run_cli("unlock-method", "add", "keyring", vault=vault, passphrases=[PASSPHRASE],
                       env={"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"})
    assert implicit.code == 1 and "no OS credential store" in implicit.err
    assert snapshot(vault) == before
    assert os.environ.get("PYTHON_KEYRING_BACKEND") is None
