"""Key facts for PKCS#11 objects: curve tables, SubjectPublicKeyInfo, signature mechanisms.

Public keys are rebuilt with ``cryptography`` objects from CKA_EC_PARAMS/CKA_EC_POINT (Weierstrass
and Edwards) or CKA_MODULUS/CKA_PUBLIC_EXPONENT; signatures are made over a digest computed here
(so a large file never passes through the token) with the raw mechanisms CKM_ECDSA,
CKM_RSA_PKCS (over a DigestInfo) and CKM_RSA_PKCS_PSS; Ed25519 signs the message with CKM_EDDSA.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from asn1crypto.core import OctetString
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from pkcs11 import KeyType as P11KeyType
from pkcs11 import Mechanism

from strongroom.app.errors import Unsupported, UsageError
from strongroom.app.keys.ports import KeyType, SignAlgorithm


@dataclass(frozen=True)
class Curve:
    name: str  # human form, "P-256"
    point_len: int  # raw public point length (uncompressed for Weierstrass curves)
    crypto: ec.EllipticCurve | None  # None for Edwards curves


# CKA_EC_PARAMS as DER: a named-curve OID, or for Edwards curves the OID or PrintableString.
CURVES: dict[bytes, Curve] = {
    bytes.fromhex("06082a8648ce3d030107"): Curve("P-256", 65, ec.SECP256R1()),
    bytes.fromhex("06052b81040022"): Curve("P-384", 97, ec.SECP384R1()),
    bytes.fromhex("06052b81040023"): Curve("P-521", 133, ec.SECP521R1()),
    bytes.fromhex("06052b8104000a"): Curve("secp256k1", 65, ec.SECP256K1()),
    bytes.fromhex("06032b6570"): Curve("Ed25519", 32, None),
    bytes.fromhex("130c656477617264733235353139"): Curve("Ed25519", 32, None),
    bytes.fromhex("06032b6571"): Curve("Ed448", 57, None),
    bytes.fromhex("130a65647761726473343438"): Curve("Ed448", 57, None),
}
EC_PARAMS = {
    KeyType.EcP256: bytes.fromhex("06082a8648ce3d030107"),
    KeyType.EcP384: bytes.fromhex("06052b81040022"),
    KeyType.Ed25519: bytes.fromhex("06032b6570"),
}
RSA_BITS = {KeyType.Rsa3072: 3072, KeyType.Rsa4096: 4096}


def algorithm_name(key_type: int, ec_params: bytes | None, modulus_bits: int | None) -> str:
    """The human form of a key's algorithm: 'EC P-256', 'RSA 3072', 'Ed25519', …"""
    if key_type == P11KeyType.RSA:
        return f"RSA {modulus_bits}" if modulus_bits else "RSA"
    if key_type in (P11KeyType.EC, P11KeyType.EC_EDWARDS):
        curve = CURVES.get(ec_params or b"")
        if curve is None:
            return "EC (unknown curve)"
        return curve.name if curve.crypto is None else f"EC {curve.name}"
    try:
        return f"{P11KeyType(key_type).name} key"
    except ValueError:
        return f"key type 0x{key_type:x}"


def strongroom_type(algorithm: str) -> KeyType | None:
    return {
        "EC P-256": KeyType.EcP256,
        "EC P-384": KeyType.EcP384,
        "RSA 3072": KeyType.Rsa3072,
        "RSA 4096": KeyType.Rsa4096,
        "Ed25519": KeyType.Ed25519,
    }.get(algorithm)


def _raw_point(point: bytes, curve: Curve) -> bytes:
    """CKA_EC_POINT is a DER OCTET STRING by the spec; some tokens give the raw point."""
    if len(point) == curve.point_len:
        return point
    inner = OctetString.load(point).native
    if not isinstance(inner, bytes) or len(inner) != curve.point_len:
        raise ValueError("CKA_EC_POINT has an unexpected length")
    return inner


def ec_spki(ec_params: bytes, ec_point: bytes) -> bytes:
    """DER SubjectPublicKeyInfo for an EC or Edwards public key."""
    curve = CURVES.get(ec_params)
    if curve is None:
        raise Unsupported("the key's elliptic curve is not one Strongroom knows")
    raw = _raw_point(ec_point, curve)
    key: ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey | ed448.Ed448PublicKey
    if curve.crypto is not None:
        key = ec.EllipticCurvePublicKey.from_encoded_point(curve.crypto, raw)
    elif curve.name == "Ed25519":
        key = ed25519.Ed25519PublicKey.from_public_bytes(raw)
    else:
        key = ed448.Ed448PublicKey.from_public_bytes(raw)
    return _der(key)


def rsa_spki(modulus: bytes, exponent: bytes) -> bytes:
    numbers = rsa.RSAPublicNumbers(int.from_bytes(exponent, "big"), int.from_bytes(modulus, "big"))
    return _der(numbers.public_key())


def _der(key: ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey | ed448.Ed448PublicKey
         | rsa.RSAPublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


# ----- signing --------------------------------------------------------------------------------

# DER prefix of DigestInfo { AlgorithmIdentifier, OCTET STRING digest } (RFC 8017 §9.2 note 1).
DIGEST_INFO = {
    "sha256": bytes.fromhex("3031300d060960864801650304020105000420"),
    "sha384": bytes.fromhex("3041300d060960864801650304020205000430"),
}
_PSS = {
    "sha256": (Mechanism.SHA256, 0x2, 32),  # CKG_MGF1_SHA256, salt = hash length
    "sha384": (Mechanism.SHA384, 0x3, 48),  # CKG_MGF1_SHA384
}
# Where a token lacks the raw mechanism, the hashing one signs the whole message instead.
HASHED_MECHANISM = {
    (Mechanism.ECDSA, "sha256"): Mechanism.ECDSA_SHA256,
    (Mechanism.ECDSA, "sha384"): Mechanism.ECDSA_SHA384,
    (Mechanism.RSA_PKCS, "sha256"): Mechanism.SHA256_RSA_PKCS,
    (Mechanism.RSA_PKCS, "sha384"): Mechanism.SHA384_RSA_PKCS,
    (Mechanism.RSA_PKCS_PSS, "sha256"): Mechanism.SHA256_RSA_PKCS_PSS,
    (Mechanism.RSA_PKCS_PSS, "sha384"): Mechanism.SHA384_RSA_PKCS_PSS,
}


def key_family(algorithm: str) -> str:
    """The signing family of a KeyInfo.algorithm: 'ec', 'rsa', 'ed25519' ('' for others)."""
    if algorithm.startswith("EC P-") or algorithm == "EC secp256k1":
        return "ec"
    if algorithm.startswith("RSA"):
        return "rsa"
    return "ed25519" if algorithm == "Ed25519" else ""


ALGORITHM_FAMILY = {
    SignAlgorithm.EcdsaSha256: "ec",
    SignAlgorithm.EcdsaSha384: "ec",
    SignAlgorithm.RsaPssSha256: "rsa",
    SignAlgorithm.RsaPssSha384: "rsa",
    SignAlgorithm.RsaPkcs1Sha256: "rsa",
    SignAlgorithm.RsaPkcs1Sha384: "rsa",
    SignAlgorithm.Ed25519: "ed25519",
}


@dataclass(frozen=True)
class SignPlan:
    """How one algorithm signs on one token: the mechanism, its parameter, what to feed it."""

    algorithm: SignAlgorithm
    mechanism: Mechanism
    param: tuple[int, int, int] | None
    hash_name: str | None  # hash computed here (None: the token gets the message)
    token_hashes: bool  # a hashing mechanism: the token gets the whole message

    def token_input(self, data: bytes, prehashed: bool) -> bytes:
        """The bytes handed to C_Sign for one message (or digest, with ``prehashed``)."""
        if self.token_hashes or self.hash_name is None:
            return data
        digest = data if prehashed else hashlib.new(self.hash_name, data).digest()
        if prehashed and len(digest) != hashlib.new(self.hash_name).digest_size:
            raise UsageError(
                f"a prehashed {self.algorithm.value} input must be a {self.hash_name} digest "
                f"({hashlib.new(self.hash_name).digest_size} bytes), not {len(digest)} bytes"
            )
        if self.mechanism == Mechanism.RSA_PKCS:
            return DIGEST_INFO[self.hash_name] + digest
        return digest

    def finish(self, raw: bytes) -> bytes:
        """The signature as Strongroom hands it out (ECDSA r‖s → DER)."""
        if ALGORITHM_FAMILY[self.algorithm] != "ec":
            return raw
        half = len(raw) // 2
        return encode_dss_signature(
            int.from_bytes(raw[:half], "big"), int.from_bytes(raw[half:], "big")
        )


def sign_plan(
    algorithm: SignAlgorithm, key_algorithm: str, mechanisms: frozenset[int], *, prehashed: bool
) -> SignPlan:
    """Choose the mechanism for ``algorithm`` on a key and token, or raise Unsupported."""
    family = ALGORITHM_FAMILY[algorithm]
    if key_family(key_algorithm) != family:
        raise Unsupported(f"{algorithm.value} cannot sign with an {key_algorithm} key")
    if family == "ed25519":
        if prehashed:
            raise Unsupported("Ed25519 signs the message itself; it cannot sign a prehashed digest")
        if Mechanism.EDDSA not in mechanisms:
            raise Unsupported("the token does not offer CKM_EDDSA")
        return SignPlan(algorithm, Mechanism.EDDSA, None, None, token_hashes=False)
    hash_name = algorithm.hash_name
    if hash_name is None:  # only Ed25519, handled above
        raise Unsupported(f"{algorithm.value} names no hash")
    if family == "ec":
        raw = Mechanism.ECDSA
    elif algorithm in (SignAlgorithm.RsaPssSha256, SignAlgorithm.RsaPssSha384):
        raw = Mechanism.RSA_PKCS_PSS
    else:
        raw = Mechanism.RSA_PKCS
    param = _PSS[hash_name] if raw == Mechanism.RSA_PKCS_PSS else None
    if raw in mechanisms:
        return SignPlan(algorithm, raw, param, hash_name, token_hashes=False)
    hashed = HASHED_MECHANISM[(raw, hash_name)]
    if not prehashed and hashed in mechanisms:
        return SignPlan(algorithm, hashed, param, hash_name, token_hashes=True)
    raise Unsupported(
        f"the token offers neither {raw.name} nor {hashed.name} for {algorithm.value}"
        if not prehashed
        else f"the token does not offer {raw.name}, needed to sign a prehashed digest"
    )
