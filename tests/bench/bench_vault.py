"""Vault benchmark: insert, open+list, search and audit-verify times on real SQLCipher vaults.

Not part of the pass/fail suite (pytest collects only test_*.py). Run it by hand:

    .venv/bin/python tests/bench/bench_vault.py            # 1k/10k/100k secrets, 100k/1M events
    .venv/bin/python tests/bench/bench_vault.py --quick    # 1k/10k secrets, 100k events

It prints figures and the ratio measured/goal; it asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from strongroom.app.audit import chain_hash, event_bytes, genesis
from strongroom.app.crypto import canonical_json
from strongroom.app.keyslots import PassphraseUnlocker, normalize_passphrase
from strongroom.app.model import Classification
from strongroom.app.vault import NewSecret, Vault

PASSPHRASE = "correct horse battery staple 42"
FAST_KDF_MS = 10  # the Argon2id floor (64 MiB, 3 iterations) applies anyway

SEARCH_GOAL_S = 0.030  # "search over 100k secrets in under 30 ms"
VERIFY_GOAL_S = 2.0  # "1M-event verify under 2 s"
VERIFY_GOAL_EVENTS = 1_000_000
FILL_CHUNK = 100_000  # audit events per transaction when filling

ENVS = ("prod", "stage", "dev", "test")
SERVICES = (
    "billing", "ledger", "gateway", "search", "mailer", "reports", "identity", "storage",
    "metrics", "backup", "payroll", "crm", "wiki", "builds", "registry", "vpn",
)
KINDS = ("db-password", "api-key", "tls-key", "oauth-token", "ssh-key", "webhook-secret")
RARE_KIND = "xq-cert"  # only in the names of the ~10 rows the selective terms also match
LEVELS = tuple(Classification)
MATCH_ROWS = 10  # every selective term below matches this many rows at every size
PROBE = 42  # which group of MATCH_ROWS rows the selective terms pick

# Each term is ~10 rows at every size: group g = i % (n // MATCH_ROWS) shares a ticket and a tag.
SELECTIVE_TERM = f"CHG{PROBE:06d}"
SHORT_TERM = RARE_KIND[:2]
SELECTIVE_TAG = f"team-{PROBE:05d}"


@dataclass(frozen=True)
class Row:
    """One line of the report."""

    what: str
    size: str
    seconds: float | None
    unit: str = "time"  # "time" or "rate" (per second, from ``count``)
    count: int = 0
    goal: float | None = None
    goal_note: str = ""
    note: str = ""


def median_time(fn: Callable[[], Any], reps: int) -> tuple[float, Any]:
    """Median wall time of ``reps`` calls (after one warm-up call) and the last result."""
    result = fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def secrets_for(n: int) -> Iterator[NewSecret]:
    groups = max(n // MATCH_ROWS, 1)
    for i in range(n):
        group = i % groups
        kind = RARE_KIND if group == PROBE else KINDS[i % len(KINDS)]
        env = ENVS[i % len(ENVS)]
        yield NewSecret(
            name=f"{env}/{SERVICES[(i // 7) % len(SERVICES)]}/{kind}-{i:06d}",
            value=os.urandom(32),
            classification=LEVELS[i % len(LEVELS)],
            tags=(env, f"team-{group:05d}"),
            note=f"rotate via change ticket CHG{group:06d}; see runbook",
            owner=f"owner{i % 50:02d}@example.org",
        )


def make_vault(path: Path) -> Vault:
    return Vault.create(path, normalize_passphrase(PASSPHRASE), kdf_time_ms=FAST_KDF_MS)


def fmt_time(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds * 1e6:.0f} µs"


def fmt_rate(rate: float) -> str:
    return f"{rate:,.0f}/s"


def fmt_size(n: int) -> str:
    return f"{n // 1_000_000}M" if n >= 1_000_000 else f"{n // 1000}k"


# ----- secrets ---------------------------------------------------------------------------------


def bench_secrets(root: Path, n: int, reps: int, insert_reps: int) -> list[Row]:
    size = fmt_size(n)
    rows: list[Row] = []

    insert_times = []
    path = root / f"secrets-{size}"
    for attempt in range(insert_reps):
        path = root / f"secrets-{size}-{attempt}"
        vault = make_vault(path)
        items = list(secrets_for(n))
        t0 = time.perf_counter()
        added = vault.add_secrets(items)
        insert_times.append(time.perf_counter() - t0)
        assert added == n
        vault.lock()
    insert = statistics.median(insert_times)
    rows.append(Row("insert (one transaction)", size, insert, "rate", n,
                    note=f"{fmt_time(insert)} total, median of {insert_reps}"))

    # Open + unlock (Argon2id, then the database's key and integrity checks, the unlock audit
    # event and the header write), then list. The KDF alone is timed on the same slot.
    kdf_times, unlock_times, list_times = [], [], []
    listed: list[Any] = []
    unlocker = PassphraseUnlocker.from_text(PASSPHRASE)
    for _ in range(reps):
        t0 = time.perf_counter()
        vault = Vault.open(path)
        vault.unlock(unlocker)
        t1 = time.perf_counter()
        listed = vault.list_secrets()
        t2 = time.perf_counter()
        unlocker.derive_kek(vault.header.slots[0])
        t3 = time.perf_counter()
        unlock_times.append(t1 - t0)
        list_times.append(t2 - t1)
        kdf_times.append(t3 - t2)
        vault.lock()
    assert len(listed) == n
    kdf, unlock = statistics.median(kdf_times), statistics.median(unlock_times)
    rows.append(Row("open + unlock", size, unlock,
                    note=f"Argon2id alone {fmt_time(kdf)}; the rest {fmt_time(unlock - kdf)}"))
    rows.append(Row("list all (metadata)", size, statistics.median(list_times),
                    note=f"{len(listed):,} rows, first call after unlock"))

    vault = Vault.open(path)
    vault.unlock(unlocker)
    try:
        search_reps = max(reps * 4, 5)
        t, found = median_time(lambda: vault.list_secrets(search=SELECTIVE_TERM), search_reps)
        rows.append(Row(f"search {SELECTIVE_TERM!r} (trigram index)", size, t,
                        goal=SEARCH_GOAL_S, note=f"{len(found)} hits"))
        t, found = median_time(lambda: vault.list_secrets(search=SHORT_TERM), search_reps)
        rows.append(Row(f"search {SHORT_TERM!r} (2 chars, name scan)", size, t,
                        note=f"{len(found)} hits; scan fallback, no goal"))
        t, found = median_time(lambda: vault.list_secrets(tag=SELECTIVE_TAG), search_reps)
        rows.append(Row(f"tag filter {SELECTIVE_TAG!r}", size, t,
                        goal=SEARCH_GOAL_S, note=f"{len(found)} hits"))
        t, found = median_time(lambda: vault.list_secrets(tag="prod"), max(reps, 3))
        rows.append(Row("tag filter 'prod' (1/4 of rows)", size, t,
                        note=f"{len(found):,} hits"))
    finally:
        vault.lock()
    return rows


# ----- audit -----------------------------------------------------------------------------------


def fill_audit(vault: Vault, events: int) -> None:
    """Append ``events`` valid chained events in a few transactions, then anchor the header.

    Same encoding and hash as AuditLog.append (event_bytes, chain_hash), computed in bulk instead
    of one head() query per event.
    """
    log = vault._log
    head = log.head()
    seq, prev = (0, genesis(vault.vault_id)) if head is None else (head.seq, head.hash)
    base = time.time()
    actions = ("secret.read", "secret.copy", "secret.update", "secret.create", "vault.unlock")
    outcomes = ("ok", "ok", "ok", "failed", "denied")

    def rows() -> Iterator[tuple[Any, ...]]:
        nonlocal seq, prev
        for i in range(events):
            seq += 1
            ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(base + i // 100)) + (
                f".{i % 100:06d}Z"
            )
            actor = f"user{i % 7}"
            action = actions[i % len(actions)]
            target = f"prod/{SERVICES[i % len(SERVICES)]}/api-key-{i % 5000:06d}"
            outcome = outcomes[i % len(outcomes)]
            details = canonical_json({"version": i % 9 + 1, "purpose": "read"}).decode()
            prev = chain_hash(prev, event_bytes(seq, ts, actor, action, target, outcome, details))
            yield (seq, ts, actor, action, target, outcome, details, prev)

    events_left = rows()
    for _ in range(0, events, FILL_CHUNK):
        with vault._write(anchor=False) as conn:
            conn.executemany(
                "INSERT INTO audit (seq, ts, actor, action, target, outcome, details, hash) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                itertools.islice(events_left, FILL_CHUNK),
            )
    # Steady state: appends in small transactions keep the WAL short (autocheckpoint); one huge
    # write would leave every page of the table to be looked up in the WAL.
    vault._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    vault._save_header(vault._fresh_header())


def bench_audit(root: Path, events: int, reps: int) -> list[Row]:
    size = fmt_size(events)
    vault = make_vault(root / f"audit-{size}")
    try:
        t0 = time.perf_counter()
        fill_audit(vault, events)
        fill = time.perf_counter() - t0
        cpu0 = time.process_time()
        t, report = median_time(vault.audit_verify, reps)
        cpu = (time.process_time() - cpu0) / (reps + 1)  # the mean includes the warm-up call
        assert report.ok and report.anchor.value == "match", report
        goal, goal_note = VERIFY_GOAL_S * events / VERIFY_GOAL_EVENTS, ""
        if events != VERIFY_GOAL_EVENTS:
            goal_note = "*"
        return [Row("audit verify (whole chain)", size, t, goal=goal, goal_note=goal_note,
                    note=f"{report.events:,} events ok; CPU {fmt_time(cpu)} per run; "
                    f"bulk fill {fmt_time(fill)}")]
    finally:
        vault.lock()


# ----- report ----------------------------------------------------------------------------------


def machine() -> list[str]:
    with tempfile.TemporaryDirectory(prefix="strongroom-bench-") as tmp:
        vault = make_vault(Path(tmp) / "v")
        try:
            cipher = vault._conn.execute("PRAGMA cipher_version").fetchone()[0]
            sqlite = vault._conn.execute("SELECT sqlite_version()").fetchone()[0]
        finally:
            vault.lock()
    return [
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}, "
        f"load average {os.getloadavg()[0]:.2f}",
        f"python {platform.python_version()} ({platform.python_implementation()}), "
        f"SQLCipher {cipher}, SQLite {sqlite}",
    ]


def print_table(rows: list[Row]) -> None:
    header = ("measure", "size", "median", "goal", "ratio", "note")
    lines = [header]
    for r in rows:
        if r.seconds is None:
            value = "-"
        elif r.unit == "rate":
            value = fmt_rate(r.count / r.seconds)
        else:
            value = fmt_time(r.seconds)
        goal = "" if r.goal is None else f"< {fmt_time(r.goal)}{r.goal_note}"
        ratio = ""
        if r.goal is not None and r.seconds is not None:
            ratio = f"{r.seconds / r.goal:.2f}"
        lines.append((r.what, r.size, value, goal, ratio, r.note))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    right = {1, 2, 3, 4}
    for k, line in enumerate(lines):
        cells = [c.rjust(w) if i in right else c.ljust(w)
                 for i, (c, w) in enumerate(zip(line, widths, strict=True))]
        print("  ".join(cells).rstrip())
        if k == 0:
            print("  ".join("-" * w for w in widths))
    print("ratio = measured / goal (below 1.00 meets the goal). "
          "* pro rata of the 2 s per 1M events goal.")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="1k/10k secrets and 100k events only (smoke run)")
    parser.add_argument("--reps", type=int, default=5, help="repetitions per timing (median)")
    parser.add_argument("--only", choices=("secrets", "audit"), default=None,
                        help="run one half of the benchmark")
    parser.add_argument("--dir", type=Path, default=None,
                        help="where to put the temporary vaults (default: system temp)")
    args = parser.parse_args(argv)
    sizes = (1_000, 10_000) if args.quick else (1_000, 10_000, 100_000)
    event_counts = (100_000,) if args.quick else (100_000, 1_000_000)
    if args.only == "audit":
        sizes = ()
    elif args.only == "secrets":
        event_counts = ()

    for line in machine():
        print(line)
    print(flush=True)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="strongroom-bench-", dir=args.dir) as tmp:
        root = Path(tmp)
        for n in sizes:
            print(f"... {fmt_size(n)} secrets", file=sys.stderr, flush=True)
            insert_reps = 3 if n <= 10_000 else 1
            rows += bench_secrets(root, n, args.reps, insert_reps)
        for events in event_counts:
            print(f"... {fmt_size(events)} audit events", file=sys.stderr, flush=True)
            rows += bench_audit(root, events, max(args.reps // 2, 3))
    print_table(rows)
    print(f"load average at the end {os.getloadavg()[0]:.2f} (other processes share the CPUs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
