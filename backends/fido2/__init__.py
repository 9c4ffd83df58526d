"""The FIDO2 keyslot: a security key's PRF (hmac-secret) output opens the vault.

Enrolment makes a NON-resident credential for the fixed relying party :data:`RP_ID` (origin
:data:`ORIGIN`, given to python-fido2's client data collector) with the ``prf`` extension, then
evaluates the PRF once with a random 32-byte salt; the 32-byte output is the slot secret (the core
turns it into the KEK with HKDF salted by the credential id). The vault stores only the credential
id, the salt, the user-verification choice, the RP id, the AAGUID, the product name and (since
approvals keep assertions) the credential's COSE public key.

An approval passes a :class:`~app.unlock_methods.Challenge` (the operation's digest): it becomes
the WebAuthn challenge of the same getAssertion that evaluates the PRF, and the assertion
(credential id, authenticator data, signature, clientDataJSON, counter, UP/UV flags) is returned
as evidence with ``verified``: the signature checked under the stored public key, the client
data's type and challenge, the RP id hash. A slot enrolled before the public key was kept says
``verified: false`` with the reason; possession is still proven by the PRF opening the slot.

Unlocking first asks every plugged-in key, silently (``up=False``, no touch, no PIN), whether it
holds one of the vault's credentials; only the key that does is asked for a touch (and its PIN
when the slot was enrolled with ``uv: "required"``). On Windows the WebAuthn API
(``fido2.client.windows.WindowsClient``) is used when present and Strongroom is not elevated.

python-fido2 is imported lazily: this package imports on any platform, and ``available()`` says
why it cannot run.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from strongroom.app.errors import DeviceNotFound, Unsupported, UsageError, UserCancelled
from strongroom.app.keyslots import StatusCallback
from strongroom.app.plugins import Availability
from strongroom.app.unlock_methods import (
    Challenge,
    Enrolment,
    Prompts,
    SlotKind,
    SlotRef,
    SlotSecretSource,
)

from ._relying_party import ORIGIN as ORIGIN  # re-exported: the RP every credential is for
from ._relying_party import RP_ID as RP_ID
from ._relying_party import RP_NAME as RP_NAME

if TYPE_CHECKING:
    from fido2.ctap import CtapDevice

UV_CHOICES = ("discouraged", "required")
LIST_TIMEOUT_S = 5.0

NO_KEY = "no FIDO2 security key is visible"
if sys.platform.startswith("linux"):
    HINT = (
        "plug one in — on Linux your user needs access to /dev/hidraw* (install the udev rules, "
        "e.g. Debian's libfido2-1 / 70-u2f.rules)"
    )
else:
    HINT = "plug one in"

DeviceLister = Callable[[], Iterable["CtapDevice"]]


def _hid_devices() -> Iterable[CtapDevice]:
    from fido2.hid import CtapHidDevice

    return CtapHidDevice.list_devices()


def uv_option(options: Mapping[str, Any]) -> str:
    """The enrolment's user-verification choice; never left to the client's default."""
    uv = options.get("uv", "discouraged")
    if uv not in UV_CHOICES:
        raise UsageError(f"fido2 option uv must be one of {', '.join(UV_CHOICES)}, not {uv!r}")
    return str(uv)


class Fido2Source:
    """The ``fido2`` unlock method (an :class:`app.unlock_methods.SlotSecretSource`).

    ``devices`` lists the authenticators to use (default: the USB HID ones); tests pass software
    authenticators. ``windows`` forces (True) or forbids (False) the Windows WebAuthn API; None
    decides by platform.
    """

    kind = SlotKind.Fido2.value

    def __init__(
        self, devices: DeviceLister | None = None, *, windows: bool | None = None
    ) -> None:
        self._devices: DeviceLister = devices or _hid_devices
        self._windows = windows if windows is not None else devices is None

    # ----- devices ---------------------------------------------------------------------------

    def _use_windows(self) -> bool:
        if not self._windows:
            return False
        from . import _windows

        return _windows.usable()

    def list_devices(self) -> list[CtapDevice]:
        """The authenticators visible now; gives up after :data:`LIST_TIMEOUT_S`, never hangs."""
        found: list[CtapDevice] = []
        failed: list[BaseException] = []

        def run() -> None:
            try:
                found.extend(self._devices())
            except Exception as e:  # noqa: BLE001 - reported below
                failed.append(e)

        worker = threading.Thread(target=run, name="fido2-list", daemon=True)
        worker.start()
        worker.join(LIST_TIMEOUT_S)
        if worker.is_alive():
            raise DeviceNotFound("listing the security keys did not finish", HINT)
        if failed:
            raise DeviceNotFound(
                f"the security keys cannot be listed ({type(failed[0]).__name__})", HINT
            ) from failed[0]
        return list(found)

    def ctap2_devices(self) -> list[CtapDevice]:
        """The visible authenticators that speak CTAP2 (U2F-only keys have no PRF); the caller
        closes them."""
        from fido2.hid import CAPABILITY

        devices = self.list_devices()
        if not devices:
            raise DeviceNotFound(NO_KEY, HINT)
        ctap2 = [d for d in devices if d.capabilities & CAPABILITY.CBOR]
        _close(d for d in devices if d not in ctap2)
        if not ctap2:
            raise Unsupported(
                "the security key plugged in speaks only U2F (CTAP1), which has no PRF; "
                "use a FIDO2 key"
            )
        return ctap2

    # ----- SlotSecretSource ------------------------------------------------------------------

    def available(self) -> Availability:
        try:
            import fido2.client  # noqa: F401
        except Exception as e:  # noqa: BLE001 - an unusable library is reported, not raised
            return Availability(False, f"python-fido2 cannot be used here ({type(e).__name__})")
        if self._use_windows():
            return Availability(True)
        try:
            _close(self.ctap2_devices())
        except (DeviceNotFound, Unsupported) as e:
            return Availability(False, str(e))
        return Availability(True)

    def enrol(
        self,
        *,
        vault_id: str,
        label: str,
        options: Mapping[str, Any],
        prompts: Prompts | None,
        cancel: threading.Event | None = None,
        on_status: StatusCallback | None = None,
        enrolled: Sequence[SlotRef] = (),
    ) -> Enrolment:
        """Make a PRF credential on one key (two touches: create, then evaluate); a key that
        already holds one of ``enrolled`` is refused (silent probe) before any touch."""
        uv = uv_option(options)
        _check(cancel)
        if self._use_windows():
            from . import _windows

            return _windows.enrol(vault_id, label, uv, cancel, on_status, enrolled)
        from . import _ctap

        devices = self.ctap2_devices()
        try:
            device = _ctap.choose_device(devices, prompts, cancel, on_status)
            _ctap.refuse_enrolled(device, enrolled, cancel)
            return _ctap.enrol(device, vault_id, label, uv, prompts, cancel, on_status)
        finally:
            _close(devices)

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
        """Find the plugged-in key holding one of ``slots`` (silently), then evaluate its PRF;
        with ``challenge`` that same assertion signs it and ``challenge.evidence`` keeps it."""
        _check(cancel)
        if self._use_windows():
            from . import _windows

            return _windows.recover(slots, cancel, on_status, challenge)
        from . import _ctap

        devices = self.ctap2_devices()
        try:
            return _ctap.recover(devices, slots, prompts, cancel, on_status, challenge)
        finally:
            _close(devices)

    def forget(self, slot: SlotRef) -> None:
        """Nothing to drop: a non-resident credential lives only in the vault's header."""


def _close(devices: Iterable[CtapDevice]) -> None:
    for device in devices:
        with contextlib.suppress(OSError):  # already gone
            device.close()


def _check(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise UserCancelled()


def source(devices: DeviceLister | None = None) -> SlotSecretSource:
    """Entry point ``strongroom.backends:fido2``."""
    return Fido2Source(devices)
