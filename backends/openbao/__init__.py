"""OpenBao / HashiCorp Vault (hvac, the ``strongroom[openbao]`` extra).

Transit as a key store: the entry point ``strongroom.keystores:transit`` names
:data:`TRANSIT_KIND` and ``strongroom.backends:transit`` makes its provider
(:func:`transit_provider`). Importing this package never imports hvac.
"""

from __future__ import annotations

from strongroom.app.keys.ports import KeyStoreProvider

from ._transit_kind import KIND as TRANSIT_KIND

__all__ = ["TRANSIT_KIND", "transit_provider"]


def transit_provider() -> KeyStoreProvider:
    """Entry point ``transit``: the Transit key store over the vault's remotes."""
    from .transit_provider import TransitProvider

    return TransitProvider()
