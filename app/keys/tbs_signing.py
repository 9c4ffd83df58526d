"""Signing a to-be-signed X.509 structure (a request, a certificate) with a key that stays in
hardware: the AlgorithmIdentifier for each algorithm (RSASSA-PSS with its explicit parameters), the
salt length the token used, and the token's signature over the bytes (hashed here, except for
Ed25519)."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Protocol

from asn1crypto import algos, core, x509  # type: ignore[import-untyped]
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from ..errors import HardwareError
from .algorithms import hash_name, public_key_of
from .ports import KeyInfo, PssSalt, SignAlgorithm, StoreKind

SIGNATURE_OIDS = {
    SignAlgorithm.EcdsaSha256: "sha256_ecdsa",
    SignAlgorithm.EcdsaSha384: "sha384_ecdsa",
    SignAlgorithm.RsaPkcs1Sha256: "sha256_rsa",
    SignAlgorithm.RsaPkcs1Sha384: "sha384_rsa",
    SignAlgorithm.RsaPssSha256: "rsassa_pss",
    SignAlgorithm.RsaPssSha384: "rsassa_pss",
    SignAlgorithm.Ed25519: "ed25519",
}
PSS = (SignAlgorithm.RsaPssSha256, SignAlgorithm.RsaPssSha384)


class Signer(Protocol):
    """What building a request needs of a key store: ``KeyStore.sign`` (and its ``kind`` when it
    has one; a signer without it is asked for its RSA-PSS salt length with a signature)."""

    def sign(
        self, key: KeyInfo, data: bytes, algorithm: SignAlgorithm, *, prehashed: bool = False
    ) -> bytes: ...



def pss_hash(algorithm: SignAlgorithm) -> hashes.HashAlgorithm:
    """The hash (and MGF1 hash) of an RSA-PSS algorithm."""
    return hashes.SHA384() if hash_name(algorithm) == "sha384" else hashes.SHA256()


def signature_algorithm(
    algorithm: SignAlgorithm, salt_length: int | None = None
) -> algos.SignedDigestAlgorithm:
    """The AlgorithmIdentifier for ``algorithm`` (RSASSA-PSS with MGF1 and its salt length)."""
    name = SIGNATURE_OIDS[algorithm]
    if algorithm in PSS:
        hname = hash_name(algorithm)
        assert hname is not None  # noqa: S101 - PSS always has a hash
        params = algos.RSASSAPSSParams({
            "hash_algorithm": {"algorithm": hname},
            "mask_gen_algorithm": {"algorithm": "mgf1", "parameters": {"algorithm": hname}},
            "salt_length": salt_length if salt_length is not None
            else pss_hash(algorithm).digest_size,
            "trailer_field": "trailer_field_bc",
        })
        return algos.SignedDigestAlgorithm({"algorithm": name, "parameters": params})
    if algorithm in (SignAlgorithm.RsaPkcs1Sha256, SignAlgorithm.RsaPkcs1Sha384):
        return algos.SignedDigestAlgorithm({"algorithm": name, "parameters": core.Null()})
    return algos.SignedDigestAlgorithm({"algorithm": name})


def pss_salt_used(key: KeyInfo, algorithm: SignAlgorithm, data: bytes,
                   signature: bytes) -> int | None:
    """The PSS salt length the token used for ``signature`` (hash length or maximum)."""
    public = public_key_of(key)
    assert isinstance(public, rsa.RSAPublicKey)  # noqa: S101 - PSS is offered for RSA keys only
    chosen = pss_hash(algorithm)
    for salt in (chosen.digest_size, padding.calculate_max_pss_salt_length(public, chosen)):
        try:
            public.verify(signature, data, padding.PSS(mgf=padding.MGF1(chosen),
                                                       salt_length=salt), chosen)
        except InvalidSignature:
            continue
        return salt
    return None


def sign_tbs(store: Signer, key: KeyInfo, data: bytes, algorithm: SignAlgorithm) -> bytes:
    """The token's signature over ``data`` (hashed here, except for Ed25519)."""
    hname = hash_name(algorithm)
    if hname is None:
        return store.sign(key, data, algorithm)
    return store.sign(key, hashlib.new(hname, data).digest(), algorithm, prehashed=True)



def probe_pss_salt(store: Signer, key: KeyInfo, algorithm: SignAlgorithm) -> int:
    """A certificate names its PSS salt length inside what is signed: unless the store's kind
    says it always uses the hash length, ask the token first with a signature."""
    kind: StoreKind | None = getattr(store, "kind", None)
    if kind is not None and kind.pss_salt is PssSalt.HashLength:
        return pss_hash(algorithm).digest_size
    probe = b"strongroom/v1/pss-salt-probe"
    salt = pss_salt_used(key, algorithm, probe, sign_tbs(store, key, probe, algorithm))
    if salt is None:
        raise HardwareError("the token's RSA-PSS signature does not verify under its public key")
    return salt


def asn1_time(when: dt.datetime) -> x509.Time:
    """UTCTime through 2049, GeneralizedTime after (RFC 5280 §4.1.2.5)."""
    if when.year < 2050:
        return x509.Time(name="utc_time", value=when)
    return x509.Time(name="general_time", value=when)


