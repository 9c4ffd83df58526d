"""OpenBao and HashiCorp Vault as a remote store (app.remotes.port.RemoteBackend), through hvac.

Found by the entry point ``strongroom.backends:openbao``; hvac is imported only when a remote is
used, so ``available()`` can say in one sentence that ``strongroom[openbao]`` is missing.

Transit as a key store (app.keys.ports.KeyStoreProvider): ``strongroom.keystores:transit`` names
:data:`TRANSIT_KIND` and ``strongroom.backends:transit`` makes :func:`transit_provider`
(backends/openbao/transit*.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from strongroom.app.keys.ports import KeyStoreProvider
from strongroom.app.plugins import Availability

from ._transit_kind import KIND as TRANSIT_KIND

if TYPE_CHECKING:
    from strongroom.app.remotes.config import Remote

    from .kv import KvV2


class OpenBaoBackend:
    """The backend object the entry point names."""

    name = "openbao"

    def available(self) -> Availability:
        try:
            import hvac  # noqa: F401
        except ImportError:
            return Availability(False, "the remote commands need the hvac library, which is not "
                                "installed (pip install 'strongroom[openbao]')")
        return Availability(True)

    def kv(self, remote: Remote, credential: bytes) -> KvV2:
        from .client import connect
        from .kv import KvV2

        return KvV2(remote, connect(remote, credential), credential)


engine = OpenBaoBackend()


def transit_provider() -> KeyStoreProvider:
    """Entry point ``transit``: the Transit key store over the vault's remotes."""
    from ._transit_provider import TransitProvider

    return TransitProvider()


__all__ = ["TRANSIT_KIND", "OpenBaoBackend", "engine", "transit_provider"]
