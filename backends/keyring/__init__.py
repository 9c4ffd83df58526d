"""The OS-keyring keyslot: "remember on this device" through the ``keyring`` package.

A random 32-byte slot secret is stored in the OS credential store (Secret Service on Linux, the
macOS Keychain, Windows Credential Locker) under service ``Strongroom`` and an entry name unique
to the vault and slot; the vault keeps only that entry name. Lower assurance than the other
kinds: any program running as this user may ask the credential store for it. ``forget`` deletes
the entry.

keyring chooses its backend by priority; its ``fail`` and ``null`` backends mean there is no
credential store, and the plaintext file backend of ``keyrings.alt`` is accepted only when the
user chose it explicitly (``PYTHON_KEYRING_BACKEND`` or keyring's config file), never by default.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from strongroom.app.errors import HardwareError, UserCancelled, WrongDevice
from strongroom.app.keyslots import StatusCallback
from strongroom.app.plugins import Availability
from strongroom.app.unlock_methods import (
    SECRET_BYTES,
    Challenge,
    Enrolment,
    Prompts,
    SlotKind,
    SlotRef,
    SlotSecretSource,
)

SERVICE = "Strongroom"
_NO_STORE = ("keyring.backends.fail", "keyring.backends.null")


def _backend_name(backend: Any) -> str:
    cls = type(backend)
    return f"{cls.__module__}.{cls.__qualname__}"


class KeyringSource:
    """The ``keyring`` unlock method. ``backend`` overrides keyring's own choice (tests pass a
    file keyring from keyrings.alt)."""

    kind = SlotKind.Keyring.value

    def __init__(self, backend: Any = None) -> None:
        self._backend = backend
        self._explicit = backend is not None

    def _keyring(self) -> Any:
        if self._backend is None:
            import keyring

            self._backend = keyring.get_keyring()
            self._explicit = bool(os.environ.get("PYTHON_KEYRING_BACKEND")) or _configured()
        return self._backend

    def available(self) -> Availability:
        try:
            backend = self._keyring()
        except Exception as e:  # noqa: BLE001 - any import/config failure is the reason
            return Availability(False, f"the keyring package cannot run here: {e}")
        name = _backend_name(backend)
        if name.startswith(_NO_STORE):
            return Availability(
                False, "no OS credential store is available (keyring found no usable backend)"
            )
        if name.startswith("keyrings.alt") and not self._explicit:
            return Availability(
                False,
                f"keyring's default here is {name}, a file store rather than an OS credential "
                "store; choose it explicitly with PYTHON_KEYRING_BACKEND to use it",
            )
        return Availability(True, f"credential store: {name}")

    def enrol(
        self,
        *,
        vault_id: str,
        label: str,
        options: Mapping[str, Any],
        prompts: Prompts | None,
        cancel: threading.Event | None = None,
        on_status: StatusCallback | None = None,
        enrolled: Sequence[SlotRef] = (),  # each enrolment makes a new random key: no clash
    ) -> Enrolment:
        if cancel is not None and cancel.is_set():
            raise UserCancelled()
        availability = self.available()
        if not availability.ok:
            raise HardwareError(availability.reason)
        backend = self._keyring()
        secret = secrets.token_bytes(SECRET_BYTES)
        entry = f"vault-{vault_id}-{secrets.token_hex(8)}"
        if on_status is not None:
            on_status("Storing the slot key in the OS credential store")
        try:
            backend.set_password(SERVICE, entry, base64.b64encode(secret).decode("ascii"))
        except Exception as e:
            raise HardwareError(f"the OS credential store refused the key: {_reason(e)}") from e
        return Enrolment(
            params={"service": SERVICE, "entry": entry, "backend": _backend_name(backend)},
            secret=secret,
        )

    def recover(
        self,
        slots: Sequence[SlotRef],
        *,
        vault_id: str,
        prompts: Prompts | None,
        cancel: threading.Event | None = None,
        on_status: StatusCallback | None = None,
        challenge: Challenge | None = None,
    ) -> tuple[str, bytes]:
        """Read the slot's key from the store; ``challenge`` is ignored (a stored key signs
        nothing)."""
        backend = self._keyring()
        if on_status is not None:
            on_status("Reading the slot key from the OS credential store")
        for slot in slots:
            if cancel is not None and cancel.is_set():
                raise UserCancelled()
            try:
                stored = backend.get_password(
                    str(slot.params.get("service", SERVICE)), str(slot.params["entry"])
                )
            except KeyError as e:
                raise WrongDevice(f"keyring slot {slot.label or slot.id} names no entry") from e
            except Exception as e:
                raise HardwareError(
                    f"the OS credential store could not be read: {_reason(e)}"
                ) from e
            if stored is None:
                continue
            try:
                secret = base64.b64decode(stored.encode("ascii"), validate=True)
            except (binascii.Error, UnicodeEncodeError, ValueError):
                raise WrongDevice(
                    "the credential store's entry for this vault is damaged; forget this "
                    "device and remember it again"
                ) from None
            return slot.id, secret
        raise WrongDevice(
            "this device's credential store holds no key for this vault (forgotten, or another "
            "device or user)"
        )

    def forget(self, slot: SlotRef) -> None:
        """Delete the slot's entry; an entry already gone is not an error."""
        backend = self._keyring()
        try:
            from keyring.errors import PasswordDeleteError
        except ImportError:  # pragma: no cover - keyring always has it
            PasswordDeleteError = KeyError  # noqa: N806
        try:
            backend.delete_password(
                str(slot.params.get("service", SERVICE)), str(slot.params["entry"])
            )
        except PasswordDeleteError:
            return
        except Exception as e:
            raise HardwareError(
                f"the OS credential store did not delete the entry: {_reason(e)}"
            ) from e


def _configured() -> bool:
    """Whether keyring's own config file names a backend (an explicit user choice)."""
    try:
        from keyring.core import load_config

        return load_config() is not None
    except Exception:  # noqa: BLE001 - no config is the common case
        return False


def _reason(e: Exception) -> str:
    return str(e).splitlines()[0] if str(e) else type(e).__name__


def source() -> SlotSecretSource:
    """The entry point: the keyring unlock method with keyring's own backend choice."""
    return KeyringSource()
