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
"""

from __future__ import annotations

import hashlib
import os
import signal
import sys
from pathlib import Path
from typing import Any

from strongroom.app import database as store
from strongroom.app.header import Header
from strongroom.app.keyslots import PassphraseUnlocker
from strongroom.app.model import Classification
from strongroom.app.vault import NewSecret, Vault


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


def main() -> None:
    mode, path = sys.argv[1], Path(sys.argv[2])
    passphrase = sys.stdin.readline().rstrip("\n")
    vault = Vault.open(path)
    vault.unlock(PassphraseUnlocker.from_text(passphrase))
    if mode == "add-loop":
        add_loop(vault, sys.argv[3])
    else:
        rotate_and_crash(vault, mode)


if __name__ == "__main__":
    main()
