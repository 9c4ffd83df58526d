"""Certificates a ceremony issues are linted with pkilint before the token's key signs them: the
same to-be-signed certificate, signed with a throwaway key of the same type. The shipped scripts
lint clean; a certificate with an error is refused before the token is asked; warnings are kept
in the step's record; an error code the witness accepted lets it issue."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path

import pytest
from asn1crypto import x509 as ax509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from strongroom.app.access import access_changes, approvals, operator_admin, policy
from strongroom.app.ceremony import issuing, lint, runner, script
from strongroom.app.ceremony.actions import StepContext
from strongroom.app.ceremony.lint import LintFailed
from strongroom.app.errors import UsageError
from strongroom.app.keys import certificates
from strongroom.app.keys import tokens as key_tokens
from strongroom.app.keys.ports import KeyType, SignAlgorithm
from strongroom.app.keyslots import PassphraseUnlocker, normalize_passphrase
from strongroom.app.vault import Vault

from conftest import PASSPHRASE
from helpers.softhsm import softhsm  # noqa: F401 - session fixture

SCRIPTS = Path(__file__).resolve().parents[1] / "resources" / "ceremonies"
PEOPLE = {"carol": ("Witness",), "bob": ("Crypto Officer",), "dave": ("Crypto Officer",)}
NOW = dt.datetime(2027, 3, 1, 9, 0, tzinfo=dt.UTC)
CA_USAGE = ["key_cert_sign", "crl_sign"]
NO_KEYCERTSIGN = "pkix.ca_certificate_keycertsign_keyusage_not_set"
NO_COUNTRY = "cabf.serverauth.ca.country_attribute_absent"
PATHLEN_WARNING = "cabf.serverauth.root_basic_constraints_pathlenconstraint_present"


def secret_of(name: str) -> str:
    return PASSPHRASE if name == "alice" else f"{name} lint pass 1"


class Counted:
    """The store's ``sign``, counting the times the token is asked."""

    def __init__(self, store, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        real = store.sign

        def sign(*args, **kwargs):
            self.calls += 1
            return real(*args, **kwargs)

        monkeypatch.setattr(store, "sign", sign)


@pytest.fixture(scope="module")
def hsm(softhsm):  # noqa: F811 - the imported session fixture
    """One token for the tests that call issuing directly, with a P-384 root key on it."""
    _, store = key_tokens.open_store("pkcs11", token=softhsm.take_token(), pin=softhsm.pin)
    key = store.generate("lint-root", KeyType.EcP384)
    yield store, key
    store.close()


@pytest.fixture
def counted(hsm, monkeypatch: pytest.MonkeyPatch) -> Counted:
    return Counted(hsm[0], monkeypatch)


def tbs_of(der: bytes) -> bytes:
    return ax509.Certificate.load(der)["tbs_certificate"].dump()


def test_the_token_signs_the_very_certificate_that_was_linted(hsm, counted, monkeypatch) -> None:
    store, key = hsm
    linted: list[bytes] = []
    real = lint.lint_certificate

    def spy(der: bytes, **kwargs):
        linted.append(der)
        assert counted.calls == 0  # the lint runs before the token is asked
        return real(der, **kwargs)

    monkeypatch.setattr(lint, "lint_certificate", spy)
    issued = issuing.self_signed_root(store, key, "CN=Lint Root,O=Example", days=3650,
                                      key_usage=CA_USAGE, path_length=1, now=NOW)
    cert = x509.load_pem_x509_certificate(issued.pem)
    [trial] = linted
    assert tbs_of(trial) == tbs_of(cert.public_bytes(serialization.Encoding.DER))
    assert counted.calls == 1
    assert issued.lint.profile == "rfc5280" and issued.lint.errors == []
    # the trial's signature is the throwaway key's, not the token's
    with pytest.raises(InvalidSignature):
        cert.public_key().verify(ax509.Certificate.load(trial)["signature_value"].native,
                                 cert.tbs_certificate_bytes, ec.ECDSA(hashes.SHA384()))


def test_a_ca_without_keycertsign_is_refused_before_the_token_signs(hsm, counted) -> None:
    store, key = hsm
    with pytest.raises(LintFailed, match=re.escape(NO_KEYCERTSIGN)) as caught:
        issuing.self_signed_root(store, key, "CN=Lint Root,O=Example", days=3650,
                                 key_usage=["digital_signature"], path_length=None, now=NOW)
    assert counted.calls == 0
    assert caught.value.exit_code == 2 and "the key did not sign" in str(caught.value)
    assert [f.code for f in caught.value.refused] == [NO_KEYCERTSIGN]
    assert caught.value.refused[0].path.endswith("keyUsage")
    # an accepted code lets it issue, and the report still names it
    issued = issuing.self_signed_root(store, key, "CN=Lint Root,O=Example", days=3650,
                                      key_usage=["digital_signature"], path_length=None,
                                      now=NOW, accept_errors=[NO_KEYCERTSIGN])
    assert counted.calls == 1 and [f.code for f in issued.lint.errors] == [NO_KEYCERTSIGN]


def test_the_web_pki_profile_refuses_what_rfc5280_allows(hsm, counted) -> None:
    store, key = hsm
    subject = "CN=Lint Web Root,O=Example,C=US"
    long = issuing.self_signed_root(store, key, subject, days=9200, key_usage=CA_USAGE,
                                    path_length=None, now=NOW)  # 25 years and more: RFC 5280 ok
    assert long.lint.errors == [] and counted.calls == 1
    too_long = re.escape("cabf.serverauth.root_validity_period_too_long")
    with pytest.raises(LintFailed, match=too_long):
        issuing.self_signed_root(store, key, subject, days=9200, key_usage=CA_USAGE,
                                 path_length=None, now=NOW, web_pki=True)
    assert counted.calls == 1  # not asked again
    ok = issuing.self_signed_root(store, key, subject, days=7300, key_usage=CA_USAGE,
                                  path_length=None, now=NOW, web_pki=True)
    assert ok.lint.profile == "rfc5280+cabf-serverauth" and ok.lint.errors == []
    assert ok.lint.certificate_type == "ROOT_CA"

    # An intermediate for the web PKI needs policies, a CRL distribution point and EKUs, which
    # a ceremony script cannot give it yet: the lint says so and the root key does not sign.
    request = ec.generate_private_key(ec.SECP256R1())
    csr = x509.CertificateSigningRequestBuilder().subject_name(x509.Name.from_rfc4514_string(
        "CN=Lint Web Intermediate,O=Example,C=US")).sign(request, hashes.SHA256())
    with pytest.raises(LintFailed, match="certificate_policies_extension_absent") as caught:
        issuing.issue_for_request(store, key, issuer_pem=ok.pem,
                                  request_pem=csr.public_bytes(serialization.Encoding.PEM),
                                  days=1825, ca=True, path_length=0, key_usage=CA_USAGE,
                                  now=NOW, web_pki=True)
    assert counted.calls == 2
    assert caught.value.report.certificate_type == "INTERNAL_UNCONSTRAINED_TLS_CA"
    assert {"cabf.serverauth.ca.crl_distribution_points_extension_absent",
            "cabf.serverauth.ca.extended_key_usage_extension_absent"} <= {
        f.code for f in caught.value.refused}


@pytest.mark.parametrize("make", [
    lambda: ec.generate_private_key(ec.SECP256R1()),
    lambda: ec.generate_private_key(ec.SECP384R1()),
    lambda: rsa.generate_private_key(65537, 2048),
    ed25519.Ed25519PrivateKey.generate,
], ids=["p256", "p384", "rsa2048", "ed25519"])
def test_the_throwaway_key_is_of_the_same_type_and_signs_as_the_token_would(make) -> None:
    public = make().public_key()
    spki = public.public_bytes(serialization.Encoding.DER,
                               serialization.PublicFormat.SubjectPublicKeyInfo)
    made = lint.throwaway_key(spki)
    mine = made.public_key()
    family = next(t for t in (ec.EllipticCurvePublicKey, rsa.RSAPublicKey,
                              ed25519.Ed25519PublicKey) if isinstance(public, t))
    assert isinstance(mine, family)
    assert mine.public_bytes(serialization.Encoding.DER,
                             serialization.PublicFormat.SubjectPublicKeyInfo) != spki
    data = b"to be signed"
    if isinstance(public, ec.EllipticCurvePublicKey):
        assert mine.curve.name == public.curve.name
        sig = lint.throwaway_signature(made, data, SignAlgorithm.EcdsaSha384, None)
        mine.verify(sig, data, ec.ECDSA(hashes.SHA384()))
    elif isinstance(public, rsa.RSAPublicKey):
        assert mine.key_size == public.key_size
        sig = lint.throwaway_signature(made, data, SignAlgorithm.RsaPssSha256, 222)
        mine.verify(sig, data, padding.PSS(padding.MGF1(hashes.SHA256()), 222),
                    hashes.SHA256())
        sig = lint.throwaway_signature(made, data, SignAlgorithm.RsaPkcs1Sha384, None)
        mine.verify(sig, data, padding.PKCS1v15(), hashes.SHA384())
    else:
        mine.verify(lint.throwaway_signature(made, data, SignAlgorithm.Ed25519, None), data)


# ----- through the runner -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def team(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("lint-ceremony") / "vault"
    with Vault.create(path, normalize_passphrase(PASSPHRASE), kdf_time_ms=10,
                      actor="alice") as v:
        access_changes.set_policy(v, policy.Policy(operations=()))
        operator_admin.set_roles(v, "alice", ["Administrator", "Ceremony Administrator"])
        for name, roles in PEOPLE.items():
            operator_admin.add_operator(v, name, secret_of(name).encode(), roles=list(roles),
                                        kdf_time_ms=10)
    return path


@pytest.fixture
def vault(team: Path, tmp_path: Path) -> Vault:
    v = Vault.open(Path(shutil.copytree(team, tmp_path / "vault")))
    v.unlock(PassphraseUnlocker.from_text(PASSPHRASE))
    yield v
    v.lock()


@pytest.fixture
def token(softhsm):  # noqa: F811 - the imported session fixture
    info, store = key_tokens.open_store("pkcs11", token=softhsm.take_token(), pin=softhsm.pin)
    yield info, store
    store.close()


def load(name: str, token_label: str, *edits: tuple[str, str]) -> script.Script:
    text = (SCRIPTS / name).read_text().replace('label = "root-hsm"', f'label = "{token_label}"')
    text = text.replace('operators = ["bob", "dave", "erin"]', 'operators = ["bob", "dave"]')
    for old, new in edits:
        assert old in text
        text = text.replace(old, new)
    return script.parse(text, name)


def approve(vault: Vault, operation: str, run: runner.CeremonyRun, what: str, *names: str):
    return [approvals.approve(vault, operation, runner.target(run.row.id, what), n,
                              PassphraseUnlocker.from_text(secret_of(n))) for n in names]


def start(vault: Vault, made: script.Script, folder: Path, info) -> runner.CeremonyRun:
    run = runner.CeremonyRun.start(vault, made, folder)
    proc = folder / "proc"
    (proc / "net").mkdir(parents=True)
    (proc / "net" / "route").write_text("Iface\tDestination\tGateway\n")
    [clock] = approve(vault, runner.CLOCK_OPERATION, run, "clock", "carol")
    run.preflight(check_results={"disk-encryption": "PASS", "screen-lock": "PASS"},
                  tokens=lambda: [info], interfaces=lambda: [("lo", 0x9)], proc_root=proc,
                  clock_confirmation=clock)
    return run


def step_through(vault: Vault, run: runner.CeremonyRun, token, until: str | None = None,
                 **extra) -> None:
    info, store = token
    while (step := run.next_step()) is not None and step.id != until:
        people = ["bob", "dave"] if step.role == "officers" else ["alice"]
        ctx = StepContext(run.out, vault.clock.now(), store, info, extra=dict(extra))
        run.run_step(step, approve(vault, runner.STEP_OPERATION, run, step.id, *people,
                                   "carol"), ctx)


def lint_of(run: runner.CeremonyRun, step: str) -> dict:
    return next(r for r in run.records() if r["step"] == step and r["type"] == "step")[
        "data"]["lint"]


def test_the_shipped_root_and_intermediate_scripts_lint_clean(vault: Vault, token,
                                                              tmp_path: Path) -> None:
    info, store = token
    root = start(vault, load("root-ca.toml", info.label), tmp_path / "root", info)
    step_through(vault, root, token)
    assert lint_of(root, "root-cert") == {"profile": "rfc5280", "errors": [], "warnings": []}

    inter_key = store.generate("intermediate", KeyType.EcP256)
    second = start(vault, load("intermediate.toml", info.label), tmp_path / "inter", info)
    (second.out / "intermediate.csr").write_bytes(
        certificates.build_csr(store, inter_key, "CN=Example Intermediate CA,O=Example"))
    shutil.copy(root.out / "root-ca.crt", second.out / "root-ca.crt")
    step_through(vault, second, token)
    assert lint_of(second, "issue") == {"profile": "rfc5280", "errors": [], "warnings": []}
    assert (second.out / "intermediate.crt").exists()


def test_a_web_pki_root_with_an_error_issues_only_once_the_witness_accepts_it(
        vault: Vault, token, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The shipped root with ``web_pki = true``: its subject has no country (an error under the
    Baseline Requirements) and it sets a path length (a warning)."""
    info, store = token
    made = load("root-ca.toml", info.label, ("days = 7300\n", "days = 7300\nweb_pki = true\n"))
    run = start(vault, made, tmp_path / "web", info)
    step_through(vault, run, token, until="root-cert")
    counted = Counted(store, monkeypatch)
    step = run.next_step()
    before = run.records()
    ctx = StepContext(run.out, vault.clock.now(), store, info)
    refused = re.escape(f"rfc5280+cabf-serverauth lint: {NO_COUNTRY}")
    with pytest.raises(LintFailed, match=refused):
        run.run_step(step, approve(vault, runner.STEP_OPERATION, run, step.id, "bob", "dave",
                                   "carol"), ctx)
    assert counted.calls == 0  # the root key was never asked
    assert run.records() == before and not (run.out / "root-ca.crt").exists()

    # Only an exception the witness recorded, naming the code, accepts it.
    forged = {"type": "exception", "seq": 99, "data": {"text": f"lint {NO_COUNTRY}"}}
    with pytest.raises(UsageError, match="accepted only by an exception the witness"):
        step_through(vault, run, token, lint_exceptions={NO_COUNTRY: forged})
    assert counted.calls == 0
    [witness] = approve(vault, runner.EXCEPTION_OPERATION, run, step.id, "carol")
    exception = run.record_exception(
        f"lint {NO_COUNTRY}: a private root, never submitted to a browser root program",
        witness, step=step.id)
    step_through(vault, run, token, lint_exceptions={NO_COUNTRY: exception})
    assert counted.calls == 1  # the certificate (an EC key: no salt probe)
    found = lint_of(run, "root-cert")
    assert found["profile"] == "rfc5280+cabf-serverauth"
    assert found["certificate_type"] == "ROOT_CA"
    assert [e["code"] for e in found["errors"]] == [NO_COUNTRY]
    assert found["accepted"] == [{"code": NO_COUNTRY, "exception": exception["seq"]}]
    assert [w["code"] for w in found["warnings"]] == [PATHLEN_WARNING]
    assert found["warnings"][0]["path"].endswith("basicConstraints")
    assert run.finish().chain.problem() is None
