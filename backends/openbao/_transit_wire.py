"""What Transit sends and takes, as Strongroom's types: key types, hash and padding names, the
``vault:v<N>:<base64>`` signature text, public keys (PEM, or raw base64 for Ed25519).

Nothing here talks to a server; everything a server sends is checked, and anything malformed is
a :class:`MalformedAnswer` with one sentence, never another exception.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from strongroom.app.errors import HardwareError
from strongroom.app.keys.ports import KeyType, SignAlgorithm


class MalformedAnswer(HardwareError):
    """OpenBao answered with something that is not what Transit sends (a signature, a key)."""


# Transit's key type → (Strongroom's KeyType or None, the name KeyInfo.algorithm shows).
KEY_TYPES: dict[str, tuple[KeyType | None, str]] = {
    "ecdsa-p256": (KeyType.EcP256, "EC P-256"),
    "ecdsa-p384": (KeyType.EcP384, "EC P-384"),
    "ecdsa-p521": (None, "EC P-521"),  # listed; SignAlgorithm has no SHA-512 ECDSA to sign with
    "rsa-2048": (None, "RSA 2048"),
    "rsa-3072": (KeyType.Rsa3072, "RSA 3072"),
    "rsa-4096": (KeyType.Rsa4096, "RSA 4096"),
    "ed25519": (KeyType.Ed25519, "Ed25519"),
}
TRANSIT_TYPE = {kt: name for name, (kt, _) in KEY_TYPES.items() if kt is not None}

# Transit's hash_algorithm for each hash the port names.
HASHES = {"sha256": "sha2-256", "sha384": "sha2-384"}


@dataclass(frozen=True)
class SignPlan:
    """How Transit is asked for one algorithm's signatures."""

    family: str  # "ecdsa", "rsa", "ed25519": the Transit key type's prefix it applies to
    hash_name: str | None  # hashlib's name; None for Ed25519 (the message is sent)
    options: tuple[tuple[str, str], ...]  # sign endpoint parameters besides the input


PLANS: dict[SignAlgorithm, SignPlan] = {
    SignAlgorithm.EcdsaSha256: SignPlan("ecdsa", "sha256", (
        ("hash_algorithm", "sha2-256"), ("marshaling_algorithm", "asn1"))),
    SignAlgorithm.EcdsaSha384: SignPlan("ecdsa", "sha384", (
        ("hash_algorithm", "sha2-384"), ("marshaling_algorithm", "asn1"))),
    # salt_length=hash: the salt is the hash's length, as StoreKind.pss_salt promises
    SignAlgorithm.RsaPssSha256: SignPlan("rsa", "sha256", (
        ("hash_algorithm", "sha2-256"), ("signature_algorithm", "pss"), ("salt_length", "hash"))),
    SignAlgorithm.RsaPssSha384: SignPlan("rsa", "sha384", (
        ("hash_algorithm", "sha2-384"), ("signature_algorithm", "pss"), ("salt_length", "hash"))),
    SignAlgorithm.RsaPkcs1Sha256: SignPlan("rsa", "sha256", (
        ("hash_algorithm", "sha2-256"), ("signature_algorithm", "pkcs1v15"))),
    SignAlgorithm.RsaPkcs1Sha384: SignPlan("rsa", "sha384", (
        ("hash_algorithm", "sha2-384"), ("signature_algorithm", "pkcs1v15"))),
    SignAlgorithm.Ed25519: SignPlan("ed25519", None, ()),
}

_SIGNATURE = re.compile(r"vault:v([1-9][0-9]{0,9}):([A-Za-z0-9+/]+={0,2})")


def parse_signature(text: object) -> tuple[int, bytes]:
    """The key version and raw bytes of Transit's ``vault:v<N>:<base64>`` signature."""
    if not isinstance(text, str):
        raise MalformedAnswer(f"OpenBao sent a {type(text).__name__} where a signature belongs")
    match = _SIGNATURE.fullmatch(text)
    if match is None:
        raise MalformedAnswer("OpenBao sent a signature that is not 'vault:v<N>:<base64>'")
    try:
        raw = base64.b64decode(match.group(2), validate=True)
    except (binascii.Error, ValueError):
        raise MalformedAnswer("OpenBao sent a signature whose base64 does not decode") from None
    if not raw:
        raise MalformedAnswer("OpenBao sent an empty signature")
    if base64.b64encode(raw).decode("ascii") != match.group(2):
        # leftover bits set in the last character: not what Go's encoder writes
        raise MalformedAnswer("OpenBao sent a signature in non-canonical base64")
    return int(match.group(1)), raw


def check_signature(public: object, raw: bytes) -> bytes:
    """``raw`` as the port's signature for this public key: DER ECDSA-Sig-Value (normalised
    with ``cryptography``), the RSA block of the modulus's length, 64 bytes of Ed25519."""
    if isinstance(public, ec.EllipticCurvePublicKey):
        try:
            r, s = decode_dss_signature(raw)
        except ValueError:
            raise MalformedAnswer("OpenBao sent an ECDSA signature that is not DER") from None
        if not (0 < r < 1 << public.curve.key_size and 0 < s < 1 << public.curve.key_size):
            raise MalformedAnswer("OpenBao sent an ECDSA signature with r or s out of range")
        return encode_dss_signature(r, s)
    if isinstance(public, rsa.RSAPublicKey):
        if len(raw) != (public.key_size + 7) // 8:
            raise MalformedAnswer(f"OpenBao sent an RSA {public.key_size} signature of "
                                  f"{len(raw)} bytes")
        return raw
    if isinstance(public, ed25519.Ed25519PublicKey):
        if len(raw) != 64:
            raise MalformedAnswer(f"OpenBao sent an Ed25519 signature of {len(raw)} bytes")
        return raw
    raise MalformedAnswer("OpenBao's key is of a kind Strongroom does not sign with")


def public_key_der(transit_type: str, text: object) -> bytes:
    """The DER SubjectPublicKeyInfo of a key version's ``public_key`` (PEM; raw base64 for
    Ed25519)."""
    if not isinstance(text, str) or not text:
        raise MalformedAnswer(f"OpenBao sent no public key for a {transit_type} key")
    try:
        if transit_type == "ed25519":
            public: object = ed25519.Ed25519PublicKey.from_public_bytes(
                base64.b64decode(text, validate=True))
        else:
            public = serialization.load_pem_public_key(text.encode())
    except (binascii.Error, ValueError, UnsupportedAlgorithm):
        raise MalformedAnswer(f"OpenBao sent a {transit_type} public key that does not "
                              "load") from None
    family = transit_type.split("-")[0]
    expected = {"ecdsa": ec.EllipticCurvePublicKey, "rsa": rsa.RSAPublicKey,
                "ed25519": ed25519.Ed25519PublicKey}.get(family)
    if expected is None or not isinstance(public, expected):
        raise MalformedAnswer(f"OpenBao sent a public key that is not a {transit_type} key")
    assert isinstance(public, ec.EllipticCurvePublicKey | rsa.RSAPublicKey  # noqa: S101
                      | ed25519.Ed25519PublicKey)
    return public.public_bytes(serialization.Encoding.DER,
                               serialization.PublicFormat.SubjectPublicKeyInfo)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def load_spki(der: bytes) -> object:
    """A KeyInfo's public key, loaded (a missing or damaged one is the caller's error)."""
    try:
        return serialization.load_der_public_key(der)
    except (ValueError, UnsupportedAlgorithm):
        raise MalformedAnswer("the key's public key does not load") from None


def family_of(public: object) -> str:
    """'ecdsa', 'rsa' or 'ed25519': the Transit type prefix a public key belongs to."""
    if isinstance(public, ec.EllipticCurvePublicKey):
        return "ecdsa"
    if isinstance(public, rsa.RSAPublicKey):
        return "rsa"
    if isinstance(public, ed25519.Ed25519PublicKey):
        return "ed25519"
    return type(public).__name__
