"""A child process for the durability tests: it works on a vault and dies the way a crash would.

Usage: ``python crash_child.py MODE VAULT_DIR`` with the passphrase as one line on stdin.

Modes:
  add-loop            add secrets forever, printing each name (flushed) only after add_secret
                      returned; the parent kills it with SIGKILL at a moment of its choosing
  kill-before-rekey   rotate the master key; SIGKILL itself just before the database is rekeyed
                      (the header already holds the new key beside the old one)
  kill-after-rekey    ... just after the rekey, before the data keys are re-wrapped
  kill-before-header  ... after the data keys are re-wrapped and committed, before the header
                      drops the old key
  kill-during-backup  back up into backups/; SIGKILL itself once the database copy is written
  kill-during-revoke  revoke grant argv[3]; SIGKILL itself half-way through re-encrypting the
                      level's values under its new key (inside the one transaction)
  kill-after-revoke   ... just after the revocation committed, before the header's anchor follows
  serve               a fork server for the crash campaign (tests/campaigns/crash.py): reads one
                      JSON run per stdin line, forks a worker that unlocks with the given KEK and
                      does random writes (:func:`mixed_writes`), kills it after a delay or lets it
                      kill itself at its n-th file replace or fsync, and answers ``exit STATUS``
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import random
import select
import signal
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from strongroom.app import database as store
from strongroom.app.header import Header
from strongroom.app.keyslots import PASSPHRASE as PASSPHRASE_KIND
from strongroom.app.keyslots import PassphraseUnlocker, normalize_passphrase
from strongroom.app.model import Classification
from strongroom.app.vault import NewSecret, Vault
from strongroom.app.vault import backup as backup_module
from strongroom.app.vault.backup import create_backup


def value_for(name: str) -> bytes:
    """The value the add loop stores under ``name`` (the parent recomputes it); 64 B to ~6 KiB."""
    digest = hashlib.sha256(name.encode()).hexdigest().encode()
    return digest * (1 + digest[0] % 96)


def die() -> None:
    """Crash: no cleanup, no flush, no closing of the database."""
    os.kill(os.getpid(), signal.SIGKILL)


def add_loop(vault: Vault, prefix: str) -> None:
    levels = list(Classification)
    i = 0
    while True:
        name = f"{prefix}-{i:05d}"
        vault.add_secret(NewSecret(name=name, value=value_for(name), classification=levels[i % 5]))
        sys.stdout.write(name + "\n")
        sys.stdout.flush()
        i += 1


def rotate_and_crash(vault: Vault, mode: str) -> None:
    real_rekey = store.rekey
    real_load = Header.load.__func__  # type: ignore[attr-defined]
    rekeyed = False

    def rekey(conn: Any, new_key: bytes) -> None:
        nonlocal rekeyed
        if mode == "kill-before-rekey":
            die()
        real_rekey(conn, new_key)
        rekeyed = True
        if mode == "kill-after-rekey":
            die()

    loads_after_rekey = 0

    def load(cls: type[Header], path: Path) -> Header:
        # After the rekey the header is read twice: to announce the re-wrap transaction's
        # head (before its commit), then to drop the old key (after it): die at the second.
        nonlocal loads_after_rekey
        if rekeyed and mode == "kill-before-header":
            loads_after_rekey += 1
            if loads_after_rekey == 2:
                die()
        return real_load(cls, path)  # type: ignore[no-any-return]

    store.rekey = rekey  # type: ignore[assignment]
    Header.load = classmethod(load)  # type: ignore[assignment, method-assign]
    vault.rotate_master_key()
    sys.exit("the crash point was never reached")


def backup_and_crash(vault: Vault) -> None:
    real_export = backup_module.export_database

    def export(session: Any, dest: Path) -> None:
        real_export(session, dest)
        die()

    backup_module.export_database = export  # type: ignore[assignment]
    vault.auto_backup("crash")
    sys.exit("the crash point was never reached")


@dataclass
class KnownKek:
    """A keyslot unlocker (the port) that returns a KEK derived earlier: one Argon2id, not two."""

    kek: bytes = field(repr=False)
    kind: str = PASSPHRASE_KIND

    def derive_kek(self, slot: Any, **_: Any) -> bytes:
        return self.kek


# ----- the crash campaign's worker -----------------------------------------------------------

# What the worker does, and how often (weights): every kind of write the vault makes.
OPS: dict[str, int] = {
    "add": 30, "update": 20, "record": 10, "record-many": 8, "rotate-dek": 8, "backup": 6,
    "rotate-master": 5, "passphrase": 4,
}
RECORD_ACTION = "campaign.record"
BATCH_ACTION = "campaign.batch"


def passphrase_for(index: int) -> str:
    """The campaign vault's passphrase after ``index`` changes."""
    return f"crash campaign passphrase {index:04d}"


def update_value(name: str, version: int) -> bytes:
    """The value the worker stores as ``version`` of ``name`` by an update."""
    return value_for(f"{name}#{version}")


def fingerprint(master: bytes) -> str:
    """Names a master key in the acknowledgements without showing it."""
    return hashlib.sha256(b"crash-campaign-fingerprint\0" + master).hexdigest()[:16]


class Acks:
    """Acknowledgement lines, each one write(2) to a file: a line there was written after the
    operation it names returned, and SIGKILL cannot take it back."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def say(self, *words: object) -> None:
        os.write(self.fd, (" ".join(str(w) for w in words) + "\n").encode())


def mixed_writes(vault: Vault, rng: random.Random, acks: Acks, backups: Path, pass_index: int,
                 run: str) -> None:
    """Random writes forever, each announced (``begin OP``) and acknowledged (``ok OP ...``)."""
    names = [info.name for info in vault.list_secrets()]
    levels = list(Classification)
    kinds, weights = list(OPS), list(OPS.values())
    for i in itertools.count():
        op = rng.choices(kinds, weights)[0]
        if op == "update" and not names:
            op = "add"
        acks.say("begin", op)
        if op == "add":
            name = f"{run}-{i:04d}"
            vault.add_secret(NewSecret(name=name, value=value_for(name),
                                       classification=rng.choice(levels)))
            names.append(name)
            acks.say("ok", op, name)
        elif op == "update":
            name = rng.choice(names)
            version = vault.secret_info(name).version + 1
            info = vault.update_secret(name, update_value(name, version))
            assert info.version == version  # one writer: the worker itself
            acks.say("ok", op, name, version)
        elif op == "record":
            vault.record(RECORD_ACTION, f"{run}-{i:04d}", details={"i": i})
            acks.say("ok", op, f"{run}-{i:04d}")
        elif op == "record-many":
            count = rng.randint(2, 40)
            vault.record_many(BATCH_ACTION, [(f"{run}-{i:04d}-{k}", {"k": k})
                                             for k in range(count)])
            acks.say("ok", op, f"{run}-{i:04d}", count)
        elif op == "rotate-dek":
            level = rng.choice(levels)
            vault.rotate_dek(level)
            acks.say("ok", op, level.value, vault._deks.current_generation(level.value))
        elif op == "backup":
            dest = backups / f"{run}-{i:04d}.srbk"
            create_backup(vault, dest)
            acks.say("ok", op, dest, pass_index)
        elif op == "rotate-master":
            vault.rotate_master_key()
            acks.say("ok", op, fingerprint(vault._unlocked_keys.master))
        elif op == "passphrase":
            new = pass_index + 1
            acks.say("begin-passphrase", new)
            rekeyed = vault.change_passphrase(normalize_passphrase(passphrase_for(pass_index)),
                                              normalize_passphrase(passphrase_for(new)))
            assert rekeyed  # the only slot: the master key is rotated too
            pass_index = new
            acks.say("ok", op, new, fingerprint(vault._unlocked_keys.master))


def _die_at_nth_io(nth: int, before: bool) -> None:
    """SIGKILL this process at its ``nth`` os.replace or os.fsync (the file writes' steps)."""
    calls = itertools.count(1)

    def wrap(real: Callable[..., Any]) -> Callable[..., Any]:
        def io(*args: Any, **kwargs: Any) -> Any:
            last = next(calls) == nth
            if last and before:
                die()
            result = real(*args, **kwargs)
            if last:
                die()
            return result
        return io

    os.replace = wrap(os.replace)  # type: ignore[assignment]
    os.fsync = wrap(os.fsync)  # type: ignore[assignment]


def _work(run: dict[str, Any]) -> None:
    """One forked worker: unlock, then write until killed."""
    fd = os.open(run["acks"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    acks = Acks(fd)
    kill = run["kill"]
    if "io" in kill:
        _die_at_nth_io(int(kill["io"]), bool(kill["before"]))
    vault = Vault.open(Path(run["vault"]))
    acks.say("begin", "unlock")
    vault.unlock(KnownKek(bytes.fromhex(run["kek"])))
    acks.say("ok", "unlock")
    mixed_writes(vault, random.Random(run["seed"]), acks, Path(run["backups"]),  # noqa: S311
                 int(run["pass_index"]), run["run"])


def serve() -> None:
    """The fork server: one import of Strongroom, then a forked worker per run (ms, not 0.3 s)."""
    print("ready", flush=True)
    for line in sys.stdin:
        run = json.loads(line)
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                _work(run)
            except BaseException:  # noqa: BLE001 - a worker that stops on its own is reported
                traceback.print_exc()
                code = 1
            finally:
                sys.stderr.flush()
                os._exit(code)
        after = run["kill"].get("after")
        if after is not None:
            pidfd = os.pidfd_open(pid)
            try:
                done, _, _ = select.select([pidfd], [], [], float(after))
                if not done:
                    os.kill(pid, signal.SIGKILL)
            finally:
                os.close(pidfd)
        _, status = os.waitpid(pid, 0)
        code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
        print(f"exit {code}", flush=True)


def revoke_and_crash(vault: Vault, mode: str, grant_id: int) -> None:
    from strongroom.app.access import access_changes
    from strongroom.app.vault import rotation

    seals = 0
    real_seal = rotation.seal

    def seal(key: bytes, plaintext: bytes, aad: bytes) -> tuple[bytes, bytes]:
        nonlocal seals
        seals += 1
        if mode == "kill-during-revoke" and seals == 2:
            die()
        return real_seal(key, plaintext, aad)

    real_save = Vault._save_header

    def save_header(self: Vault, header: Header) -> None:
        if mode == "kill-after-revoke" and seals:
            die()
        real_save(self, header)

    rotation.seal = seal  # type: ignore[assignment]
    Vault._save_header = save_header  # type: ignore[method-assign]
    access_changes.revoke_grant(vault, grant_id, reason="crash test")
    print("revoked without crashing", file=sys.stderr)


def main() -> None:
    if sys.argv[1] == "serve":
        serve()
        return
    mode, path = sys.argv[1], Path(sys.argv[2])
    passphrase = sys.stdin.readline().rstrip("\n")
    vault = Vault.open(path)
    vault.unlock(PassphraseUnlocker.from_text(passphrase))
    if mode == "add-loop":
        add_loop(vault, sys.argv[3])
    elif mode == "kill-during-backup":
        backup_and_crash(vault)
    elif mode in ("kill-during-revoke", "kill-after-revoke"):
        revoke_and_crash(vault, mode, int(sys.argv[3]))
    else:
        rotate_and_crash(vault, mode)


if __name__ == "__main__":
    main()
