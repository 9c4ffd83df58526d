"""What a remote server can answer, as Strongroom errors: one sentence each, never a token.

Exit codes follow the CLI contract: a wrong or expired credential is 4, everything else the
server refuses or fails at is 1 (a server's "permission denied" is the server's, not a Strongroom
grant, so it is not exit 6).
"""

from __future__ import annotations

from ..errors import AuthenticationFailed, NotFound, StrongroomError


class RemoteError(StrongroomError):
    """The remote server failed or refused; the message names the remote and what was asked."""


class RemoteUnreachable(RemoteError):
    """No answer: the server is down, refused the connection or timed out."""


class RemoteTlsFailed(RemoteError):
    """The server's certificate did not verify against the CA given (or the system's)."""


class RemoteAuthFailed(AuthenticationFailed):
    """The token, AppRole secret-id or client certificate was refused (wrong or expired)."""


class RemotePermissionDenied(RemoteError):
    """The server's policy does not let this credential do this on this path."""


class RemoteSealed(RemoteError):
    """The server is sealed: it answers but can read or write nothing."""


class RemoteNotFound(NotFound):
    """A mount, path or version the server does not have."""


class RemoteNamespaceUnknown(RemoteError):
    """The namespace given does not exist on the server."""


class RemoteUnsuitable(RemoteError):
    """The server answers but is not usable as configured (the mount is not KV version 2)."""


class CasMismatch(RemoteError):
    """A check-and-set write found another version than expected: someone wrote in between."""

    def __init__(self, message: str, path: str) -> None:
        super().__init__(message)
        self.path = path
