"""The recovery keyslot (app/ceremony/recovery.py): any M of N custodians' SLIP-39 shares open the
vault, through the app layer and the CLI (`--unlock recovery`, shares on `--passphrase-fd`);
M-1 shares, or a share of another set, are refused and change nothing."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from strongroom.app.ceremony import recovery, shares
from strongroom.app.errors import AuthenticationFailed, HeaderCorrupt
from strongroom.app.keyslots import Keyslot, KeyslotUnlocker, WrappedKey
from strongroom.app.model import Classification
from strongroom.app.unlock_methods import inventory_warnings, slot_inventory
from strongroom.app.vault import NewSecret, Vault

from conftest import PASSPHRASE, make_vault, run_cli, snapshot, unlocker

NAMES = ["alice", "bob", "carol", "dave"]


@pytest.fixture
def made(tmp_path: Path) -> tuple[Path, recovery.RecoverySetup]:
    path = tmp_path / "v"
    with make_vault(path) as v:
        v.add_secret(NewSecret("crit", b"critical value", Classification.Critical))
        setup = recovery.create_recovery_slot(v, 3, NAMES, iteration_exponent=0)
    return path, setup


def words(setup: recovery.RecoverySetup, *indexes: int) -> list[str]:
    return [setup.shares[i - 1].mnemonic for i in indexes]


def test_the_slot_holds_nothing_secret_and_is_audited(made) -> None:
    path, setup = made
    slot = setup.slot
    assert isinstance(recovery.RecoveryUnlocker([]), KeyslotUnlocker)
    assert slot.kind == "recovery" and slot.label == "Recovery (3 of 4 shares)"
    assert set(slot.params) == {"set", "threshold", "count", "kek_salt"}
    assert (slot.params["set"], slot.params["threshold"], slot.params["count"]) == (
        setup.share_set.id, 3, 4)
    assert setup.share_set.slot_id == slot.id and setup.share_set.purpose == "vault-recovery"
    with Vault.open(path) as v:
        v.unlock(unlocker())
        assert v.header.slot(slot.id) is not None
        [added] = v.audit_events(action="keyslot.add")
        assert added.target == slot.id and added.details["kind"] == "recovery"
        assert added.details["threshold"] == 3 and added.details["count"] == 4
        [created] = v.audit_events(action="shares.create")
        assert created.details["custodians"] == NAMES and created.details["slot"] == slot.id


def test_any_m_shares_open_the_vault_as_its_creator(made) -> None:
    path, setup = made
    for chosen in itertools.combinations(range(1, 5), 3):
        with Vault.open(path) as v:
            v.unlock(recovery.RecoveryUnlocker(words(setup, *chosen)))
            assert v._unlocked_keys.slot_id == setup.slot.id
            # The slot carries its creator's operator key: their Critical values open.
            assert v.get_secret("crit") == b"critical value"
        slot = Vault.open(path).header.slot(setup.slot.id)
        assert slot is not None and slot.last_used is not None


def test_m_minus_one_or_another_sets_share_is_refused_and_changes_nothing(made, tmp_path) -> None:
    path, setup = made
    with make_vault(tmp_path / "other") as other:
        foreign = recovery.create_recovery_slot(other, 3, NAMES, iteration_exponent=0)
    before = snapshot(path)
    for given, why in ((words(setup, 1, 2), "exactly 3"),
                       (words(setup, 1, 2) + words(foreign, 3), "share 3 is of another"),
                       (words(setup, 1, 2, 3, 4), "exactly 3"),
                       ([words(setup, 1)[0][:-4], *words(setup, 2, 3)], "share 1: ")):
        with Vault.open(path) as v, pytest.raises(AuthenticationFailed, match=why) as e:
            v.unlock(recovery.RecoveryUnlocker(given))
        assert "\n" not in str(e.value) and not v.unlocked
        assert snapshot(path) == before
    # All M shares of another vault's set combine, but their key opens nothing here.
    with Vault.open(path) as v, pytest.raises(AuthenticationFailed, match="does not open"):
        v.unlock(recovery.RecoveryUnlocker(words(foreign, 1, 2, 3)))
    assert not v.unlocked


def test_an_edited_or_malformed_slot_opens_nothing(made) -> None:
    _, setup = made
    bad = Keyslot("x", "recovery", "x", {"set": "s", "threshold": "3", "count": 4,
                                         "kek_salt": "AAAA"}, WrappedKey(b"", b""), "now")
    with pytest.raises(HeaderCorrupt):
        recovery.RecoveryUnlocker(words(setup, 1, 2, 3)).derive_kek(bad)
    assert recovery.shares_needed([setup.slot]) == 3


def test_inventory_lists_m_of_n_and_the_last_drill(made) -> None:
    path, setup = made
    header = Vault.open(path).header
    [status] = [s for s in slot_inventory(header.slots) if s.slot.kind == "recovery"]
    assert status.assurance == "possession: 3 of 4 SLIP-39 shares (never drilled)"
    assert not status.two_factor
    assert not any("does not know" in w for w in inventory_warnings(header.slots))
    with Vault.open(path) as v:
        v.unlock(unlocker())
        shares.drill(v, setup.share_set.id, "dave", words(setup, 4)[0])
        day = v.header.slot(setup.slot.id).last_tested[:10]
    [status] = [s for s in slot_inventory(Vault.open(path).header.slots)
                if s.slot.kind == "recovery"]
    assert status.assurance == f"possession: 3 of 4 SLIP-39 shares (last drill {day})"


# ----- the command line ---------------------------------------------------------------------------


def test_recovery_from_the_command_line(tmp_path: Path) -> None:
    vault = tmp_path / "v"
    assert run_cli("init", "--kdf-time-ms", "10", vault=vault, passphrases=[PASSPHRASE]).code == 0
    bad = run_cli("shares", "create-recovery", "--threshold", "3", "--custodian", "a",
                  "--custodian", "b", vault=vault, passphrases=[PASSPHRASE])
    assert bad.code == 2 and bad.err.count("\n") == 1, bad.err

    made = run_cli("--json", "shares", "create-recovery", "--threshold", "2", "--custodian",
                   "alice", "--custodian", "bob", "--custodian", "carol", vault=vault,
                   passphrases=[PASSPHRASE])
    assert made.code == 0, made.err
    out = json.loads(made.out)
    given = [s["share"] for s in out["shares"]]
    assert [s["custodian"] for s in out["shares"]] == ["alice", "bob", "carol"]
    assert "never again" in out["notice"] and out["slot"]["kind"] == "recovery"
    set_id, slot_id = out["set"]["id"], out["slot"]["id"]

    opened = run_cli("--unlock", "recovery", "--json", "secret", "list", vault=vault,
                     passphrases=[given[2], given[0]])
    assert opened.code == 0, opened.err

    before = snapshot(vault)
    short = run_cli("--unlock", "recovery", "secret", "list", vault=vault,
                    passphrases=[given[1]])
    assert short.code == 4 and short.err.count("\n") == 1, short.err
    assert "exactly 2" in short.err and given[1].split()[5] not in short.err
    assert snapshot(vault) == before

    listed = run_cli("--json", "unlock-method", "list", vault=vault)
    [row] = [r for r in json.loads(listed.out)["slots"] if r["kind"] == "recovery"]
    assert row["id"] == slot_id and row["last_used"]
    assert row["assurance"] == "possession: 2 of 3 SLIP-39 shares (never drilled)"
    assert json.loads(listed.out)["available"]["recovery"]["ok"]

    # A drill: the share on the line after the passphrase, or after the unlock's shares.
    drilled = run_cli("--json", "shares", "drill", set_id, "--custodian", "bob", vault=vault,
                      passphrases=[PASSPHRASE, given[1]])
    assert drilled.code == 0, drilled.err
    assert json.loads(drilled.out)["index"] == 2 and not json.loads(drilled.out)["overdue"]
    again = run_cli("shares", "drill", set_id, "--custodian", "carol", "--unlock", "recovery",
                    vault=vault, passphrases=[given[0], given[1], given[2]])
    assert again.code == 0 and "carol holds share 3" in again.text, again.err
    wrong = run_cli("shares", "drill", set_id, "--custodian", "alice", vault=vault,
                    passphrases=[PASSPHRASE, given[1]])
    assert wrong.code == 4 and "holder 2" in wrong.err
    table = run_cli("unlock-method", "list", vault=vault).text
    assert "possession: 2 of 3 SLIP-39 shares (last drill 20" in table
    sets = json.loads(run_cli("--json", "shares", "list", vault=vault,
                              passphrases=[PASSPHRASE]).out)
    assert [h["last_drill"] is not None for h in sets[0]["holders"]] == [False, True, True]
    assert sets[0]["slot"] == slot_id and not sets[0]["retired"]

    removed = run_cli("unlock-method", "remove", slot_id, vault=vault, passphrases=[PASSPHRASE])
    assert removed.code == 0, removed.err
    gone = run_cli("--unlock", "recovery", "secret", "list", vault=vault,
                   passphrases=given[:2])
    assert gone.code == 4 and "no recovery keyslot" in gone.err
    sets = json.loads(run_cli("--json", "shares", "list", vault=vault,
                              passphrases=[PASSPHRASE]).out)
    assert sets[0]["retired"]


def test_create_recovery_prints_a_block_per_custodian(tmp_path: Path) -> None:
    vault = tmp_path / "v"
    assert run_cli("init", "--kdf-time-ms", "10", vault=vault, passphrases=[PASSPHRASE]).code == 0
    made = run_cli("shares", "create-recovery", "--threshold", "2", "--custodian", "ann",
                   "--custodian", "ben", "--label", "Board safe", vault=vault,
                   passphrases=[PASSPHRASE])
    assert made.code == 0, made.err
    text = made.text
    assert "shown now and never again" in text and "(Board safe)" in text
    blocks = text.split("=====")
    assert "share 1 of 2 for ann" in text and "share 2 of 2 for ben" in text
    assert sum("end of" in b for b in blocks) == 2
    numbered = [line for line in text.splitlines() if line.lstrip().startswith("1. ")]
    assert len(numbered) == 2
