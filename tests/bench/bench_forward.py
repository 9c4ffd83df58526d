"""Forwarding benchmark: N audit events to a real rsyslogd over TCP and over TLS (gtls).

Not part of the pass/fail suite. Run it by hand or with `make bench-forward`:

    .venv/bin/python tests/bench/bench_forward.py                 # 100k events, batches of 1000
    .venv/bin/python tests/bench/bench_forward.py --events 2000 --batch 500

For each transport it prints the events and octets per second until the last batch was
acknowledged (app/forwarding/transport.py: the receiver closed cleanly after reading it), the
rate until rsyslog had written every line to its file, and the receiver-side chain check over
that file. It asserts nothing about speed; it fails only if an event is missing or repeated.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # tests/ for helpers.rsyslog

from strongroom.app.forwarding import forwarder  # noqa: E402
from strongroom.app.forwarding.store import ForwardSettings  # noqa: E402
from strongroom.app.forwarding.transport import Destination  # noqa: E402
from strongroom.app.forwarding.verify import verify_lines  # noqa: E402
from strongroom.app.keyslots import normalize_passphrase  # noqa: E402
from strongroom.app.vault import Vault  # noqa: E402

from helpers.rsyslog import Rsyslog, make_certs  # noqa: E402

PASSPHRASE = "correct horse battery staple 42"
FILL_CHUNK = 10_000


def fill(vault: Vault, events: int) -> None:
    """``events`` audit events (minus the two the vault starts with), as real appends."""
    todo = max(0, events - 2)
    done = 0
    while done < todo:
        n = min(FILL_CHUNK, todo - done)
        vault.record_many("bench.event", [
            (f"prod/service-{(done + i) % 997}/db-password",
             {"i": done + i, "level": "high", "client": "ci-runner-07"}) for i in range(n)])
        done += n


def run(folder: Path, events: int, batch: int, tls: bool) -> list[str]:
    vault = Vault.create(folder / "vault", normalize_passphrase(PASSPHRASE), kdf_time_ms=10)
    try:
        fill(vault, events)
        certs = make_certs(folder / "certs") if tls else None
        receiver = Rsyslog(folder / "rsyslog", certs=certs)
        receiver.start()
        try:
            dest = Destination("127.0.0.1", receiver.port, tls=tls,
                               ca_file=None if certs is None else certs.ca)
            start = time.perf_counter()
            report = forwarder.forward(vault, "bench", ForwardSettings(dest), batch=batch)
            acked = time.perf_counter() - start
            lines = receiver.lines(expected=report.events, timeout=600)
            written = time.perf_counter() - start
        finally:
            receiver.stop()
        start = time.perf_counter()
        chain = verify_lines(lines, vault_id=vault.vault_id)
        verified = time.perf_counter() - start
    finally:
        vault.lock()
    name = "TLS (gtls)" if tls else "TCP"
    if not chain.ok or chain.events != report.events or chain.duplicates:
        raise SystemExit(f"{name}: the receiver's file does not hold every event once: "
                         f"{chain.reason}, {chain.events} of {report.events}, "
                         f"{chain.duplicates} repeated")
    per_event = report.octets / report.events
    return [
        f"| {name} | {report.events:,} | {report.batches} | "
        f"{report.events / acked:,.0f} ev/s, {report.octets / acked / 1e6:.1f} MB/s | "
        f"{report.events / written:,.0f} ev/s | {per_event:.0f} B | "
        f"{chain.events / verified:,.0f} ev/s |",
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=forwarder.DEFAULT_BATCH)
    parser.add_argument("--only", choices=("tcp", "tls"))
    args = parser.parse_args()
    cpu = platform.processor() or platform.machine()
    print(f"strongroom audit forward to rsyslogd on 127.0.0.1; {cpu}, {os.cpu_count()} cores; "
          f"Python {platform.python_version()}; batches of {args.batch}")
    print("| transport | events | batches | acknowledged | on the receiver's disk "
          "| octets/event | receiver chain check |")
    print("|---|---|---|---|---|---|---|")
    for tls in (False, True):
        if args.only and args.only != ("tls" if tls else "tcp"):
            continue
        with tempfile.TemporaryDirectory(prefix="strongroom-bench-forward-") as tmp:
            for line in run(Path(tmp), args.events, args.batch, tls):
                print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
