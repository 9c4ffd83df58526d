"""Console benchmark: cold start to the lock screen, unlock-to-table at 10k/100k secrets, peak RSS.

Not part of the pass/fail suite. Run it by hand (or `make bench-console`):

    .venv/bin/python tests/bench/bench_console.py             # 10k and 100k secrets
    .venv/bin/python tests/bench/bench_console.py --quick     # 10k only
    .venv/bin/python tests/bench/bench_console.py --dir DIR   # keep (and reuse) the vaults

Cold start is a fresh interpreter per run: from process start to the lock screen shown (the
window exposed and the first paint done), median of several. Unlock-to-table is from submitting
the passphrase to the Vault section holding every row; peak RSS is read in a child process that
loads 100k secrets into the console (ru_maxrss). Filter latency per keystroke is measured by
bench_console_model.py. Goals from the issue: cold start ≤ 0.7 s, filter ≤ 30 ms, RSS ≤ 250 MB.
It prints figures and ratios and asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_vault import PASSPHRASE, make_vault, secrets_for

COLD_START_GOAL_S = 0.7
RSS_GOAL_MB = 250.0

COLD_CHILD = r"""
import sys, time
t0 = float(sys.argv[2])
from pathlib import Path
from PySide6.QtCore import QSettings
from strongroom.ui.console import build
from strongroom.ui.settings.store import ConsoleSettings
settings = ConsoleSettings(QSettings(sys.argv[3], QSettings.Format.IniFormat))
app, window = build(Path(sys.argv[1]), settings)
window.show()
while not window.lock_screen.isVisible() or not window.windowHandle().isExposed():
    app.processEvents()
app.processEvents()
print(time.time() - t0, flush=True)
"""

LOAD_CHILD = r"""
import resource, sys, time
from pathlib import Path
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication
from strongroom.ui.console import build
from strongroom.ui.settings.store import ConsoleSettings
settings = ConsoleSettings(QSettings(sys.argv[3], QSettings.Format.IniFormat))
app, window = build(Path(sys.argv[1]), settings)
window.show()
expected = int(sys.argv[2])
window.lock_screen.passphrase.setText(sys.stdin.readline().rstrip("\n"))
t0 = time.perf_counter()
window.lock_screen.start_unlock()
while not (window.is_unlocked and window.sections[0].model.total >= expected):
    app.processEvents()
    time.sleep(0.001)
    if time.perf_counter() - t0 > 600:
        sys.exit("timed out")
elapsed = time.perf_counter() - t0
app.processEvents()
rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(elapsed, rss_mb, flush=True)
window.quit()
"""


def child_env() -> dict[str, str]:
    sys.path.insert(0, str(Path(__file__).parent))
    import bytecode

    env = bytecode.cached()  # as an installed copy runs: bytecode cached
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    return env


def cold_start(vault: Path, runs: int, work: Path) -> list[float]:
    times = []
    for i in range(runs):
        proc = subprocess.run(
            [sys.executable, "-c", COLD_CHILD, str(vault), repr(time.time()),
             str(work / f"cold-{i}.ini")],
            capture_output=True, text=True, env=child_env(), timeout=120, check=True,
        )
        times.append(float(proc.stdout.split()[-1]))
    return times


def unlock_to_table(vault: Path, n: int, work: Path) -> tuple[float, float]:
    proc = subprocess.run(
        [sys.executable, "-c", LOAD_CHILD, str(vault), str(n), str(work / f"load-{n}.ini")],
        input=PASSPHRASE + "\n", capture_output=True, text=True, env=child_env(),
        timeout=900, check=True,
    )
    elapsed, rss = proc.stdout.split()[-2:]
    return float(elapsed), float(rss)


def vault_with(root: Path, n: int) -> Path:
    path = root / f"console-{n}"
    if not (path / "header.json").exists():
        print(f"filling a vault with {n:,} secrets (once; reused with --dir)…", flush=True)
        vault = make_vault(path)
        vault.add_secrets(secrets_for(n))
        vault.lock()
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10k secrets only")
    parser.add_argument("--runs", type=int, default=7, help="cold starts to take the median of")
    parser.add_argument("--dir", type=Path, help="keep the vaults here and reuse them")
    args = parser.parse_args(argv)
    sizes = [10_000] if args.quick else [10_000, 100_000]
    with tempfile.TemporaryDirectory(prefix="strongroom-bench-") as tmp:
        root = args.dir or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        rows: list[tuple[str, str, str, str, str]] = []
        small = vault_with(root, sizes[0])
        cold = cold_start(small, args.runs, Path(tmp))
        med = statistics.median(cold)
        rows.append(("cold start to lock screen", "-", f"{med * 1000:.0f} ms",
                     f"≤ {COLD_START_GOAL_S * 1000:.0f} ms", f"{med / COLD_START_GOAL_S:.2f}"))
        for n in sizes:
            elapsed, rss = unlock_to_table(vault_with(root, n), n, Path(tmp))
            rows.append(("unlock to table populated", f"{n // 1000}k", f"{elapsed:.2f} s",
                         "", "includes Argon2id"))
            goal = n == 100_000
            rows.append(("peak RSS with the table loaded", f"{n // 1000}k", f"{rss:.0f} MB",
                         f"≤ {RSS_GOAL_MB:.0f} MB" if goal else "",
                         f"{rss / RSS_GOAL_MB:.2f}" if goal else ""))
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.2f}")
    print(f"cold starts (s): {', '.join(f'{t:.3f}' for t in cold)}")
    header = ("measure", "size", "median", "goal", "ratio")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(5)]
    for r in [header, tuple("-" * w for w in widths), *rows]:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))
    print("ratio = measured / goal (below 1.00 meets it). Filter latency: bench_console_model.py")
    return 0


if __name__ == "__main__":
    sys.exit(main())
