"""The ports a remote store implements (adapters in ``backends/``, found by entry point).

A :class:`RemoteBackend` says whether it can run here and opens a :class:`KvEngine` for a
remote with its credential. A KV engine speaks the KV version 2 model: each path has numbered
versions, a current one, and custom metadata (strings only); a write names the version it
expects to replace (check-and-set), so a change made by someone else in between is refused
with :class:`~.errors.CasMismatch` instead of overwritten.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ..plugins import Availability
    from .config import Remote


@dataclass(frozen=True)
class KvMeta:
    """A path's metadata on the server: its current version (0: none yet), whether that version
    is deleted or destroyed, and its custom metadata."""

    current_version: int
    deleted: bool = False
    custom: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class KvVersion:
    """One version of a path: its data (as the server returned it, outside input) and number."""

    version: int
    data: Mapping[str, Any] = field(repr=False)


class KvEngine(Protocol):
    """A KV version 2 mount on one remote, authenticated. Every method raises the errors of
    ``app.remotes.errors`` (one sentence, never the credential or a value)."""

    remote: Remote

    def check(self) -> None:
        """The mount exists, this credential reaches it, and it is KV version 2."""

    def metadata(self, path: str) -> KvMeta | None:
        """The path's metadata, or None when the path has never been written."""

    def read(self, path: str, version: int = 0) -> KvVersion:
        """A version of the path (0: the current one); RemoteNotFound when it is absent or
        deleted."""

    def write(self, path: str, data: Mapping[str, str], cas: int) -> int:
        """Write a new version if the current one is ``cas`` (0: the path must not exist yet);
        returns the new version number; CasMismatch otherwise."""

    def check_writable(self, paths: Mapping[str, bool]) -> None:
        """Before any value is read: RemotePermissionDenied naming the first of ``paths`` (path
        -> whether it is new) this credential may not write, with its metadata; nothing when
        the server cannot say (the writes then find out)."""

    def set_metadata(self, path: str, custom: Mapping[str, str]) -> None:
        """Replace the path's custom metadata (strings, no values)."""

    def list(self, folder: str) -> list[str]:
        """The names directly under ``folder`` (sub-folders end with '/'); [] when none."""


class RemoteBackend(Protocol):
    """What an entry point of ``strongroom.backends`` for remotes offers."""

    def available(self) -> Availability:
        """Whether the backend can run here (its client library is installed), and why not."""

    def kv(self, remote: Remote, credential: bytes) -> KvEngine:
        """A KV v2 engine on ``remote``'s KV mount, logged in with ``credential``."""
