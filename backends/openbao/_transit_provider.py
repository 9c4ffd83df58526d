"""TransitProvider: the vault's remotes as Transit "tokens", and a TransitKeyStore opened on one.

Each remote the vault knows (``remotes`` table, schema 8) is one token of the ``transit`` store:
its label is the remote's name, its module the URL, namespace and Transit mount. Opening it reads
the remote's credential from the vault (a secret the remote names) through the
:class:`~strongroom.app.keys.ports.RemoteDirectory` given with :meth:`use_remotes`; the
credential goes into the hvac client's header and nowhere else (never argv, env or a message).
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import metadata
from typing import TYPE_CHECKING

from strongroom.app.errors import BackendUnavailable, NotFound, UsageError
from strongroom.app.keys.ports import KeyBlobStore, ModuleInfo, RemoteDirectory, TokenInfo
from strongroom.app.plugins import Availability
from strongroom.app.remotes.config import Remote

from ._transit_kind import KIND

if TYPE_CHECKING:
    from .transit import TransitKeyStore

# Seconds per request: longer than client.connect's default, as Transit may take seconds to make
# an RSA 4096 key or sign a batch of 256 with one.
TIMEOUT = 60.0
NO_HVAC = "hvac is not installed (pip install 'strongroom[openbao]' adds it)"


def hvac_available() -> Availability:
    """Whether hvac imports here (a missing or broken install both say so in one sentence)."""
    try:
        import hvac  # noqa: F401
    except ImportError:
        return Availability(False, NO_HVAC)
    return Availability(True)


class TransitProvider:
    """app.keys.ports.KeyStoreProvider for OpenBao Transit, over the vault's remotes."""

    store = KIND.name
    kind = KIND

    def __init__(self, remotes: RemoteDirectory | None = None) -> None:
        self._remotes = remotes

    def use_remotes(self, remotes: RemoteDirectory) -> None:
        """The unlocked vault's remotes and credentials (StoreKind.needs_remotes)."""
        self._remotes = remotes

    def available(self) -> Availability:
        return hvac_available()

    def _directory(self) -> RemoteDirectory:
        if self._remotes is None:
            raise UsageError("Transit keys are reached through the vault's remotes: this needs "
                             "the vault")
        return self._remotes

    def _endpoints(self) -> Sequence[Remote]:
        return [r for r in self._directory().remotes() if r.transit_mount]

    def modules(self) -> list[ModuleInfo]:
        """One entry per remote with a Transit mount (nothing is asked of the servers)."""
        try:
            version = f"hvac {metadata.version('hvac')}"
        except metadata.PackageNotFoundError:
            version = "hvac not installed"
        return [ModuleInfo(path=self._token(r).module, description=f"OpenBao Transit ({r.name})",
                           manufacturer="OpenBao", library_version=version, cryptoki_version="",
                           detected=False) for r in self._endpoints()]

    @staticmethod
    def _token(remote: Remote) -> TokenInfo:
        from .transit import remote_token  # imports hvac: only once a remote is shown

        return remote_token(remote.name, remote.url, remote.transit_mount, remote.namespace)

    def tokens(self, module: str | None = None) -> list[TokenInfo]:
        """The vault's remotes that have a Transit mount (in ``module`` when given)."""
        if not hvac_available().ok:
            return []
        found = [self._token(r) for r in self._endpoints()]
        return [t for t in found if module is None or t.module == module]

    def open(
        self,
        token: TokenInfo,
        pin: str | None,
        *,
        blobs: KeyBlobStore | None = None,
    ) -> TransitKeyStore:
        """Connect to the remote ``token`` names with its credential from the vault (``pin``
        and ``blobs`` are not used: the credential is the login, and keys stay in OpenBao)."""
        usable = hvac_available()
        if not usable.ok:
            raise BackendUnavailable(usable.reason)
        from .transit import TransitKeyStore

        directory = self._directory()
        remote = next((r for r in self._endpoints() if self._token(r) == token), None)
        if remote is None:
            raise NotFound(f"no remote {token.label!r} with a Transit mount in this vault")
        from .client import connect

        credential = directory.credential(remote.name)
        try:
            client = connect(remote, credential, timeout=TIMEOUT)  # logs in: exit 4 if refused
        finally:
            credential = b""
        return TransitKeyStore(client, remote.transit_mount, token)

