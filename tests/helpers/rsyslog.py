"""A real rsyslogd for tests: its own config, pid file and work directory under a temporary
folder, imtcp on 127.0.0.1 at a free port (plain or TLS through gtls), and every message's MSG
written as one line to a file (omfile with a template of ``%msg%``). No mock: the forwarder talks
to the same daemon a site would run; packaging/bootstrap.sh installs rsyslog and rsyslog-gnutls.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

RSYSLOGD = "/usr/sbin/rsyslogd"
START_TIMEOUT = 20.0


@dataclass(frozen=True)
class Certs:
    """A CA, and a server certificate for localhost / 127.0.0.1 that it signed (PEM files)."""

    ca: Path
    cert: Path
    key: Path


def make_certs(folder: Path, name: str = "ca") -> Certs:
    """A fresh CA and server certificate made with the openssl command."""
    folder.mkdir(parents=True, exist_ok=True)
    openssl = shutil.which("openssl")
    assert openssl, "the openssl command is needed (packaging/bootstrap.sh installs it)"

    def run(*args: str) -> None:
        subprocess.run([openssl, *args], check=True, capture_output=True, cwd=folder)

    ca, ca_key = folder / f"{name}.pem", folder / f"{name}.key"
    run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", str(ca_key), "-out", str(ca), "-days", "2", "-subj", f"/CN=Test {name}")
    key, csr, cert = folder / "server.key", folder / "server.csr", folder / "server.pem"
    run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", str(key), "-out", str(csr), "-subj", "/CN=localhost")
    ext = folder / "server.ext"
    ext.write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
                   "extendedKeyUsage=serverAuth\n")
    run("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key),
        "-CAcreateserial", "-out", str(cert), "-days", "2", "-extfile", str(ext))
    return Certs(ca, cert, key)


def make_client_cert(certs: Certs, name: str = "client") -> tuple[Path, Path]:
    """A client certificate (clientAuth) signed by ``certs``' CA: (certificate, key)."""
    openssl = shutil.which("openssl")
    assert openssl, "the openssl command is needed (packaging/bootstrap.sh installs it)"
    folder = certs.ca.parent
    key, csr, cert = folder / f"{name}.key", folder / f"{name}.csr", folder / f"{name}.pem"
    ext = folder / f"{name}.ext"
    ext.write_text("basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n")
    for args in (["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                  "-keyout", str(key), "-out", str(csr), "-subj", f"/CN={name}"],
                 ["x509", "-req", "-in", str(csr), "-CA", str(certs.ca), "-CAkey",
                  str(certs.ca.with_suffix(".key")), "-CAcreateserial", "-out", str(cert),
                  "-days", "2", "-extfile", str(ext)]):
        subprocess.run([openssl, *args], check=True, capture_output=True, cwd=folder)
    return cert, key


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Rsyslog:
    """One rsyslogd: :meth:`start`, :meth:`stop` (it can be started again on the same port),
    :meth:`lines` (the MSGs received so far, flushed)."""

    def __init__(self, folder: Path, *, certs: Certs | None = None,
                 port: int | None = None, client_certs: bool = False) -> None:
        assert os.path.exists(RSYSLOGD), "rsyslogd is needed (packaging/bootstrap.sh installs it)"
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.work = folder / "work"
        self.work.mkdir(exist_ok=True)
        self.port = port or free_port()
        self.certs = certs
        self.client_certs = client_certs  # TLS: clients must show a certificate of the CA
        self.out = folder / "received.log"
        self.conf = folder / "rsyslog.conf"
        self.pidfile = folder / "rsyslogd.pid"
        self.stderr = folder / "rsyslogd.stderr"
        self.proc: subprocess.Popen[bytes] | None = None
        self.conf.write_text(self._config())

    def _config(self) -> str:
        tls = ""
        module = 'module(load="imtcp")'
        if self.certs is not None:
            tls = (f'\n  defaultNetstreamDriverCAFile="{self.certs.ca}"'
                   f'\n  defaultNetstreamDriverCertFile="{self.certs.cert}"'
                   f'\n  defaultNetstreamDriverKeyFile="{self.certs.key}"')
            auth = "x509/certvalid" if self.client_certs else "anon"
            module = ('module(load="imtcp" streamDriver.name="gtls" streamDriver.mode="1" '
                      f'streamDriver.authMode="{auth}")')
        return (
            f'global(workDirectory="{self.work}" maxMessageSize="64k"{tls})\n'
            f"{module}\n"
            'template(name="rawmsg" type="string" string="%msg%\\n")\n'
            f'input(type="imtcp" address="127.0.0.1" port="{self.port}" ruleset="forwarded")\n'
            'ruleset(name="forwarded") {\n'
            f'  action(type="omfile" file="{self.out}" template="rawmsg" flushOnTXEnd="on")\n'
            "}\n"
        )

    def start(self) -> None:
        self.pidfile.unlink(missing_ok=True)
        with open(self.stderr, "ab") as err:
            self.proc = subprocess.Popen(
                [RSYSLOGD, "-n", "-f", str(self.conf), "-i", str(self.pidfile)],
                stdin=subprocess.DEVNULL, stdout=err, stderr=err)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"rsyslogd exited with {self.proc.returncode}: "
                                   f"{self.stderr.read_text(errors='replace')[-2000:]}")
            with contextlib.suppress(OSError), socket.create_connection(
                    ("127.0.0.1", self.port), timeout=1):
                return  # an empty connection: rsyslog logs nothing for it
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"rsyslogd did not listen on port {self.port} within "
                           f"{START_TIMEOUT:g} s")

    def stop(self) -> None:
        """SIGTERM and wait: rsyslog drains its queue to the file before it exits."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def lines(self, expected: int | None = None, timeout: float = 30.0) -> list[str]:
        """The received MSG lines; with ``expected``, wait (up to ``timeout``) until at least
        that many are in the file (rsyslog writes from its queue a moment after it reads)."""
        deadline = time.monotonic() + timeout
        while True:
            text = self.out.read_text("utf-8") if self.out.exists() else ""
            lines = [line for line in text.split("\n") if line]
            if expected is None or len(lines) >= expected or time.monotonic() > deadline:
                return lines
            time.sleep(0.05)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def __enter__(self) -> Rsyslog:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
