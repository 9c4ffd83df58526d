"""The Transit key store against a real OpenBao server (``bao server -dev``): the shared KeyStore
contract, signatures checked with cryptography and openssl, keys OpenBao refuses to export,
rotation, batches, and the failures a user meets (wrong token, a read-only policy, a sealed or
stopped server), each one sentence with its exit code.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import hvac
import hvac.exceptions
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from strongroom.app.errors import (
    AlreadyExists,
    AuthenticationFailed,
    NotFound,
    StrongroomError,
    Unsupported,
    UsageError,
)
from strongroom.app.keys.ports import KeyStore, KeyType, SignAlgorithm
from strongroom.backends.openbao.transit import BATCH, TransitKeyStore, remote_token

from conftest import PASSPHRASE
from helpers.keystore_contract import KeyStoreContract, verify_signature
from helpers.openbao import BaoServer, openbao, start_dev_server  # noqa: F401

OPENSSL = shutil.which("openssl")
READ_ONLY_POLICY = """
path "transit/keys/*" { capabilities = ["read", "list"] }
path "transit/keys" { capabilities = ["list"] }
"""


def transit_store(server: BaoServer, token: str | None = None, **kwargs: object
                  ) -> TransitKeyStore:
    client = hvac.Client(url=server.url, token=token or server.root_token, timeout=30)
    return TransitKeyStore(client, "transit", remote_token("dev", server.url, "transit"),
                           **kwargs)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def bao(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BaoServer]:
    """One dev server for the module's shared tests (a test that seals or stops a server uses
    the per-test ``openbao`` fixture instead)."""
    server = start_dev_server(tmp_path_factory.mktemp("openbao"))
    try:
        server.cli("secrets", "enable", "transit")
        yield server
    finally:
        server.stop()


class TestTransitKeyStore(KeyStoreContract):
    @pytest.fixture(scope="class")
    @classmethod
    def store(cls, bao: BaoServer) -> Iterator[KeyStore]:
        store = transit_store(bao)
        yield store
        store.close()

    @pytest.fixture(scope="class")
    @classmethod
    def supported_types(cls) -> frozenset[KeyType]:
        return frozenset(KeyType)


@pytest.fixture(scope="module")
def keys(bao: BaoServer) -> Iterator[tuple[TransitKeyStore, dict[str, object]]]:
    store = transit_store(bao)
    made = {t.value: store.generate(f"t-{t.value}", t) for t in KeyType}
    yield store, made
    store.close()


# ----- what OpenBao keeps ------------------------------------------------------------------------


def test_keys_are_not_exportable_and_openbao_refuses_export(bao, keys):
    _, made = keys
    client = hvac.Client(url=bao.url, token=bao.root_token)
    for key in made.values():
        label = key.label
        data = client.secrets.transit.read_key(label)["data"]
        assert data["exportable"] is False and data["allow_plaintext_backup"] is False
        with pytest.raises(hvac.exceptions.InvalidRequest, match="not exportable"):
            client.secrets.transit.export_key(label, key_type="signing-key")
        with pytest.raises(hvac.exceptions.VaultError):
            client.secrets.transit.backup_key(label)
    proc = bao.cli("read", "transit/export/signing-key/t-ec-p256", check=False)
    assert proc.returncode != 0 and b"not exportable" in proc.stderr


def test_a_key_made_elsewhere_as_exportable_is_listed_with_the_warning(bao, keys):
    store, _ = keys
    hvac.Client(url=bao.url, token=bao.root_token).secrets.transit.create_key(
        "made-exportable", key_type="ecdsa-p256", exportable=True)
    key = next(k for k in store.list_keys() if k.label == "made-exportable")
    assert key.extractable and key.warnings


def test_other_transit_types_are_listed_or_left_out(bao, keys):
    store, _ = keys
    client = hvac.Client(url=bao.url, token=bao.root_token)
    client.secrets.transit.create_key("legacy-rsa", key_type="rsa-2048")
    client.secrets.transit.create_key("p521", key_type="ecdsa-p521")
    client.secrets.transit.create_key("an-aes-key", key_type="aes256-gcm96")
    listed = {k.label: k for k in store.list_keys()}
    assert "an-aes-key" not in listed  # an encryption key is not a signing key
    rsa2048 = listed["legacy-rsa"]
    assert rsa2048.key_type is None and rsa2048.algorithm == "RSA 2048"
    for algorithm in (SignAlgorithm.RsaPssSha256, SignAlgorithm.RsaPkcs1Sha384):
        verify_signature(rsa2048, store.sign(rsa2048, b"old key", algorithm), b"old key",
                         algorithm)
    assert listed["p521"].algorithm == "EC P-521"
    with pytest.raises(Unsupported):
        store.sign(listed["p521"], b"x", SignAlgorithm.EcdsaSha384)


def test_signatures_verify_with_the_openssl_cli(tmp_path, keys):
    if OPENSSL is None:
        pytest.fail("openssl is needed to check signatures independently")
    store, made = keys
    message = tmp_path / "message"
    message.write_bytes(b"checked by openssl\n" * 100)
    cases = [("ec-p256", SignAlgorithm.EcdsaSha256, []),
             ("ec-p384", SignAlgorithm.EcdsaSha384, []),
             ("rsa-3072", SignAlgorithm.RsaPkcs1Sha256, []),
             ("rsa-4096", SignAlgorithm.RsaPssSha384,
              ["-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:48"])]
    for label, algorithm, options in cases:
        key = made[label]
        pem = tmp_path / f"{label}.pem"
        pem.write_bytes(serialization.load_der_public_key(key.public_key).public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
        sig = tmp_path / f"{label}.sig"
        sig.write_bytes(store.sign(key, message.read_bytes(), algorithm))
        digest = f"-{algorithm.hash_name}"
        proc = subprocess.run([OPENSSL, "dgst", digest, "-verify", str(pem), *options,
                               "-signature", str(sig), str(message)], capture_output=True)
        assert proc.returncode == 0 and b"Verified OK" in proc.stdout, proc.stderr
        message_changed = tmp_path / "changed"
        message_changed.write_bytes(message.read_bytes() + b"!")
        proc = subprocess.run([OPENSSL, "dgst", digest, "-verify", str(pem), *options,
                               "-signature", str(sig), str(message_changed)],
                              capture_output=True)
        assert proc.returncode != 0
    ed = made["ed25519"]
    pem = tmp_path / "ed.pem"
    pem.write_bytes(serialization.load_der_public_key(ed.public_key).public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    sig = tmp_path / "ed.sig"
    sig.write_bytes(store.sign(ed, message.read_bytes(), SignAlgorithm.Ed25519))
    proc = subprocess.run([OPENSSL, "pkeyutl", "-verify", "-pubin", "-inkey", str(pem),
                           "-rawin", "-in", str(message), "-sigfile", str(sig)],
                          capture_output=True)
    assert proc.returncode == 0, proc.stderr


def test_rotation_lists_the_new_version_and_signs_with_the_version_listed(bao, keys):
    store, _ = keys
    old = store.generate("rotated", KeyType.EcP256)
    assert old.key_id == "rotated@v1"
    hvac.Client(url=bao.url, token=bao.root_token).secrets.transit.rotate_key("rotated")
    new = next(k for k in store.list_keys() if k.label == "rotated")
    assert new.key_id == "rotated@v2" and new.fingerprint != old.fingerprint
    for key in (old, new):  # each KeyInfo's signature verifies under its own public key
        verify_signature(key, store.sign(key, b"m", SignAlgorithm.EcdsaSha256), b"m",
                         SignAlgorithm.EcdsaSha256)


def test_sign_many_crosses_batches_in_order(keys):
    store, made = keys
    key = made["ed25519"]
    messages = [f"item {i}".encode() for i in range(BATCH * 2 + 3)]
    signatures = list(store.sign_many(key, messages, SignAlgorithm.Ed25519))
    assert len(signatures) == len(messages)
    public = serialization.load_der_public_key(key.public_key)
    assert isinstance(public, ed25519.Ed25519PublicKey)
    for message, signature in zip(messages, signatures, strict=True):
        public.verify(signature, message)


def test_ecdsa_signatures_are_der_and_verify_prehashed(keys):
    store, made = keys
    key = made["ec-p384"]
    digest = hashlib.sha384(b"abc").digest()
    signature = store.sign(key, digest, SignAlgorithm.EcdsaSha384, prehashed=True)
    public = serialization.load_der_public_key(key.public_key)
    assert isinstance(public, ec.EllipticCurvePublicKey)
    from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
    public.verify(signature, digest, ec.ECDSA(Prehashed(hashes.SHA384())))


# ----- bad input: one sentence, nothing changed --------------------------------------------------


def test_bad_input_is_refused_before_openbao_changes(bao, keys):
    store, made = keys
    before = store.list_keys()
    for label in ("", "a/b", "../transit", "x" * 200, "with space"):
        with pytest.raises(UsageError):
            store.generate(label, KeyType.EcP256)
    with pytest.raises(UsageError):
        store.generate("with-id", KeyType.EcP256, key_id=b"\x01")
    with pytest.raises(AlreadyExists):
        store.generate("t-ec-p256", KeyType.Rsa3072)  # Transit would answer 200 and do nothing
    with pytest.raises(UsageError):
        store.sign(made["ec-p256"], b"short", SignAlgorithm.EcdsaSha256, prehashed=True)
    assert store.list_keys() == before


def test_a_missing_key_and_a_missing_mount_are_not_found(bao, keys):
    store, _ = keys
    hvac.Client(url=bao.url, token=bao.root_token).secrets.transit.create_key(
        "short-lived", key_type="ecdsa-p256")
    gone = next(k for k in store.list_keys() if k.label == "short-lived")
    bao.cli("write", "transit/keys/short-lived/config", "deletion_allowed=true")
    bao.cli("delete", "transit/keys/short-lived")
    with pytest.raises(NotFound) as e:
        store.sign(gone, b"x", SignAlgorithm.EcdsaSha256)
    assert "\n" not in str(e.value) and "short-lived" in str(e.value)
    elsewhere = TransitKeyStore(hvac.Client(url=bao.url, token=bao.root_token), "no-such-mount")
    with pytest.raises(StrongroomError) as e:
        elsewhere.list_keys()
    assert e.value.exit_code == 1 and "\n" not in str(e.value)


# ----- failures a user meets --------------------------------------------------------------------


def _one_sentence(e: BaseException, *secrets: str) -> str:
    text = str(e)
    assert text and "\n" not in text and "Traceback" not in text
    for secret in secrets:
        assert secret not in text and secret not in repr(e)
    return text


def test_a_wrong_token_is_an_authentication_failure(openbao: BaoServer):  # noqa: F811
    wrong = "s.not-a-real-token-0000"
    store = transit_store(openbao, token=wrong)
    with pytest.raises(AuthenticationFailed) as e:
        store.check_login()
    assert e.value.exit_code == 4
    _one_sentence(e.value, wrong, openbao.root_token)
    with pytest.raises(AuthenticationFailed):
        store.list_keys()


def test_a_read_only_policy_cannot_sign(openbao: BaoServer):  # noqa: F811
    openbao.cli("secrets", "enable", "transit")
    owner = transit_store(openbao)
    key = owner.generate("policy-key", KeyType.EcP256)
    openbao.cli("policy", "write", "transit-read", "-", stdin=READ_ONLY_POLICY.encode())
    made = openbao.cli("token", "create", "-policy=transit-read", "-field=token")
    reader_token = made.stdout.decode().strip()
    reader = transit_store(openbao, token=reader_token)
    reader.check_login()
    assert [k.fingerprint for k in reader.list_keys()] == [key.fingerprint]
    with pytest.raises(StrongroomError) as e:
        reader.sign(key, b"not allowed", SignAlgorithm.EcdsaSha256)
    assert not isinstance(e.value, AuthenticationFailed) and e.value.exit_code == 1
    assert "permission denied" in _one_sentence(e.value, reader_token, openbao.root_token)
    with pytest.raises(StrongroomError, match="permission denied"):
        reader.generate("not-allowed", KeyType.EcP256)


def test_a_sealed_server_says_so(openbao: BaoServer):  # noqa: F811
    openbao.cli("secrets", "enable", "transit")
    store = transit_store(openbao)
    key = store.generate("before-seal", KeyType.EcP256)
    assert store.available().ok
    openbao.cli("operator", "seal")
    assert not store.available().ok and "sealed" in store.available().reason
    with pytest.raises(StrongroomError) as e:
        store.sign(key, b"x", SignAlgorithm.EcdsaSha256)
    assert e.value.exit_code == 1 and "sealed" in _one_sentence(e.value, openbao.root_token)


def test_a_server_stopped_mid_session_says_so(openbao: BaoServer):  # noqa: F811
    openbao.cli("secrets", "enable", "transit")
    store = transit_store(openbao)
    key = store.generate("before-stop", KeyType.Ed25519)
    signatures = store.sign_many(key, [b"a"] * (BATCH + 1), SignAlgorithm.Ed25519)
    first = next(signatures)
    assert len(first) == 64
    openbao.stop()
    with pytest.raises(StrongroomError) as e:
        list(signatures)  # the second batch needs the server
    assert e.value.exit_code == 1
    assert "did not answer" in _one_sentence(e.value, openbao.root_token)
    assert not store.available().ok


def test_nothing_listens_there(tmp_path: Path):
    from helpers.openbao import free_port_pair

    client = hvac.Client(url=f"http://127.0.0.1:{free_port_pair()}", token="t", timeout=5)
    store = TransitKeyStore(client, "transit")
    with pytest.raises(StrongroomError) as e:
        store.list_keys()
    assert e.value.exit_code == 1 and "did not answer" in _one_sentence(e.value)


def test_a_batch_too_big_for_the_server_is_sent_again_in_halves(bao, keys):
    _, made = keys
    key = made["ec-p256"]
    store = transit_store(bao, batch=2000)  # OpenBao refuses ~500+ inputs in one request
    messages = [f"m{i}".encode() for i in range(700)]
    signatures = list(store.sign_many(key, messages, SignAlgorithm.EcdsaSha256))
    assert len(signatures) == 700
    for message, signature in zip(messages[::97], signatures[::97], strict=True):
        verify_signature(key, signature, message, SignAlgorithm.EcdsaSha256)


BLOCK_HVAC = """
import sys
class _NoHvac:
    def find_spec(self, name, path=None, target=None):
        if name == "hvac" or name.startswith("hvac."):
            raise ModuleNotFoundError("No module named 'hvac'", name="hvac")
        return None
sys.meta_path.insert(0, _NoHvac())
"""


def test_without_hvac_the_store_says_so_in_one_sentence(tmp_path):
    """hvac blocked in a child process: the provider's available() gives the reason, and the
    CLI refuses --store transit with it (exit 1)."""
    import json
    import os
    import sys

    (tmp_path / "sitecustomize.py").write_text(BLOCK_HVAC)
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("STRONGROOM_")},
           "PYTHONPATH": str(tmp_path)}
    probe = ("from strongroom.app.keys import tokens; p = tokens.load_provider('transit'); "
             "a = p.available(); print(a.ok); print(a.reason)")
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          env=env, timeout=60, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    ok_line, reason = proc.stdout.splitlines()
    assert ok_line == "False" and "strongroom[openbao]" in reason and reason.count(".") <= 1
    from conftest import make_vault, run_cli

    make_vault(tmp_path / "vault").lock()
    result = run_cli("--json", "keys", "list", "--store", "transit", "--token", "x",
                     vault=tmp_path / "vault", passphrases=[PASSPHRASE],
                     env={"PYTHONPATH": str(tmp_path)})
    assert result.code == 1, result.err
    assert "hvac is not installed" in json.loads(result.out)["message"]
    assert len(result.err.splitlines()) == 1
