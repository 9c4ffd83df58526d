"""An older header (in a backup, a copied folder) plus an old passphrase or a removed unlock
method must not open today's database: changing the passphrase and removing a method rotate the
master key when they can, and say so when they cannot."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from keyrings.alt.file import PlaintextKeyring

from strongroom.app import database
from strongroom.app.errors import Refused, VaultTampered
from strongroom.app.header import Header
from strongroom.app.keyslots import PassphraseUnlocker, normalize_passphrase, unwrap_master_key
from strongroom.app.vault import HEADER_FILE, NewSecret, Vault
from strongroom.backends.keyring import KeyringSource

from conftest import OTHER_PASSPHRASE, PASSPHRASE, make_vault, run_cli, unlocker


def _old_master(header_bytes: bytes, passphrase: str) -> bytes:
    """What someone holding an old header and its passphrase can unwrap, with no Strongroom."""
    header = Header.from_bytes(header_bytes)
    slot = next(s for s in header.slots if s.kind == "passphrase")
    kek = PassphraseUnlocker.from_text(passphrase).derive_kek(slot)
    master = unwrap_master_key(kek, slot, header.vault_id)
    assert master is not None
    return master


def test_a_passphrase_change_rotates_the_master_key_so_an_old_header_opens_nothing(
    vault_dir: Path,
) -> None:
    old_header = (vault_dir / HEADER_FILE).read_bytes()
    database.connect(vault_dir / "vault.db", _old_master(old_header, PASSPHRASE)).close()
    done = run_cli("--json", "passphrase", "change", vault=vault_dir,
                   passphrases=[PASSPHRASE, OTHER_PASSPHRASE])
    assert done.code == 0, done
    report = json.loads(done.out)
    assert report == {"changed": True, "rekeyed": True, "not_rekeyed_because": None}
    with pytest.raises(VaultTampered):
        database.connect(vault_dir / "vault.db", _old_master(old_header, PASSPHRASE))
    with Vault.open(vault_dir) as vault:
        vault.unlock(unlocker(OTHER_PASSPHRASE))
        actions = [e.action for e in vault.audit_events()]
        assert "passphrase.change" in actions and "vault.rekey" in actions
        assert vault.audit_verify().ok


def test_no_rekey_keeps_the_master_key_and_says_what_that_means(vault_dir: Path) -> None:
    old_header = (vault_dir / HEADER_FILE).read_bytes()
    done = run_cli("passphrase", "change", "--no-rekey", vault=vault_dir,
                   passphrases=[PASSPHRASE, OTHER_PASSPHRASE])
    assert done.code == 0, done
    assert "not rotated (--no-rekey was given)" in done.out.decode()
    assert "still opens this database" in done.out.decode()
    database.connect(vault_dir / "vault.db", _old_master(old_header, PASSPHRASE)).close()


def test_with_another_unlock_method_the_change_happens_and_says_why_not_rekeyed(
    tmp_path: Path,
) -> None:
    keyring = PlaintextKeyring()
    keyring.file_path = str(tmp_path / "keyring.cfg")
    vault = make_vault(tmp_path / "v")
    vault.add_hardware_slot(KeyringSource(keyring), label="laptop keyring")
    with pytest.raises(Refused, match="re-wraps only the keyslot used to unlock"):
        vault.change_passphrase(normalize_passphrase(PASSPHRASE),
                                normalize_passphrase(OTHER_PASSPHRASE), rekey=True)
    # Without insisting it changes the passphrase and reports that the key stayed.
    assert vault.change_passphrase(normalize_passphrase(PASSPHRASE),
                                   normalize_passphrase(OTHER_PASSPHRASE)) is False
    vault.lock()
    with Vault.open(vault.path) as again:
        again.unlock(unlocker(OTHER_PASSPHRASE))


def test_removing_an_unlock_method_rotates_the_master_key(tmp_path: Path) -> None:
    keyring = PlaintextKeyring()
    keyring.file_path = str(tmp_path / "keyring.cfg")
    vault = make_vault(tmp_path / "v")
    slot = vault.add_hardware_slot(KeyringSource(keyring), label="laptop keyring")
    vault.add_secret(NewSecret(name="k", value=b"value"))
    with_keyring = vault.header_path.read_bytes()
    old_master = _old_master(with_keyring, PASSPHRASE)
    assert vault.remove_slot(slot.id) is True
    assert vault.get_secret("k") == b"value"
    with pytest.raises(VaultTampered):
        database.connect(vault.path / "vault.db", old_master)
    vault.lock()
    with Vault.open(vault.path) as again:
        again.unlock(unlocker(PASSPHRASE))
        assert again.get_secret("k") == b"value"
