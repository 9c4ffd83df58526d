"""Rollback layer 3 on swtpm: a vault bound to a TPM monotonic counter refuses an older copy of its
whole folder even when the rollback witness was deleted too (exit 3, naming the counter), accepts
the crash window between the increment and the header write, refuses when the counter cannot be
checked (no TPM, another TPM), and can be accepted, disabled and restored from a backup."""

from __future__ import annotations

import contextlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from strongroom.app.errors import (
    HeaderCorrupt,
    RollbackDetected,
    RollbackUnverifiable,
    VaultTampered,
)
from strongroom.app.header import Header
from strongroom.app.vault import HEADER_FILE, NewSecret, Vault
from strongroom.app.vault import counter as vault_counter
from strongroom.app.vault.witness import witness_file
from strongroom.backends.tpm import ENV_TCTI

from conftest import PASSPHRASE, make_vault, run_cli, snapshot, unlocker
from helpers.swtpm import (  # noqa: F401 - session fixtures
    esapi,
    other_swtpm_fixture,
    start_swtpm,
    swtpm_fixture,
)


def header_counter(path: Path):
    return Header.load(path / HEADER_FILE).counter


def tpm_value(path: Path) -> int:
    """The counter's value now, read through the vault (its unlock is a write: +1 first)."""
    with Vault.open(path) as vault:
        vault.unlock(unlocker())
        status = vault.counter_status()
    assert status.problem is None and status.binding is not None, status
    assert status.value == status.binding.value  # the header records what the TPM says
    return status.value


def add(path: Path, name: str, value: bytes = b"v") -> None:
    with Vault.open(path) as vault:
        vault.unlock(unlocker())
        vault.add_secret(NewSecret(name=name, value=value))


def put_back(old: Path, path: Path) -> None:
    """The whole folder replaced by an older copy, and the witness in the state dir deleted."""
    vault_id = Header.load(old / HEADER_FILE).vault_id
    shutil.rmtree(path)
    shutil.copytree(old, path)
    witness_file(vault_id, path).unlink(missing_ok=True)


@pytest.fixture
def tpm_env(swtpm, monkeypatch) -> dict[str, str]:
    monkeypatch.setenv(ENV_TCTI, swtpm.tcti)  # this process's vaults
    return {ENV_TCTI: swtpm.tcti}  # the CLI's


@pytest.fixture
def bound(tmp_path: Path, tpm_env, swtpm) -> Iterator[Path]:
    path = tmp_path / "v"
    make_vault(path).lock()
    done = run_cli("--json", "vault", "counter", "enable", vault=path, passphrases=[PASSPHRASE],
                   env=tpm_env)
    assert done.code == 0, done.err
    report = json.loads(done.out)
    assert report["enabled"] and report["counter"]["label"].startswith("TPM NV index 0x")
    yield path
    # The session's swtpm is shared: remove the index whatever the test left of the binding.
    with esapi(swtpm.tcti) as ctx, contextlib.suppress(Exception):
        ctx.nv_undefine_space(ctx.tr_from_tpmpublic(int(report["counter"]["handle"], 16)))


def test_the_binding_is_under_the_header_mac(bound) -> None:
    raw = json.loads((bound / HEADER_FILE).read_text())
    assert set(raw["counter"]) == {"backend", "handle", "device", "label", "value"}
    raw["counter"]["value"] += 5  # edited to match a counter moved on, say
    (bound / HEADER_FILE).write_text(json.dumps(raw))
    with Vault.open(bound) as vault, pytest.raises(VaultTampered, match="modified outside"):
        vault.unlock(unlocker())


@pytest.mark.parametrize("bad", [{"next": 9}, {"handle": -1}, {"value": "3"}, {"label": 7},
                                 {"backend": ""}, {"device": None}])
def test_a_malformed_binding_is_a_corrupt_header(tmp_path: Path, bad) -> None:
    path = tmp_path / "v"
    make_vault(path).lock()
    raw = json.loads((path / HEADER_FILE).read_text())
    assert "counter" not in raw  # an unbound header is as it was: older headers keep their MAC
    raw["counter"] = {"backend": "tpm-counter", "handle": 0x01800000, "device": "00",
                      "label": "TPM NV index 0x01800000", "value": 3, **bad}
    (path / HEADER_FILE).write_text(json.dumps(raw))
    with pytest.raises(HeaderCorrupt, match="corrupt"):
        Vault.open(path)


def test_enable_binds_the_vault_and_every_write_moves_the_counter(bound, tpm_env) -> None:
    binding = header_counter(bound)
    assert binding is not None and binding.next is None and binding.ref.backend == "tpm-counter"
    with Vault.open(bound) as vault:
        vault.unlock(unlocker())  # a write too (the unlock event): one step
        start = vault.header.counter.value
        assert start == binding.value + 1
        vault.add_secret(NewSecret(name="a", value=b"1"))
        vault.update_secret("a", b"2")
        vault.get_secret("a")  # a read is an audit event, so a write
        assert vault.header.counter.value == start + 3
        assert vault.counter_status().value == start + 3
    listed = run_cli("--json", "secret", "list", vault=bound, passphrases=[PASSPHRASE],
                     env=tpm_env)
    assert listed.code == 0, listed.err
    assert header_counter(bound).value > start + 3
    status = run_cli("--json", "vault", "counter", "status", vault=bound,
                     passphrases=[PASSPHRASE], env=tpm_env)
    assert status.code == 0 and json.loads(status.out)["reads"] == header_counter(bound).value
    with Vault.open(bound) as vault:
        vault.unlock(unlocker())
        [event] = vault.audit_events(action="vault.counter.enable")
        assert event.details["handle"] == f"0x{binding.ref.handle:08x}"


def test_an_older_whole_folder_with_its_witness_deleted_is_refused(bound, tmp_path,
                                                                    tpm_env) -> None:
    old = tmp_path / "old"
    add(bound, "prod/db", b"first value")
    shutil.copytree(bound, old)
    with Vault.open(bound) as vault:
        vault.unlock(unlocker())
        vault.update_secret("prod/db", b"second value")
    put_back(old, bound)
    before = snapshot(bound)
    result = run_cli("secret", "get", "prod/db", vault=bound, passphrases=[PASSPHRASE],
                     env=tpm_env)
    assert result.code == 3 and result.out == b"", result
    assert result.err.count("\n") == 1 and "internal error" not in result.err
    assert "2 write(s) behind its monotonic counter (TPM NV index 0x" in result.err
    assert "rollback" in result.err and "accept-rollback" in result.err
    assert snapshot(bound) == before  # nothing written: the old value cannot come back
    with Vault.open(bound) as vault, pytest.raises(RollbackDetected) as caught:
        vault.unlock(unlocker())
    assert (caught.value.behind, caught.value.events) == ("vault folder", 2)


def test_without_the_counter_the_same_put_back_opens(tmp_path) -> None:
    """What layer 3 adds: the first two layers cannot see a folder put back with its witness."""
    path, old = tmp_path / "v", tmp_path / "old"
    make_vault(path).lock()
    add(path, "prod/db", b"first value")
    shutil.copytree(path, old)
    add(path, "later")
    put_back(old, path)
    got = run_cli("secret", "get", "prod/db", vault=path, passphrases=[PASSPHRASE])
    assert (got.code, got.out) == (0, b"first value")


def test_accept_rollback_resyncs_the_header_to_the_counter(bound, tmp_path, tpm_env) -> None:
    old = tmp_path / "old"
    shutil.copytree(bound, old)
    add(bound, "later")
    put_back(old, bound)
    done = run_cli("--json", "vault", "accept-rollback", vault=bound, passphrases=[PASSPHRASE],
                   env=tpm_env)
    assert done.code == 0, done.err
    accepted = json.loads(done.out)["accepted"]
    assert accepted["behind"] == "vault folder" and "monotonic counter" in accepted["reason"]
    assert header_counter(bound) is not None  # still bound, and level with the counter again
    opened = run_cli("secret", "list", vault=bound, passphrases=[PASSPHRASE], env=tpm_env)
    assert opened.code == 0, opened.err
    assert tpm_value(bound) == header_counter(bound).value
    with Vault.open(bound) as vault:
        vault.unlock(unlocker())
        [event] = vault.audit_events(action="vault.rollback.accept")
        assert event.details["events"] == accepted["events"]


class Crash(Exception):
    """Stands for the process dying between two steps of a write."""


def test_a_crash_between_the_increment_and_the_header_write_is_accepted(bound, monkeypatch,
                                                                       tpm_env) -> None:
    real_advance = vault_counter.advance

    def advance_then_die(vault, header):
        real_advance(vault, header)  # the TPM has moved
        raise Crash

    with Vault.open(bound) as vault:
        vault.unlock(unlocker())
        monkeypatch.setattr(vault_counter, "advance", advance_then_die)
        with pytest.raises(Crash):
            vault.add_secret(NewSecret(name="committed", value=b"v"))
        monkeypatch.setattr(vault_counter, "advance", real_advance)
    left = header_counter(bound)
    assert left.next == left.value + 1  # the header on disk announced the step it missed
    with Vault.open(bound) as vault:
        vault.unlock(unlocker())  # the counter is at `next`: a crash, not a rollback
        assert vault.get_secret("committed") == b"v"
    assert tpm_value(bound) == header_counter(bound).value


def test_a_header_one_behind_that_announced_nothing_is_refused(bound, tmp_path,
                                                               tpm_env) -> None:
    """The crash window is not a free step back: a finished older header is one behind too."""
    old = tmp_path / "old"
    with Vault.open(bound) as vault:
        vault.unlock(unlocker())
        shutil.copytree(bound, old)  # after this unlock's header write: one write to go back
        vault.add_secret(NewSecret(name="gone", value=b"v"))
    put_back(old, bound)
    with Vault.open(bound) as vault, pytest.raises(RollbackDetected, match="1 write"):
        vault.unlock(unlocker())


def test_master_key_rotation_and_a_passphrase_change_keep_the_binding(bound, tpm_env) -> None:
    """The header is rewritten under a new master key; the counter's authorisation value lives in
    the database, which the rekey keeps, and the count goes on."""
    with Vault.open(bound) as vault:
        vault.unlock(unlocker())
        vault.rotate_all()
        assert vault.counter_status().value == vault.header.counter.value
    changed = run_cli("passphrase", "change", vault=bound,
                      passphrases=[PASSPHRASE, "quartz walrus meadow lantern 31"], env=tpm_env)
    assert changed.code == 0, changed.err
    with Vault.open(bound) as vault:
        vault.unlock(unlocker("quartz walrus meadow lantern 31"))
        status = vault.counter_status()
        assert status.problem is None and status.value == status.binding.value


@pytest.mark.parametrize("where", ["missing socket", "default device"])
def test_no_tpm_refuses_in_one_sentence_and_accepting_unbinds(bound, tmp_path, where) -> None:
    env = {ENV_TCTI: f"swtpm:path={tmp_path / 'no-such-socket'}"} if where == "missing socket" \
        else {}  # the default, /dev/tpmrm0: absent here
    before = snapshot(bound)
    result = run_cli("secret", "list", vault=bound, passphrases=[PASSPHRASE], env=env)
    assert result.code == 3, result
    assert result.err.count("\n") == 1 and "internal error" not in result.err
    assert "monotonic counter (TPM NV index 0x" in result.err
    assert "cannot be checked" in result.err and "does not answer" in result.err
    assert "accept-rollback" in result.err and "unbinds the counter" in result.err
    assert snapshot(bound) == before
    done = run_cli("--json", "vault", "accept-rollback", vault=bound, passphrases=[PASSPHRASE],
                   env=env)
    assert done.code == 0, done.err
    assert "cannot be checked" in json.loads(done.out)["accepted"]["reason"]
    assert header_counter(bound) is None
    assert run_cli("secret", "list", vault=bound, passphrases=[PASSPHRASE], env=env).code == 0


def test_another_tpm_is_refused_and_named(bound, other_swtpm) -> None:
    result = run_cli("secret", "list", vault=bound, passphrases=[PASSPHRASE],
                     env={ENV_TCTI: other_swtpm.tcti})
    assert result.code == 3 and result.err.count("\n") == 1, result
    assert "made on another TPM" in result.err
    assert header_counter(bound) is not None  # refused, not unbound


def test_disable_unbinds_removes_the_index_and_an_older_bound_copy_is_refused(
        bound, tmp_path, tpm_env, swtpm) -> None:
    old = tmp_path / "old"
    shutil.copytree(bound, old)
    handle = header_counter(bound).ref.handle
    done = run_cli("--json", "vault", "counter", "disable", vault=bound,
                   passphrases=[PASSPHRASE], env=tpm_env)
    assert done.code == 0, done.err
    assert json.loads(done.out)["removed"] is True
    assert header_counter(bound) is None
    with esapi(swtpm.tcti) as ctx, pytest.raises(Exception, match="handle"):
        ctx.tr_from_tpmpublic(handle)
    with Vault.open(bound) as vault:
        vault.unlock(unlocker())
        assert [e.details["handle"] for e in vault.audit_events(action="vault.counter.disable")] \
            == [f"0x{handle:08x}"]
    again = run_cli("vault", "counter", "disable", vault=bound, passphrases=[PASSPHRASE],
                    env=tpm_env)
    assert again.code == 1 and "not bound" in again.err
    put_back(old, bound)  # a copy from before the disable names a counter that is gone
    with Vault.open(bound) as vault, pytest.raises(RollbackUnverifiable,
                                                   match="no longer defined"):
        vault.unlock(unlocker())


def test_enable_twice_and_enable_without_a_tpm_are_one_sentence(bound, tmp_path,
                                                                tpm_env) -> None:
    twice = run_cli("vault", "counter", "enable", vault=bound, passphrases=[PASSPHRASE],
                    env=tpm_env)
    assert twice.code == 1 and "already bound" in twice.err and twice.err.count("\n") == 1
    plain = tmp_path / "plain"
    make_vault(plain).lock()
    none = run_cli("vault", "counter", "enable", vault=plain, passphrases=[PASSPHRASE],
                   env={ENV_TCTI: f"swtpm:path={tmp_path / 'no-such-socket'}"})
    assert none.code == 1 and none.err.count("\n") == 1, none
    assert "no monotonic counter can be made here" in none.err
    assert header_counter(plain) is None
    status = run_cli("vault", "counter", "status", vault=plain, passphrases=[PASSPHRASE])
    assert status.code == 0 and "not bound" in status.text


def test_a_backup_restored_as_a_new_folder_is_not_bound_and_the_original_still_is(
        bound, tmp_path, tpm_env) -> None:
    archive, copy = tmp_path / "v.backup", tmp_path / "copy"
    made = run_cli("backup", "create", str(archive), vault=bound, passphrases=[PASSPHRASE],
                   env=tpm_env)
    assert made.code == 0, made.err
    add(bound, "after the backup")
    restored = run_cli("backup", "restore", str(archive), "--to", str(copy), vault=bound,
                       passphrases=[PASSPHRASE], env=tpm_env)
    assert restored.code == 0, restored.err
    assert header_counter(copy) is None
    with Vault.open(copy) as vault:
        vault.unlock(unlocker())
        [event] = vault.audit_events(action="backup.restore")
        assert event.details["counter_unbound"].startswith("TPM NV index 0x")
    assert run_cli("secret", "list", vault=bound, passphrases=[PASSPHRASE],
                   env=tpm_env).code == 0


def test_a_tpm_whose_state_was_put_back_is_behind_the_folder(tmp_path, monkeypatch) -> None:
    """A snapshot of a software or virtual TPM restored under a vault that moved on."""
    state = tmp_path / "tpm"
    tpm = start_swtpm(state)
    try:
        monkeypatch.setenv(ENV_TCTI, tpm.tcti)
        path = tmp_path / "v"
        make_vault(path).lock()
        with Vault.open(path) as vault:
            vault.unlock(unlocker())
            vault.enable_counter()
    finally:
        tpm.stop()
    saved = tmp_path / "tpm-saved"
    shutil.copytree(state, saved, ignore=shutil.ignore_patterns("sock*", "*.log"))
    tpm = start_swtpm(state)
    try:
        add(path, "a")
        add(path, "b")
    finally:
        tpm.stop()
    for f in saved.iterdir():
        shutil.copy2(f, state / f.name)
    tpm = start_swtpm(state)
    try:
        with Vault.open(path) as vault, pytest.raises(RollbackDetected) as caught:
            vault.unlock(unlocker())
        assert caught.value.behind == "counter" and caught.value.events == 4
        assert "TPM's own state was put back" in str(caught.value)
    finally:
        tpm.stop()
