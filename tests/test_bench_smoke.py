"""The hardware benchmarks still run: each is started with tiny sizes and must finish and print
its figures. This checks nothing about speed (the benchmarks print the figures; see
tests/bench/), only that a change to the signer or the TPM backend has not broken them."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).parent / "bench"


@pytest.mark.parametrize(("script", "args", "expected"), [
    ("bench_signing.py", ["--digests", "20", "--files", "5"],
     ["KeyStore.sign_many", "pkcs11-tool --sign", "strongroom keys sign"]),
    ("bench_tpm.py", ["-n", "5"], ["ecdsa-sha256", "rsa-pss-sha256", "keyslot seal"]),
])
def test_a_hardware_benchmark_runs_to_the_end(script: str, args: list[str],
                                              expected: list[str]) -> None:
    proc = subprocess.run([sys.executable, str(BENCH / script), *args], capture_output=True,
                          text=True, timeout=240, check=False, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr[-2000:]
    for phrase in expected:
        assert phrase in proc.stdout, proc.stdout


def test_the_comparison_benchmark_runs_to_the_end(tmp_path: Path) -> None:
    """bench_compare.py at 50 entries (no Lynis, no GUI): both stores built, keepassxc-cli and
    strongroom timed, the table printed; nothing about the figures is checked."""
    if shutil.which("keepassxc-cli") is None or shutil.which("time") is None:
        pytest.skip("needs keepassxc-cli and GNU time (packaging/bootstrap.sh installs them)")
    proc = subprocess.run([sys.executable, str(BENCH / "bench_compare.py"), "--quick",
                           "--dir", str(tmp_path)], capture_output=True, text=True,
                          timeout=240, check=False, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr[-2000:]
    for phrase in ["| figure", "open + search one of 50, CLI", "open + get one of 50, CLI",
                   "KDF alone, 50", "besides the KDF", "peak RSS of one CLI call",
                   "vault file at 50 entries", "`check --json`, whole process",
                   "`strongroom --help` CPU", "disk encryption: Strongroom"]:
        assert phrase in proc.stdout, proc.stdout
