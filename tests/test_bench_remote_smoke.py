"""The remote benchmark still runs: started at 20 secrets, it must finish and print its figures.
Nothing about speed is checked (tests/bench/results.md holds the figures)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).parent / "bench" / "bench_remote.py"


def test_the_remote_benchmark_runs_to_the_end() -> None:
    proc = subprocess.run([sys.executable, str(BENCH), "-n", "20"], capture_output=True,
                          text=True, timeout=600, check=False, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr[-2000:]
    for phrase in ("strongroom remote publish --all", "strongroom remote pull --all",
                   "bao kv put loop", "raw hvac", "publish vs bao kv put loop"):
        assert phrase in proc.stdout, proc.stdout
