"""The crash campaign, small (tests/campaigns/crash.py; ``make soak`` runs 500 kills): a worker
doing every kind of write is killed with SIGKILL at random moments, and after each kill the vault
opens, ``audit verify`` passes and every acknowledged write is there."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
from pathlib import Path

from strongroom.app.vault import Vault

from campaigns.crash import CHILD, run_crash_campaign
from conftest import PASSPHRASE, make_vault, unlocker

RUNS = 20


def test_kill_9_at_random_moments_loses_no_acknowledged_write(tmp_path: Path) -> None:
    seed = random.randrange(2**32)  # noqa: S311 - chooses kill points, not keys
    report = run_crash_campaign(RUNS, seed, tmp_path, max_delay=0.25, max_io=60,
                                check_values=4)
    context = f"seed {seed}: {report.problems}"
    assert report.runs == RUNS
    assert report.worker_errors == 0, context
    assert report.corrupt == 0, context
    assert report.lost == 0, context
    assert report.acknowledged > 0, "the worker never acknowledged a write"
    assert report.leftover_backup_dirs == 0, "a killed backup's work folder survived an unlock"
    assert sum(report.killed_during.values()) == RUNS


def test_a_kill_during_a_backup_leaves_no_work_folder_behind(tmp_path: Path) -> None:
    path = tmp_path / "vault"
    make_vault(path).lock()
    proc = subprocess.run([sys.executable, str(CHILD), "kill-during-backup", str(path)],
                          input=PASSPHRASE.encode() + b"\n", capture_output=True, timeout=60,
                          check=False)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()
    with Vault.open(path) as vault:
        vault.unlock(unlocker())
        assert vault.integrity_check() == []
    assert [p.name for p in path.iterdir() if p.name.startswith(".backup-")] == []
