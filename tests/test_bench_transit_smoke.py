"""The Transit benchmark still runs: started with tiny sizes, it must finish and print each of its
figures. Nothing about speed is checked (tests/bench/bench_transit.py prints the figures)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).parent / "bench" / "bench_transit.py"


def test_the_transit_benchmark_runs_to_the_end() -> None:
    proc = subprocess.run([sys.executable, str(BENCH), "-n", "12", "--files", "6"],
                          capture_output=True, text=True, timeout=240, check=False,
                          stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr[-2000:]
    for phrase in ("raw hvac sign_data loop", "raw hvac batch_input", "TransitKeyStore.sign ",
                   "TransitKeyStore.sign_many", "RSA 3072 rsa-pss-sha256",
                   "strongroom keys sign --store transit", "6 files in"):
        assert phrase in proc.stdout, proc.stdout
