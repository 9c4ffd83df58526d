"""A FIDO2 approval's assertion as public audit evidence, checked: the client data is a
webauthn.get whose challenge is the operation's digest, the authenticator data is for our relying
party, and the signature verifies under the credential public key kept in the slot. The key is
also given as a SubjectPublicKeyInfo (``spki``), so that the core can check an assertion offline
without CBOR (a ceremony transcript's signatures)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from fido2 import cbor
from fido2.cose import CoseKey
from fido2.webauthn import AuthenticationResponse, AuthenticatorData, CollectedClientData

from strongroom.app.keyslots import b64d, b64e

NO_PUBLIC_KEY = "slot enrolled before approvals kept the public key"


def evidence(
    response: AuthenticationResponse, challenge: bytes, params: Mapping[str, Any], rp_id: str
) -> dict[str, Any]:
    """The assertion as public audit evidence, and whether it checks: the signature over
    authenticatorData ‖ SHA-256(clientDataJSON) under the slot's public key, a webauthn.get
    client data whose challenge is ``challenge``, and the RP id hash."""
    assertion = response.response
    auth_data = assertion.authenticator_data
    client_data = bytes(assertion.client_data)
    out: dict[str, Any] = {
        "credential_id": b64e(bytes(response.raw_id)),
        "authenticator_data": b64e(bytes(auth_data)),
        "signature": b64e(bytes(assertion.signature)),
        "client_data_json": b64e(client_data),
        "counter": auth_data.counter,
        "user_present": bool(auth_data.flags & AuthenticatorData.FLAG.UP),
        "user_verified": bool(auth_data.flags & AuthenticatorData.FLAG.UV),
    }
    reason = _why_not_verified(auth_data, client_data, bytes(assertion.signature), challenge,
                               params.get("cose_public_key"), rp_id)
    if isinstance(params.get("cose_public_key"), str):
        out["cose_public_key"] = params["cose_public_key"]
        spki = spki_of(params["cose_public_key"])
        if spki is not None:
            out["spki"] = b64e(spki)
    out["verified"] = reason is None
    if reason is not None:
        out["reason"] = reason
    return out


_EC2_CURVES = {1: ec.SECP256R1, 2: ec.SECP384R1}  # COSE crv: P-256, P-384


def spki_of(cose_public_key: str) -> bytes | None:
    """The DER SubjectPublicKeyInfo of a COSE credential key (EC2 P-256/P-384, OKP Ed25519), or
    None when it does not parse or is of another kind."""
    try:
        cose = cbor.decode(b64d(cose_public_key))
        if not isinstance(cose, dict):
            return None
        kty, crv, x, y = cose.get(1), cose.get(-1), cose.get(-2), cose.get(-3)
        public: ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey
        if kty == 2 and crv in _EC2_CURVES and isinstance(x, bytes) and isinstance(y, bytes):
            public = ec.EllipticCurvePublicKey.from_encoded_point(_EC2_CURVES[crv](),
                                                                  b"\x04" + x + y)
        elif kty == 1 and crv == 6 and isinstance(x, bytes):
            public = ed25519.Ed25519PublicKey.from_public_bytes(x)
        else:
            return None
    except Exception:  # noqa: BLE001 - a damaged key gives no SPKI, never a failed approval
        return None
    return public.public_bytes(serialization.Encoding.DER,
                               serialization.PublicFormat.SubjectPublicKeyInfo)


def _why_not_verified(auth_data: AuthenticatorData, client_data: bytes, signature: bytes,
                      challenge: bytes, public_key: Any, rp_id: str) -> str | None:
    """None when the assertion checks, else why not (a key that does not parse included)."""
    try:
        collected = CollectedClientData(client_data)
        if collected.type != CollectedClientData.TYPE.GET.value:
            return f"the client data is of type {collected.type!r}, not webauthn.get"
        if not hmac.compare_digest(collected.challenge, challenge):
            return "the client data's challenge is not the operation's digest"
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        return "the client data does not parse"
    if not hmac.compare_digest(auth_data.rp_id_hash, hashlib.sha256(rp_id.encode()).digest()):
        return f"the authenticator data is not for {rp_id}"
    if public_key is None:
        return NO_PUBLIC_KEY
    try:
        key = CoseKey.parse(cbor.decode(b64d(public_key)))
    except Exception:  # noqa: BLE001 - a damaged key is recorded, not raised
        return "the slot's public key does not parse"
    try:
        key.verify(bytes(auth_data) + hashlib.sha256(client_data).digest(), signature)
    except Exception:  # noqa: BLE001 - a signature that does not check is recorded, not raised
        return "the signature does not check under the slot's public key"
    return None
