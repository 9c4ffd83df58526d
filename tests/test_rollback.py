"""Anti-rollback: a vault folder whose database or header was put back from an older copy is
refused before anything writes (exit 3, one sentence naming what is behind and by how much)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from strongroom.app.errors import RollbackDetected, VaultTampered
from strongroom.app.vault import BACKOFF_FILE, DB_FILE, HEADER_FILE, NewSecret, Vault
from strongroom.app.vault.witness import witness_file

from conftest import PASSPHRASE, make_vault, run_cli, snapshot, unlocker


def _add(path: Path, name: str, value: bytes = b"v") -> None:
    with Vault.open(path) as vault:
        vault.unlock(unlocker())
        vault.add_secret(NewSecret(name=name, value=value))


def _copy(path: Path, name: str, to: Path) -> None:
    to.mkdir(exist_ok=True)
    shutil.copy2(path / name, to / name)


@pytest.fixture
def old_and_new(tmp_path: Path) -> tuple[Path, Path]:
    """A vault with one secret saved aside (old/), then changed: the value superseded, one added."""
    path, old = tmp_path / "v", tmp_path / "old"
    make_vault(path).lock()
    _add(path, "prod/db", b"first value")
    _copy(path, DB_FILE, old)
    _copy(path, HEADER_FILE, old)
    with Vault.open(path) as vault:
        vault.unlock(unlocker())
        vault.update_secret("prod/db", b"second value")
    _add(path, "later")
    return path, old


def test_an_older_database_put_back_is_refused_with_exit_3(old_and_new) -> None:
    path, old = old_and_new
    shutil.copy2(old / DB_FILE, path / DB_FILE)
    before = snapshot(path)
    result = run_cli("audit", "verify", vault=path, passphrases=[PASSPHRASE])
    assert result.code == 3, result
    assert result.err.count("\n") == 1 and "database" in result.err and "behind" in result.err
    assert "rollback" in result.err and "internal error" not in result.err
    # Nothing was written: the superseded value cannot come back through a read either.
    assert snapshot(path) == before
    result = run_cli("secret", "get", "prod/db", vault=path, passphrases=[PASSPHRASE])
    assert result.code == 3 and result.out == b""


def test_the_refusal_says_how_many_events_behind(old_and_new) -> None:
    path, old = old_and_new
    with Vault.open(path) as vault:
        vault.unlock(unlocker())
        current = vault._log.head().seq
    shutil.copy2(old / DB_FILE, path / DB_FILE)
    with Vault.open(path) as vault:
        with pytest.raises(RollbackDetected) as caught:
            vault.unlock(unlocker())
        assert not vault.unlocked
    # The old copy ends at its anchor; the live header at `current`, less the unlock we did.
    assert caught.value.behind == DB_FILE and caught.value.events > 0
    assert f"{caught.value.events} audit event(s) behind" in str(caught.value)
    assert caught.value.events < current


def test_an_older_header_alone_is_refused_with_exit_3(old_and_new) -> None:
    path, old = old_and_new
    shutil.copy2(old / HEADER_FILE, path / HEADER_FILE)
    before = snapshot(path)
    result = run_cli("secret", "list", vault=path, passphrases=[PASSPHRASE])
    assert result.code == 3, result
    assert "header" in result.err and "behind" in result.err and result.err.count("\n") == 1
    assert snapshot(path) == before
    with Vault.open(path) as vault, pytest.raises(RollbackDetected) as caught:
        vault.unlock(unlocker())
    assert caught.value.behind == HEADER_FILE


def test_database_and_header_of_different_histories_are_refused(tmp_path: Path) -> None:
    """Same vault, same length of history, but another branch of it: neither is 'behind'."""
    path, fork = tmp_path / "v", tmp_path / "fork"
    make_vault(path).lock()
    shutil.copytree(path, fork)
    _add(path, "a")
    _add(fork, "b")
    shutil.copy2(fork / DB_FILE, path / DB_FILE)
    with Vault.open(path) as vault, pytest.raises(VaultTampered, match="disagree"):
        vault.unlock(unlocker())


def test_a_whole_older_folder_put_back_is_refused_by_the_witness(old_and_new) -> None:
    """Database and header put back together agree with each other; the witness in the state
    directory remembers the newer head this machine saw."""
    path, old = old_and_new
    shutil.copy2(old / DB_FILE, path / DB_FILE)
    shutil.copy2(old / HEADER_FILE, path / HEADER_FILE)
    before = snapshot(path)
    result = run_cli("secret", "get", "prod/db", vault=path, passphrases=[PASSPHRASE])
    assert result.code == 3 and result.out == b"", result
    assert "vault folder is" in result.err and "behind the state last seen here" in result.err
    assert "accept-rollback" in result.err and result.err.count("\n") == 1
    assert snapshot(path) == before


def test_accept_rollback_opens_it_on_purpose_and_audits_it(old_and_new) -> None:
    path, old = old_and_new
    shutil.copy2(old / DB_FILE, path / DB_FILE)
    shutil.copy2(old / HEADER_FILE, path / HEADER_FILE)
    done = run_cli("--json", "vault", "accept-rollback", vault=path, passphrases=[PASSPHRASE])
    assert done.code == 0, done
    report = json.loads(done.out)
    assert report["accepted"]["behind"] == "vault folder" and report["accepted"]["events"] > 0
    # From now on the folder is the truth: it opens, the old value is back, the audit log says why.
    got = run_cli("secret", "get", "prod/db", vault=path, passphrases=[PASSPHRASE])
    assert (got.code, got.out) == (0, b"first value")
    with Vault.open(path) as vault:
        vault.unlock(unlocker())
        events = vault.audit_events(action="vault.rollback.accept")
        assert [e.details["behind"] for e in events] == ["vault folder"]
        assert vault.audit_verify().ok
    again = run_cli("vault", "accept-rollback", vault=path, passphrases=[PASSPHRASE])
    assert again.code == 0 and "Nothing to accept" in again.out.decode()


def test_accept_rollback_also_takes_an_older_database_alone(old_and_new) -> None:
    path, old = old_and_new
    shutil.copy2(old / DB_FILE, path / DB_FILE)
    with Vault.open(path) as vault:
        accepted = vault.accept_rollback(unlocker())
        assert accepted is not None and accepted.behind == DB_FILE
        assert vault.get_secret("prod/db") == b"first value"
    with Vault.open(path) as vault:
        vault.unlock(unlocker())  # anchored and witnessed at the accepted head
        assert vault.audit_verify().ok


def test_accept_rollback_still_needs_the_passphrase(old_and_new) -> None:
    path, old = old_and_new
    shutil.copy2(old / DB_FILE, path / DB_FILE)
    before = snapshot(path)
    result = run_cli("vault", "accept-rollback", vault=path, passphrases=["wrong passphrase 123"])
    assert result.code == 4
    assert {k: v for k, v in snapshot(path).items() if k != BACKOFF_FILE} == {
        k: v for k, v in before.items() if k != BACKOFF_FILE}


def test_a_copy_restored_elsewhere_on_purpose_has_its_own_witness(tmp_path: Path) -> None:
    """`backup restore` into a new folder gives a vault of the same id that opens, and using it
    does not make the original look rolled back (each folder has its own witness)."""
    path = tmp_path / "v"
    make_vault(path).lock()
    _add(path, "a")
    backup = tmp_path / "b.srbk"
    assert run_cli("backup", "create", str(backup), vault=path, passphrases=[PASSPHRASE]).code == 0
    restored = tmp_path / "restored"
    assert run_cli("backup", "restore", str(backup), "--to", str(restored),
                   passphrases=[PASSPHRASE]).code == 0
    _add(restored, "only-in-the-copy")
    _add(path, "only-in-the-original")
    for folder in (path, restored):
        listed = run_cli("secret", "list", vault=folder, passphrases=[PASSPHRASE])
        assert listed.code == 0, listed


def test_without_its_witness_a_whole_folder_rollback_is_not_seen(old_and_new) -> None:
    """The documented limit of this layer: whoever can delete the witness too goes unseen here
    (the TPM counter and checkpoint files outside the machine are for that)."""
    path, old = old_and_new
    shutil.copy2(old / DB_FILE, path / DB_FILE)
    shutil.copy2(old / HEADER_FILE, path / HEADER_FILE)
    with Vault.open(path) as vault:
        witness_file(vault.vault_id, path).unlink()
        vault.unlock(unlocker())
        assert vault.get_secret("prod/db") == b"first value"


def test_a_write_interrupted_between_commit_and_header_still_opens(vault: Vault) -> None:
    """The header announces the head a commit will leave; a crash right after the commit leaves
    the database at that announced head, which unlock accepts (then anchors)."""
    vault.add_secret(NewSecret(name="a", value=b"1"))
    header_path = vault.header_path
    saved = vault._save_header
    vault._save_header = lambda header: None  # the post-commit header write never happens
    try:
        vault.add_secret(NewSecret(name="b", value=b"2"))
    finally:
        vault._save_header = saved
    on_disk = vault._fresh_header()
    head = vault._log.head()
    assert on_disk.anchor != head and on_disk.pending == head
    path = vault.path
    vault.lock()
    assert header_path.exists()
    with Vault.open(path) as again:
        again.unlock(unlocker())
        assert again.get_secret("b") == b"2"
        assert again._fresh_header().pending is None
        assert again.audit_verify().ok


def test_a_write_by_another_process_between_open_and_unlock_is_no_rollback(
        tmp_path: Path) -> None:
    """open() reads the header; a write elsewhere before this unlock moves header and database on
    together, which is no rollback: the unlock reads them again under the write lock."""
    path = tmp_path / "v"
    make_vault(path).lock()
    slow = Vault.open(path)  # a process that read the header, then waited (a KDF, a prompt)
    with Vault.open(path) as other:
        other.unlock(unlocker())
        other.add_secret(NewSecret(name="meanwhile", value=b"v"))
    slow.unlock(unlocker())
    try:
        assert [s.name for s in slow.list_secrets()] == ["meanwhile"]
    finally:
        slow.lock()
    # and a header put back after that write is still refused
    _copy(path, HEADER_FILE, tmp_path / "old")
    _add(path, "later")
    shutil.copy2(tmp_path / "old" / HEADER_FILE, path / HEADER_FILE)
    with pytest.raises(RollbackDetected):
        Vault.open(path).unlock(unlocker())
