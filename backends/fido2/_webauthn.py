"""The WebAuthn steps a FIDO2 keyslot takes, shared by the CTAP2 client and the Windows one.

:func:`register` (makeCredential) and :func:`evaluate` (getAssertion) ask for the PRF extension
through any python-fido2 ``WebAuthnClient`` (:mod:`._ctap`'s ``Fido2Client`` or :mod:`._windows`'
``WindowsClient``), for this vault's fixed relying party; :func:`collector` gives them client data
for its origin. Errors are python-fido2's, for the caller's ``translated`` to turn into
Strongroom's.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Sequence
from typing import Any

from fido2 import cbor
from fido2.client import DefaultClientDataCollector, WebAuthnClient
from fido2.utils import websafe_encode
from fido2.webauthn import AuthenticationResponse

from strongroom.app.errors import Unsupported
from strongroom.app.unlock_methods import SECRET_BYTES

from ._relying_party import ORIGIN, RP_ID, RP_NAME


def collector(rp_id: str = RP_ID) -> DefaultClientDataCollector:
    """Client data for the fixed origin ``https://<rp_id>`` (python-fido2 checks the pair)."""
    return DefaultClientDataCollector(ORIGIN if rp_id == RP_ID else f"https://{rp_id}")


def register(
    client: WebAuthnClient, vault_id: str, label: str, uv: str, cancel: threading.Event | None,
    exclude: Sequence[bytes] = (),
) -> tuple[bytes, str, bool, bytes]:
    """makeCredential with prf; returns (credential id, AAGUID hex, whether PRF is enabled, the
    credential's COSE public key as CBOR, or b"" when the key gave none). ``exclude``
    (excludeCredentials) makes a key already holding one of them refuse."""
    options: dict[str, Any] = {
        "rp": {"id": RP_ID, "name": RP_NAME},
        "user": {"id": vault_id.encode()[:64] or b"\x00", "name": label,
                 "displayName": label},
        "challenge": secrets.token_bytes(32),
        "pubKeyCredParams": [{"type": "public-key", "alg": -7},
                             {"type": "public-key", "alg": -8}],
        "authenticatorSelection": {"residentKey": "discouraged", "userVerification": uv},
        "attestation": "none",
        "extensions": {"prf": {}},
    }
    if exclude:
        options["excludeCredentials"] = [{"type": "public-key", "id": c} for c in exclude]
    reg = client.make_credential(options, event=cancel)  # type: ignore[arg-type]
    prf = getattr(reg.client_extension_results, "prf", None)
    data = reg.response.attestation_object.auth_data.credential_data
    aaguid = bytes(data.aaguid).hex() if data is not None else ""
    public_key = cbor.encode(dict(data.public_key)) if data is not None else b""
    return bytes(reg.raw_id), aaguid, bool(prf is not None and prf.enabled), public_key


def evaluate(
    client: WebAuthnClient,
    salts: dict[bytes, bytes],
    uv: str,
    cancel: threading.Event | None,
    rp_id: str = RP_ID,
    challenge: bytes | None = None,
) -> tuple[bytes, bytes, AuthenticationResponse]:
    """getAssertion with prf.evalByCredential over ``salts``, its WebAuthn challenge ``challenge``
    (random when None); returns (credential id, PRF output, the assertion)."""
    options = {
        "challenge": challenge if challenge is not None else secrets.token_bytes(32),
        "rpId": rp_id,
        "allowCredentials": [{"type": "public-key", "id": cid} for cid in salts],
        "userVerification": uv,
        "extensions": {"prf": {"evalByCredential": {
            websafe_encode(cid): {"first": salt} for cid, salt in salts.items()
        }}},
    }
    selection = client.get_assertion(options, event=cancel)  # type: ignore[arg-type]
    response = selection.get_response(0)
    prf = getattr(response.client_extension_results, "prf", None)
    results = getattr(prf, "results", None)
    first = getattr(results, "first", None)
    if not isinstance(first, bytes) or len(first) < SECRET_BYTES:
        raise Unsupported("the security key returned no PRF output for its credential")
    return bytes(response.raw_id), first, response
