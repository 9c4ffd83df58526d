"""The CA steps beyond a root: a CRL, a CRL-signer certificate and a cross-certificate, each
linted before the token signs, and a file signed; each checked by openssl."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from test_ceremony_run import (  # noqa: F401 - fixtures
    clock_ok,
    offline_roots,
    ok,
    secret_of,
    team,
    vault,
)

from strongroom.app.ceremony import runner, script
from strongroom.app.ceremony.actions import StepContext
from strongroom.app.ceremony.crls import parse_serials
from strongroom.app.errors import UsageError
from strongroom.app.keys import tokens as key_tokens

from helpers.softhsm import softhsm  # noqa: F401 - session fixture

SCRIPT = """
[ceremony]
name = "CA operations"
purpose = "A root, then its CRL, a CRL signer and a cross-certificate"

[roles.admin]
kind = "ceremony-administrator"
operators = ["alice"]

[roles.witness]
kind = "witness"
operators = ["carol"]

[roles.officers]
kind = "crypto-officer"
operators = ["bob", "dave"]
quorum = 2

[preflight]
token = { store = "pkcs11", label = "LABEL" }
output = "ca"

[[steps]]
id = "key"
kind = "generate-key"
role = "officers"
label = "root-ops"
type = "ec-p256"

[[steps]]
id = "root"
kind = "self-signed-root"
role = "officers"
key = "root-ops"
subject = "CN=Ops Root,O=Example"
days = 3650
output = "root.crt"

[[steps]]
id = "crl"
kind = "issue-crl"
role = "officers"
key = "root-ops"
issuer = "root.crt"
revoked = ["0x1234abcd", "7f"]
number = 1
days = 30
output = "root.crl"

[[steps]]
id = "crl-signer"
kind = "crl-signer-certificate"
role = "officers"
key = "root-ops"
issuer = "root.crt"
csr = "signer.csr"
days = 365
output = "crl-signer.crt"

[[steps]]
id = "cross"
kind = "cross-certificate"
role = "officers"
key = "root-ops"
issuer = "root.crt"
certificate = "other-ca.crt"
days = 730
path_length = 0
output = "cross.crt"

[[steps]]
id = "sign"
kind = "sign-file"
role = "officers"
key = "root-ops"
input = "signer.csr"
output = "signer.csr.sig"
"""


def _other_ca_and_request(folder: Path) -> None:
    other = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Other Root")])
    import datetime as dt
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(other.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + dt.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(other, hashes.SHA256()))
    (folder / "other-ca.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    signer = ec.generate_private_key(ec.SECP256R1())
    csr = (x509.CertificateSigningRequestBuilder().subject_name(x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, "Ops CRL signer")])).sign(signer, hashes.SHA256()))
    (folder / "signer.csr").write_bytes(csr.public_bytes(serialization.Encoding.PEM))


def openssl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["openssl", *args], capture_output=True, text=True, check=False)


def test_a_crl_a_crl_signer_and_a_cross_certificate(vault, softhsm, tmp_path: Path  # noqa: F811
                                                    ) -> None:
    label = softhsm.take_token()
    info, store = key_tokens.open_store("pkcs11", token=label, pin=softhsm.pin)
    try:
        run = runner.CeremonyRun.start(vault, script.parse(SCRIPT.replace("LABEL", label)),
                                       tmp_path / "run")
        _other_ca_and_request(run.out)
        links, proc_root = offline_roots(tmp_path)
        run.preflight(check_results={"disk-encryption": "PASS", "screen-lock": "PASS"},
                      tokens=lambda: [info], interfaces=lambda: links, proc_root=proc_root,
                      clock_confirmation=clock_ok(run))
        while (step := run.next_step()) is not None:
            run.run_step(step, ok(vault, run, step, "bob", "dave", "carol"),
                         StepContext(run.out, vault.clock.now(), store, info))
    finally:
        store.close()
    out = run.out
    checked = openssl("crl", "-in", str(out / "root.crl"), "-CAfile", str(out / "root.crt"),
                      "-noout", "-text")
    assert checked.returncode == 0 and "verify OK" in checked.stderr + checked.stdout
    assert "Serial Number: 1234ABCD" in checked.stdout and "Serial Number: 7F" in checked.stdout
    assert "X509v3 CRL Number: \n                1" in checked.stdout
    for cert in ("crl-signer.crt", "cross.crt"):
        done = openssl("verify", "-CAfile", str(out / "root.crt"), str(out / cert))
        assert done.returncode == 0, done.stdout + done.stderr
    signer = openssl("x509", "-in", str(out / "crl-signer.crt"), "-noout", "-text").stdout
    assert "CRL Sign" in signer and "CA:FALSE" in signer and "Certificate Sign" not in signer
    cross = openssl("x509", "-in", str(out / "cross.crt"), "-noout", "-text").stdout
    assert "Subject: CN = Other Root" in cross and "CA:TRUE, pathlen:0" in cross
    (out / "root.pub.pem").write_bytes(x509.load_pem_x509_certificate(
        (out / "root.crt").read_bytes()).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    signed = openssl("dgst", "-sha256", "-verify", str(out / "root.pub.pem"), "-signature",
                     str(out / "signer.csr.sig"), str(out / "signer.csr"))
    assert signed.returncode == 0 and "Verified OK" in signed.stdout
    record = next(r for r in run.records() if r["step"] == "crl")["data"]
    assert record["lint"]["errors"] == [] and record["crl"]["number"] == 1
    assert shutil.which("openssl")


@pytest.mark.parametrize("bad", [["zz"], ["0"], ["7f", "0x7F"], ["1" * 41]])
def test_bad_serials_are_refused(bad: list[str]) -> None:
    with pytest.raises(UsageError):
        parse_serials(bad)
