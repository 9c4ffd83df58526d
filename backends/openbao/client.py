"""An hvac client for a remote: namespace and CA applied, short timeouts, logged in; and
``translated``, which turns hvac's and requests' errors into Strongroom's, one sentence each.

The credential (a token, an AppRole secret-id, a client key) never appears in a message: messages
are built here from the kind of failure and the path, never from the request.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import weakref
from collections.abc import Iterator
from pathlib import Path

import hvac
import hvac.exceptions as hx
import requests

from strongroom.app.errors import StrongroomError
from strongroom.app.remotes.config import Remote
from strongroom.app.remotes.errors import (
    CasMismatch,
    RemoteAuthFailed,
    RemoteError,
    RemoteNamespaceUnknown,
    RemoteNotFound,
    RemotePermissionDenied,
    RemoteSealed,
    RemoteTlsFailed,
    RemoteUnreachable,
)

TIMEOUT = 5.0  # seconds per request: a remote that does not answer fails fast


def _server_says(e: hx.VaultError) -> str:
    """The server's own error words, short, on one line (they name paths, never tokens)."""
    words = "; ".join(str(x) for x in (getattr(e, "errors", None) or []) if x)
    return " ".join(words.split())[:200]


@contextlib.contextmanager
def translated(what: str) -> Iterator[None]:
    """Map hvac/requests failures during ``what`` (e.g. "writing secret/data/strongroom/db on
    remote prod") to Strongroom errors with one sentence each."""
    try:
        yield
    except StrongroomError:
        raise
    except requests.exceptions.SSLError:
        raise RemoteTlsFailed(f"{what} failed: TLS verification failed (the server's certificate "
                              "does not verify against the CA given with --ca, or without it "
                              "the system's)") from None
    except (requests.exceptions.ConnectionError, requests.exceptions.Timeout):
        raise RemoteUnreachable(f"{what} failed: the server did not answer (down, refusing "
                                "connections or too slow)") from None
    except hx.VaultDown as e:
        if "seal" in _server_says(e).lower():
            raise RemoteSealed(f"{what} failed: the server is sealed") from None
        raise RemoteUnreachable(f"{what} failed: the server is unavailable "
                                f"({_server_says(e) or 'no active node'})") from None
    except hx.Unauthorized:
        raise RemoteAuthFailed(f"{what} failed: the credential was refused (wrong or "
                               "expired)") from None
    except hx.Forbidden:
        raise RemotePermissionDenied(f"{what} failed: permission denied by the server's "
                                     "policy") from None
    except hx.InvalidPath as e:
        if "namespace not found" in _server_says(e):
            raise RemoteNamespaceUnknown(f"{what} failed: the namespace is unknown to the "
                                         "server") from None
        raise RemoteNotFound(f"{what} failed: not found on the server") from None
    except hx.InvalidRequest as e:
        said = _server_says(e)
        if "check-and-set" in said:
            raise CasMismatch(f"{what} failed: the path changed on the server meanwhile",
                              path=what) from None
        raise RemoteError(f"{what} failed: the server refused the request ({said})") from None
    except hx.VaultError as e:
        raise RemoteError(f"{what} failed: the server answered with an error "
                          f"({type(e).__name__}: {_server_says(e) or 'no details'})") from None
    except (requests.exceptions.RequestException, ValueError) as e:
        raise RemoteError(f"{what} failed: {type(e).__name__}") from None


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def client_for(remote: Remote, url: str, *, timeout: float = TIMEOUT) -> hvac.Client:
    """A client for one of the remote's URLs, not logged in: namespace, CA, timeout. requests
    reads a CA by path: it is written to a 0700 folder removed with the client."""
    if not remote.ca_pem:
        return hvac.Client(url=url, namespace=remote.namespace or None, timeout=timeout)
    folder = Path(tempfile.mkdtemp(prefix="strongroom-remote-"))
    try:
        ca = folder / "ca.pem"
        _write_private(ca, remote.ca_pem.encode())
        client = hvac.Client(url=url, namespace=remote.namespace or None, verify=str(ca),
                             timeout=timeout)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    weakref.finalize(client, shutil.rmtree, folder, True)
    return client


def _login(client: hvac.Client, remote: Remote, credential: bytes) -> None:
    where = f"logging in to remote {remote.name} ({remote.auth})"
    try:
        secret = credential.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise RemoteAuthFailed(f"{where} failed: the stored credential is not text") from None
    with translated(where):
        try:
            if remote.auth == "token":
                client.token = secret
                client.auth.token.lookup_self()
            elif remote.auth == "approle":
                client.auth.approle.login(
                    role_id=str(remote.settings.get("role_id", "")), secret_id=secret,
                    mount_point=str(remote.settings.get("auth_mount", "approle")))
            elif remote.auth == "cert":
                _cert_login(client, remote, credential)
            else:
                raise RemoteError(f"{where} failed: unknown auth method {remote.auth!r}")
        except hx.Forbidden:  # a token the server does not know is "permission denied" too
            raise RemoteAuthFailed(f"{where} failed: the credential was refused (wrong or "
                                   "expired)") from None
        except hx.InvalidRequest as e:
            if "invalid" in _server_says(e).lower() or "secret id" in _server_says(e).lower():
                raise RemoteAuthFailed(f"{where} failed: the credential was refused (wrong or "
                                       "expired)") from None
            raise


@contextlib.contextmanager
def in_memory_file(data: bytes, name: str) -> Iterator[str]:
    """A path that reads ``data`` and lies on no file system: a Linux memfd, reached through
    /proc/self/fd for the one call that needs a path (requests reads a client key by path).
    Elsewhere there is no such file, and a key is never written to disk instead."""
    create = getattr(os, "memfd_create", None)
    if create is None:
        raise RemoteError("client-certificate login keeps the key in memory, which needs "
                          "Linux; use a token or AppRole on this system")
    fd = create(name, os.MFD_CLOEXEC)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        yield f"/proc/self/fd/{fd}"
    finally:
        os.close(fd)


def _cert_login(client: hvac.Client, remote: Remote, key_pem: bytes) -> None:
    """TLS client-certificate login for the one request: the certificate and the key are read
    by path from in-memory files, so the key from the vault never touches a disk."""
    cert_pem = str(remote.settings.get("client_cert_pem", "")).encode()
    with in_memory_file(cert_pem, "strongroom-client-cert") as cert, \
            in_memory_file(key_pem, "strongroom-client-key") as key:
        client.auth.cert.login(name=str(remote.settings.get("cert_role", "")),
                               cert_pem=cert, key_pem=key,
                               mount_point=str(remote.settings.get("auth_mount", "cert")))


def connect(remote: Remote, credential: bytes, *, timeout: float = TIMEOUT) -> hvac.Client:
    """An authenticated client for ``remote``: its URLs are tried in order until one answers
    (a cluster's nodes); errors other than "no answer" stop at once."""
    last: RemoteError | None = None
    for url in remote.urls:
        client = client_for(remote, url, timeout=timeout)
        try:
            _login(client, remote, credential)
            return client
        except RemoteUnreachable as e:
            last = e
    raise last or RemoteUnreachable(f"remote {remote.name} has no URL")
