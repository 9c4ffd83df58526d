"""Shared fixtures: real vaults on disk (real SQLCipher), and the CLI run as a real process."""

from __future__ import annotations

import gc
import hashlib
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from strongroom.app.keyslots import PassphraseUnlocker, normalize_passphrase
from strongroom.app.vault import Vault

# The user's own config (remembered PKCS#11 modules, keyring and Qt settings) never reaches a
# test, and no test writes into it: every process started here sees an empty config home.
os.environ["XDG_CONFIG_HOME"] = tempfile.mkdtemp(prefix="strongroom-test-config-")
# Likewise the state dir (rollback witnesses, the compliance first-seen memory).
os.environ["XDG_STATE_HOME"] = tempfile.mkdtemp(prefix="strongroom-test-state-")

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


def secret_pipes(passphrases: list[str] | None,
                 pins: list[str] | None) -> tuple[list[str], list[int]]:
    """Pipes holding the passphrases and PINs one per line, as ``--passphrase-fd N`` and
    ``--pin-fd N`` options; the caller closes the returned read ends."""
    options: list[str] = []
    fds: list[int] = []
    for option, lines in (("--passphrase-fd", passphrases), ("--pin-fd", pins)):
        if lines is not None:
            read_end, write_end = os.pipe()
            os.write(write_end, "".join(p + "\n" for p in lines).encode())
            os.close(write_end)
            options += [option, str(read_end)]
            fds.append(read_end)
    return options, fds


def run_cli(
    *args: str,
    vault: Path | None = None,
    passphrases: list[str] | None = None,
    stdin: bytes = b"",
    env: dict[str, str] | None = None,
    timeout: float = 120,
    pins: list[str] | None = None,
) -> Result:
    """Run ``python -m strongroom`` with passphrases (and PINs) on pipes passed as
    --passphrase-fd (--pin-fd)."""
    cmd = [sys.executable, "-m", "strongroom"]
    if vault is not None:
        cmd += ["--vault", str(vault)]
    options, fds = secret_pipes(passphrases, pins)
    cmd += options
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("STRONGROOM_")}
    full_env.update(env or {})
    try:
        proc = subprocess.run(
            cmd + list(args), input=stdin, capture_output=True, pass_fds=tuple(fds),
            env=full_env, timeout=timeout, check=False,
        )
    finally:
        for fd in fds:
            os.close(fd)
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


HARDWARE_KINDS = ("fido2", "tpm", "pkcs11")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--hardware", nargs="?", const=",".join(HARDWARE_KINDS), default="", metavar="KINDS",
        help="also run the tests on real devices (tests/test_hardware.py): all, or a comma "
        f"list of {', '.join(HARDWARE_KINDS)}; they never reset a device",
    )
    parser.addoption(
        "--openbao-cluster", action="store_true", default=False,
        help="also run the three-node OpenBao raft cluster test (tests/test_remote_cluster.py; "
        "make openbao-cluster)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "hardware(kind): needs a real device; run with --hardware")
    config.addinivalue_line("markers", "openbao_cluster: builds a three-node OpenBao raft "
                            "cluster; run with --openbao-cluster")


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("openbao_cluster") and not item.config.getoption(
            "--openbao-cluster"):
        pytest.skip("builds an OpenBao raft cluster: run with --openbao-cluster "
                    "(make openbao-cluster)")
    marker = item.get_closest_marker("hardware")
    if marker is None:
        return
    chosen = {k.strip() for k in item.config.getoption("--hardware").split(",") if k.strip()}
    unknown = chosen - set(HARDWARE_KINDS)
    if unknown:
        raise pytest.UsageError(f"--hardware takes {', '.join(HARDWARE_KINDS)}, not "
                                f"{', '.join(sorted(unknown))}")
    kind = marker.args[0]
    if kind not in chosen:
        pytest.skip(f"needs a real {kind} device: run with --hardware {kind}")


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
