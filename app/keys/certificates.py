"""PKCS#10 requests and self-signed X.509 certificates signed by a key that stays in hardware.

The to-be-signed structures are built with asn1crypto around the key's own SubjectPublicKeyInfo;
the token signs them (ECDSA DER, RSA PKCS#1 v1.5 or PSS with explicit RSASSA-PSS parameters,
Ed25519), and the result is checked with ``cryptography`` before it is handed back as PEM, so a
request or certificate whose signature does not verify never leaves this module.

Subjects are written as in RFC 4514 (``CN=build signer,O=Example,C=DE``: most specific first) and
encoded in the reverse, conventional order (C, O, …, CN); values are read by cryptography's RFC 4514
parser (``\\,`` escapes a comma), attribute names in any case.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Sequence
from typing import Any

from asn1crypto import csr, keys, pem, x509  # type: ignore[import-untyped]
from cryptography import x509 as cx509
from cryptography.exceptions import InvalidSignature

from ..errors import HardwareError, UsageError
from .algorithms import choose_algorithm, public_key_of
from .ports import KeyInfo, SignAlgorithm
from .tbs_signing import (
    PSS,
    Signer,
    asn1_time,
    probe_pss_salt,
    pss_salt_used,
    sign_tbs,
    signature_algorithm,
)

MAX_DAYS = 36525  # a hundred years

# Subject attribute (as typed, lower case) → (asn1crypto name, upper bound on its length).
ATTRIBUTES: dict[str, tuple[str, int]] = {
    "cn": ("common_name", 64),
    "o": ("organization_name", 64),
    "ou": ("organizational_unit_name", 64),
    "c": ("country_name", 2),
    "l": ("locality_name", 128),
    "st": ("state_or_province_name", 128),
    "emailaddress": ("email_address", 255),
    "email": ("email_address", 255),
    "e": ("email_address", 255),
    "serialnumber": ("serial_number", 64),
    "dc": ("domain_component", 63),
}
SUBJECT_HELP = "CN, O, OU, C, L, ST, emailAddress, serialNumber, DC"

# ----- names --------------------------------------------------------------------------------------


def _split_rdns(text: str) -> list[str]:
    """``text`` cut at the commas that are not escaped; escapes stay for the RFC 4514 parser."""
    parts: list[str] = []
    cur: list[str] = []
    escaped = False
    for ch in text:
        if ch == "," and not escaped:
            parts.append("".join(cur))
            cur = []
            continue
        cur.append(ch)
        escaped = not escaped and ch == "\\"
    if escaped:
        raise UsageError("the subject ends in a lone backslash")
    parts.append("".join(cur))
    return parts


def _rfc4514_value(attr: str, raw: str, part: str) -> str:
    """The value of one ``NAME=value`` part, unescaped by cryptography's RFC 4514 parser."""
    if raw.endswith("\\") and (len(raw) - len(raw.rstrip("\\"))) % 2:
        raw += " "  # the space an escaping backslash kept was stripped with the others
    try:
        rdns = cx509.Name.from_rfc4514_string(f"{x509.NameType.unmap(attr)}={raw}").rdns
    except ValueError as e:
        reason = str(e) or 'escape , + " \\ < > ; in a value with a backslash'
        raise UsageError(f"subject part {part!r} is not RFC 4514 ({reason})") from None
    if len(rdns) != 1 or len(rdns[0]) != 1:
        raise UsageError(f"subject part {part!r} holds several values (escape + as \\+)")
    value = next(iter(rdns[0])).value
    return value if isinstance(value, str) else value.decode()


def parse_subject(text: str) -> list[tuple[str, str]]:
    """``CN=x,O=y`` → [("common_name", "x"), ("organization_name", "y")] as typed, checked.

    Attribute names are matched in any case and spaces around ``,`` and ``=`` are dropped;
    values are read by ``x509.Name.from_rfc4514_string`` (escapes like ``\\,`` and ``\\2C``).
    """
    if not text or not text.strip():
        raise UsageError(f"give a subject, like CN=build signer,O=Example ({SUBJECT_HELP})")
    out: list[tuple[str, str]] = []
    for raw in _split_rdns(text):
        part = raw.strip()
        if not part:
            raise UsageError(f"the subject {text!r} has an empty part (two commas in a row?)")
        name, eq, value = part.partition("=")
        name, value = name.strip(), value.strip()
        if not eq:
            raise UsageError(f"subject part {part!r} is not NAME=value")
        known = ATTRIBUTES.get(name.lower())
        if known is None:
            raise UsageError(f"unknown subject attribute {name!r} (use {SUBJECT_HELP})")
        attr, limit = known
        if not value:
            raise UsageError(f"subject attribute {name} has no value")
        if "\\" not in value:  # as typed first: cryptography refuses some in words of its own
            _check_value(name, attr, limit, value)
        value = _rfc4514_value(attr, value, part)
        _check_value(name, attr, limit, value)
        out.append((attr, value.upper() if attr == "country_name" else value))
    return out


def _check_value(name: str, attr: str, limit: int, value: str) -> None:
    if attr == "country_name" and not (len(value) == 2 and value.isascii() and value.isalpha()):
        raise UsageError(f"C= takes a two-letter country code, not {value!r}")
    if len(value) > limit:
        raise UsageError(f"subject attribute {name} is longer than {limit} characters")
    if attr == "email_address" and ("@" not in value or not value.isascii()):
        raise UsageError(f"{value!r} is not an email address")


def build_name(text: str) -> x509.Name:
    """The X.501 Name for an RFC 4514 subject string (DER order reversed from the text)."""
    rdns = [x509.Name.build({attr: value}).chosen[0]
            for attr, value in reversed(parse_subject(text))]
    return x509.Name(name="", value=x509.RDNSequence(rdns))


def parse_sans(sans: Sequence[str]) -> list[x509.GeneralName]:
    """``DNS:host``, ``email:a@b``, ``IP:10.0.0.1``, ``URI:https://…``; a bare value is DNS (or
    email when it holds an @)."""
    out: list[x509.GeneralName] = []
    for raw in sans:
        item = raw.strip()
        if not item:
            raise UsageError("an empty --san")
        kind, sep, value = item.partition(":")
        kind = kind.lower() if sep else ("email" if "@" in item else "dns")
        value = value.strip() if sep else item
        if kind not in ("dns", "email", "ip", "uri") or not value:
            raise UsageError(f"--san {raw!r}: use DNS:name, email:address, IP:address or URI:uri")
        if kind == "dns":
            if not value.isascii() or " " in value or len(value) > 253:
                raise UsageError(f"{value!r} is not a DNS name (IDNs go in as xn--… A-labels)")
            out.append(x509.GeneralName(name="dns_name", value=value))
        elif kind == "email":
            if "@" not in value or not value.isascii():
                raise UsageError(f"{value!r} is not an email address")
            out.append(x509.GeneralName(name="rfc822_name", value=value))
        elif kind == "ip":
            try:
                ipaddress.ip_address(value)
            except ValueError:
                raise UsageError(f"{value!r} is not an IP address") from None
            out.append(x509.GeneralName(name="ip_address", value=value))
        else:
            if ":" not in value or not value.isascii():
                raise UsageError(f"{value!r} is not a URI")
            out.append(x509.GeneralName(name="uniform_resource_identifier", value=value))
    return out


# ----- extensions ---------------------------------------------------------------------------------


def _extensions(key: KeyInfo, sans: Sequence[str], *, ca: bool,
                certificate: bool) -> list[x509.Extension]:
    ext: list[dict[str, Any]] = []
    usage = {"digital_signature"}
    if ca:
        usage |= {"key_cert_sign", "crl_sign"}
        ext.append({"extn_id": "basic_constraints", "critical": True,
                    "extn_value": {"ca": True}})
    ext.append({"extn_id": "key_usage", "critical": True, "extn_value": usage})
    names = parse_sans(sans)
    if names:
        ext.append({"extn_id": "subject_alt_name", "critical": False, "extn_value": names})
    if certificate:
        ski = keys.PublicKeyInfo.load(key.public_key).sha1
        ext.append({"extn_id": "key_identifier", "critical": False, "extn_value": ski})
        ext.append({"extn_id": "authority_key_identifier", "critical": False,
                    "extn_value": {"key_identifier": ski}})
    return [x509.Extension(e) for e in ext]


def _spki(key: KeyInfo) -> keys.PublicKeyInfo:
    public_key_of(key)  # Unsupported for a key without a readable public key
    return keys.PublicKeyInfo.load(key.public_key)


# ----- requests and certificates ------------------------------------------------------------------


def build_csr(
    store: Signer,
    key: KeyInfo,
    subject: str,
    *,
    sans: Sequence[str] = (),
    algorithm: SignAlgorithm | str | None = None,
    ca: bool = False,
) -> bytes:
    """A PEM PKCS#10 request for ``key`` with ``subject`` and SANs, signed on the token."""
    chosen = choose_algorithm(key, None if algorithm is None else str(algorithm))
    info = csr.CertificationRequestInfo({
        "version": "v1",
        "subject": build_name(subject),
        "subject_pk_info": _spki(key),
        "attributes": [{
            "type": "extension_request",
            "values": [_extensions(key, sans, ca=ca, certificate=False)],
        }],
    })
    tbs = info.dump()
    signature = sign_tbs(store, key, tbs, chosen)
    salt = pss_salt_used(key, chosen, tbs, signature) if chosen in PSS else None
    request = csr.CertificationRequest({
        "certification_request_info": info,
        "signature_algorithm": signature_algorithm(chosen, salt),
        "signature": signature,
    })
    out: bytes = pem.armor("CERTIFICATE REQUEST", request.dump())
    _check_csr(out)
    return out


def build_self_signed(
    store: Signer,
    key: KeyInfo,
    subject: str,
    *,
    days: int,
    sans: Sequence[str] = (),
    ca: bool = False,
    algorithm: SignAlgorithm | str | None = None,
    now: dt.datetime | None = None,
) -> bytes:
    """A PEM self-signed X.509 v3 certificate for ``key`` valid ``days`` days from now."""
    if not 1 <= days <= MAX_DAYS:
        raise UsageError(f"--days must be between 1 and {MAX_DAYS}")
    chosen = choose_algorithm(key, None if algorithm is None else str(algorithm))
    name = build_name(subject)
    start = (now or dt.datetime.now(dt.UTC)).replace(microsecond=0) - dt.timedelta(minutes=5)
    end = start + dt.timedelta(days=days, minutes=5)
    salt = probe_pss_salt(store, key, chosen) if chosen in PSS else None
    sig_alg = signature_algorithm(chosen, salt)
    tbs = x509.TbsCertificate({
        "version": "v3",
        "serial_number": cx509.random_serial_number(),  # positive, 159 bits (RFC 5280 §4.1.2.2)
        "signature": sig_alg,
        "issuer": name,
        "validity": {"not_before": asn1_time(start), "not_after": asn1_time(end)},
        "subject": name,
        "subject_public_key_info": _spki(key),
        "extensions": _extensions(key, sans, ca=ca, certificate=True),
    })
    signature = sign_tbs(store, key, tbs.dump(), chosen)
    cert = x509.Certificate({
        "tbs_certificate": tbs,
        "signature_algorithm": sig_alg,
        "signature_value": signature,
    })
    out: bytes = pem.armor("CERTIFICATE", cert.dump())
    _check_certificate(out)
    return out


def _check_csr(data: bytes) -> None:
    try:
        request = cx509.load_pem_x509_csr(data)
        ok = request.is_signature_valid
    except ValueError as e:
        raise HardwareError(f"the request built is not valid ({e})") from e
    if not ok:
        raise HardwareError("the token's signature on the request does not verify")


def _check_certificate(data: bytes) -> None:
    try:
        cert = cx509.load_pem_x509_certificate(data)
        cert.verify_directly_issued_by(cert)
    except InvalidSignature as e:
        raise HardwareError("the token's signature on the certificate does not verify") from e
    except (ValueError, TypeError) as e:
        raise HardwareError(f"the certificate built is not valid ({e})") from e


def certificate_der(data: bytes) -> bytes:
    """DER bytes of a PEM or DER X.509 certificate (checked to parse)."""
    der: bytes = pem.unarmor(data)[2] if pem.detect(data) else data
    try:
        cx509.load_der_x509_certificate(der)
    except ValueError as e:
        raise UsageError("not an X.509 certificate (PEM or DER)") from e
    return der
