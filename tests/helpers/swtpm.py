"""A real software TPM (swtpm 0.7) for tests, and small helpers around it.

    handle = start_swtpm(state_dir)       # swtpm socket --tpm2 on a Unix socket, started and ready
    TpmSealSource(handle.tcti)            # "swtpm:path=<state_dir>/sock"
    handle.stop()                         # TPM2_Shutdown(CLEAR), then terminate the process

Session fixtures (import them into a test module with ``from helpers.swtpm import
swtpm_fixture, other_swtpm_fixture  # noqa: F401``; tests then ask for ``swtpm`` / ``other_swtpm``):
``swtpm`` — one TPM for the whole session; ``other_swtpm`` — a second, independent TPM (another
seed: its storage key differs), for "sealed by another TPM" cases. Both have the
dictionary-attack limit raised (:data:`TEST_MAX_TRIES` tries, 1 s recovery) so wrong-PIN tests do
not lock the TPM. For a CLI run in a subprocess, pass ``STRONGROOM_TPM_TCTI=<handle.tcti>`` in its
environment. Also: :func:`open_handles` (what the TPM has loaded), :func:`extend_pcr`,
:class:`DictBlobStore` (an app.signing.KeyBlobStore in memory) and :class:`PinPrompts`.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from tpm2_pytss import ESAPI
from tpm2_pytss.constants import ESYS_TR, TPM2_ALG, TPM2_CAP, TPM2_HC, TPM2_SU
from tpm2_pytss.types import TPML_DIGEST_VALUES, TPMT_HA

from strongroom.app.keys.ports import KeyBlob

TEST_MAX_TRIES = 1000
TEST_RECOVERY_S = 1
START_TIMEOUT_S = 10.0


@dataclass
class SwtpmHandle:
    """A running swtpm; ``tcti`` is what the TPM backend takes."""

    state_dir: Path
    socket: Path
    process: subprocess.Popen[bytes]

    @property
    def tcti(self) -> str:
        return f"swtpm:path={self.socket}"

    def stop(self) -> None:
        """Send TPM2_Shutdown(CLEAR) (an orderly shutdown keeps the DA state sane), then stop."""
        if self.process.poll() is None:
            try:
                with esapi(self.tcti) as ctx:
                    ctx.shutdown(TPM2_SU.CLEAR)
            finally:
                self.process.terminate()
                try:
                    self.process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()


@contextmanager
def esapi(tcti: str) -> Iterator[ESAPI]:
    ctx = ESAPI(tcti)
    try:
        yield ctx
    finally:
        ctx.close()


def start_swtpm(state_dir: Path, *, max_tries: int = TEST_MAX_TRIES,
                recovery_s: int = TEST_RECOVERY_S) -> SwtpmHandle:
    """Start ``swtpm socket --tpm2`` with its state in ``state_dir``; returns once it answers."""
    exe = shutil.which("swtpm")
    if exe is None:
        raise RuntimeError("swtpm is not installed (apt-get install swtpm)")
    state_dir.mkdir(parents=True, exist_ok=True)
    sock = state_dir / "sock"
    process = subprocess.Popen(
        [
            exe, "socket", "--tpm2",
            "--tpmstate", f"dir={state_dir}",
            "--server", f"type=unixio,path={sock}",
            "--ctrl", f"type=unixio,path={sock}.ctrl",  # the swtpm TCTI expects "<path>.ctrl"
            "--flags", "not-need-init,startup-clear",
            "--log", f"file={state_dir / 'swtpm.log'}",
        ],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    handle = SwtpmHandle(state_dir, sock, process)
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"swtpm exited with {process.returncode}; see {state_dir}")
        try:
            if sock.exists() and Path(f"{sock}.ctrl").exists():
                with esapi(handle.tcti) as ctx:
                    ctx.get_random(8)
                    # Lockout auth is empty on a fresh TPM: raise the limit, clear the counter.
                    ctx.dictionary_attack_parameters(max_tries, recovery_s, recovery_s)
                    ctx.dictionary_attack_lock_reset()
                return handle
        except Exception:  # not listening yet
            if time.monotonic() > deadline:
                process.kill()
                raise
        time.sleep(0.05)


def set_dictionary_attack(tcti: str, max_tries: int, recovery_s: int = TEST_RECOVERY_S) -> None:
    """Change the DA limit and clear the failure counter (lockout auth is empty in tests)."""
    with esapi(tcti) as ctx:
        ctx.dictionary_attack_lock_reset()
        ctx.dictionary_attack_parameters(max_tries, recovery_s, recovery_s)


def open_handles(tcti: str) -> dict[str, int]:
    """How many transient objects and loaded/saved sessions the TPM holds (0 when all flushed)."""
    with esapi(tcti) as ctx:
        out = {}
        for name, first in (
            ("transient", TPM2_HC.TRANSIENT_FIRST),
            ("loaded_sessions", TPM2_HC.LOADED_SESSION_FIRST),
            ("saved_sessions", TPM2_HC.ACTIVE_SESSION_FIRST),
        ):
            _more, cap = ctx.get_capability(TPM2_CAP.HANDLES, first, 64)
            out[name] = int(cap.data.handles.count)
        return out


def extend_pcr(tcti: str, index: int, data: bytes = b"strongroom test") -> None:
    """Extend sha256 PCR ``index`` (16 is the debug PCR; 7 is Secure Boot state)."""
    digest = TPMT_HA(hashAlg=TPM2_ALG.SHA256)
    digest.digest.sha256 = hashlib.sha256(data).digest()
    with esapi(tcti) as ctx:
        ctx.pcr_extend(ESYS_TR.PCR0 + index, TPML_DIGEST_VALUES([digest]))


@dataclass
class DictBlobStore:
    """app.signing.KeyBlobStore kept in a dict (the vault implements the real one)."""

    data: dict[tuple[str, str], KeyBlob] = field(default_factory=dict)

    def put_blob(self, store: str, blob: KeyBlob) -> None:
        self.data[(store, blob.key_id)] = blob

    def blobs(self, store: str) -> list[KeyBlob]:
        return [b for (s, _), b in self.data.items() if s == store]

    def remove_blob(self, store: str, key_id: str) -> None:
        self.data.pop((store, key_id), None)


@dataclass
class PinPrompts:
    """app.unlock_methods.Prompts answering PIN requests from a list (None = the user cancels)."""

    pins: list[str | None]
    asked: list[tuple[str, int | None, bool]] = field(default_factory=list)

    def prompt_touch(self, device: str) -> None:
        raise AssertionError("the TPM never asks for a touch")

    def request_pin(self, device: str, retries: int | None, *, new: bool = False) -> str | None:
        self.asked.append((device, retries, new))
        return self.pins.pop(0)


@pytest.fixture(scope="session", name="swtpm")
def swtpm_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SwtpmHandle]:
    handle = start_swtpm(tmp_path_factory.mktemp("swtpm"))
    yield handle
    handle.stop()


@pytest.fixture(scope="session", name="other_swtpm")
def other_swtpm_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SwtpmHandle]:
    handle = start_swtpm(tmp_path_factory.mktemp("swtpm-other"))
    yield handle
    handle.stop()
