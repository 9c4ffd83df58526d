"""Failed unlocks: serialised (no lost update), counted before the KDF runs, kept in two places,
and refused outright when the record cannot be read (a record that cannot be written, on a full
disk, is tested in test_bad_input.py: exit 1, nothing tried, nothing changed)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from strongroom.app.errors import BackingOff, BackoffUnusable, WrongPassphrase
from strongroom.app.keyslots import normalize_passphrase
from strongroom.app.vault import BACKOFF_FILE, Vault
from strongroom.app.vault.witness import backoff_file

from conftest import OTHER_PASSPHRASE, PASSPHRASE, run_cli, secret_pipes, snapshot, unlocker


def _failures(path: Path) -> int:
    return int(json.loads((path / BACKOFF_FILE).read_text())["failures"])


def _vault_id(path: Path) -> str:
    return str(json.loads((path / "header.json").read_text())["vault_id"])


def test_parallel_wrong_guesses_are_each_counted_and_queue_behind_the_delay(
    vault_dir: Path,
) -> None:
    """Eight processes guess at once: every guess that was tried is counted (no lost update),
    and once the free attempts are spent the rest are refused without being tried."""
    procs = []
    for _ in range(8):
        options, fds = secret_pipes([OTHER_PASSPHRASE], None)
        cmd = [sys.executable, "-m", "strongroom", "--vault", str(vault_dir), *options,
               "secret", "list"]
        env = {k: v for k, v in os.environ.items() if not k.startswith("STRONGROOM_")}
        procs.append(subprocess.Popen(cmd, pass_fds=tuple(fds), env=env, text=True,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE))
        for fd in fds:
            os.close(fd)
    results = [(p.wait(timeout=120), p.communicate()[1]) for p in procs]
    tried = [err for code, err in results if "does not open" in err]
    refused = [err for code, err in results if "failed unlock attempts: wait" in err]
    assert all(code == 4 for code, _ in results), results
    assert len(tried) + len(refused) == 8, results
    assert _failures(vault_dir) == len(tried)
    assert len(tried) == 3  # two free attempts, the third sets the first delay
    mirror = json.loads(backoff_file(_vault_id(vault_dir), vault_dir).read_text())
    assert mirror["failures"] == len(tried)


def test_deleting_the_record_beside_the_vault_does_not_reset_the_count(vault_dir: Path) -> None:
    for _ in range(3):
        with pytest.raises(WrongPassphrase):
            Vault.open(vault_dir).unlock(unlocker(OTHER_PASSPHRASE))
    (vault_dir / BACKOFF_FILE).unlink()
    with pytest.raises(BackingOff) as caught:
        Vault.open(vault_dir).unlock(unlocker(PASSPHRASE))
    assert caught.value.failures == 3
    # Once the delay has passed, a success writes the failures into the audit log and clears both.
    time.sleep(2.1)
    with Vault.open(vault_dir) as vault:
        vault.unlock(unlocker())
        [failed] = vault.audit_events(action="vault.unlock", outcome="failed")
        assert failed.details["failures"] == 3
    assert not (vault_dir / BACKOFF_FILE).exists()
    assert not backoff_file(_vault_id(vault_dir), vault_dir).exists()


@pytest.mark.parametrize("damage", ["folder", "garbage", "mirror-garbage"])
def test_a_record_that_cannot_be_read_refuses_the_attempt(vault_dir: Path, damage: str) -> None:
    mirror = backoff_file(_vault_id(vault_dir), vault_dir)
    if damage == "folder":
        (vault_dir / BACKOFF_FILE).mkdir()
    elif damage == "garbage":
        (vault_dir / BACKOFF_FILE).write_bytes(b"\xff\xfe{")
    else:
        mirror.parent.mkdir(parents=True, exist_ok=True)
        mirror.write_text('{"failures": -1, "first_failure": null, "last_failure": null}')
    before = snapshot(vault_dir)
    result = run_cli("secret", "list", vault=vault_dir, passphrases=[PASSPHRASE])
    assert result.code == 4 and "passphrase was not tried" in result.err, result
    assert result.err.count("\n") == 1 and "internal error" not in result.err
    assert snapshot(vault_dir) == before
    with pytest.raises(BackoffUnusable):
        Vault.open(vault_dir).unlock(unlocker())


def test_an_attempt_killed_during_the_kdf_counts_as_failed(tmp_path: Path) -> None:
    """The attempt is recorded before the key derivation, so killing the process before it
    reports a verdict (to try again at once, uncounted) costs the attempt anyway, even with the
    right passphrase."""
    path = tmp_path / "slow"
    Vault.create(path, normalize_passphrase(PASSPHRASE), kdf_time_ms=1500).lock()
    options, fds = secret_pipes([PASSPHRASE], None)
    env = {k: v for k, v in os.environ.items() if not k.startswith("STRONGROOM_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "strongroom", "--vault", str(path), *options, "secret", "list"],
        pass_fds=tuple(fds), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for fd in fds:
        os.close(fd)
    deadline = time.monotonic() + 60
    while not (path / BACKOFF_FILE).exists():
        assert time.monotonic() < deadline and proc.poll() is None, "no attempt was recorded"
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert _failures(path) == 1
    with Vault.open(path) as vault:  # one failure is within the free attempts
        vault.unlock(unlocker())
        [failed] = vault.audit_events(action="vault.unlock", outcome="failed")
        assert failed.details["failures"] == 1
