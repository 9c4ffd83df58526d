"""The forwarding benchmark still runs: tests/bench/bench_forward.py at a tiny size, against a
real rsyslogd, over TCP and TLS, must finish, check the receiver's chain and print its table.
Nothing about speed is checked (the benchmark prints the figures; see tests/bench/results.md)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).parent / "bench" / "bench_forward.py"


def test_the_forwarding_benchmark_runs_to_the_end() -> None:
    proc = subprocess.run([sys.executable, str(BENCH), "--events", "300", "--batch", "64"],
                          capture_output=True, text=True, timeout=240, check=False,
                          stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr[-2000:]
    for phrase in ["| TCP | 30", "| TLS (gtls) | 30", "ev/s", "MB/s", "receiver chain check"]:
        assert phrase in proc.stdout, proc.stdout
