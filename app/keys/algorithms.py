"""Public keys and signature algorithms: which algorithms a key signs with (its default first),
loading public keys and certificates, and verifying signatures as the token made them.

Signatures are raw: DER ECDSA-Sig-Value for ECDSA, the RSA signature block, the 64-byte Ed25519
signature.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, decode_dss_signature

from ..errors import IntegrityError, Unsupported, UsageError
from .ports import KeyInfo, SignAlgorithm

PublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey

# Per key family: the algorithms it signs with, the default first.
_FAMILY_ALGORITHMS: dict[str, tuple[SignAlgorithm, ...]] = {
    "ec-p256": (SignAlgorithm.EcdsaSha256, SignAlgorithm.EcdsaSha384),
    "ec-p384": (SignAlgorithm.EcdsaSha384, SignAlgorithm.EcdsaSha256),
    "rsa": (SignAlgorithm.RsaPssSha256, SignAlgorithm.RsaPssSha384,
            SignAlgorithm.RsaPkcs1Sha256, SignAlgorithm.RsaPkcs1Sha384),
    "ed25519": (SignAlgorithm.Ed25519,),
}


class CorruptSignature(IntegrityError):
    """A signature file is not a signature of this key's kind (not DER, wrong length)."""


class BadSignature(IntegrityError):
    """A well-formed signature that does not verify: wrong key, or the data changed."""


def public_key_of(key: KeyInfo) -> PublicKey:
    if not key.public_key:
        raise Unsupported(f"key '{key.label}' has no readable public key on the token")
    return load_public_key(key.public_key)


def key_family(key: KeyInfo) -> str:
    """'ec-p256', 'ec-p384', 'rsa' or 'ed25519' (from the public key, else its algorithm name)."""
    if key.public_key:
        return _family(load_public_key(key.public_key))
    name = key.algorithm
    if name.startswith("RSA"):
        return "rsa"
    family = {"EC P-256": "ec-p256", "EC P-384": "ec-p384", "Ed25519": "ed25519"}.get(name)
    if family is None:
        raise Unsupported(f"Strongroom cannot sign with a {name} key")
    return family


def _family(public: PublicKey) -> str:
    if isinstance(public, rsa.RSAPublicKey):
        return "rsa"
    if isinstance(public, ed25519.Ed25519PublicKey):
        return "ed25519"
    if isinstance(public, ec.EllipticCurvePublicKey):
        family = {"secp256r1": "ec-p256", "secp384r1": "ec-p384"}.get(public.curve.name)
        if family is not None:
            return family
        raise Unsupported(f"Strongroom cannot sign with an EC {public.curve.name} key")
    raise Unsupported(f"Strongroom cannot sign with a {type(public).__name__} key")


def allowed_algorithms(key: KeyInfo) -> tuple[SignAlgorithm, ...]:
    """The signature algorithms this key signs with, its default first."""
    return _FAMILY_ALGORITHMS[key_family(key)]


def default_algorithm(key: KeyInfo) -> SignAlgorithm:
    """EC P-256 → ecdsa-sha256, P-384 → ecdsa-sha384, RSA → rsa-pss-sha256, Ed25519 → ed25519."""
    return allowed_algorithms(key)[0]


def choose_algorithm(key: KeyInfo, requested: str | None) -> SignAlgorithm:
    allowed = allowed_algorithms(key)
    if requested is None:
        return allowed[0]
    try:
        algorithm = SignAlgorithm(requested)
    except ValueError:
        raise UsageError(
            f"unknown algorithm {requested!r} (choose from {', '.join(a.value for a in allowed)})"
        ) from None
    if algorithm not in allowed:
        raise Unsupported(
            f"a {key.algorithm} key does not sign with {algorithm.value} "
            f"(it signs with {', '.join(a.value for a in allowed)})"
        )
    return algorithm


def hash_name(algorithm: SignAlgorithm) -> str | None:
    """The hash an algorithm signs a digest of ('sha256'/'sha384'); None for Ed25519."""
    return SignAlgorithm(algorithm).hash_name


def _hash(name: str) -> hashes.HashAlgorithm:
    return hashes.SHA384() if name == "sha384" else hashes.SHA256()


# ----- public keys and verification --------------------------------------------------------------


def load_public_key(data: bytes) -> PublicKey:
    """A public key from a DER or PEM SubjectPublicKeyInfo, or from a PEM/DER certificate."""
    loaders: list[Callable[[bytes], Any]] = []
    if data.lstrip().startswith(b"-----BEGIN"):
        if b"CERTIFICATE-----" in data:
            loaders.append(lambda d: x509.load_pem_x509_certificate(d).public_key())
        else:
            loaders.append(serialization.load_pem_public_key)
    else:
        loaders += [serialization.load_der_public_key,
                    lambda d: x509.load_der_x509_certificate(d).public_key()]
    for load in loaders:
        with contextlib.suppress(ValueError, UnsupportedAlgorithm):
            public = load(data)
            if isinstance(public, ec.EllipticCurvePublicKey | rsa.RSAPublicKey
                          | ed25519.Ed25519PublicKey):
                return public
            raise Unsupported(f"a {type(public).__name__} public key is not supported")
    raise UsageError("not a public key (PEM or DER SubjectPublicKeyInfo, or a certificate)")


def spki_der(public: PublicKey) -> bytes:
    return public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def public_pem(spki: bytes) -> bytes:
    return load_public_key(spki).public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def check_signature_form(public: PublicKey, signature: bytes) -> None:
    """CorruptSignature unless ``signature`` has the shape this key's signatures have."""
    if isinstance(public, ed25519.Ed25519PublicKey):
        if len(signature) != 64:
            raise CorruptSignature(
                f"not an Ed25519 signature: {len(signature)} bytes, not 64"
            )
    elif isinstance(public, rsa.RSAPublicKey):
        size = (public.key_size + 7) // 8
        if len(signature) != size:
            raise CorruptSignature(
                f"not a signature of this RSA {public.key_size} key: {len(signature)} bytes, "
                f"not {size}"
            )
    else:
        try:
            r, s = decode_dss_signature(signature)
        except ValueError:
            raise CorruptSignature("not an ECDSA signature: the file is not DER") from None
        if not (0 < r < 1 << public.curve.key_size and 0 < s < 1 << public.curve.key_size):
            raise CorruptSignature(f"not an ECDSA {public.curve.name} signature: r or s is "
                                   "out of range")


def verify(
    public_key: bytes | PublicKey,
    data: bytes,
    signature: bytes,
    algorithm: SignAlgorithm | str,
    *,
    prehashed: bool = False,
) -> bool:
    """Whether ``signature`` is ``algorithm``'s signature over ``data`` (the message, or with
    ``prehashed`` its digest) by ``public_key`` (SPKI DER/PEM or a loaded key).

    A signature that cannot be one of this key's (not DER, wrong length) raises CorruptSignature;
    an algorithm that does not fit the key raises Unsupported.
    """
    public = load_public_key(public_key) if isinstance(public_key, bytes) else public_key
    algorithm = SignAlgorithm(algorithm)
    if algorithm not in _FAMILY_ALGORITHMS[_family(public)]:
        raise Unsupported(f"{algorithm.value} does not apply to this {_family(public)} key")
    check_signature_form(public, signature)
    name = algorithm.hash_name
    try:
        if isinstance(public, ed25519.Ed25519PublicKey):
            if prehashed:
                raise Unsupported("Ed25519 signs the whole message; give the file, not a digest")
            public.verify(signature, data)
            return True
        assert name is not None  # noqa: S101 - every non-Ed25519 algorithm has a hash
        chosen: Any = Prehashed(_hash(name)) if prehashed else _hash(name)
        if prehashed and len(data) != chosen.digest_size:
            raise UsageError(f"a {name} digest is {chosen.digest_size} bytes, not {len(data)}")
        if isinstance(public, rsa.RSAPublicKey):
            if algorithm in (SignAlgorithm.RsaPssSha256, SignAlgorithm.RsaPssSha384):
                pad: Any = padding.PSS(mgf=padding.MGF1(_hash(name)),
                                       salt_length=padding.PSS.AUTO)
            else:
                pad = padding.PKCS1v15()
            public.verify(signature, data, pad, chosen)
        else:
            public.verify(signature, data, ec.ECDSA(chosen))
    except InvalidSignature:
        return False
    return True
