"""Linting a certificate before a ceremony's key signs it, as Let's Encrypt's ceremony tool does:
the to-be-signed certificate is signed with a throwaway key of the same type, and the result is
checked with DigiCert's pkilint against RFC 5280 (and the CA/Browser Forum TLS Baseline
Requirements when the script says the certificate is for the web PKI). An error stops the step
unless the witness accepted its code; warnings are kept in the step's record."""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from ..errors import UsageError
from ..keys.algorithms import hash_name, load_public_key
from ..keys.ports import SignAlgorithm

RFC5280 = "rfc5280"
CABF_SERVERAUTH = "rfc5280+cabf-serverauth"


class Severity(enum.Enum):
    Error = "error"
    Warning = "warning"
    Info = "info"


@dataclass(frozen=True)
class Finding:
    severity: Severity
    code: str  # pkilint's, e.g. "pkix.ca_certificate_keycertsign_keyusage_missing"
    message: str
    path: str  # the node of the certificate it is about, e.g. "certificate.tbsCertificate…"

    def to_json(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message, "path": self.path}

    def __str__(self) -> str:
        return f"{self.code}{': ' + self.message if self.message else ''} (at {self.path})"


@dataclass(frozen=True)
class LintReport:
    profile: str  # RFC5280 or CABF_SERVERAUTH
    findings: tuple[Finding, ...]
    certificate_type: str | None = None  # the CA/B Forum type linted against ("ROOT_CA", …)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity is Severity.Error]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity is Severity.Warning]

    def to_json(self, accepted: Mapping[str, int] | None = None) -> dict[str, Any]:
        """What the step's record keeps; ``accepted`` maps each error code the witness accepted
        to the seq of the exception record that accepted it."""
        out: dict[str, Any] = {"profile": self.profile,
                               "errors": [f.to_json() for f in self.errors],
                               "warnings": [f.to_json() for f in self.warnings]}
        if self.certificate_type is not None:
            out["certificate_type"] = self.certificate_type
        if accepted:
            out["accepted"] = [{"code": code, "exception": seq}
                               for code, seq in sorted(accepted.items())]
        return out


class LintFailed(UsageError):
    """The certificate the script describes has lint errors the witness did not accept: the
    ceremony's key did not sign it. ``report`` holds every finding."""

    def __init__(self, report: LintReport, refused: Sequence[Finding]) -> None:
        first = refused[0]
        more = f" and {len(refused) - 1} more" if len(refused) > 1 else ""
        super().__init__(
            f"the certificate fails {report.profile} lint: {first}{more}; the key did not sign "
            "(fix the script, or the witness records an exception naming the code)")
        self.report = report
        self.refused = list(refused)


_SEVERITIES = {"FATAL": Severity.Error, "ERROR": Severity.Error, "WARNING": Severity.Warning}


def lint_certificate(der: bytes, *, ca: bool, root: bool, web_pki: bool) -> LintReport:
    """pkilint's findings for the DER certificate: RFC 5280, plus the CA/B Forum TLS Baseline
    Requirements when ``web_pki``, for a root (``root``), an intermediate (``ca``) or a
    subscriber certificate as the step means it to be."""
    from pkilint import finding_filter, loader  # ~0.4 s to import: only when a step lints
    from pkilint.cabf import serverauth
    from pkilint.cabf.serverauth import serverauth_constants
    from pkilint.cabf.serverauth.serverauth_constants import CertificateType
    from pkilint.pkix import certificate, extension, name

    try:
        doc = loader.RFC5280CertificateDocumentLoader().load_der_document(der, "certificate")
    except ValueError as e:
        raise UsageError(f"the certificate built does not decode for linting ({e})") from e
    kind: str | None = None
    if web_pki:
        # the type from its EKUs, policies and name constraints; a self-issued one reads as a root
        ctype = CertificateType.ROOT_CA if root else serverauth.determine_certificate_type(doc)
        if not root and ctype is CertificateType.ROOT_CA:
            raise UsageError("the CA/B Forum profile would lint this certificate as a root: its "
                             "subject must differ from its issuer's")
        if not root and (ctype in serverauth_constants.INTERMEDIATE_CERTIFICATE_TYPES) != ca:
            raise UsageError(f"the certificate built is {'not ' if ca else ''}a CA, unlike the "
                             "step says")
        validator = certificate.create_pkix_certificate_validator_container(
            serverauth.create_decoding_validators(), serverauth.create_validators(ctype))
        results, _ = finding_filter.filter_results(
            serverauth.create_serverauth_finding_filters(ctype), validator.validate(doc.root))
        kind = ctype.name
    else:
        validator = certificate.create_pkix_certificate_validator_container(
            certificate.create_decoding_validators(name.ATTRIBUTE_TYPE_MAPPINGS,
                                                   extension.EXTENSION_MAPPINGS),
            [certificate.create_issuer_validator_container([]),
             certificate.create_validity_validator_container(),
             certificate.create_subject_validator_container([]),
             certificate.create_extensions_validator_container([]),
             certificate.create_spki_validator_container([])])
        results = validator.validate(doc.root)
    findings = tuple(
        Finding(_SEVERITIES.get(d.finding.severity.name, Severity.Info), d.finding.code,
                d.message or "", str(result.node.path))
        for result in results for d in result.finding_descriptions)
    return LintReport(CABF_SERVERAUTH if web_pki else RFC5280, findings, kind)


def lint_crl(der: bytes) -> LintReport:
    """pkilint's RFC 5280 findings for the DER certificate revocation list."""
    from pkilint import loader, pkix
    from pkilint.pkix import crl, extension, name

    try:
        doc = loader.RFC5280CertificateListDocumentLoader().load_der_document(der, "crl")
    except ValueError as e:
        raise UsageError(f"the CRL built does not decode for linting ({e})") from e
    validator = crl.create_pkix_crl_validator_container(
        [pkix.create_attribute_decoder(name.ATTRIBUTE_TYPE_MAPPINGS),
         pkix.create_extension_decoder(extension.EXTENSION_MAPPINGS)],
        [crl.create_issuer_validator_container([]),
         crl.create_validity_validator_container([]),
         crl.create_extensions_validator_container([])])
    findings = tuple(
        Finding(_SEVERITIES.get(d.finding.severity.name, Severity.Info), d.finding.code,
                d.message or "", str(result.node.path))
        for result in validator.validate(doc.root) for d in result.finding_descriptions)
    return LintReport(RFC5280, findings)


def refused(report: LintReport, accepted: Sequence[str]) -> list[Finding]:
    """The report's errors whose code the witness did not accept."""
    return [f for f in report.errors if f.code not in accepted]


# ----- the throwaway key --------------------------------------------------------------------------


ThrowawayKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey


def throwaway_key(public_key: bytes) -> ThrowawayKey:
    """A new key of the same type as the DER SubjectPublicKeyInfo (EC on its curve, RSA of its
    size, Ed25519), never stored: it signs only the certificate that is linted."""
    public = load_public_key(public_key)
    if isinstance(public, ec.EllipticCurvePublicKey):
        return ec.generate_private_key(public.curve)
    if isinstance(public, rsa.RSAPublicKey):
        return rsa.generate_private_key(65537, public.key_size)
    if isinstance(public, ed25519.Ed25519PublicKey):
        return ed25519.Ed25519PrivateKey.generate()
    raise UsageError(f"no throwaway key for a {type(public).__name__}")


def throwaway_signature(key: ThrowawayKey, tbs: bytes, algorithm: SignAlgorithm,
                        salt_length: int | None) -> bytes:
    """``key``'s signature over the DER to-be-signed bytes under ``algorithm``, as the token
    would make it (the same RSA-PSS salt length)."""
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key.sign(tbs)
    chosen: hashes.HashAlgorithm = (hashes.SHA384() if hash_name(algorithm) == "sha384"
                                    else hashes.SHA256())
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.sign(tbs, ec.ECDSA(chosen))
    if algorithm in (SignAlgorithm.RsaPssSha256, SignAlgorithm.RsaPssSha384):
        pss = padding.PSS(mgf=padding.MGF1(chosen),
                          salt_length=chosen.digest_size if salt_length is None else salt_length)
        return key.sign(tbs, pss, chosen)
    return key.sign(tbs, padding.PKCS1v15(), chosen)
