"""Certificates a ceremony issues with a key that stays on its token: the self-signed root, and a
certificate for a request (an intermediate CA, a signer), with the validity, key usage, basic
constraints and path length the script gives. Before the token signs, the very to-be-signed
certificate is signed with a throwaway key of the same type and linted (lint.py): an error the
witness did not accept stops it there. Each result is checked with ``cryptography`` against its
issuer before it is written."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from asn1crypto import keys, pem, x509  # type: ignore[import-untyped]
from cryptography import x509 as cx509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization

from ..errors import HardwareError, UsageError
from ..keys.algorithms import choose_algorithm
from ..keys.certificates import build_name
from ..keys.ports import KeyInfo
from ..keys.tbs_signing import PSS, Signer, asn1_time, probe_pss_salt, sign_tbs, signature_algorithm
from . import lint
from .lint import LintFailed, LintReport

MAX_INPUT_BYTES = 64 * 1024


@dataclass(frozen=True)
class Issued:
    pem: bytes
    lint: LintReport  # the findings on the same certificate signed with a throwaway key


def self_signed_root(store: Signer, key: KeyInfo, subject: str, *, days: int,
                     key_usage: Sequence[str], path_length: int | None,
                     now: dt.datetime, web_pki: bool = False,
                     accept_errors: Sequence[str] = ()) -> Issued:
    """A PEM self-signed CA certificate for ``key``, linted first (``web_pki``: against the
    CA/B Forum TLS Baseline Requirements too); ``accept_errors`` are the lint error codes the
    witness accepted."""
    spki = keys.PublicKeyInfo.load(key.public_key)
    name = build_name(subject)
    issued = _issue(store, key, subject=name, spki=spki, issuer=name, issuer_key_id=spki.sha1,
                    days=days, ca=True, path_length=path_length, key_usage=key_usage, now=now,
                    root=True, web_pki=web_pki, accept_errors=accept_errors)
    cert = cx509.load_pem_x509_certificate(issued.pem)
    _verify(cert, cert)
    return issued


def issue_for_request(store: Signer, key: KeyInfo, *, issuer_pem: bytes, request_pem: bytes,
                      days: int, ca: bool, path_length: int | None, key_usage: Sequence[str],
                      now: dt.datetime, web_pki: bool = False,
                      accept_errors: Sequence[str] = ()) -> Issued:
    """A PEM certificate for the request, issued by ``key`` whose certificate is ``issuer_pem``,
    linted first as ``self_signed_root`` says."""
    issuer = _load_certificate(issuer_pem)
    request = _load_request(request_pem)
    return _issue_for(store, key, issuer, request.subject, request.public_key(), days=days,
                      ca=ca, path_length=path_length, key_usage=key_usage, now=now,
                      web_pki=web_pki, accept_errors=accept_errors)


def cross_certify(store: Signer, key: KeyInfo, *, issuer_pem: bytes, subject_pem: bytes,
                  days: int, path_length: int | None, key_usage: Sequence[str],
                  now: dt.datetime, web_pki: bool = False,
                  accept_errors: Sequence[str] = ()) -> Issued:
    """A cross-certificate: another CA's name and public key, as its own certificate
    ``subject_pem`` gives them, certified as a CA by ``key`` (whose certificate is
    ``issuer_pem``), linted first."""
    issuer = _load_certificate(issuer_pem)
    other = _load_certificate(subject_pem)
    return _issue_for(store, key, issuer, other.subject, other.public_key(), days=days,
                      ca=True, path_length=path_length, key_usage=key_usage, now=now,
                      web_pki=web_pki, accept_errors=accept_errors)


def _issue_for(store: Signer, key: KeyInfo, issuer: cx509.Certificate, subject_name: Any,
               public_key: Any, *, days: int, ca: bool, path_length: int | None,
               key_usage: Sequence[str], now: dt.datetime, web_pki: bool,
               accept_errors: Sequence[str]) -> Issued:
    mine = key.public_key
    theirs = issuer.public_key().public_bytes(serialization.Encoding.DER,
                                              serialization.PublicFormat.SubjectPublicKeyInfo)
    if mine != theirs:
        raise UsageError("the issuer certificate is not the certificate of the signing key")
    subject = x509.Name.load(subject_name.public_bytes())
    spki = keys.PublicKeyInfo.load(public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo))
    try:
        issuer_key_id = issuer.extensions.get_extension_for_class(
            cx509.SubjectKeyIdentifier).value.digest
    except cx509.ExtensionNotFound:
        issuer_key_id = keys.PublicKeyInfo.load(mine).sha1
    issued = _issue(store, key, subject=subject,
                    spki=spki, issuer=x509.Name.load(issuer.subject.public_bytes()),
                    issuer_key_id=issuer_key_id, days=days, ca=ca, path_length=path_length,
                    key_usage=key_usage, now=now, root=False, web_pki=web_pki,
                    accept_errors=accept_errors)
    _verify(cx509.load_pem_x509_certificate(issued.pem), issuer)
    return issued


def _issue(store: Signer, key: KeyInfo, *, subject: Any, spki: Any, issuer: Any,
           issuer_key_id: bytes, days: int, ca: bool, path_length: int | None,
           key_usage: Sequence[str], now: dt.datetime, root: bool, web_pki: bool,
           accept_errors: Sequence[str]) -> Issued:
    chosen = choose_algorithm(key, None)
    # An RSA-PSS salt probe signs a fixed string, never a certificate: the TBS names the salt.
    salt = probe_pss_salt(store, key, chosen) if chosen in PSS else None
    sig_alg = signature_algorithm(chosen, salt)
    start = now.replace(microsecond=0) - dt.timedelta(minutes=5)
    constraints: dict[str, Any] = {"ca": ca}
    if ca and path_length is not None:
        constraints["path_len_constraint"] = path_length
    usage = set(key_usage) or ({"key_cert_sign", "crl_sign"} if ca else {"digital_signature"})
    extensions = [
        {"extn_id": "basic_constraints", "critical": True, "extn_value": constraints},
        {"extn_id": "key_usage", "critical": True, "extn_value": usage},
        {"extn_id": "key_identifier", "critical": False, "extn_value": spki.sha1},
        {"extn_id": "authority_key_identifier", "critical": False,
         "extn_value": {"key_identifier": issuer_key_id}},
    ]
    tbs = x509.TbsCertificate({
        "version": "v3",
        "serial_number": cx509.random_serial_number(),
        "signature": sig_alg,
        "issuer": issuer,
        "validity": {"not_before": asn1_time(start),
                     "not_after": asn1_time(start + dt.timedelta(days=days, minutes=5))},
        "subject": subject,
        "subject_public_key_info": spki,
        "extensions": [x509.Extension(e) for e in extensions],
    })
    tbs_der: bytes = tbs.dump()
    throwaway = lint.throwaway_key(key.public_key)
    trial = x509.Certificate({"tbs_certificate": tbs, "signature_algorithm": sig_alg,
                              "signature_value": lint.throwaway_signature(throwaway, tbs_der,
                                                                          chosen, salt)})
    report = lint.lint_certificate(trial.dump(), ca=ca, root=root, web_pki=web_pki)
    refused = lint.refused(report, accept_errors)
    if refused:
        raise LintFailed(report, refused)
    signature = sign_tbs(store, key, tbs_der, chosen)
    cert = x509.Certificate({"tbs_certificate": x509.TbsCertificate.load(tbs_der),
                             "signature_algorithm": sig_alg, "signature_value": signature})
    out: bytes = pem.armor("CERTIFICATE", cert.dump())
    return Issued(out, report)


def _verify(cert: cx509.Certificate, issuer: cx509.Certificate) -> None:
    try:
        cert.verify_directly_issued_by(issuer)
    except InvalidSignature as e:
        raise HardwareError("the token's signature on the certificate does not verify") from e
    except (ValueError, TypeError) as e:
        raise HardwareError(f"the certificate built is not valid ({e})") from e


def _load_certificate(data: bytes) -> cx509.Certificate:
    try:
        if pem.detect(data):
            return cx509.load_pem_x509_certificate(data)
        return cx509.load_der_x509_certificate(data)
    except ValueError:
        raise UsageError("the issuer file is not an X.509 certificate (PEM or DER)") from None


def _load_request(data: bytes) -> cx509.CertificateSigningRequest:
    try:
        request = (cx509.load_pem_x509_csr(data) if pem.detect(data)
                   else cx509.load_der_x509_csr(data))
        valid = request.is_signature_valid
    except ValueError:
        raise UsageError("the request file is not a PKCS#10 request (PEM or DER)") from None
    if not valid:
        raise UsageError("the request's own signature does not verify: it was altered")
    return request
