"""Crash campaign: a worker writes to a vault (add, update, audit records one by one and in
batches, data-key and master-key rotation, passphrase change with its rekey, backups) and is
killed with SIGKILL at a random moment; after each kill the vault must open, ``audit verify``
must pass, and every write the worker acknowledged must be there.

A moment is either a random delay after the worker starts (anywhere, SQLite's own commit
included) or the worker's n-th ``os.replace`` / ``os.fsync`` (before or after it), which lands
between the steps of a header, witness, back-off or backup write. The worker is forked from a
server that imported Strongroom once (tests/helpers/crash_child.py ``serve``), so a run costs
milliseconds to start, not an interpreter. SIGKILL ends the process, not the kernel: this proves
the ordering of the writes, not the fsyncs a power cut would need.
"""

from __future__ import annotations

import collections
import json
import random
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from strongroom.app.audit import AnchorStatus, Outcome
from strongroom.app.errors import StrongroomError
from strongroom.app.header import Header
from strongroom.app.keyslots import PassphraseUnlocker, unwrap_master_key
from strongroom.app.vault import Vault
from strongroom.app.vault.backup import parse, verify_backup

from campaigns.common import cli, new_vault
from helpers.crash_child import (
    BATCH_ACTION,
    RECORD_ACTION,
    KnownKek,
    fingerprint,
    passphrase_for,
    update_value,
    value_for,
)

CHILD = Path(__file__).resolve().parent.parent / "helpers" / "crash_child.py"
REKEYING = {"rotate-master", "passphrase"}  # the operations that change the master key


@dataclass
class Expected:
    """What the worker acknowledged so far, over all runs."""

    versions: dict[str, int] = field(default_factory=dict)  # name -> last acknowledged version
    records: set[str] = field(default_factory=set)
    batches: dict[str, int] = field(default_factory=dict)  # batch prefix -> count
    deks: dict[str, int] = field(default_factory=dict)  # level -> generation
    rekeys: list[str] = field(default_factory=list)  # master-key fingerprints, in order
    backups: list[tuple[Path, int]] = field(default_factory=list)  # file, passphrase index
    pass_index: int = 0


@dataclass
class CrashReport:
    runs: int = 0
    corrupt: int = 0
    lost: int = 0
    acknowledged: int = 0
    worker_errors: int = 0
    killed_during: collections.Counter[str] = field(default_factory=collections.Counter)
    backup_dirs_left: int = 0  # .backup-* work folders of backups a kill cut short
    leftover_backup_dirs: int = 0  # ... of those, still in the vault folder after an unlock
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def rows(self) -> list[list[object]]:
        return [[self.runs, self.acknowledged, self.corrupt, self.lost]]


class Server:
    """The fork server (crash_child.py serve) and its pipes."""

    def __init__(self, work: Path) -> None:
        self.errors = work / "server-stderr.txt"
        self._err: IO[bytes] = self.errors.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, str(CHILD), "serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=self._err, text=True,
        )
        assert self._read() == "ready"

    def _read(self) -> str:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the crash server died: {self.errors.read_text()[-2000:]}")
        return line.strip()

    def run(self, spec: dict[str, Any]) -> int:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(spec) + "\n")
        self.proc.stdin.flush()
        word, code = self._read().split()
        assert word == "exit"
        return int(code)

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.wait(timeout=60)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self._err.close()


class KekCache:
    """Argon2id once per (passphrase, salt): the parent checks the header the kill left."""

    def __init__(self) -> None:
        self._keks: dict[tuple[int, str], bytes] = {}

    def opens(self, header: Header, index: int) -> tuple[bytes, bytes] | None:
        """(KEK, master key) if passphrase ``index`` opens ``header``'s slot, else None."""
        (slot,) = header.slots
        key = (index, str(slot.params["salt"]))
        if key not in self._keks:
            self._keks[key] = PassphraseUnlocker.from_text(passphrase_for(index)).derive_kek(slot)
        kek = self._keks[key]
        master = unwrap_master_key(kek, slot, header.vault_id)
        return None if master is None else (kek, master)


def _acks(path: Path) -> list[list[str]]:
    """The complete lines the worker wrote (a line cut by the kill is no acknowledgement)."""
    if not path.exists():
        return []
    text = path.read_text()
    lines = text.split("\n")[:-1]  # the part after the last newline was never finished
    return [line.split(" ") for line in lines]


def _in_flight(lines: list[list[str]]) -> str:
    """The operation the worker had begun but not finished when it died."""
    last = None
    for words in lines:
        if words[0] == "begin":
            last = words[1]
        elif words[0] == "ok" and words[1] == last:
            last = None
    return last or "between operations"


def _apply(expected: Expected, lines: list[list[str]]) -> tuple[int, int | None]:
    """Fold one run's acknowledgements into ``expected``; returns (count, passphrase index the
    worker began to change to and did not acknowledge)."""
    count, begun = 0, None
    for words in lines:
        if words[0] == "begin-passphrase":
            begun = int(words[1])
        if words[0] != "ok" or words[1] == "unlock":
            continue
        count += 1
        op, args = words[1], words[2:]
        if op == "add":
            expected.versions[args[0]] = 1
        elif op == "update":
            expected.versions[args[0]] = int(args[1])
        elif op == "record":
            expected.records.add(args[0])
        elif op == "record-many":
            expected.batches[args[0]] = int(args[1])
        elif op == "rotate-dek":
            expected.deks[args[0]] = int(args[1])
        elif op == "backup":
            expected.backups.append((Path(" ".join(args[:-1])), int(args[-1])))
        elif op == "rotate-master":
            expected.rekeys.append(args[0])
        elif op == "passphrase":
            expected.pass_index, begun = int(args[0]), None
            expected.rekeys.append(args[1])
    return count, begun


def _lost(vault: Vault, expected: Expected, master: bytes, in_flight: str) -> list[str]:
    """The acknowledged writes the vault does not hold."""
    lost: list[str] = []
    infos = {info.name: info for info in vault.list_secrets()}
    for name, version in expected.versions.items():
        info = infos.get(name)
        if info is None or info.version < version:
            lost.append(f"{name} v{version}")
    events = vault.audit_events()
    targets = collections.defaultdict(set)
    for event in events:
        targets[event.action].add(event.target)
    lost += [f"record {t}" for t in expected.records - targets[RECORD_ACTION]]
    for prefix, count in expected.batches.items():
        missing = {f"{prefix}-{k}" for k in range(count)} - targets[BATCH_ACTION]
        lost += [f"batch {t}" for t in sorted(missing)]
    generations = collections.defaultdict(int)
    for event in events:
        if event.action == "dek.rotate" and event.outcome == Outcome.Ok.value:
            level = event.target
            generations[level] = max(generations[level], int(event.details["generation"]))
    lost += [f"data key {level} generation {gen}" for level, gen in expected.deks.items()
             if generations[level] < gen]
    # The master key is the last one known (acknowledged, or found at the last check), or a
    # newer one if a rotation was in flight.
    current = fingerprint(master)
    if current in expected.rekeys[:-1] or (current != expected.rekeys[-1]
                                           and in_flight not in REKEYING):
        lost.append("a master-key rotation (the key is not the last one acknowledged)")
    return lost


def _check_values(vault: Vault, expected: Expected, names: list[str]) -> list[str]:
    """The values of ``names`` at their acknowledged versions (each read is an audited write)."""
    bad = []
    for name in names:
        version = expected.versions[name]
        want = value_for(name) if version == 1 else update_value(name, version)
        try:
            if vault.get_secret(name, version) != want:
                bad.append(f"{name} v{version}: wrong value")
        except StrongroomError as e:  # a version lost, or a value that does not decrypt
            bad.append(f"{name} v{version}: {e}")
    return bad


def run_crash_campaign(runs: int, seed: int, work: Path, *, max_delay: float = 0.6,
                       max_io: int = 150, check_values: int = 8) -> CrashReport:
    """``runs`` kills of a worker writing to one vault in ``work``; see the module docstring."""
    rng = random.Random(seed)  # noqa: S311 - chooses kill points, not keys
    report = CrashReport()
    started = time.monotonic()
    path, backups = work / "vault", work / "backups"
    backups.mkdir()
    new_vault(path, passphrase_for(0)).lock()
    expected = Expected()
    keks = KekCache()
    header = Header.load(path / "header.json")
    opened = keks.opens(header, 0)
    assert opened is not None
    kek = opened[0]
    expected.rekeys.append(fingerprint(opened[1]))
    verified_backups = 0
    leftovers: set[str] = set()
    server = Server(work)
    try:
        for number in range(runs):
            run = f"r{number:04d}"
            acks = work / f"{run}.acks"
            kill: dict[str, Any]
            if rng.random() < 0.5:
                kill = {"after": rng.uniform(0, max_delay)}
            else:
                kill = {"io": rng.randint(1, max_io), "before": rng.random() < 0.5}
            code = server.run({
                "vault": str(path), "kek": kek.hex(), "pass_index": expected.pass_index,
                "acks": str(acks), "backups": str(backups), "seed": rng.randrange(2**32),
                "run": run, "kill": kill,
            })
            report.runs += 1
            lines = _acks(acks)
            context = f"seed {seed}, run {run}, kill {kill}"
            if code != -9:
                report.worker_errors += 1
                report.problems.append(f"{context}: the worker ended by itself (exit {code})")
            in_flight = _in_flight(lines)
            report.killed_during[in_flight] += 1
            acknowledged, begun = _apply(expected, lines)
            report.acknowledged += acknowledged
            left = {p.name for p in path.iterdir() if p.name.startswith(".backup-")}
            report.backup_dirs_left += len(left)
            outcome = _check_after_kill(path, expected, begun, in_flight, keks, rng, check_values)
            # The next unlock (in the check) removes the work folders of killed backups.
            leftovers |= left & {p.name for p in path.iterdir() if p.name.startswith(".backup-")}
            if isinstance(outcome, str):
                report.corrupt += 1
                report.problems.append(f"{context}: {outcome}")
                # Go on from a new vault: nothing more can be learnt from this one.
                shutil.rmtree(path)
                new_vault(path, passphrase_for(0)).lock()
                expected = Expected()
                kek, master = keks.opens(Header.load(path / "header.json"), 0)  # type: ignore[misc]
                expected.rekeys.append(fingerprint(master))
                continue
            kek, lost = outcome
            # Backups acknowledged since the last check: each must verify on its own.
            for backup, index in expected.backups[verified_backups:]:
                try:
                    opened = keks.opens(Header.from_bytes(_backup_header(backup)), index)
                    assert opened is not None, "its passphrase does not open it"
                    verify_backup(backup, KnownKek(opened[0]))
                except Exception as e:  # noqa: BLE001 - any failure is a lost backup
                    lost.append(f"backup {backup.name}: {e}")
                else:
                    backup.unlink()  # checked: a 500-run soak need not keep gigabytes
            verified_backups = len(expected.backups)
            if lost:
                report.lost += len(lost)
                report.problems.append(f"{context}: acknowledged but lost: {lost[:5]}")
    finally:
        server.close()
    report.leftover_backup_dirs = len(leftovers)
    report.seconds = time.monotonic() - started
    return report


def _backup_header(path: Path) -> bytes:
    return parse(path).header_bytes


def _check_after_kill(path: Path, expected: Expected, begun: int | None, in_flight: str,
                      keks: KekCache, rng: random.Random,
                      check_values: int) -> tuple[bytes, list[str]] | str:
    """(KEK, lost writes) if the vault opens and verifies; else what is corrupt."""
    try:
        header = Header.load(path / "header.json")
    except Exception as e:  # noqa: BLE001
        return f"the header does not parse: {e}"
    lost: list[str] = []
    index = expected.pass_index
    opened = keks.opens(header, index)
    if opened is None and begun is not None:
        index = begun  # a change in flight may have reached the header: either is fine
        opened = keks.opens(header, index)
    if opened is None and expected.pass_index > 0:
        index = expected.pass_index - 1
        opened = keks.opens(header, index)
        lost.append("an acknowledged passphrase change: the old passphrase opens the vault")
    if opened is None:
        return "no passphrase the worker used opens the header"
    kek = opened[0]
    try:
        with Vault.open(path) as vault:
            vault.unlock(KnownKek(kek))
            problems = vault.integrity_check()
            if problems:
                return f"integrity check: {problems[:3]}"
            report = vault.audit_verify()
            if not report.ok or report.anchor is not AnchorStatus.Match:
                return f"audit chain: {report.reason}"
            master = vault._unlocked_keys.master
            lost += _lost(vault, expected, master, in_flight)
            present = {info.name for info in vault.list_secrets()}
            names = sorted(set(expected.versions) & present)  # a missing one is counted above
            lost += _check_values(vault, expected, rng.sample(names, min(check_values,
                                                                         len(names))))
    except Exception as e:  # noqa: BLE001 - a vault that does not open is corrupt
        return f"the vault does not open: {type(e).__name__}: {e}"
    expected.pass_index = index
    if fingerprint(master) != expected.rekeys[-1]:
        expected.rekeys.append(fingerprint(master))  # a rotation in flight, finished at unlock
    verdict = cli("audit", "verify", vault=path, passphrases=[passphrase_for(index)])
    if verdict.code != 0:
        return f"'strongroom audit verify' exits {verdict.code}: {verdict.err.strip()}"
    return kek, lost
