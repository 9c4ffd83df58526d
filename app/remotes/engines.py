"""The remote backend, found by entry point (never imported by name), and a KV engine opened
for a remote with its credential read from the vault."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..access.approvals import Approval
from ..errors import BackendUnavailable, StrongroomError
from ..plugins import BACKENDS_GROUP, load_backend
from .config import Remote, read_credential

if TYPE_CHECKING:
    from ..vault.session import VaultSession
    from .port import KvEngine, RemoteBackend

ENTRY_POINT = "openbao"


def backend() -> RemoteBackend:
    """The installed remote backend, if it can run here; BackendUnavailable saying why not."""
    try:
        found: RemoteBackend = load_backend(BACKENDS_GROUP, ENTRY_POINT, missing=BackendUnavailable(
            "no remote backend is installed (entry point strongroom.backends:openbao); install "
            "strongroom[openbao]"))
    except StrongroomError:
        raise
    except Exception as e:  # a broken backend package is reported in one sentence
        raise BackendUnavailable(f"the remote backend failed to load ({type(e).__name__})") from e
    availability = found.available()
    if not availability.ok:
        raise BackendUnavailable(availability.reason)
    return found


def open_kv(vault: VaultSession, remote: Remote, *, approval: Approval | None = None
            ) -> KvEngine:
    """The remote's KV engine: the backend checked first, then the credential read (an audited
    read), then the login."""
    found = backend()
    credential = read_credential(vault, remote, approval=approval)
    return found.kv(remote, credential)
