"""``strongroom keys … --store transit --token REMOTE`` as a real process against a real OpenBao
server: the remote and its token credential are in the vault, keys are made and used in Transit,
and every signature, CSR and audit checkpoint is checked outside Strongroom (cryptography and
openssl). Failures are one line with the documented exit code.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509

from strongroom.app.keys import algorithms
from strongroom.app.keys.ports import SignAlgorithm
from strongroom.app.remotes import config as remote_config
from strongroom.app.remotes.config import Remote

from conftest import PASSPHRASE, Result, make_vault, run_cli, snapshot
from helpers.cli_checks import one_line_error
from helpers.openbao import BaoServer, free_port_pair, openbao, start_dev_server  # noqa: F401

OPENSSL = shutil.which("openssl")
READ_ONLY_POLICY = """
path "transit/keys" { capabilities = ["list"] }
path "transit/keys/*" { capabilities = ["read", "list"] }
"""
SIGNER_POLICY = """
path "transit/keys" { capabilities = ["list"] }
path "transit/keys/*" { capabilities = ["create", "read", "update", "list"] }
path "transit/sign/*" { capabilities = ["update"] }
"""


def cli(*args: str, vault: Path, passphrase: str | None = PASSPHRASE) -> Result:
    return run_cli(*args, vault=vault, passphrases=None if passphrase is None else [passphrase])


def ok(result: Result) -> Result:
    assert result.code == 0, result.err
    return result


def as_json(result: Result):
    return json.loads(ok(result).out)


def add_remote(vault_path: Path, name: str, url: str, token: str) -> None:
    vault = make_vault(vault_path) if not vault_path.exists() else None
    if vault is None:
        from strongroom.app.vault import Vault

        from conftest import unlocker

        vault = Vault.open(vault_path)
        vault.unlock(unlocker())
    try:
        remote = Remote(name, url, "", "secret", "transit", "token",
                        credential_secret=remote_config.credential_name(name, "token"))
        remote_config.add_remote(vault, remote, token.encode(),
                                 remote_config.default_level(vault))
    finally:
        vault.lock()


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """A bao dev server with Transit, a token of a signing policy kept as the remote 'dev', and
    'gone' (nothing listens there) and 'wrong' (a token OpenBao does not know) beside it."""
    base = tmp_path_factory.mktemp("transit-cli")
    server = start_dev_server(base / "openbao")
    try:
        server.cli("secrets", "enable", "transit")
        server.cli("policy", "write", "signer", "-", stdin=SIGNER_POLICY.encode())
        token = server.cli("token", "create", "-policy=signer", "-field=token").stdout.decode()
        vault = base / "vault"
        add_remote(vault, "dev", server.url, token.strip())
        add_remote(vault, "gone", f"http://127.0.0.1:{free_port_pair()}", token.strip())
        add_remote(vault, "wrong", server.url, "s.wrong-token-0123456789")
        server.cli("policy", "write", "transit-read", "-", stdin=READ_ONLY_POLICY.encode())
        reader = server.cli("token", "create", "-policy=transit-read", "-field=token")
        add_remote(vault, "readonly", server.url, reader.stdout.decode().strip())
        with untrusted_tls_server(base) as tls_url:
            add_remote(vault, "untrusted", tls_url, token.strip())
            yield {"vault": vault, "server": server, "token": token.strip(), "base": base}
    finally:
        server.stop()


@contextlib.contextmanager
def untrusted_tls_server(base: Path) -> Iterator[str]:
    """``openssl s_server`` with a self-signed certificate nobody trusts, on loopback."""
    if OPENSSL is None:
        pytest.fail("openssl is needed for the TLS test")
    cert, key = base / "self-signed.pem", base / "self-signed.key"
    subprocess.run([OPENSSL, "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out",
                    str(cert)], check=True, capture_output=True)
    port = free_port_pair()
    proc = subprocess.Popen([OPENSSL, "s_server", "-quiet", "-accept", f"127.0.0.1:{port}",
                             "-cert", str(cert), "-key", str(key), "-www"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            time.sleep(0.05)
        yield f"https://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def transit(*args: str, token: str = "dev") -> tuple[str, ...]:  # noqa: S107 - a remote name
    return (*args, "--store", "transit", "--token", token)


@pytest.fixture(scope="module")
def keys(setup) -> dict[str, dict]:
    made = {}
    for kind in ("ec-p256", "rsa-3072", "ed25519"):
        made[kind] = as_json(cli("--json", *transit("keys", "generate", "--label", f"cli-{kind}",
                                                    "--type", kind), vault=setup["vault"]))
    return made


def test_generated_keys_are_listed_with_version_and_not_extractable(setup, keys):
    listed = as_json(cli("--json", *transit("keys", "list"), vault=setup["vault"]))
    assert listed["token"]["label"] == "dev" and listed["token"]["store"] == "transit"
    by_label = {k["label"]: k for k in listed["keys"]}
    for kind, made in keys.items():
        key = by_label[f"cli-{kind}"]
        assert key["fingerprint"] == made["fingerprint"]
        assert key["key_id"] == f"cli-{kind}@v1" and key["key_type"] == kind
        assert not key["extractable"] and key["sensitive"] and key["warnings"] == []
    tokens = as_json(cli("--json", "keys", "tokens", "--store", "transit",
                         vault=setup["vault"]))
    assert {t["label"] for t in tokens} >= {"dev", "gone", "wrong", "readonly", "untrusted"}


def test_sign_files_and_verify_with_openssl_and_the_cli(setup, keys, tmp_path):
    if OPENSSL is None:
        pytest.fail("openssl is needed to check signatures independently")
    files = []
    for i in range(12):
        f = tmp_path / f"file{i}.txt"
        f.write_bytes(f"release artefact {i}\n".encode() * (i + 1))
        files.append(f)
    out_dir = tmp_path / "sigs"
    out_dir.mkdir()
    for kind, algorithm in (("ec-p256", "ecdsa-sha256"), ("rsa-3072", "rsa-pss-sha256"),
                            ("ed25519", "ed25519")):
        signed = as_json(cli("--json", *transit("keys", "sign", "--key", f"cli-{kind}",
                                                "--in", *map(str, files), "--out-dir",
                                                str(out_dir), "--force"), vault=setup["vault"]))
        assert signed["algorithm"] == algorithm and len(signed["signed"]) == len(files)
        pem = tmp_path / f"{kind}.pem"
        ok(cli(*transit("keys", "export-pub", "--key", f"cli-{kind}", "--out", str(pem)),
               vault=setup["vault"]))
        public = algorithms.load_public_key(pem.read_bytes())
        for f in files:
            sig = (out_dir / f"{f.name}.sig").read_bytes()
            assert algorithms.verify(public, f.read_bytes(), sig, SignAlgorithm(algorithm))
        ok(cli("keys", "verify", "--pubkey", str(pem), "--in", str(files[3]), "--sig",
               str(out_dir / f"{files[3].name}.sig"), vault=setup["vault"], passphrase=None))
        if kind == "ec-p256":
            proc = subprocess.run([OPENSSL, "dgst", "-sha256", "-verify", str(pem),
                                   "-signature", str(out_dir / f"{files[0].name}.sig"),
                                   str(files[0])], capture_output=True)
            assert proc.returncode == 0 and b"Verified OK" in proc.stdout
        elif kind == "rsa-3072":
            proc = subprocess.run([OPENSSL, "dgst", "-sha256", "-verify", str(pem), "-sigopt",
                                   "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:32",
                                   "-signature", str(out_dir / f"{files[5].name}.sig"),
                                   str(files[5])], capture_output=True)
            assert proc.returncode == 0 and b"Verified OK" in proc.stdout


def test_a_csr_signed_in_transit_verifies_with_openssl(setup, keys, tmp_path):
    if OPENSSL is None:
        pytest.fail("openssl is needed to check the request independently")
    for kind in ("ec-p256", "rsa-3072", "ed25519"):
        out = tmp_path / f"{kind}.csr"
        ok(cli(*transit("keys", "csr", "--key", f"cli-{kind}", "--subject",
                        f"CN=transit {kind},O=Strongroom", "--san", "dns:signer.example",
                        "--out", str(out)), vault=setup["vault"]))
        proc = subprocess.run([OPENSSL, "req", "-in", str(out), "-noout", "-verify"],
                              capture_output=True, text=True)
        assert proc.returncode == 0 and "verify OK" in (proc.stdout + proc.stderr), proc.stderr
        request = x509.load_pem_x509_csr(out.read_bytes())
        assert request.is_signature_valid
        assert algorithms.spki_der(request.public_key()) == algorithms.spki_der(
            algorithms.load_public_key(_public_of(setup, f"cli-{kind}")))


def _public_of(setup, label: str) -> bytes:
    listed = as_json(cli("--json", *transit("keys", "export-pub", "--key", label),
                         vault=setup["vault"]))
    return listed["public_key_pem"].encode()


def test_an_audit_checkpoint_signed_in_transit_verifies(setup, keys, tmp_path):
    out = tmp_path / "checkpoint.json"
    made = as_json(cli("--json", *transit("audit", "checkpoint", "--key", "cli-ec-p256",
                                          "--out", str(out)), vault=setup["vault"]))
    assert made["store"] == "transit" and made["key_label"] == "cli-ec-p256"
    pem = tmp_path / "trusted.pem"
    pem.write_bytes(_public_of(setup, "cli-ec-p256"))
    report = as_json(cli("--json", "audit", "verify", "--trust", str(pem), "--checkpoint",
                         str(out), vault=setup["vault"]))
    assert report["checkpoints"]["valid"] >= 1 and report["checkpoints"]["invalid"] == 0
    assert report["checkpoints"]["ok"], report
    hardware = as_json(cli("--json", *transit("audit", "verify", "--hardware"),
                           vault=setup["vault"]))
    assert hardware["checkpoints"]["untrusted"] == 0
    assert hardware["checkpoints"]["valid"] == report["checkpoints"]["valid"]


# ----- failures: one line, the documented exit code, nothing changed ----------------------------


def test_a_wrong_token_is_exit_4(setup, keys, tmp_path):
    before = snapshot(tmp_path)
    result = cli(*transit("keys", "list", token="wrong"), vault=setup["vault"])
    one_line_error(result, 4, "refused")
    assert "s.wrong-token" not in result.err + result.out.decode()
    assert snapshot(tmp_path) == before


def test_a_server_that_is_not_there_is_exit_1(setup, keys):
    result = cli(*transit("keys", "list", token="gone"), vault=setup["vault"])
    one_line_error(result, 1, "did not answer")
    assert setup["token"] not in result.err


def test_bad_input_is_refused_and_changes_nothing(setup, keys, tmp_path):
    f = tmp_path / "f"
    f.write_bytes(b"x")
    sig = tmp_path / "f.sig"
    sig.write_bytes(b"keep me")
    cases = [
        (transit("keys", "generate", "--label", "cli-ec-p256", "--type", "ec-p256"), 1),
        (transit("keys", "generate", "--label", "a/b", "--type", "ec-p256"), 2),
        (transit("keys", "sign", "--key", "no-such-key", "--in", str(f), "--out", str(sig),
                 "--force"), 1),
        (transit("keys", "list", token="no-such-remote"), 1),
        (("keys", "list", "--store", "transit"), 2),  # three remotes: name one
    ]
    listed = as_json(cli("--json", *transit("keys", "list"), vault=setup["vault"]))
    for args, code in cases:
        one_line_error(cli(*args, vault=setup["vault"]), code)
    assert sig.read_bytes() == b"keep me"
    assert as_json(cli("--json", *transit("keys", "list"), vault=setup["vault"])) == listed


def test_a_read_only_policy_cannot_sign_and_writes_nothing(setup, keys, tmp_path):
    f = tmp_path / "f"
    f.write_bytes(b"data")
    listed = as_json(cli("--json", *transit("keys", "list", token="readonly"),
                         vault=setup["vault"]))
    assert "cli-ec-p256" in {k["label"] for k in listed["keys"]}  # it may read
    result = cli(*transit("keys", "sign", "--key", "cli-ec-p256", "--in", str(f), "--out",
                          str(tmp_path / "f.sig"), token="readonly"), vault=setup["vault"])
    one_line_error(result, 1, "permission denied")
    assert not (tmp_path / "f.sig").exists()
    result = cli(*transit("keys", "generate", "--label", "ro-new", "--type", "ec-p256",
                          token="readonly"), vault=setup["vault"])
    one_line_error(result, 1, "permission denied")


def test_an_untrusted_certificate_is_a_tls_failure(setup):
    result = cli(*transit("keys", "list", token="untrusted"), vault=setup["vault"])
    one_line_error(result, 1, "TLS")
    assert setup["token"] not in result.err


def test_a_sealed_server_is_exit_1(openbao: BaoServer, tmp_path):  # noqa: F811
    openbao.cli("secrets", "enable", "transit")
    vault = tmp_path / "vault"
    add_remote(vault, "sealed", openbao.url, openbao.root_token)
    ok(cli(*transit("keys", "generate", "--label", "k", "--type", "ec-p256", token="sealed"),
           vault=vault))
    openbao.cli("operator", "seal")
    f = tmp_path / "f"
    f.write_bytes(b"x")
    for args in (("keys", "list"), ("keys", "sign", "--key", "k", "--in", str(f), "--out",
                                    str(tmp_path / "f.sig"))):
        result = cli(*transit(*args, token="sealed"), vault=vault)
        one_line_error(result, 1, "sealed")
        assert openbao.root_token not in result.err
    assert not (tmp_path / "f.sig").exists()


def test_a_self_signed_certificate_from_transit_verifies(setup, keys, tmp_path):
    for kind in ("ec-p256", "rsa-3072"):
        out = tmp_path / f"{kind}.crt"
        ok(cli(*transit("keys", "selfsign", "--key", f"cli-{kind}", "--subject",
                        f"CN=transit self-signed {kind}", "--out", str(out)),
               vault=setup["vault"]))
        cert = x509.load_pem_x509_certificate(out.read_bytes())
        cert.verify_directly_issued_by(cert)  # raises if the Transit signature is wrong


def test_a_remote_added_with_the_real_cli_signs(setup, keys, tmp_path):
    """``strongroom remote add`` (the token on its own pipe) then ``keys list|sign`` on it."""
    import os
    import sys

    from conftest import secret_pipes

    options, fds = secret_pipes([PASSPHRASE], None)
    read_end, write_end = os.pipe()
    os.write(write_end, setup["server"].root_token.encode() + b"\n")
    os.close(write_end)
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "strongroom", "--vault", str(setup["vault"]), *options,
             "remote", "add", "added", "--url", setup["server"].url, "--auth", "token",
             "--token-fd", str(read_end)],
            capture_output=True, text=True, pass_fds=(*fds, read_end), timeout=120,
            env={k: v for k, v in os.environ.items() if not k.startswith("STRONGROOM_")})
    finally:
        for fd in (*fds, read_end):
            os.close(fd)
    assert proc.returncode == 0, proc.stderr
    assert setup["server"].root_token not in proc.stdout + proc.stderr
    listed = as_json(cli("--json", *transit("keys", "list", token="added"),
                         vault=setup["vault"]))
    assert {k["fingerprint"] for k in listed["keys"]} >= {k["fingerprint"] for k in keys.values()}
    f = tmp_path / "f"
    f.write_bytes(b"through a remote added by the CLI")
    ok(cli(*transit("keys", "sign", "--key", "cli-ed25519", "--in", str(f), "--out",
                    str(tmp_path / "f.sig"), token="added"), vault=setup["vault"]))
    public = algorithms.load_public_key(_public_of(setup, "cli-ed25519"))
    assert algorithms.verify(public, f.read_bytes(), (tmp_path / "f.sig").read_bytes(),
                             SignAlgorithm.Ed25519)
