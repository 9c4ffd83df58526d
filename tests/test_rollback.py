"""Anti-rollback: a vault folder whose database or header was put back from an older copy is
refused before anything writes (exit 3, one sentence naming what is behind and by how much)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from strongroom.app.errors import RollbackDetected, VaultTampered
from strongroom.app.vault import DB_FILE, HEADER_FILE, NewSecret, Vault

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


def test_a_whole_older_folder_is_consistent_and_still_opens(old_and_new) -> None:
    """Database and header put back together agree with each other: this layer alone cannot
    see it (the witness outside the folder does)."""
    path, old = old_and_new
    shutil.copy2(old / DB_FILE, path / DB_FILE)
    shutil.copy2(old / HEADER_FILE, path / HEADER_FILE)
    with Vault.open(path) as vault:
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
