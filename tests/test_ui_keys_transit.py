"""The Keys section's inventory (ui/keys/inventory.collect, which the section runs on its worker)
shows OpenBao Transit keys through the unlocked vault's remotes, against a real bao server: each
remote with a Transit mount is a token and its keys are listed; with no vault it says why."""

from __future__ import annotations

from pathlib import Path

from strongroom.app.keys.ports import KeyType
from strongroom.app.remotes import config as remote_config
from strongroom.app.remotes.config import Remote
from strongroom.ui.keys.inventory import Backends, collect, open_store

from conftest import make_vault
from helpers.openbao import BaoServer, openbao  # noqa: F401


def test_transit_keys_are_listed_through_the_vaults_remotes(
        openbao: BaoServer, tmp_path: Path) -> None:  # noqa: F811
    openbao.cli("secrets", "enable", "transit")
    openbao.cli("write", "-f", "transit/keys/release-signing", "type=ecdsa-p256")
    vault = make_vault(tmp_path / "vault")
    try:
        remote_config.add_remote(
            vault, Remote("team", openbao.url, "", "secret", "transit", "token",
                          credential_secret=remote_config.credential_name("team", "token")),
            openbao.root_token.encode(), remote_config.default_level(vault))
        backends = Backends()
        [view] = [m for m in collect(backends, {}, vault).modules if m.store == "transit"]
        assert not view.error, view.error
        [token] = view.tokens
        assert token.info.label == "team" and not token.note, token.note
        assert [k.label for k in token.keys] == ["release-signing"]

        # a key made from the console's store is listed on the next refresh
        store = open_store(backends, token.info, None, vault)
        try:
            store.generate("made-here", KeyType.EcP256)
        finally:
            store.close()
        [view] = [m for m in collect(backends, {}, vault).modules if m.store == "transit"]
        assert sorted(k.label for k in view.tokens[0].keys) == ["made-here", "release-signing"]
    finally:
        vault.lock()


def test_without_a_vault_the_transit_store_says_why() -> None:
    [view] = [m for m in collect(Backends(), {}, None).modules if m.store == "transit"]
    assert "needs the vault" in view.error and not view.tokens
