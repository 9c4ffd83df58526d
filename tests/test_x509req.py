"""CSRs and self-signed certificates built by app.x509req, checked by openssl and cryptography.

The ASN.1 is exercised with a small software signer (a ``cryptography`` private key behind the
KeyStore.sign signature) for every key type and algorithm, and then on real SoftHSM2 keys.
"""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from pathlib import Path

import pytest
from asn1crypto import csr as asn1_csr
from asn1crypto import pem as asn1_pem
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa, utils
from cryptography.x509.oid import ExtensionOID, NameOID

from strongroom.app.errors import HardwareError, Unsupported, UsageError
from strongroom.app.keys import certificates as x509req
from strongroom.app.keys import signing
from strongroom.app.keys import tokens as key_tokens
from strongroom.app.keys.ports import KeyInfo, KeyType, SignAlgorithm

from helpers.softhsm import softhsm  # noqa: F401 - session fixture
from helpers.swtpm import DictBlobStore, swtpm_fixture  # noqa: F401 - session fixture

OPENSSL = shutil.which("openssl")
needs_openssl = pytest.mark.skipif(OPENSSL is None, reason="openssl is not installed")


class SoftSigner:
    """KeyStore.sign over a software key: a legitimate stand-in for the ASN.1 under test."""

    store = "soft"

    def __init__(self, private, *, pss_salt: str = "digest") -> None:
        self.private = private
        self.pss_salt = pss_salt
        self.calls = 0

    def sign(self, key, data, algorithm, *, prehashed=False):
        self.calls += 1
        algorithm = SignAlgorithm(algorithm)
        h = hashes.SHA384() if "384" in algorithm.value else hashes.SHA256()
        chosen = utils.Prehashed(h) if prehashed else h
        if algorithm is SignAlgorithm.Ed25519:
            return self.private.sign(data)
        if algorithm.value.startswith("ecdsa"):
            return self.private.sign(data, ec.ECDSA(chosen))
        if "pss" in algorithm.value:
            salt = (padding.PSS.DIGEST_LENGTH if self.pss_salt == "digest"
                    else padding.PSS.MAX_LENGTH)
            return self.private.sign(data, padding.PSS(padding.MGF1(h), salt), chosen)
        return self.private.sign(data, padding.PKCS1v15(), chosen)


def key_info(private, label: str = "soft key") -> KeyInfo:
    spki = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return KeyInfo("soft", "soft", "0", label, "01", "soft", None, frozenset(), True, False, spki)


PRIVATE_KEYS = {
    "ec-p256": lambda: ec.generate_private_key(ec.SECP256R1()),
    "ec-p384": lambda: ec.generate_private_key(ec.SECP384R1()),
    "rsa-2048": lambda: rsa.generate_private_key(65537, 2048),
    "ed25519": ed25519.Ed25519PrivateKey.generate,
}
CASES = [
    ("ec-p256", None), ("ec-p256", "ecdsa-sha384"), ("ec-p384", None),
    ("rsa-2048", None), ("rsa-2048", "rsa-pss-sha384"), ("rsa-2048", "rsa-pkcs1-sha256"),
    ("rsa-2048", "rsa-pkcs1-sha384"), ("ed25519", None),
]


@pytest.fixture(scope="module")
def soft_keys():
    return {name: make() for name, make in PRIVATE_KEYS.items()}


def openssl(*args: str) -> subprocess.CompletedProcess[str]:
    assert OPENSSL is not None
    return subprocess.run([OPENSSL, *args], capture_output=True, text=True, check=False)


@needs_openssl
@pytest.mark.parametrize(("kind", "algorithm"), CASES)
def test_csr_verifies_with_openssl_and_cryptography(tmp_path, soft_keys, kind, algorithm):
    private = soft_keys[kind]
    pem = x509req.build_csr(SoftSigner(private), key_info(private),
                            "CN=build signer,O=Example\\, Inc,OU=Ops,C=de,L=Berlin,ST=Berlin,"
                            "emailAddress=ops@example.com",
                            sans=["DNS:build.example", "email:ops@example.com", "IP:10.0.0.7",
                                  "URI:https://example.com/x"],
                            algorithm=algorithm)
    path = tmp_path / "req.pem"
    path.write_bytes(pem)
    result = openssl("req", "-verify", "-noout", "-in", str(path))
    assert result.returncode == 0, result.stderr
    req = x509.load_pem_x509_csr(pem)
    assert req.is_signature_valid
    assert req.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) == key_info(private).public_key
    # RFC 4514 text, most specific first; DER order reversed (C … CN), escaped comma kept.
    assert req.subject.rfc4514_string() == (
        "CN=build signer,O=Example\\, Inc,OU=Ops,C=DE,L=Berlin,ST=Berlin,"
        "1.2.840.113549.1.9.1=ops@example.com"
    )
    assert next(a.oid for a in req.subject) == NameOID.EMAIL_ADDRESS
    san = req.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME).value
    assert san.get_values_for_type(x509.DNSName) == ["build.example"]
    assert san.get_values_for_type(x509.RFC822Name) == ["ops@example.com"]
    assert [str(i) for i in san.get_values_for_type(x509.IPAddress)] == ["10.0.0.7"]
    usage = req.extensions.get_extension_for_oid(ExtensionOID.KEY_USAGE)
    assert usage.critical and usage.value.digital_signature and not usage.value.key_cert_sign


@needs_openssl
@pytest.mark.parametrize(("kind", "algorithm"), CASES)
@pytest.mark.parametrize("ca", [True, False], ids=["ca", "leaf"])
def test_self_signed_verifies_with_openssl_and_cryptography(tmp_path, soft_keys, kind,
                                                            algorithm, ca):
    private = soft_keys[kind]
    now = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    pem = x509req.build_self_signed(SoftSigner(private), key_info(private), "CN=Root,O=Example",
                                    days=30, ca=ca, algorithm=algorithm, now=now,
                                    sans=["DNS:root.example"])
    path = tmp_path / "self.pem"
    path.write_bytes(pem)
    text = openssl("x509", "-noout", "-text", "-in", str(path))
    assert text.returncode == 0, text.stderr
    verified = openssl("verify", "-attime", str(int(now.timestamp()) + 3600), "-CAfile",
                       str(path), str(path))
    assert verified.returncode == 0, verified.stdout + verified.stderr
    cert = x509.load_pem_x509_certificate(pem)
    cert.verify_directly_issued_by(cert)
    assert cert.not_valid_before_utc == now - dt.timedelta(minutes=5)
    assert cert.not_valid_after_utc == now + dt.timedelta(days=30)
    assert 0 < cert.serial_number < 1 << 160
    basic = cert.extensions.get_extension_for_oid(ExtensionOID.BASIC_CONSTRAINTS) if ca else None
    assert basic is None or (basic.critical and basic.value.ca)
    usage = cert.extensions.get_extension_for_oid(ExtensionOID.KEY_USAGE).value
    assert usage.key_cert_sign is ca
    if algorithm and "pss" in algorithm:
        assert "rsassaPss" in text.stdout and "Salt Length: 0x30" in text.stdout


def test_serials_are_random(soft_keys):
    private = soft_keys["ec-p256"]
    serials = {
        x509.load_pem_x509_certificate(x509req.build_self_signed(
            SoftSigner(private), key_info(private), "CN=x", days=1)).serial_number
        for _ in range(5)
    }
    assert len(serials) == 5


def test_a_validity_past_2049_uses_generalized_time(soft_keys):
    private = soft_keys["ec-p256"]
    now = dt.datetime(2049, 12, 1, tzinfo=dt.UTC)
    pem = x509req.build_self_signed(SoftSigner(private), key_info(private), "CN=x", days=60,
                                    now=now)
    tbs = asn1_x509.Certificate.load(asn1_pem.unarmor(pem)[2])["tbs_certificate"]
    assert tbs["validity"]["not_before"].name == "utc_time"
    assert tbs["validity"]["not_after"].name == "general_time"


def test_pss_salt_is_probed_for_a_token_that_uses_the_maximum(soft_keys):
    """A TPM may sign PSS with the longest salt; the certificate must say what was used."""
    private = soft_keys["rsa-2048"]
    signer = SoftSigner(private, pss_salt="max")
    pem = x509req.build_self_signed(signer, key_info(private), "CN=x", days=1)
    cert = x509.load_pem_x509_certificate(pem)
    cert.verify_directly_issued_by(cert)
    assert signer.calls == 2  # the probe and the certificate
    params = asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))[
        "signature_algorithm"]["parameters"]
    assert params["salt_length"].native == 256 - 32 - 2
    req = x509.load_pem_x509_csr(x509req.build_csr(signer, key_info(private), "CN=x"))
    assert req.is_signature_valid


def test_a_signature_that_does_not_verify_is_refused(soft_keys):
    private = soft_keys["ec-p256"]
    other = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(HardwareError, match="does not verify"):
        x509req.build_csr(SoftSigner(other), key_info(private), "CN=x")
    with pytest.raises(HardwareError, match="does not verify"):
        x509req.build_self_signed(SoftSigner(other), key_info(private), "CN=x", days=1)


def test_ca_option_in_a_request(soft_keys):
    private = soft_keys["ec-p256"]
    req = x509.load_pem_x509_csr(x509req.build_csr(SoftSigner(private), key_info(private),
                                                   "CN=ca", ca=True))
    assert req.extensions.get_extension_for_oid(ExtensionOID.BASIC_CONSTRAINTS).value.ca
    info = asn1_csr.CertificationRequest.load(req.public_bytes(serialization.Encoding.DER))
    assert info["certification_request_info"]["attributes"][0]["type"].native == (
        "extension_request")


@pytest.mark.parametrize(("subject", "message"), [
    ("", "give a subject"),
    ("   ", "give a subject"),
    ("CN", "is not NAME=value"),
    ("CN=a,,O=b", "empty part"),
    ("XX=a", "unknown subject attribute 'XX'"),
    ("CN=", "has no value"),
    ("C=Deutschland", "two-letter country code"),
    ("C=D1", "two-letter country code"),
    ("CN=" + "x" * 65, "longer than 64"),
    ("emailAddress=nobody", "not an email address"),
    ("CN=a\\", "lone backslash"),
])
def test_bad_subjects_are_clear_usage_errors(subject, message):
    with pytest.raises(UsageError, match=message):
        x509req.parse_subject(subject)


def test_subject_attribute_names_are_case_insensitive():
    assert x509req.parse_subject("cn=a, o = b ,EMAIL=x@y.z,c=gb") == [
        ("common_name", "a"), ("organization_name", "b"), ("email_address", "x@y.z"),
        ("country_name", "GB"),
    ]


@pytest.mark.parametrize(("san", "message"), [
    ("", "empty --san"),
    ("FTP:x", "use DNS:name"),
    ("IP:300.1.1.1", "not an IP address"),
    ("email:nobody", "not an email address"),
    ("DNS:has space", "not a DNS name"),
    ("URI:nocolon", "not a URI"),
])
def test_bad_sans_are_clear_usage_errors(san, message):
    with pytest.raises(UsageError, match=message):
        x509req.parse_sans([san])


def test_bare_sans_are_dns_or_email():
    names = x509req.parse_sans(["host.example", "a@b.example"])
    assert [n.name for n in names] == ["dns_name", "rfc822_name"]


def test_validity_days_are_bounded(soft_keys):
    private = soft_keys["ec-p256"]
    for days in (0, -1, x509req.MAX_DAYS + 1):
        with pytest.raises(UsageError, match="--days"):
            x509req.build_self_signed(SoftSigner(private), key_info(private), "CN=x", days=days)


def test_an_algorithm_the_key_cannot_make_is_unsupported(soft_keys):
    private = soft_keys["ec-p256"]
    with pytest.raises(Unsupported, match="does not sign with rsa-pss-sha256"):
        x509req.build_csr(SoftSigner(private), key_info(private), "CN=x",
                          algorithm="rsa-pss-sha256")


# ----- on SoftHSM2 -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hsm_store(softhsm):  # noqa: F811 - the imported session fixture
    provider = key_tokens.load_provider("pkcs11")
    label = softhsm.take_token()
    token = key_tokens.choose_token(provider.tokens(softhsm.module), label)
    store = provider.open(token, softhsm.pin)
    yield store
    store.close()


@needs_openssl
@pytest.mark.parametrize("key_type", list(KeyType))
def test_csr_and_certificate_signed_on_softhsm(tmp_path, hsm_store, key_type):
    key = hsm_store.generate(f"x509-{key_type.value}", key_type)
    req_pem = x509req.build_csr(hsm_store, key, f"CN={key.label},O=Example",
                                sans=["DNS:signer.example"])
    cert_pem = x509req.build_self_signed(hsm_store, key, f"CN={key.label}", days=7, ca=True)
    (tmp_path / "req.pem").write_bytes(req_pem)
    (tmp_path / "cert.pem").write_bytes(cert_pem)
    assert openssl("req", "-verify", "-noout", "-in", str(tmp_path / "req.pem")).returncode == 0
    verified = openssl("verify", "-CAfile", str(tmp_path / "cert.pem"), str(tmp_path / "cert.pem"))
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert x509.load_pem_x509_csr(req_pem).is_signature_valid
    cert = x509.load_pem_x509_certificate(cert_pem)
    cert.verify_directly_issued_by(cert)
    assert cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) == key.public_key


def test_certificate_der_reads_pem_and_der(tmp_path, soft_keys):
    private = soft_keys["ec-p256"]
    pem = x509req.build_self_signed(SoftSigner(private), key_info(private), "CN=x", days=1)
    der = asn1_pem.unarmor(pem)[2]
    assert x509req.certificate_der(pem) == der
    assert x509req.certificate_der(der) == der
    with pytest.raises(UsageError, match=r"not an X\.509 certificate"):
        x509req.certificate_der(b"garbage")


def test_public_key_files_in_a_missing_directory_fail_before_writing(tmp_path: Path):
    with pytest.raises(signing.NotFound, match="no directory"):
        signing.write_public(tmp_path / "missing" / "x.pem", b"x")
    assert not (tmp_path / "missing").exists()


# ----- on the TPM (swtpm) ------------------------------------------------------------------------


@needs_openssl
@pytest.mark.parametrize("key_type", [KeyType.Rsa3072, KeyType.EcP384])
def test_csr_and_certificate_signed_on_the_tpm(tmp_path, swtpm, monkeypatch, key_type):
    monkeypatch.setenv("STRONGROOM_TPM_TCTI", swtpm.tcti)
    provider = key_tokens.load_provider("tpm")
    [token] = provider.tokens()
    store = provider.open(token, None, blobs=DictBlobStore())
    try:
        key = store.generate(f"tpm-{key_type.value}", key_type)
        req_pem = x509req.build_csr(store, key, "CN=tpm signer")
        cert_pem = x509req.build_self_signed(store, key, "CN=tpm signer", days=3)
    finally:
        store.close()
    (tmp_path / "req.pem").write_bytes(req_pem)
    (tmp_path / "cert.pem").write_bytes(cert_pem)
    assert openssl("req", "-verify", "-noout", "-in", str(tmp_path / "req.pem")).returncode == 0
    verified = openssl("verify", "-CAfile", str(tmp_path / "cert.pem"), str(tmp_path / "cert.pem"))
    assert verified.returncode == 0, verified.stdout + verified.stderr
    cert = x509.load_pem_x509_certificate(cert_pem)
    cert.verify_directly_issued_by(cert)
