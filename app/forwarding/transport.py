"""Sending framed syslog messages over TCP or TLS (RFC 5425), one connection per batch.

Syslog has no application acknowledgement. A batch counts as *acknowledged* when every byte was
written, our side was shut down (TLS: close_notify, then a TCP FIN), and the receiver then closed
its side cleanly (an end of stream, not a reset) within the timeout. A receiver closes only after
it has read up to our end of stream, so it has *read* every message of the batch; whether it
then wrote them to disk is its own business (rsyslog queues them in memory first). A reset, a
timeout or any error leaves the batch unacknowledged and it is sent again next time.

One case a sender cannot tell from that close: under TLS 1.3 a receiver judges our client
certificate after our side of the handshake is done, and one that refuses us may first read our
batch into its TLS buffer and then close cleanly (rsyslog's gtls does). So the first connection of
a run waits :data:`SETTLE` seconds after the handshake and fails if the receiver closes then.
"""

from __future__ import annotations

import ipaddress
import select
import socket
import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import StrongroomError, UsageError

DEFAULT_TIMEOUT = 30.0  # seconds for connecting, each write, and the receiver's close
SETTLE = 1.0  # seconds to watch for a refusal after the first TLS handshake of a run


class ForwardFailed(StrongroomError):
    """The receiver could not be reached or did not take a batch; the cursor was not advanced
    past what it had taken."""


@dataclass(frozen=True)
class Destination:
    """Where to send: a host and a TCP port, and how (TLS unless ``tls`` is False)."""

    host: str
    port: int
    tls: bool = True
    ca_file: Path | None = None
    client_cert: Path | None = None
    client_key: Path | None = None
    timeout: float = DEFAULT_TIMEOUT

    @property
    def address(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @property
    def transport(self) -> str:
        return "tls" if self.tls else "tcp"


def parse_address(text: str) -> tuple[str, int]:
    """``HOST:PORT`` or ``[IPv6]:PORT``; a usage error (exit 2) for anything else."""
    host, sep, port_text = text.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            host = ""
    elif ":" in host:
        host = ""  # a bare IPv6 address needs brackets
    if not sep or not host or not port_text.isascii() or not port_text.isdigit() \
            or not 1 <= int(port_text) <= 65535 or not _host_ok(host):
        raise UsageError(f"--to {text!r} is not HOST:PORT (a port from 1 to 65535; "
                         "an IPv6 address in brackets)")
    return host, int(port_text)


def _host_ok(host: str) -> bool:
    if ":" in host:
        return True  # checked as IPv6 above
    labels = host.rstrip(".").split(".")
    return len(host) <= 253 and all(
        0 < len(label) <= 63 and label.isascii()
        and all(c.isalnum() or c == "-" for c in label) and not label.startswith("-")
        for label in labels
    )


def tls_context(dest: Destination) -> ssl.SSLContext:
    """A client context that checks the server's certificate and name (TLS 1.2 at least)."""
    try:
        context = ssl.create_default_context(
            cafile=None if dest.ca_file is None else str(dest.ca_file))
    except (OSError, ssl.SSLError) as e:
        raise UsageError(f"the CA file {dest.ca_file} could not be read as PEM "
                         "certificates") from e
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if dest.client_cert is not None:
        try:
            context.load_cert_chain(
                str(dest.client_cert),
                None if dest.client_key is None else str(dest.client_key),
                password=_no_password,
            )
        except (OSError, ssl.SSLError, _EncryptedKey) as e:
            raise UsageError(
                f"the client certificate {dest.client_cert} and its key could not be loaded "
                "(PEM files, the key unencrypted and matching the certificate)") from e
    return context


class _EncryptedKey(Exception):
    pass


def _no_password() -> bytes:
    raise _EncryptedKey  # an encrypted key would make OpenSSL prompt on the terminal


class Connection:
    """One connection to the receiver: :meth:`send` frames, then :meth:`close_cleanly`."""

    def __init__(self, dest: Destination, context: ssl.SSLContext | None, *,
                 settle: float = 0.0) -> None:
        """Connect (and shake hands); with ``settle``, then wait that long for a receiver that
        takes the handshake but refuses us after it (see :meth:`_refused_after_handshake`)."""
        self.dest = dest
        try:
            raw = socket.create_connection((dest.host, dest.port), timeout=dest.timeout)
        except OSError as e:
            raise ForwardFailed(f"could not connect to {dest.address}: {_reason(e)}") from e
        self.sock: socket.socket = raw
        if context is not None:
            try:
                self.sock = context.wrap_socket(raw, server_hostname=dest.host)
            except ssl.SSLCertVerificationError as e:
                raw.close()
                raise ForwardFailed(
                    f"the TLS certificate of {dest.address} is not trusted: "
                    f"{e.verify_message or 'verification failed'}") from e
            except (OSError, ssl.SSLError) as e:
                raw.close()
                raise ForwardFailed(
                    f"the TLS handshake with {dest.address} failed: {_reason(e)}") from e
            if settle > 0 and self._refused_after_handshake(settle):
                self.abort()
                raise ForwardFailed(
                    f"{dest.address} closed the connection right after the TLS handshake: it "
                    "refused this client (does it want a client certificate, or another one?)")

    def _refused_after_handshake(self, settle: float) -> bool:
        """Under TLS 1.3 a server judges the client's certificate after our handshake is done;
        rsyslog (gtls, x509 modes) then closes with a FIN that, once we had sent a batch, would
        look like an acknowledgement. So before the first batch of a run, wait ``settle``
        seconds for such a close; application data or nothing at all means we were kept."""
        if not select.select([self.sock], [], [], settle)[0]:
            return False
        self.sock.setblocking(False)
        try:
            return not self.sock.recv(1)
        except (ssl.SSLWantReadError, BlockingIOError):
            return False  # a post-handshake message (a session ticket), no data: kept
        except OSError:
            return True  # an alert or a reset: refused
        finally:
            self.sock.settimeout(self.dest.timeout)

    def send(self, frames: Sequence[bytes]) -> int:
        """Write every frame; returns the octets written."""
        data = b"".join(frames)
        try:
            self.sock.sendall(data)
        except OSError as e:
            self.abort()
            raise ForwardFailed(
                f"{self.dest.address} stopped taking messages: {_reason(e)}") from e
        return len(data)

    def close_cleanly(self) -> None:
        """End our stream and wait for the receiver to end its own: the acknowledgement."""
        self.sock.settimeout(self.dest.timeout)
        try:
            if isinstance(self.sock, ssl.SSLSocket):
                raw = _tls_closed(self.sock)
                if raw is None:
                    return  # the receiver closed TCP after our close_notify: all was read
                self.sock = raw
            self.sock.shutdown(socket.SHUT_WR)
            deadline = time.monotonic() + self.dest.timeout
            while True:
                self.sock.settimeout(max(0.01, deadline - time.monotonic()))
                if not self.sock.recv(4096):
                    break  # the receiver's end of stream
        except (OSError, ssl.SSLError) as e:
            self.abort()
            raise ForwardFailed(
                f"{self.dest.address} did not close the connection cleanly, so it may not have "
                f"read every message: {_reason(e)}") from e
        finally:
            self.sock.close()

    def abort(self) -> None:
        self.sock.close()


def _tls_closed(sock: ssl.SSLSocket) -> socket.socket | None:
    """Send close_notify and read up to the receiver's; the socket underneath then, or None when
    the receiver ended TCP instead of answering (rsyslog does): a clean end of stream too."""
    try:
        return sock.unwrap()
    except ssl.SSLEOFError:
        return None


def _reason(e: BaseException) -> str:
    if isinstance(e, ConnectionRefusedError):
        return "connection refused (is the receiver running?)"
    if isinstance(e, ConnectionResetError):
        return "the connection was reset by the receiver"
    if isinstance(e, BrokenPipeError):
        return "the receiver closed the connection"
    if isinstance(e, TimeoutError | socket.timeout):
        return "timed out"
    if isinstance(e, socket.gaierror):
        return "the host name could not be resolved"
    if isinstance(e, ssl.SSLError):
        return e.reason or type(e).__name__
    return e.strerror or type(e).__name__ if isinstance(e, OSError) else type(e).__name__


__all__ = [
    "DEFAULT_TIMEOUT",
    "SETTLE",
    "Connection",
    "Destination",
    "ForwardFailed",
    "parse_address",
    "tls_context",
]
