"""Each way a remote fails, against a real OpenBao server: one sentence, the documented exit
code, the token never in it, and nothing changed locally (the vault's files when the vault was
not even opened; else its secrets, versions, remotes, sync rows and audit log apart from the
unlock and the credential's audited read) nor on the server."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from conftest import snapshot
from helpers.openbao import BAO, BaoServer, module_bao, start_dev_server  # noqa: F401 - the fixture bao
from helpers.remotes import (
    cli,
    copy_vault,
    kv_tree,
    make_team_vault,
    open_vault,
    start_tls_dev_server,
    vault_state,
)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_team_vault(tmp_path_factory.mktemp("solo") / "v", with_carol=False)


@pytest.fixture
def vault(template: Path, tmp_path: Path) -> Path:
    return copy_vault(template, tmp_path / "v")


def one_sentence(out: dict, code: int, *words: str, secret: str = "") -> None:
    assert out["exit_code"] == code, out
    message = out["message"]
    assert "\n" not in message and message.count(". ") == 0, message
    for word in words:
        assert word in message, message
    assert not secret or secret not in message


def add(vault: Path, server: BaoServer, *extra: str, token: str | None = None,
        name: str = "dev") -> tuple[int, dict, str]:
    return cli("remote", "add", name, "--url", server.url, "--auth", "token", *extra,
               vault=vault, token=token or server.root_token)


def refused_add(vault: Path, server: BaoServer, code: int, *words: str, extra: tuple = (),
                token: str | None = None) -> None:
    """``remote add`` fails before the vault is opened: its files are byte for byte the same."""
    before = snapshot(vault)
    got, out, err = add(vault, server, *extra, token=token)
    assert got == code, err
    one_sentence(out, code, *words, secret=token or server.root_token)
    assert snapshot(vault) == before


def unchanged(vault: Path, before: dict) -> None:
    after = vault_state(vault)
    assert after == before


def test_server_down_is_exit_1_and_nothing_is_stored(vault: Path, bao: BaoServer,
                                                     tmp_path: Path) -> None:
    down = start_dev_server(tmp_path / "down")
    down.stop()
    refused_add(vault, down, 1, "did not answer", "remote dev")


def test_server_going_down_after_add_leaves_the_vault_and_sync_state_alone(
        vault: Path, tmp_path: Path) -> None:
    server = start_dev_server(tmp_path / "short-lived")
    try:
        assert add(vault, server, "--prefix", "down/")[0] == 0
        assert cli("remote", "publish", "dev", "--name", "app/db", vault=vault)[0] == 0
    finally:
        server.stop()
    before = vault_state(vault)
    for verb in ("publish", "pull", "status", "test"):
        args = ("--all",) if verb in ("publish", "pull") else ()
        code, out, err = cli("remote", verb, "dev", *args, vault=vault)
        assert code == 1, err
        one_sentence(out, 1, "did not answer", secret=server.root_token)
    unchanged(vault, before)


def test_a_wrong_token_is_exit_4(vault: Path, bao: BaoServer) -> None:
    refused_add(vault, bao, 4, "refused", "wrong or expired", token="s.not-a-real-token-123")


def test_a_revoked_token_is_exit_4_and_nothing_changes(vault: Path, bao: BaoServer) -> None:
    token = json.loads(bao.cli("token", "create", "-format=json", "-policy=root").stdout
                       )["auth"]["client_token"]
    assert add(vault, bao, "--prefix", "revoked/", token=token)[0] == 0
    bao.cli("token", "revoke", token)
    before, remote = vault_state(vault), kv_tree(bao, "revoked/")
    code, out, err = cli("remote", "publish", "dev", "--all", vault=vault)
    assert code == 4, err
    one_sentence(out, 4, "wrong or expired", secret=token)
    unchanged(vault, before)
    assert kv_tree(bao, "revoked/") == remote == {}


def test_a_sealed_server_is_exit_1(vault: Path, tmp_path: Path) -> None:
    server = start_dev_server(tmp_path / "seal")
    try:
        assert add(vault, server, "--prefix", "sealed/")[0] == 0
        assert cli("remote", "publish", "dev", "--name", "app/db", vault=vault)[0] == 0
        server.cli("operator", "seal")
        before = vault_state(vault)
        code, out, err = cli("remote", "publish", "dev", "--all", vault=vault)
        assert code == 1, err
        one_sentence(out, 1, "the server is sealed", secret=server.root_token)
        unchanged(vault, before)
        other = copy_vault(vault, tmp_path / "other")
        refused_add(other, server, 1, "the server is sealed", extra=("--prefix", "x/"))
    finally:
        server.stop()


def test_permission_denied_names_the_path_and_writes_nothing(vault: Path, bao: BaoServer,
                                                             tmp_path: Path) -> None:
    bao.cli("policy", "write", "read-only", "-", stdin=b'path "secret/*" '
            b'{ capabilities = ["read", "list"] }\n'
            b'path "sys/internal/ui/mounts/*" { capabilities = ["read"] }\n')
    token = json.loads(bao.cli("token", "create", "-format=json", "-policy=read-only").stdout
                       )["auth"]["client_token"]
    assert add(vault, bao, "--prefix", "ro/", token=token)[0] == 0
    before = vault_state(vault)
    code, out, err = cli("remote", "publish", "dev", "--name", "app/db", vault=vault)
    assert code == 1, err
    one_sentence(out, 1, "permission denied", "secret/data/ro/app/db", "nothing was sent",
                 secret=token)
    unchanged(vault, before)  # said before any value was read: not even an export read
    assert kv_tree(bao, "ro/") == {}
    # a policy that may write data but not metadata is caught before any value is read too
    bao.cli("policy", "write", "data-only", "-", stdin=b'path "secret/data/*" '
            b'{ capabilities = ["create", "read", "update"] }\n'
            b'path "secret/metadata/*" { capabilities = ["read", "list"] }\n'
            b'path "sys/internal/ui/mounts/*" { capabilities = ["read"] }\n')
    token2 = json.loads(bao.cli("token", "create", "-format=json", "-policy=data-only").stdout
                        )["auth"]["client_token"]
    other = copy_vault(vault, tmp_path / "other")
    code, _out, err = cli("remote", "remove", "dev", vault=other)
    assert code == 0, err
    assert add(other, bao, "--prefix", "ro/", token=token2)[0] == 0
    before = vault_state(other)
    code, out, err = cli("remote", "publish", "dev", "--name", "app/db", vault=other)
    assert code == 1, err
    one_sentence(out, 1, "permission denied", "metadata of secret/metadata/ro/app/db",
                 secret=token2)
    unchanged(other, before)
    assert kv_tree(bao, "ro/") == {}


def test_tls_with_the_wrong_ca_fails_and_the_right_ca_works(vault: Path, tmp_path: Path
                                                            ) -> None:
    server, ca = start_tls_dev_server(tmp_path / "tls")
    try:
        wrong = tmp_path / "wrong-ca.pem"
        wrong.write_bytes(self_signed_ca())
        refused_add(vault, server, 1, "TLS verification failed", extra=("--ca", str(wrong)))
        refused_add(vault, server, 1, "TLS verification failed")  # the system's CAs alone
        code, out, err = add(vault, server, "--ca", str(ca), "--prefix", "tls/")
        assert code == 0, err
        code, out, err = cli("remote", "publish", "dev", "--name", "web/token", vault=vault)
        assert code == 0 and out["counts"]["create"] == 1, err
    finally:
        server.stop()


def test_a_missing_mount_a_kv_v1_mount_and_an_unknown_namespace(vault: Path, bao: BaoServer
                                                                ) -> None:
    refused_add(vault, bao, 1, "mount does not exist", "nope/", extra=("--kv-mount", "nope"))
    bao.cli("secrets", "enable", "-path=kv1", "kv")
    refused_add(vault, bao, 1, "not a KV version 2 engine", extra=("--kv-mount", "kv1"))
    refused_add(vault, bao, 1, "namespace is unknown", extra=("--namespace", "no-such-team"))


def test_a_path_gone_from_the_server_is_a_conflict_not_a_crash(vault: Path, bao: BaoServer
                                                               ) -> None:
    assert add(vault, bao, "--prefix", "gone/")[0] == 0
    assert cli("remote", "publish", "dev", "--name", "app/db", vault=vault)[0] == 0
    bao.cli("kv", "metadata", "delete", "secret/gone/app/db")
    before = vault_state(vault)
    code, out, err = cli("remote", "pull", "dev", "--name", "app/db", vault=vault)
    assert code == 1 and out["items"][0]["action"] == "conflict", err
    assert out["items"][0]["reason"] == "deleted on the remote"
    unchanged(vault, before)


def test_data_the_server_holds_that_is_not_a_value_is_refused(vault: Path, bao: BaoServer
                                                              ) -> None:
    assert add(vault, bao, "--prefix", "odd/")[0] == 0
    assert cli("remote", "publish", "dev", "--name", "app/db", vault=vault)[0] == 0
    bao.cli("kv", "put", "secret/odd/app/db", "password=x", "user=y")
    before = vault_state(vault)
    code, out, err = cli("remote", "pull", "dev", "--name", "app/db", vault=vault)
    assert code == 1 and out["items"][0]["action"] == "invalid", err
    assert "holds keys other than value" in out["items"][0]["reason"]
    unchanged(vault, before)


def test_a_bad_url_or_name_is_a_usage_error(vault: Path, bao: BaoServer) -> None:
    before = snapshot(vault)
    for args, words in ((("remote", "add", "dev", "--url", "ftp://x", "--auth", "token"),
                         "invalid server URL"),
                        (("remote", "add", "dev", "--url", "https://u:p@h:1", "--auth", "token"),
                         "invalid server URL"),
                        (("remote", "add", "dev", "--url", "http://bao.example.org:8200",
                          "--auth", "token"), "plain http to another machine"),
                        (("remote", "add", "../x", "--url", bao.url, "--auth", "token"),
                         "invalid remote name"),
                        (("remote", "add", "dev", "--url", bao.url, "--auth", "approle"),
                         "--role-id"),
                        (("remote", "add", "dev", "--url", bao.url, "--auth", "token",
                          "--ca", "/nonexistent"), "cannot read the CA file")):
        code, out, err = cli(*args, vault=vault, token="t")
        assert code == 2, err
        one_sentence(out, 2, words)
    assert snapshot(vault) == before


def self_signed_ca() -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "not the server's CA")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM)


def client_ca_and_cert(folder: Path) -> tuple[Path, Path, Path]:
    """A client CA, and a client certificate and key it signed (PEM files)."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "strongroom test client CA")])
    now = dt.datetime.now(dt.UTC)
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=9))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "alice")]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=9))
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    folder.mkdir(parents=True, exist_ok=True)
    paths = folder / "client-ca.pem", folder / "client.pem", folder / "client-key.pem"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return paths


def test_client_certificate_auth_keeps_the_key_in_the_vault(vault: Path, tmp_path: Path) -> None:
    server, ca = start_tls_dev_server(tmp_path / "tls")
    try:
        env = {**server.env(), "BAO_CACERT": str(ca)}

        def bao(*args: str, stdin: bytes | None = None) -> None:
            subprocess.run([str(BAO), *args], env=env, input=stdin, check=True,
                           capture_output=True, timeout=60)

        client_ca, cert, key = client_ca_and_cert(tmp_path)
        bao("policy", "write", "sr-kv", "-", stdin=b'path "secret/*" { capabilities = '
            b'["create", "read", "update", "list"] }\n'
            b'path "sys/internal/ui/mounts/*" { capabilities = ["read"] }\n')
        bao("auth", "enable", "cert")
        bao("write", "auth/cert/certs/strongroom", "token_policies=sr-kv",
            f"certificate=@{client_ca}")
        code, out, err = cli("remote", "add", "mtls", "--url", server.url, "--ca", str(ca),
                             "--auth", "cert", "--client-cert", str(cert), "--client-key",
                             str(key), "--prefix", "mtls/", vault=vault)
        assert code == 0 and out["credential_secret"] == "remote/mtls/client-key", err
        key.unlink()  # from now on the key lives in the vault only
        code, out, err = cli("remote", "publish", "mtls", "--name", "app/db", vault=vault)
        assert code == 0 and out["counts"]["create"] == 1, err
        with open_vault(vault) as v:
            assert b"PRIVATE KEY" in v.get_secret("remote/mtls/client-key")
        _other_ca, other_cert, other_key = client_ca_and_cert(tmp_path / "other")
        code, out, err = cli("remote", "add", "mtls2", "--url", server.url, "--ca", str(ca),
                             "--auth", "cert", "--client-cert", str(other_cert),
                             "--client-key", str(other_key), vault=vault)
        assert code == 4, err
        one_sentence(out, 4, "refused")
    finally:
        server.stop()


def test_a_client_key_is_handed_over_in_memory_never_on_a_file_system() -> None:
    """requests reads a client key by path: the path is a memfd's, which no directory holds,
    and it is gone when the login is over."""
    from strongroom.backends.openbao.client import in_memory_file

    with in_memory_file(b"-----BEGIN PRIVATE KEY-----\nsecret\n", "strongroom-client-key") as path:
        assert Path(path).read_bytes() == b"-----BEGIN PRIVATE KEY-----\nsecret\n"
        assert os.readlink(path).startswith("/memfd:strongroom-client-key")
    assert not os.path.exists(path)
