"""The full campaigns of issue 13 and their tables: ``make soak`` (``ARGS="--seed 7"`` etc.).

    python tests/campaigns/soak.py [--seed N] [--crash-runs 500] [--mutations 1000]
                                   [--fuzz-examples 20000] [--only crash,tamper,fuzz,hygiene]
                                   [--publish tests/bench/results.md]

Runs with private config, state and temp dirs (the user's are never touched) and a SoftHSM2 of
its own. Prints a Markdown report; ``--publish FILE`` also puts it between the soak markers of
FILE. Exits 1 if any campaign found a problem (corrupt or lost writes, a mutation missed or
judged wrong, a fuzz crash, a canary found, an unexpected exit code).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shutil
import sys
import time
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(TESTS))

from campaigns.common import private_homes, table  # noqa: E402 - needs the path above
from campaigns.crash import run_crash_campaign  # noqa: E402
from campaigns.fuzz import run_fuzz_campaign  # noqa: E402
from campaigns.hygiene import PIN, Hsm, run_hygiene_campaign  # noqa: E402
from campaigns.tamper import LEGEND, run_tamper_campaign  # noqa: E402
from helpers.softhsm import SoftHsm, softhsm_module, write_conf  # noqa: E402

BEGIN, END = "<!-- soak:begin -->", "<!-- soak:end -->"


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in
                Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")),
               platform.processor() or "unknown CPU")
    mem = next((int(line.split()[1]) // 1024 // 1024 for line in
                Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal")), 0)
    import sqlcipher3

    conn = sqlcipher3.connect(":memory:")
    version = conn.execute("PRAGMA cipher_version").fetchone()[0]
    conn.close()
    return (f"{cpu}, {os.cpu_count()} cores (shared), {mem} GiB RAM; {platform.system()} "
            f"{platform.release()}; Python {platform.python_version()}; SQLCipher {version}")


def hsm_for(root: Path) -> Hsm | None:
    module = softhsm_module()
    if module is None or shutil.which("softhsm2-util") is None:
        return None
    conf, tokens = root / "softhsm2.conf", root / "softhsm-tokens"
    tokens.mkdir()
    write_conf(conf, tokens)
    hsm = SoftHsm(module, conf, tokens)
    return Hsm(hsm.env, hsm.add_token("hygiene", pin=PIN))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--crash-runs", type=int, default=500)
    p.add_argument("--mutations", type=int, default=1000)
    p.add_argument("--fuzz-examples", type=int, default=20_000)
    p.add_argument("--only", default="crash,tamper,fuzz,hygiene")
    p.add_argument("--publish", type=Path, metavar="FILE")
    args = p.parse_args(argv)
    only = set(args.only.split(","))
    root = private_homes()
    started = time.monotonic()
    failed = False
    out = [f"Run {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, seed {args.seed}, on {machine()}.",
           ""]

    def section(title: str, body: list[str]) -> None:
        out.extend([f"### {title}", "", *body, ""])
        print(f"\n### {title}\n\n" + "\n".join(body), flush=True)

    if "crash" in only:
        work = root / "crash"
        work.mkdir()
        r = run_crash_campaign(args.crash_runs, args.seed, work)
        failed |= bool(r.corrupt or r.lost or r.worker_errors or r.leftover_backup_dirs)
        during = ", ".join(f"{op} {n}" for op, n in r.killed_during.most_common())
        section("Crash: kill -9 during writes", [
            table(["runs", "writes acknowledged", "corrupt", "lost"],
                  [[r.runs, r.acknowledged, r.corrupt, r.lost]]), "",
            "Each run: a worker forked from a server that imported Strongroom unlocks the vault "
            "and writes (add, update, audit record and batch, data-key and master-key "
            "rotation, passphrase change with its rekey, backup) until SIGKILL, after a random "
            "delay (half the runs) or at its n-th os.replace/os.fsync. Then the vault must "
            "open, `strongroom audit verify` pass, and every acknowledged write be there "
            "(values read back, backups verified).", "",
            f"Killed during: {during}. Worker errors: {r.worker_errors}. Work folders "
            f"(`.backup-*`) of backups cut short: {r.backup_dirs_left}, of which still there "
            f"after the next unlock: {r.leftover_backup_dirs}. {r.seconds:.0f} s.",
            *[f"- {problem}" for problem in r.problems[:20]]])
    if "tamper" in only:
        work = root / "tamper"
        work.mkdir()
        t = run_tamper_campaign(args.mutations, args.seed, work)
        failed |= bool(t.bad())
        section("Tamper: mutations judged through the CLI", [
            t.table(), "", LEGEND, "", f"{t.seconds:.0f} s.",
            *[f"- {c.kind} ({c.what}): {c.outcome}, exit {c.code}: {c.message}"
              for c in t.bad()[:20]]])
    if "fuzz" in only:
        work = root / "fuzz"
        work.mkdir()
        f = run_fuzz_campaign(args.fuzz_examples, args.seed, work)
        failed |= bool(f.crashes)
        section("Fuzz: every parser of outside input", [
            f.table(), "", "A crash is any exception but a `StrongroomError`; distinct crashes "
            "are told apart by type and the line that raised. The slow targets (a backup "
            "verified, a bundle judged) get a tenth of the inputs.", "", f"{f.seconds:.0f} s.",
            *[f"- {t.name}: {where}: {example}" for t in f.targets
              for where, example in t.crashes.items()]])
    if "hygiene" in only:
        work = root / "hygiene"
        work.mkdir()
        h = run_hygiene_campaign(work, full=True, hsm=hsm_for(root))
        failed |= bool(h.hits or h.surprises)
        section("Secret hygiene: canaries searched for", [
            h.table(), "",
            f"{h.commands} commands, {len(h.error_paths)} of them error paths; skipped: "
            f"{', '.join(h.skipped) or 'nothing'}. {h.seconds:.0f} s.",
            *[f"- hit: {hit}" for hit in h.hits[:20]],
            *[f"- surprise: {s}" for s in h.surprises[:20]]])
    total = time.monotonic() - started
    out.append(f"Total {total / 60:.1f} min; {'PROBLEMS FOUND' if failed else 'no problem found'}.")
    print(f"\n{out[-1]}")
    if args.publish is not None:
        publish(args.publish, "\n".join(out))
    shutil.rmtree(root, ignore_errors=True)
    return 1 if failed else 0


def publish(path: Path, text: str, begin: str = BEGIN, end: str = END) -> None:
    """Put ``text`` between the markers of ``path`` (the soak's unless given; added at the end
    if absent). tests/bench/bench_compare.py publishes between its own with it."""
    old = path.read_text() if path.exists() else ""
    block = f"{begin}\n{text}\n{end}"
    if begin in old and end in old:
        new = old[:old.index(begin)] + block + old[old.index(end) + len(end):]
    else:
        new = old + ("\n" if old and not old.endswith("\n") else "") + block + "\n"
    path.write_text(new)


if __name__ == "__main__":
    sys.exit(main())
