"""FIDO2 keyslots over CTAP2 with python-fido2's own client (USB HID, or any CtapDevice)."""

from __future__ import annotations

import queue
import secrets
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from fido2.client import ClientError, Fido2Client, PinRequiredError, UserInteraction
from fido2.ctap import CtapDevice, CtapError
from fido2.ctap2.base import Ctap2
from fido2.ctap2.pin import ClientPin

from strongroom.app.errors import (
    AlreadyExists,
    DeviceRemoved,
    DeviceTimeout,
    HardwareError,
    HeaderCorrupt,
    PinBlocked,
    PinRequired,
    StrongroomError,
    Unsupported,
    UserCancelled,
    WrongDevice,
    WrongPin,
)
from strongroom.app.keyslots import StatusCallback, b64d, b64e
from strongroom.app.unlock_methods import SECRET_BYTES, Challenge, Enrolment, Prompts, SlotRef

from ._evidence import evidence
from ._relying_party import RP_ID
from ._webauthn import collector, evaluate, register

ERR = CtapError.ERR
SELECT_POLL_S = 0.05
PROBE_HASH = b"\x00" * 32


def device_name(device: CtapDevice) -> str:
    return getattr(device, "product_name", None) or "the security key"


class Interaction(UserInteraction):
    """python-fido2's UserInteraction on top of Strongroom's :class:`Prompts`.

    The PIN, once given, is reused for the rest of this one operation (enrolment needs it twice)
    and dropped with the object.
    """

    def __init__(
        self,
        prompts: Prompts | None,
        name: str,
        on_status: StatusCallback | None,
        retries: Callable[[], int | None],
    ) -> None:
        self._prompts = prompts
        self._name = name
        self._on_status = on_status
        self._retries = retries
        self._pin: str | None = None
        self.cancelled = False

    def prompt_up(self) -> None:
        if self._on_status is not None:
            self._on_status(f"Touch {self._name}")
        if self._prompts is not None:
            self._prompts.prompt_touch(self._name)

    def request_pin(self, permissions: Any, rp_id: str | None) -> str | None:
        if self._pin is not None:
            return self._pin
        if self._prompts is None:
            return None
        pin = self._prompts.request_pin(self._name, self._retries())
        if not pin:
            self.cancelled = True
            return None
        self._pin = pin
        return pin


def pin_retries(device: CtapDevice) -> int | None:
    """The PIN tries the key says are left, or None when it will not say."""
    try:
        return ClientPin(Ctap2(device)).get_pin_retries()[0]
    except Exception:  # noqa: BLE001 - a count we cannot read is simply not shown
        return None


def from_ctap(code: int, name: str, device: CtapDevice | None) -> StrongroomError:
    """The Strongroom error for a CTAP status code."""
    if code == ERR.KEEPALIVE_CANCEL:
        return UserCancelled()
    if code in (ERR.USER_ACTION_TIMEOUT, ERR.ACTION_TIMEOUT):
        return DeviceTimeout(f"{name} was not touched in time")
    if code == ERR.PIN_INVALID:
        retries = pin_retries(device) if device is not None else None
        left = f"; {retries} tries left before it blocks" if retries is not None else ""
        return WrongPin(f"wrong PIN for {name}{left}", retries)
    if code == ERR.PIN_BLOCKED:
        return PinBlocked(
            f"{name} has blocked its PIN after too many wrong tries; only a reset (which erases "
            "its credentials) makes it usable again"
        )
    if code == ERR.PIN_AUTH_BLOCKED:
        return PinBlocked(
            f"{name} refuses PINs after 3 wrong tries in a row; unplug it and plug it back in"
        )
    if code in (ERR.NO_CREDENTIALS, ERR.INVALID_CREDENTIAL):
        return WrongDevice(f"{name} holds no credential enrolled in this vault")
    if code in (ERR.PUAT_REQUIRED, ERR.PIN_NOT_SET):
        return PinRequired(f"{name} needs its PIN (set one first if it has none)")
    if code in (ERR.UNSUPPORTED_OPTION, ERR.UNSUPPORTED_ALGORITHM, ERR.INVALID_OPTION):
        return Unsupported(f"{name} does not support what was asked (CTAP {code:#04x})")
    return HardwareError(f"{name} refused the request (CTAP {code:#04x})")


@contextmanager
def translated(
    name: str, device: CtapDevice | None, ui: Interaction | None, cancel: threading.Event | None
) -> Iterator[None]:
    """Turn python-fido2's errors into Strongroom's, each with ``from e``."""
    try:
        yield
    except PinRequiredError as e:
        if ui is not None and ui.cancelled:
            raise UserCancelled() from e
        raise PinRequired(f"{name} needs its PIN and none was given") from e
    except ClientError as e:
        if cancel is not None and cancel.is_set():
            raise UserCancelled() from e
        if isinstance(e.cause, CtapError):
            raise from_ctap(e.cause.code, name, device) from e
        if e.code == ClientError.ERR.TIMEOUT:
            raise DeviceTimeout(f"{name} was not touched in time") from e
        if e.code == ClientError.ERR.DEVICE_INELIGIBLE:
            raise WrongDevice(f"{name} holds no credential enrolled in this vault") from e
        if e.code == ClientError.ERR.CONFIGURATION_UNSUPPORTED:
            raise Unsupported(
                f"{name} cannot do this as configured ({e.cause or 'unsupported'}); with "
                "user verification required the key needs a PIN set"
            ) from e
        raise HardwareError(f"{name} failed ({e.code.name})") from e
    except CtapError as e:
        if cancel is not None and cancel.is_set():
            raise UserCancelled() from e
        raise from_ctap(e.code, name, device) from e
    except OSError as e:
        raise DeviceRemoved(f"{name} stopped answering ({type(e).__name__})") from e


# ----- enrolment ------------------------------------------------------------------------------


def choose_device(
    devices: Sequence[CtapDevice],
    prompts: Prompts | None,
    cancel: threading.Event | None,
    on_status: StatusCallback | None,
) -> CtapDevice:
    """With several keys plugged in, the one the user touches (authenticatorSelection)."""
    if len(devices) == 1:
        return devices[0]
    if on_status is not None:
        on_status("Touch the security key you want to enrol")
    if prompts is not None:
        prompts.prompt_touch("the security key you want to enrol")
    stop = threading.Event()
    answers: queue.Queue[CtapDevice | None] = queue.Queue()

    def select(device: CtapDevice) -> None:
        try:
            Fido2Client(device, collector()).selection(stop)
            answers.put(device)
        except Exception:  # noqa: BLE001 - a key not chosen (cancelled or failed) drops out
            answers.put(None)

    workers = [threading.Thread(target=select, args=(d,), name="fido2-select", daemon=True)
               for d in devices]
    for w in workers:
        w.start()
    try:
        for _ in devices:
            while True:
                if cancel is not None and cancel.is_set():
                    raise UserCancelled()
                try:
                    chosen = answers.get(timeout=SELECT_POLL_S)
                    break
                except queue.Empty:
                    continue
            if chosen is not None:
                return chosen
        raise DeviceTimeout("no security key was chosen: none was touched, or each refused")
    finally:
        stop.set()
        for w in workers:
            w.join(1.0)


def enrol(
    device: CtapDevice,
    vault_id: str,
    label: str,
    uv: str,
    prompts: Prompts | None,
    cancel: threading.Event | None,
    on_status: StatusCallback | None,
) -> Enrolment:
    name = device_name(device)
    ui = Interaction(prompts, name, on_status, lambda: pin_retries(device))
    with translated(name, device, ui, cancel):
        client = Fido2Client(device, collector(), user_interaction=ui)
        credential_id, aaguid, prf, public_key = register(client, vault_id, label, uv, cancel)
    if not prf:
        raise Unsupported(
            f"{name} does not support the PRF (hmac-secret) extension, so it cannot open a "
            "vault; use a FIDO2 key that does"
        )
    salt = secrets.token_bytes(32)
    if on_status is not None:
        on_status(f"Touch {name} again to derive the vault key")
    with translated(name, device, ui, cancel):
        _, secret, _ = evaluate(client, {credential_id: salt}, uv, cancel)
    params: dict[str, Any] = {
        "credential_id": b64e(credential_id), "prf_salt": b64e(salt), "uv": uv,
        "rp_id": RP_ID, "aaguid": aaguid,
    }
    if public_key:
        params["cose_public_key"] = b64e(public_key)  # public: checks approvals' assertions
    if getattr(device, "product_name", None):
        params["device"] = device.product_name  # type: ignore[attr-defined]
    return Enrolment(params=params, secret=secret[:SECRET_BYTES])


# ----- unlocking --------------------------------------------------------------------------------


def probe(device: CtapDevice, slots: Sequence[SlotRef], cancel: threading.Event | None
          ) -> SlotRef | None:
    """The slot whose credential ``device`` holds, asked with up=False (no touch, no PIN)."""
    ctap = Ctap2(device)
    info = ctap.info
    by_id = {b64d(s.params["credential_id"]): s for s in slots}
    for rp_id in sorted({str(s.params.get("rp_id", RP_ID)) for s in slots}):
        ids = [cid for cid, s in by_id.items() if s.params.get("rp_id", RP_ID) == rp_id
               and (not info.max_cred_id_length or len(cid) <= info.max_cred_id_length)]
        step = info.max_creds_in_list or 1
        for i in range(0, len(ids), step):
            chunk = ids[i:i + step]
            try:
                resp = ctap.get_assertion(
                    rp_id, PROBE_HASH, [{"type": "public-key", "id": c} for c in chunk],
                    options={"up": False}, event=cancel,
                )
            except CtapError as e:
                if e.code == ERR.NO_CREDENTIALS:
                    continue
                raise
            held = resp.credential["id"] if resp.credential else chunk[0]
            return by_id.get(bytes(held))
    return None


def refuse_enrolled(device: CtapDevice, enrolled: Sequence[SlotRef],
                    cancel: threading.Event | None) -> None:
    """AlreadyExists if ``device`` holds the credential of one of ``enrolled`` (asked silently,
    as at unlock): a second slot on one key is no backup for losing it."""
    fido = [s for s in enrolled if "credential_id" in s.params]
    if not fido:
        return
    with translated(device_name(device), device, None, cancel):
        held = probe(device, fido, cancel)
    if held is not None:
        raise AlreadyExists(
            f"{device_name(device)} is already enrolled in this vault as keyslot "
            f"{held.label or held.id}; enrol a different security key"
        )


def recover(
    devices: Sequence[CtapDevice],
    slots: Sequence[SlotRef],
    prompts: Prompts | None,
    cancel: threading.Event | None,
    on_status: StatusCallback | None,
    challenge: Challenge | None = None,
) -> tuple[str, bytes]:
    fido = [s for s in slots if "credential_id" in s.params and "prf_salt" in s.params]
    for s in fido:
        try:
            b64d(s.params["credential_id"])
            b64d(s.params["prf_salt"])
        except (TypeError, ValueError) as e:
            raise HeaderCorrupt(f"keyslot {s.label or s.id} has a malformed credential") from e
    if not fido:
        raise WrongDevice("this vault has no security key enrolled")
    if on_status is not None:
        on_status("Looking for an enrolled security key")
    found: tuple[CtapDevice, SlotRef] | None = None
    failure: StrongroomError | None = None
    for device in devices:
        try:
            with translated(device_name(device), device, None, cancel):
                slot = probe(device, fido, cancel)
        except UserCancelled:
            raise
        except StrongroomError as e:
            failure = failure or e
            continue
        if slot is not None:
            found = (device, slot)
            break
    if found is None:
        if failure is not None:
            raise failure
        names = ", ".join(sorted({device_name(d) for d in devices}))
        raise WrongDevice(f"no security key plugged in ({names}) is enrolled in this vault")
    device, slot = found
    name = device_name(device)
    ui = Interaction(prompts, name, on_status, lambda: pin_retries(device))
    uv = str(slot.params.get("uv", "discouraged"))
    rp_id = str(slot.params.get("rp_id", RP_ID))
    salt = b64d(slot.params["prf_salt"])
    with translated(name, device, ui, cancel):
        client = Fido2Client(device, collector(rp_id), user_interaction=ui)
        _, secret, response = evaluate(
            client, {b64d(slot.params["credential_id"]): salt}, uv, cancel, rp_id,
            challenge.value if challenge is not None else None,
        )
    if challenge is not None:
        challenge.evidence = evidence(response, challenge.value, slot.params, rp_id)
    return slot.id, secret[:SECRET_BYTES]
