"""FIDO2 keyslots through the Windows WebAuthn API (Windows 10 1903+, not elevated).

Windows owns the touch and PIN dialogs and picks the key itself, so there is no silent probe
here: one getAssertion lists every enrolled credential and Windows asks the key that holds one.
Not exercised by the test suite (no Windows runner); the WebAuthn steps are shared with ``_ctap``
through ``_webauthn``.
"""

from __future__ import annotations

import ctypes
import secrets
import sys
import threading
from collections.abc import Sequence
from typing import Any

from strongroom.app.errors import AlreadyExists, Unsupported, WrongDevice
from strongroom.app.keyslots import StatusCallback, b64d, b64e
from strongroom.app.unlock_methods import SECRET_BYTES, Challenge, Enrolment, SlotRef

from ._relying_party import RP_ID

NAME = "the security key"


def usable() -> bool:
    """Whether to use WindowsClient: on Windows with the WebAuthn API and not elevated (an
    elevated process talks HID directly, as Windows allows admins to)."""
    if sys.platform != "win32":
        return False
    try:
        from fido2.client.windows import WindowsClient
    except Exception:  # noqa: BLE001 - no WebAuthn API: fall back to HID
        return False
    if not WindowsClient.is_available():
        return False
    try:
        return not ctypes.windll.shell32.IsUserAnAdmin()  # type: ignore[attr-defined,unused-ignore]
    except (AttributeError, OSError):
        return True


def _client() -> Any:
    from fido2.client.windows import WindowsClient

    from ._webauthn import collector

    return WindowsClient(collector())


def enrol(
    vault_id: str, label: str, uv: str, cancel: threading.Event | None,
    on_status: StatusCallback | None, enrolled: Sequence[SlotRef] = (),
) -> Enrolment:
    from ._ctap import translated
    from ._webauthn import evaluate, register

    client = _client()
    if on_status is not None:
        on_status("Follow the Windows security key dialog")
    exclude = [b64d(s.params["credential_id"]) for s in enrolled if "credential_id" in s.params]
    try:
        with translated(NAME, None, None, cancel):
            credential_id, aaguid, prf, public_key = register(
                client, vault_id, label, uv, cancel, exclude
            )
    except WrongDevice as e:  # Windows' answer to a key holding an excluded credential
        raise AlreadyExists(
            "that security key is already enrolled in this vault; enrol a different one"
        ) from e
    if not prf:
        raise Unsupported(
            "the security key does not support the PRF (hmac-secret) extension, so it cannot "
            "open a vault; use a FIDO2 key that does"
        )
    salt = secrets.token_bytes(32)
    with translated(NAME, None, None, cancel):
        _, secret, _ = evaluate(client, {credential_id: salt}, uv, cancel)
    params = {
        "credential_id": b64e(credential_id), "prf_salt": b64e(salt), "uv": uv,
        "rp_id": RP_ID, "aaguid": aaguid,
    }
    if public_key:
        params["cose_public_key"] = b64e(public_key)
    return Enrolment(params=params, secret=secret[:SECRET_BYTES])


def recover(
    slots: Sequence[SlotRef], cancel: threading.Event | None, on_status: StatusCallback | None,
    challenge: Challenge | None = None,
) -> tuple[str, bytes]:
    from ._ctap import evidence, translated
    from ._webauthn import evaluate

    fido = {b64d(s.params["credential_id"]): s for s in slots
            if "credential_id" in s.params and "prf_salt" in s.params}
    if not fido:
        raise WrongDevice("this vault has no security key enrolled")
    uv = "required" if any(s.params.get("uv") == "required" for s in fido.values()) else (
        "discouraged"
    )
    if on_status is not None:
        on_status("Follow the Windows security key dialog")
    with translated(NAME, None, None, cancel):
        credential_id, secret, response = evaluate(
            _client(), {cid: b64d(s.params["prf_salt"]) for cid, s in fido.items()}, uv, cancel,
            challenge=challenge.value if challenge is not None else None,
        )
    slot = fido.get(credential_id)
    if slot is None:
        raise WrongDevice("the security key answered with a credential this vault does not know")
    if challenge is not None:
        challenge.evidence = evidence(response, challenge.value, slot.params, RP_ID)
    return slot.id, secret[:SECRET_BYTES]
