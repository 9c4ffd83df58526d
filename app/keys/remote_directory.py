"""The unlocked vault's remotes as a :class:`~.ports.RemoteDirectory`, for a key store whose
tokens are remotes (OpenBao Transit): the ``remotes`` table, and each remote's credential read
from the vault secret it names (an audited read, under the reader's grants)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..remotes import config

if TYPE_CHECKING:
    from ..remotes.config import Remote
    from ..vault.session import VaultSession


class VaultRemotes:
    """app.keys.ports.RemoteDirectory over an unlocked vault."""

    def __init__(self, vault: VaultSession, approval: Any = None) -> None:
        self._vault = vault
        self._approval = approval

    def remotes(self) -> list[Remote]:
        return config.list_remotes(self._vault)

    def credential(self, name: str) -> bytes:
        remote = config.get_remote(self._vault, name)
        return config.read_credential(self._vault, remote, approval=self._approval)
