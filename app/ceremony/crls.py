"""Certificate revocation lists a ceremony signs with a CA key that stays on its token: the CA's
certificate names the issuer, the script the revoked serial numbers, the CRL number and how long
it is good for. The result is checked with ``cryptography`` against the CA before it is written."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from asn1crypto import crl, pem, x509  # type: ignore[import-untyped]
from cryptography import x509 as cx509
from cryptography.hazmat.primitives import serialization

from ..errors import HardwareError, UsageError
from ..keys.algorithms import choose_algorithm
from ..keys.ports import KeyInfo
from ..keys.tbs_signing import PSS, Signer, asn1_time, probe_pss_salt, sign_tbs, signature_algorithm
from . import lint

MAX_REVOKED = 10_000


def parse_serials(values: Sequence[str]) -> list[int]:
    """Serial numbers written as hex (``0x`` optional); UsageError for anything else."""
    out = []
    for text in values:
        digits = text.strip().lower().removeprefix("0x").replace(":", "")
        try:
            serial = int(digits, 16)
        except ValueError:
            raise UsageError(f"{text!r} is not a serial number in hex") from None
        if not 0 < serial < 2**160:
            raise UsageError(f"{text!r} is not a serial number a certificate can have")
        out.append(serial)
    if len(set(out)) != len(out):
        raise UsageError("a serial number is listed twice")
    return out


def issue_crl(store: Signer, key: KeyInfo, *, issuer_pem: bytes, revoked: Sequence[int],
              number: int, days: int, now: dt.datetime,
              accept_errors: Sequence[str] = ()) -> tuple[bytes, lint.LintReport]:
    """A PEM CRL v2 of ``issuer`` (whose key is ``key``), revoking ``revoked`` as of now, and
    the lint findings on it: the same to-be-signed list is first signed with a throwaway key
    and linted (RFC 5280); the token signs only when no error the witness did not accept
    remains."""
    issuer = _load(issuer_pem)
    mine = key.public_key
    theirs = issuer.public_key().public_bytes(serialization.Encoding.DER,
                                              serialization.PublicFormat.SubjectPublicKeyInfo)
    if mine != theirs:
        raise UsageError("the issuer certificate is not the certificate of the signing key")
    if len(revoked) > MAX_REVOKED:
        raise UsageError(f"a ceremony CRL lists at most {MAX_REVOKED} serial numbers")
    if not 0 <= number < 2**159:
        raise UsageError("the CRL number must be a whole number from 0")
    try:
        key_id = issuer.extensions.get_extension_for_class(cx509.SubjectKeyIdentifier).value.digest
    except cx509.ExtensionNotFound:
        raise UsageError("the issuer certificate has no subject key identifier") from None
    chosen = choose_algorithm(key, None)
    salt = probe_pss_salt(store, key, chosen) if chosen in PSS else None
    sig_alg = signature_algorithm(chosen, salt)
    this = now.replace(microsecond=0)
    tbs = crl.TbsCertList({
        "version": "v2",
        "signature": sig_alg,
        "issuer": x509.Name.load(issuer.subject.public_bytes()),
        "this_update": asn1_time(this),
        "next_update": asn1_time(this + dt.timedelta(days=days)),
        "revoked_certificates": [
            {"user_certificate": serial, "revocation_date": asn1_time(this)}
            for serial in revoked] or None,
        "crl_extensions": [
            {"extn_id": "crl_number", "critical": False, "extn_value": number},
            {"extn_id": "authority_key_identifier", "critical": False,
             "extn_value": {"key_identifier": key_id}},
        ],
    })
    tbs_der = tbs.dump()
    trial = crl.CertificateList({
        "tbs_cert_list": tbs, "signature_algorithm": sig_alg,
        "signature": lint.throwaway_signature(lint.throwaway_key(key.public_key), tbs_der,
                                              chosen, salt)})
    report = lint.lint_crl(trial.dump())
    refused = lint.refused(report, accept_errors)
    if refused:
        raise lint.LintFailed(report, refused)
    signature = sign_tbs(store, key, tbs_der, chosen)
    made = crl.CertificateList({"tbs_cert_list": tbs, "signature_algorithm": sig_alg,
                                "signature": signature})
    out: bytes = pem.armor("X509 CRL", made.dump())
    loaded = cx509.load_pem_x509_crl(out)
    if not loaded.is_signature_valid(issuer.public_key()):  # type: ignore[arg-type]
        raise HardwareError("the token's signature on the CRL does not verify")
    return out, report


def _load(data: bytes) -> cx509.Certificate:
    try:
        if pem.detect(data):
            return cx509.load_pem_x509_certificate(data)
        return cx509.load_der_x509_certificate(data)
    except ValueError:
        raise UsageError("the issuer file is not an X.509 certificate (PEM or DER)") from None
