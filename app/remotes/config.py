"""A remote's settings, kept in the vault (``remotes``), and its credential, kept as a secret.

The token, AppRole secret-id or client key is a vault secret (``remote/NAME/token``,
``remote/NAME/secret-id``, ``remote/NAME/client-key``) at a level the admin chooses, so reading
it is an audited read under grants and the two-person rule, like any reveal. The ``remotes`` row
holds only what is not secret: URLs, namespace, mounts, the auth method and its settings (the CA
certificate, an AppRole role-id, a client certificate, the path prefix).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ..access import approvals, enforce
from ..access import policy as access_policy
from ..access.approvals import Approval
from ..errors import AlreadyExists, NotFound, UsageError
from ..model import Classification
from ..network import is_loopback
from ..vault import secrets as vault_secrets

if TYPE_CHECKING:
    from ..vault.session import VaultSession

AUTH_METHODS = ("token", "approle", "cert")
CREDENTIAL_NAMES = {"token": "token", "approle": "secret-id", "cert": "client-key"}
DEFAULT_PREFIX = "strongroom/"
MAX_URLS = 8
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_MOUNT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_NAMESPACE = re.compile(r"([A-Za-z0-9._-]{1,64}/){0,8}[A-Za-z0-9._-]{0,64}")
_PREFIX = re.compile(r"([A-Za-z0-9._-]{1,64}/){0,8}")


@dataclass(frozen=True)
class Remote:
    """One configured remote; never its credential, only the name of the secret holding it."""

    name: str
    url: str  # one URL, or several separated by commas (the nodes of a cluster, tried in turn)
    namespace: str
    kv_mount: str
    transit_mount: str
    auth: str  # token, approle or cert
    settings: Mapping[str, Any] = field(default_factory=dict, hash=False)
    credential_secret: str = ""
    created: str = ""

    @property
    def urls(self) -> tuple[str, ...]:
        return tuple(u for u in self.url.split(",") if u)

    @property
    def prefix(self) -> str:
        """Where secrets go under the KV mount: ``prefix + secret name``."""
        return str(self.settings.get("prefix", DEFAULT_PREFIX))

    @property
    def ca_pem(self) -> str | None:
        pem = self.settings.get("ca_pem")
        return str(pem) if pem else None

    def to_json(self) -> dict[str, Any]:
        settings = {k: v for k, v in self.settings.items()
                    if k not in ("ca_pem", "client_cert_pem")}
        if self.ca_pem:
            settings["ca"] = "PEM certificate(s)"
        if self.settings.get("client_cert_pem"):
            settings["client_cert"] = "PEM certificate"
        return {"name": self.name, "urls": list(self.urls), "namespace": self.namespace,
                "kv_mount": self.kv_mount, "transit_mount": self.transit_mount,
                "auth": self.auth, "settings": settings,
                "credential_secret": self.credential_secret, "created": self.created}


# ----- checks of what an admin types -------------------------------------------------------------


def check_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise UsageError(f"invalid remote name {name!r}: 1 to 64 letters, digits, '.', '_' or "
                         "'-', starting with a letter or digit")
    return name


def check_urls(urls: list[str] | tuple[str, ...]) -> str:
    """The URLs as stored (comma-separated); each http(s)://host[:port] with no path or query."""
    if not urls or len(urls) > MAX_URLS:
        raise UsageError(f"give 1 to {MAX_URLS} server URLs")
    for url in urls:
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            raise UsageError(f"invalid server URL {url!r}") from None
        if (parts.scheme not in ("http", "https") or not parts.hostname or parts.username
                or parts.password or parts.path not in ("", "/") or parts.query
                or parts.fragment or "," in url or port == 0):
            raise UsageError(f"invalid server URL {url!r}: use https://host:port (no path, no "
                             "user name or password in it)")
        if parts.scheme == "http" and not is_loopback(parts.hostname):
            raise UsageError(f"{url} is plain http to another machine, which would send the "
                             "token in clear; use https (plain http only to a loopback address)")
    return ",".join(u.rstrip("/") for u in urls)


def check_mount(mount: str, what: str) -> str:
    if not _MOUNT.fullmatch(mount):
        raise UsageError(f"invalid {what} mount {mount!r}: letters, digits, '.', '_' or '-'")
    return mount


def check_namespace(namespace: str) -> str:
    namespace = namespace.strip("/")
    if not _NAMESPACE.fullmatch(namespace):
        raise UsageError(f"invalid namespace {namespace!r}: names of letters, digits, '.', "
                         "'_' or '-' separated by '/'")
    return namespace


def check_prefix(prefix: str) -> str:
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    if not _PREFIX.fullmatch(prefix) or any(p in (".", "..") for p in prefix.split("/")):
        raise UsageError(f"invalid path prefix {prefix!r}: folder names of letters, digits, '.', "
                         "'_' or '-', each followed by '/'")
    return prefix


def check_pem(text: str, what: str) -> str:
    if "-----BEGIN CERTIFICATE-----" not in text or len(text) > 256 * 1024:
        raise UsageError(f"the {what} is not a PEM certificate file")
    return text


def credential_name(name: str, auth: str) -> str:
    return f"remote/{name}/{CREDENTIAL_NAMES[auth]}"


def default_level(vault: VaultSession) -> Classification:
    """The highest level not under dual control: a credential the admin can use alone."""
    with vault._read() as conn:
        dual = access_policy.load(conn).dual_control_levels
    return next((c for c in Classification if c.value not in dual), Classification.Public)


# ----- the table -------------------------------------------------------------------------------

_SELECT = ("SELECT name, url, namespace, kv_mount, transit_mount, auth, settings, "
           "credential_secret, created FROM remotes")
_INSERT = ("INSERT INTO remotes (name, url, namespace, kv_mount, transit_mount, auth, settings, "
           "credential_secret, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")


def _row(row: Any) -> Remote:
    return Remote(row[0], row[1], row[2], row[3], row[4], row[5],
                  MappingProxyType(json.loads(row[6])), row[7], row[8])


def list_remotes(vault: VaultSession) -> list[Remote]:
    """Every configured remote, by name."""
    with vault._read() as conn:
        rows = conn.execute(_SELECT + " ORDER BY name").fetchall()
    return [_row(r) for r in rows]


def get_remote(vault: VaultSession, name: str) -> Remote:
    """The remote named ``name``; NotFound in one sentence."""
    with vault._read() as conn:
        row = conn.execute(_SELECT + " WHERE name = ?",
                           (name,)).fetchone()
    if row is None:
        raise NotFound(f"no remote named {name!r} (see 'strongroom remote list')")
    return _row(row)


def read_credential(vault: VaultSession, remote: Remote, *, approval: Approval | None = None
                    ) -> bytes:
    """The remote's token, secret-id or client key: an audited read of its vault secret under
    the reader's grants and, at a two-person level, with a second operator's ``approval``."""
    return vault_secrets.get_secret(vault, remote.credential_secret, purpose="read",
                                    approval=approval)


@enforce.denials_audited
def add_remote(vault: VaultSession, remote: Remote, credential: bytes, level: Classification,
               *, approval: Approval | None = None) -> Remote:
    """Store ``remote`` and its credential as a new vault secret, in one transaction. The caller
    has checked the server with the credential first."""
    with vault._write() as conn:
        if conn.execute("SELECT 1 FROM remotes WHERE name = ?", (remote.name,)).fetchone():
            raise AlreadyExists(f"a remote named {remote.name!r} already exists")
        if conn.execute("SELECT 1 FROM secrets WHERE name = ?",
                        (remote.credential_secret,)).fetchone():
            raise AlreadyExists(f"a secret named {remote.credential_secret!r} already exists; "
                                "remove it or choose another remote name")
        extra = approvals.check(vault, conn, "secret.write", remote.credential_secret, approval,
                                critical=False)
        new = vault_secrets.NewSecret(remote.credential_secret, credential, level,
                                      tags=("remote",), note=f"credential of remote {remote.name}")
        info = vault_secrets._insert_secret(vault, new, extra={"remote": remote.name, **extra})
        now = vault._now()
        conn.execute(
            _INSERT,
            (remote.name, remote.url, remote.namespace, remote.kv_mount, remote.transit_mount,
             remote.auth, json.dumps(dict(remote.settings), sort_keys=True), info.name, now))
        vault._event("remote.add", remote.name, details={
            "urls": list(remote.urls), "namespace": remote.namespace,
            "kv_mount": remote.kv_mount, "transit_mount": remote.transit_mount,
            "auth": remote.auth, "credential_secret": info.name,
            "classification": level.value})
    return get_remote(vault, remote.name)


@enforce.denials_audited
def remove_remote(vault: VaultSession, name: str, *, approval: Approval | None = None) -> int:
    """Forget a remote, its sync state and its credential secret (nothing on the server is
    touched); returns how many sync rows went with it."""
    remote = get_remote(vault, name)
    with vault._write() as conn:
        synced = int(conn.execute("SELECT count(*) FROM remote_sync WHERE remote = ?",
                                  (name,)).fetchone()[0])
        row = conn.execute("SELECT id, classification, tags FROM secrets WHERE name = ?",
                           (remote.credential_secret,)).fetchone()
        details: dict[str, Any] = {"sync_rows": synced}
        if row is not None:
            enforce.require_secret(vault, conn, "manage", remote.credential_secret, row[1],
                                   json.loads(row[2]))
            rule = access_policy.load(conn)
            details |= approvals.check(vault, conn, "secret.delete", remote.credential_secret,
                                       approval, critical=rule.critical("secret.delete",
                                                                        level=row[1]))
            versions = conn.execute("SELECT count(*) FROM versions WHERE secret_id = ?",
                                    (row[0],)).fetchone()[0]
            conn.execute("DELETE FROM versions WHERE secret_id = ?", (row[0],))
            conn.execute("DELETE FROM secrets WHERE id = ?", (row[0],))
            vault._event("secret.delete", remote.credential_secret,
                         details={"versions": versions, "remote": name})
        conn.execute("DELETE FROM remote_sync WHERE remote = ?", (name,))
        conn.execute("DELETE FROM remotes WHERE name = ?", (name,))
        vault._event("remote.remove", name, details=details)
    return synced
