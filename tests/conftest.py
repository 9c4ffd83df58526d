"""Shared fixtures: real vaults on disk (real SQLCipher), and the CLI run as a real process."""

from __future__ import annotations

import gc
import hashlib
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from strongroom.app.keyslots import PassphraseUnlocker, normalize_passphrase
from strongroom.app.vault import Vault

PASSPHRASE = "correct horse battery staple 42"
OTHER_PASSPHRASE = "tangerine ocelot quarry lantern 97"
FAST_KDF_MS = 10  # the Argon2id floor (64 MiB, 3 iterations) applies anyway


@dataclass(frozen=True)
class Result:
    code: int
    out: bytes
    err: str

    @property
    def text(self) -> str:
        return self.out.decode()


def run_cli(
    *args: str,
    vault: Path | None = None,
    passphrases: list[str] | None = None,
    stdin: bytes = b"",
    env: dict[str, str] | None = None,
    timeout: float = 120,
) -> Result:
    """Run ``python -m strongroom`` with passphrases on a pipe passed as --passphrase-fd."""
    cmd = [sys.executable, "-m", "strongroom"]
    if vault is not None:
        cmd += ["--vault", str(vault)]
    pass_fds: tuple[int, ...] = ()
    read_end = None
    if passphrases is not None:
        read_end, write_end = os.pipe()
        os.write(write_end, "".join(p + "\n" for p in passphrases).encode())
        os.close(write_end)
        cmd += ["--passphrase-fd", str(read_end)]
        pass_fds = (read_end,)
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("STRONGROOM_")}
    full_env.update(env or {})
    try:
        proc = subprocess.run(
            cmd + list(args), input=stdin, capture_output=True, pass_fds=pass_fds,
            env=full_env, timeout=timeout, check=False,
        )
    finally:
        if read_end is not None:
            os.close(read_end)
    return Result(proc.returncode, proc.stdout, proc.stderr.decode())


def snapshot(folder: Path) -> dict[str, str]:
    """SHA-256 of every file under ``folder`` (relative path -> digest)."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def make_vault(path: Path, passphrase: str = PASSPHRASE) -> Vault:
    return Vault.create(path, normalize_passphrase(passphrase), kdf_time_ms=FAST_KDF_MS)


def unlocker(passphrase: str = PASSPHRASE) -> PassphraseUnlocker:
    return PassphraseUnlocker.from_text(passphrase)


@pytest.fixture(autouse=True)
def _collect_garbage_on_the_main_thread():
    """The console turns automatic GC off while worker threads exist (ui/gc_guard.py); between
    tests, collect here on the main thread and turn it back on for tests without Qt."""
    yield
    gc.collect()
    gc.enable()


@pytest.fixture
def vault(tmp_path: Path) -> Vault:
    """An unlocked vault in a fresh directory."""
    v = make_vault(tmp_path / "vault")
    yield v
    v.lock()


@pytest.fixture
def vault_dir(tmp_path: Path) -> Path:
    """A locked vault on disk with the default test passphrase."""
    path = tmp_path / "vault"
    make_vault(path).lock()
    return path
