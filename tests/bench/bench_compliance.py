"""Compliance benchmark: wall time of the full Linux collection + judgement, beside Lynis.

Not part of the pass/fail suite (pytest collects only test_*.py). Run it by hand:

    .venv/bin/python tests/bench/bench_compliance.py             # 7 runs + one Lynis run
    .venv/bin/python tests/bench/bench_compliance.py --no-lynis  # Strongroom only

Strongroom: the median (and min/max) of several in-process runs of LinuxCollector().collect()
plus registry.judge() over all eight checks, and the slowest evidence commands of one run. Lynis:
one `lynis audit system --quick` run timed end to end (installed with apt-get if missing, as
root; it takes about a minute). Lynis runs several hundred tests, so the ratio is taken against
its whole run: an upper bound of what the checks both make (disk encryption, patch state,
firewall, Secure Boot, automatic updates, TPM-less boot integrity …) cost it. Goals: Strongroom
≤ 0.5 s wall, and ≥ 100× faster than Lynis. It prints a table; it asserts nothing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from strongroom.app.compliance.model import CommandEvidence, Policy
from strongroom.app.compliance.registry import judge

GOAL_S = 0.5
GOAL_RATIO = 100.0
SHARED = ("disk-encryption", "patch-age", "firewall", "secure-boot", "auto-updates")


def strongroom_runs(n: int) -> tuple[list[float], list[tuple[float, str]], dict[str, str]]:
    from strongroom.backends.compliance.linux import LinuxCollector

    times: list[float] = []
    slowest: list[tuple[float, str]] = []
    statuses: dict[str, str] = {}
    collector = LinuxCollector()
    for i in range(n):
        start = time.perf_counter()
        bundle = collector.collect()
        results = judge(bundle, Policy(), dt.datetime.now(dt.UTC))
        times.append(time.perf_counter() - start)
        if i == n - 1:
            slowest = sorted(((it.duration, " ".join(it.argv[:3])) for it in bundle.items.values()
                              if isinstance(it, CommandEvidence)), reverse=True)[:5]
            statuses = {r.check_id: r.status.value for r in results}
    return times, slowest, statuses


def ensure_lynis() -> str | None:
    found = shutil.which("lynis")
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return None
    print("installing lynis with apt-get …", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=False, env=env,
                   stdout=subprocess.DEVNULL)
    subprocess.run(["apt-get", "install", "-y", "-qq", "lynis"], check=False, env=env,
                   stdout=subprocess.DEVNULL)
    return shutil.which("lynis")


def lynis_run(lynis: str) -> tuple[float, int, int]:
    with tempfile.TemporaryDirectory() as tmp:
        log, report = Path(tmp, "lynis.log"), Path(tmp, "report.dat")
        start = time.perf_counter()
        proc = subprocess.run(
            [lynis, "audit", "system", "--quick", "--no-colors", "--logfile", str(log),
             "--report-file", str(report)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False, timeout=900,
        )
        elapsed = time.perf_counter() - start
        tests = 0
        if report.exists():
            for line in report.read_text(errors="replace").splitlines():
                if line.startswith("tests_executed="):
                    tests = len([t for t in line.split("=", 1)[1].split("|") if t])
    return elapsed, proc.returncode, tests


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--no-lynis", action="store_true")
    args = parser.parse_args()
    if not sys.platform.startswith("linux"):
        print("the compliance benchmark measures the Linux collector; run it on Linux")
        return 0
    print(f"machine: {platform.platform()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}")
    strongroom_runs(1)  # warm the page cache and imports, as a second `strongroom check` would
    times, slowest, statuses = strongroom_runs(args.runs)
    median = statistics.median(times)
    rows = [("measure", "value", "goal", "ratio")]
    rows.append((f"Strongroom, 8 checks (median of {args.runs})", f"{median * 1000:.0f} ms",
                 f"≤ {GOAL_S * 1000:.0f} ms", f"{median / GOAL_S:.2f}× of goal"))
    rows.append(("  min / max", f"{min(times) * 1000:.0f} / {max(times) * 1000:.0f} ms", "", ""))
    for seconds, what in slowest:
        rows.append((f"  slowest evidence: {what}", f"{seconds * 1000:.0f} ms", "", ""))
    if not args.no_lynis:
        lynis = ensure_lynis()
        if lynis is None:
            rows.append(("lynis audit system --quick", "not installed", "", ""))
        else:
            elapsed, code, tests = lynis_run(lynis)
            ratio = elapsed / median
            rows.append((f"lynis audit system --quick ({tests or '?'} tests, exit {code})",
                         f"{elapsed:.1f} s", "", ""))
            rows.append(("Lynis / Strongroom (whole runs)", f"{ratio:.0f}×",
                         f"≥ {GOAL_RATIO:.0f}×", "met" if ratio >= GOAL_RATIO else "not met"))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for row in rows:
        print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
    print("checks both make: " + ", ".join(SHARED))
    print("this machine's results: " + ", ".join(f"{k} {v}" for k, v in statuses.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
