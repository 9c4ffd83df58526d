"""Strongroom beside keepassxc-cli and Lynis at equal KDF cost (issue 17): one table of figures.

Not part of the pass/fail suite. Run it by hand (or `make bench-compare ARGS=...`):

    .venv/bin/python tests/bench/bench_compare.py                    # 10k and 100k entries
    .venv/bin/python tests/bench/bench_compare.py --sizes 10000 --no-lynis
    .venv/bin/python tests/bench/bench_compare.py --quick            # tiny, for the smoke test
    .venv/bin/python tests/bench/bench_compare.py --publish tests/bench/results.md

The same N entries (group-K/entry-N with username, password, URL and notes) become a KDBX 4 file
(pykeepass) and a Strongroom vault (its passphrase keyslot at the Argon2id floor); the KDBX's
Argon2 is calibrated to take as long here as Strongroom's, and each side's KDF time, measured
alone, is printed beside the totals. Whole processes, interleaved A/B, medians of --reps; peak
RSS from GNU time. Audit verify at 1M events is `make bench`, console RSS at 100k `make
bench-console`, signing against a pkcs11-tool loop `make bench-signing`. Asserts nothing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(TESTS))
sys.path.insert(0, str(TESTS / "bench"))

from compare_runs import (  # noqa: E402
    KEEPASSXC_CLI,
    STRONGROOM,
    agreement,
    bare_cpu,
    gui_cold_starts,
    interleaved,
    lynis_audit,
    lynis_says,
    private_env,
    run,
    strongroom,
)
from compare_setup import Stores, build_stores  # noqa: E402

from campaigns.soak import machine, publish  # noqa: E402 - needs the path above

BEGIN, END = "<!-- compare:begin -->", "<!-- compare:end -->"
# Goals of issue 17: ratio Strongroom/anchor at most this, by size.
SEARCH_GOAL = {10_000: 0.4}
GET_GOAL = {10_000: 0.4, 100_000: 0.03}
GROWTH_GOAL = 1.1  # own time, get, 10k -> 100k
OVERHEAD_GOAL_S = 0.1  # a CLI call besides its KDF
RSS_GOAL_MIB = 80.0
FILE_GOAL = {100_000: 3.0}  # vault / KDBX
CHECK_GOAL = 400.0  # Lynis / Strongroom, at least
HELP_GOAL_S = 0.08


@dataclass(frozen=True)
class Row:
    figure: str
    ours: str
    anchor: str = ""
    ratio: str = ""
    goal: str = ""


def size(n: int) -> str:
    return f"{n // 1000}k" if n >= 1000 and n % 1000 == 0 else str(n)


def secs(s: float) -> str:
    return f"{s:.2f} s" if s >= 0.1 else f"{s * 1000:.0f} ms"


def ratio(r: float) -> str:
    return f"{r:.3f}" if r < 0.1 else f"{r:.2f}"


def megabytes(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{n / 1e3:.0f} kB"


def at_most(value: float, goal: float | None, unit: str = "") -> str:
    if goal is None:
        return "—"
    verdict = "met" if value <= goal else f"not met by {value / goal:.1f}×"
    return f"≤ {goal:g}{unit}: {verdict}"


def at_least(value: float, goal: float) -> str:
    verdict = "met" if value >= goal else f"not met by {goal / value:.1f}×"
    return f"≥ {goal:g}×: {verdict}"


def cli_rows(stores: Stores, env: dict[str, str],
             reps: int) -> tuple[list[Row], float, float, float]:
    """Search and get at one size: the rows, and the get medians (Strongroom, keepassxc-cli,
    Strongroom besides its KDF)."""
    n, s = stores.n, size(stores.n)
    kx_search = ([KEEPASSXC_CLI, "search", "-q", str(stores.kdbx), stores.probe_term], False)
    sr_search = (strongroom(stores.vault, "secret", "list", "--search", stores.probe_term), True)
    found, anchor = interleaved(sr_search, kx_search, env, reps, stores.probe_term)
    rows = [Row(f"open + search one of {s}, CLI", secs(found.wall),
                f"keepassxc-cli {secs(anchor.wall)}", ratio(found.wall / anchor.wall),
                at_most(found.wall / anchor.wall, SEARCH_GOAL.get(n)))]
    kx_get = ([KEEPASSXC_CLI, "show", "-q", "-s", "-a", "Password", str(stores.kdbx),
               stores.probe_name], False)
    sr_get = (strongroom(stores.vault, "secret", "get", stores.probe_name), True)
    ours, theirs = interleaved(sr_get, kx_get, env, reps, "pw-")
    rows.append(Row(f"open + get one of {s}, CLI", secs(ours.wall),
                    f"keepassxc-cli show {secs(theirs.wall)}", ratio(ours.wall / theirs.wall),
                    at_most(ours.wall / theirs.wall, GET_GOAL.get(n))))
    rows.append(Row(f"KDF alone, {s}", f"{secs(stores.vault_kdf.seconds)} "
                    f"({stores.vault_kdf.desc})", f"{secs(stores.kdbx_kdf.seconds)} "
                    f"({stores.kdbx_kdf.desc})",
                    f"{stores.vault_kdf.seconds / stores.kdbx_kdf.seconds:.2f}", "equal"))
    over, kx_over = ours.wall - stores.vault_kdf.seconds, theirs.wall - stores.kdbx_kdf.seconds
    rows.append(Row(f"get one of {s} besides the KDF", secs(over), f"keepassxc-cli {secs(kx_over)}",
                    f"{over / kx_over:.2f}" if kx_over > 0 else "",
                    at_most(over, OVERHEAD_GOAL_S, " s")))
    rss = max(ours.rss_mib, found.rss_mib)
    rows.append(Row(f"peak RSS of one CLI call, {s}", f"{rss:.0f} MiB",
                    f"keepassxc-cli {max(theirs.rss_mib, anchor.rss_mib):.0f} MiB", "",
                    at_most(rss, RSS_GOAL_MIB, " MiB")))
    bigger = stores.vault_bytes / stores.kdbx_bytes
    rows.append(Row(f"vault file at {s} entries", megabytes(stores.vault_bytes),
                    f"KDBX {megabytes(stores.kdbx_bytes)}", f"{bigger:.1f}×",
                    at_most(bigger, FILE_GOAL.get(n), "×")))
    return rows, ours.wall, theirs.wall, over


def check_rows(env: dict[str, str], reps: int, lynis: bool, work: Path) -> tuple[list[Row],
                                                                                 list[str], str]:
    runs = [run([STRONGROOM, "check", "--json"], env) for _ in range(reps + 1)][1:]
    runs.sort(key=lambda r: r.wall)
    mid = runs[len(runs) // 2]
    status = {c["check_id"]: (c["status"], c.get("observed") or "")
              for c in json.loads(mid.out)["checks"]}
    ours = f"{secs(mid.wall)} ({secs(mid.cpu)} CPU)"
    if not lynis:
        return [Row("`check --json`, whole process", ours, "Lynis not run")], \
            agreement(status, None), "not run"
    audit = lynis_audit(env, work)
    if audit is None:
        return [Row("`check --json`, whole process", ours, "Lynis not installed")], \
            agreement(status, None), "not installed"
    seconds, code, report, version = audit
    faster = seconds / mid.wall
    return [Row("`check --json`, whole process", ours, f"Lynis --quick {seconds:.0f} s "
                f"(exit {code})", f"{faster:.0f}×", at_least(faster, CHECK_GOAL))], \
        agreement(status, lynis_says(report)), version


def versions(lynis_version: str) -> str:
    ours = subprocess.run([STRONGROOM, "--version"], capture_output=True, text=True,
                          check=False).stdout.strip()
    kx = subprocess.run([KEEPASSXC_CLI, "--version"], capture_output=True, text=True,
                        check=False).stdout.strip()
    return f"{ours or 'strongroom ?'}; keepassxc-cli {kx}; Lynis {lynis_version}"


def markdown(rows: list[Row]) -> list[str]:
    cells = [("figure", "Strongroom", "anchor", "ratio", "goal")]
    cells += [(r.figure, r.ours, r.anchor, r.ratio, r.goal) for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(5)]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"
             for row in cells]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000",
                        help="entry counts, comma-separated (default 10000,100000)")
    parser.add_argument("--reps", type=int, default=7, help="timed runs per command (median)")
    parser.add_argument("--kdf-reps", type=int, default=7,
                        help="runs per KDF timing (half that per calibration probe)")
    parser.add_argument("--gui-reps", type=int, default=3, help="GUI cold starts per side")
    parser.add_argument("--quick", action="store_true",
                        help="50 entries, 1 rep, no Lynis, no GUI (the smoke test)")
    parser.add_argument("--no-lynis", action="store_true", help="skip the Lynis run (~2 min)")
    parser.add_argument("--no-gui", action="store_true", help="skip the Xvfb cold starts")
    parser.add_argument("--dir", type=Path, help="build the stores here (kept afterwards)")
    parser.add_argument("--publish", type=Path, help="write the table between the compare "
                        "markers of this file (tests/bench/results.md)")
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.reps, args.kdf_reps, args.no_lynis, args.no_gui = "50", 1, 1, True, True
    sizes = [int(s) for s in args.sizes.split(",") if s]
    if not shutil.which(KEEPASSXC_CLI):
        print("keepassxc-cli is missing (apt-get install keepassxc)", file=sys.stderr)
        return 2
    started = dt.datetime.now(dt.UTC)
    root = args.dir or Path(tempfile.mkdtemp(prefix="strongroom-compare-"))
    root.mkdir(parents=True, exist_ok=True)
    env = private_env(root / "env")
    rows: list[Row] = []
    gets: list[tuple[int, float, float, float]] = []
    try:
        last: Stores | None = None
        for n in sizes:
            print(f"... building {n:,} entries on both sides", file=sys.stderr, flush=True)
            last = build_stores(root, n, env, args.kdf_reps)
            print(f"... timing {n:,}", file=sys.stderr, flush=True)
            size_rows, ours, theirs, over = cli_rows(last, env, args.reps)
            rows += size_rows
            gets.append((n, ours, theirs, over))
        if len(gets) >= 2:
            (n0, a0, b0, o0), (n1, a1, b1, o1) = gets[0], gets[-1]
            growth = a1 / a0
            rows.append(Row(f"own growth {size(n0)} → {size(n1)} (get)", f"{growth:.2f}×",
                            f"keepassxc {b1 / b0:.1f}×", "",
                            at_most(growth, GROWTH_GOAL if (n0, n1) == (10_000, 100_000)
                                    else None, "×")))
            rows.append(Row(f"growth besides the KDF {size(n0)} → {size(n1)}",
                            f"{o1 / o0:.2f}×", "", "", "flat"))
        print("... check --json" + ("" if args.no_lynis else " and Lynis"), file=sys.stderr,
              flush=True)
        c_rows, agree, lynis_version = check_rows(env, args.reps, not args.no_lynis, root)
        rows += c_rows
        ours_help = bare_cpu([STRONGROOM, "--help"], env, args.reps)
        bare = bare_cpu([sys.executable, "-c", "pass"], env, args.reps)
        rows.append(Row("`strongroom --help` CPU", secs(ours_help.cpu),
                        f"bare python {secs(bare.cpu)}", f"{ours_help.cpu / bare.cpu:.1f}×",
                        at_most(ours_help.cpu, HELP_GOAL_S, " s")))
        if not args.no_gui and last is not None:
            print("... GUI cold starts under Xvfb", file=sys.stderr, flush=True)
            gui = gui_cold_starts(last.kdbx, last.vault, env, args.gui_reps)
            if isinstance(gui, str):
                rows.append(Row(f"GUI cold start to first window, {size(last.n)}",
                                f"not measured: {gui}"))
            else:
                rows.append(Row(f"GUI cold start to first window, {size(last.n)}",
                                secs(gui[1]), f"KeePassXC {secs(gui[0])}",
                                f"{gui[1] / gui[0]:.2f}", "—"))
    finally:
        if args.dir is None:
            shutil.rmtree(root, ignore_errors=True)
    out = ["### Strongroom beside keepassxc-cli and Lynis (`make bench-compare`)", "",
           f"Run {started:%Y-%m-%d %H:%M} UTC on {machine()}; {versions(lynis_version)}; "
           f"load average {os.getloadavg()[0]:.2f} at the end; medians of {args.reps} "
           "interleaved whole-process runs after one untimed run each.", "", *markdown(rows), "",
           "Ratio = Strongroom / anchor for times and sizes, anchor / Strongroom for Lynis. "
           "Checks both make:", *[f"- {line}" for line in agree],
           "- audit verify (100k, 1M events): `make bench`; console RSS at 100k: "
           "`make bench-console`; signing vs a pkcs11-tool loop: `make bench-signing`."]
    print("\n".join(out))
    if args.publish is not None:
        publish(args.publish, "\n".join(out), BEGIN, END)
        print(f"published between the compare markers of {args.publish}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
