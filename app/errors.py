"""Errors of the Strongroom core: one root, specific subclasses that carry data.

Each error meant for the user has a one-sentence message that never contains a secret value, and
an ``exit_code`` from the CLI contract (1 failed, 2 usage, 3 integrity, 4 authentication,
6 not permitted: a role, a grant, the two-person rule or the device-health gate).
"""

from __future__ import annotations


class StrongroomError(Exception):
    """Root of every error the core raises on purpose."""

    exit_code = 1


class UserCancelled(StrongroomError):
    """The user cancelled; shown to nobody."""


class UsageError(StrongroomError):
    """The request itself is malformed (bad option value, missing input)."""

    exit_code = 2


class BadImportFile(UsageError):
    """A file to import is not what it should be: another format, damaged, truncated, too
    large, not UTF-8, or hostile (an XML DTD, a decompression bomb); nothing was written."""


class NotFound(StrongroomError):
    """A named thing (secret, version, vault, file) does not exist."""


class AlreadyExists(StrongroomError):
    """Creating something whose name or place is already taken."""


class Refused(StrongroomError):
    """The operation is understood but not allowed (weak passphrase, last keyslot, ...)."""


class VaultLocked(StrongroomError):
    """An operation needs the vault's keys but the vault is locked."""


class StorageError(StrongroomError):
    """The operating system refused a write (disk full, permission denied); nothing was changed."""


class IntegrityError(StrongroomError):
    """Data failed an integrity check: tampered, corrupt, truncated or from the wrong vault."""

    exit_code = 3


class HeaderCorrupt(IntegrityError):
    """The keyslot header cannot be parsed or fails its own checks."""


class VaultTampered(IntegrityError):
    """The database, header or audit chain does not match what the keys say it must be."""


class RollbackDetected(VaultTampered):
    """The database or the header is older than the other (or than a witness): a file was put
    back. ``behind`` names what is older, ``events`` by how many audit events."""

    def __init__(self, message: str, behind: str, events: int) -> None:
        super().__init__(message)
        self.behind = behind
        self.events = events


class RollbackUnverifiable(RollbackDetected):
    """The vault's monotonic counter cannot be read here (no TPM, another TPM, the counter
    removed or replaced): a rollback can no longer be ruled out, so the vault is refused as if
    one were seen. Accepting it (``vault accept-rollback``) unbinds the counter."""


class BackupInvalid(IntegrityError):
    """A backup file is corrupt, truncated, not a backup, or belongs to another vault."""


class AuthenticationFailed(StrongroomError):
    """No keyslot opened with the credentials given; ``retry_after`` is the wait now imposed."""

    exit_code = 4

    def __init__(self, message: str, retry_after: float = 0.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class WrongPassphrase(AuthenticationFailed):
    """The passphrase opened none of the vault's passphrase keyslots."""


class WrongFilePassword(AuthenticationFailed):
    """The password (or key file) does not open a file to import, such as a KDBX."""


class BackingOff(AuthenticationFailed):
    """Too many failed unlocks: the next attempt is refused until ``retry_after`` seconds pass."""

    def __init__(self, retry_after: float, failures: int) -> None:
        self.failures = failures
        wait = max(1, round(retry_after))
        super().__init__(
            f"{failures} failed unlock attempts: wait {wait} s before trying again", retry_after
        )


class BackoffUnusable(AuthenticationFailed):
    """The failed-unlock record cannot be read, written or locked: the attempt is refused (the
    passphrase is not tried) rather than run uncounted."""


# ----- hardware (security keys, TPM, PKCS#11 tokens, OS keyring) ---------------------------------


class AccessDenied(StrongroomError):
    """The acting operator may not do this: no role or grant for it, a second operator's
    approval is missing or invalid, or the device-health gate is closed. The refusal is an
    audit event (``access.denied``) naming what is missing; ``target`` and ``details`` say what
    was asked."""

    exit_code = 6

    def __init__(self, message: str, *, target: str = "", details: dict[str, object] | None = None
                 ) -> None:
        super().__init__(message)
        self.target = target
        self.details = details or {}


class HardwareError(StrongroomError):
    """A device or OS service failed or refused; the message says which and what to do."""


class BackendUnavailable(HardwareError):
    """A backend cannot run on this machine (library, device or service missing); says why."""


class DeviceNotFound(HardwareError):
    """No usable device is plugged in or visible; ``hint`` says how to make it visible."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(f"{message}; {hint}" if hint else message)
        self.hint = hint


class DeviceTimeout(HardwareError):
    """The device waited for a touch or an answer that never came."""


class DeviceRemoved(HardwareError):
    """The device or token went away in the middle of an operation; nothing was written."""


class WrongDevice(AuthenticationFailed):
    """The device present is not one enrolled for this vault (or does not hold this key)."""


class PinRequired(HardwareError):
    """The device needs a PIN and none was given."""


class WrongPin(AuthenticationFailed):
    """The PIN was wrong; ``retries`` is the number of attempts the device says are left."""

    def __init__(self, message: str, retries: int | None = None) -> None:
        super().__init__(message)
        self.retries = retries


class PinBlocked(AuthenticationFailed):
    """The device locked its PIN after too many wrong attempts; it must be reset or unblocked."""


class CounterGone(HardwareError):
    """A monotonic counter a vault names is not on this device as it was made: removed,
    replaced by another, the device cleared, or another device altogether."""


class Unsupported(HardwareError):
    """The device or token does not support what was asked (mechanism, key type, extension)."""
