"""Device-bound signing keys on a real swtpm: generate, sign, verify with cryptography and the
openssl command, public key export, never extractable, sign_many, PIN, and nothing left loaded."""

from __future__ import annotations

import hashlib
import json
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
    load_der_public_key,
)
from tpm2_pytss.constants import TPMA_OBJECT
from tpm2_pytss.types import TPM2B_PUBLIC

from strongroom.app.errors import (
    AlreadyExists,
    DeviceRemoved,
    PinRequired,
    Unsupported,
    UsageError,
    UserCancelled,
    WrongPin,
)
from strongroom.app.keys.ports import (
    Capability,
    KeyInfo,
    KeyStore,
    KeyStoreProvider,
    KeyType,
    SignAlgorithm,
)
from strongroom.app.keyslots import b64d
from strongroom.backends.tpm import ENV_TCTI, TpmKeyProvider, TpmKeyStore

from conftest import make_vault
from helpers.swtpm import (  # noqa: F401 - session fixtures
    DictBlobStore,
    open_handles,
    other_swtpm_fixture,
    start_swtpm,
    swtpm_fixture,
)

NOTHING_LOADED = {"transient": 0, "loaded_sessions": 0, "saved_sessions": 0}
MESSAGE = b"release 4.2.0 artefact digest list\n"
HASHES = {"sha256": hashes.SHA256(), "sha384": hashes.SHA384()}


def open_store(tcti: str, blobs: DictBlobStore, pin: str | None = None) -> TpmKeyStore:
    provider = TpmKeyProvider(tcti)
    return provider.open(provider.tokens()[0], pin, blobs=blobs)


@pytest.fixture(scope="module")
def blobs() -> DictBlobStore:
    return DictBlobStore()


@pytest.fixture(scope="module")
def store(swtpm, blobs):
    s = open_store(swtpm.tcti, blobs)
    yield s
    s.close()


@pytest.fixture(scope="module")
def ec_key(store) -> KeyInfo:
    return store.generate("release signing", KeyType.EcP256, key_id=b"\x01\x02")


@pytest.fixture(scope="module")
def rsa_key(store) -> KeyInfo:
    return store.generate("code signing", KeyType.Rsa3072)


def verify(key: KeyInfo, signature: bytes, message: bytes, algorithm: SignAlgorithm) -> None:
    """Raises InvalidSignature unless ``signature`` is ``algorithm`` over ``message``."""
    public = load_der_public_key(key.public_key)
    h = HASHES[algorithm.value.rsplit("-", 1)[1]]
    if isinstance(public, ec.EllipticCurvePublicKey):
        public.verify(signature, message, ec.ECDSA(h))
    elif "pss" in algorithm.value:
        assert isinstance(public, rsa.RSAPublicKey)
        public.verify(signature, message, padding.PSS(padding.MGF1(h), padding.PSS.AUTO), h)
    else:
        assert isinstance(public, rsa.RSAPublicKey)
        public.verify(signature, message, padding.PKCS1v15(), h)


def openssl_verifies(tmp: Path, key: KeyInfo, signature: bytes, message: bytes,
                     algorithm: SignAlgorithm) -> bool:
    pem = load_der_public_key(key.public_key).public_bytes(
        Encoding.PEM, PublicFormat.SubjectPublicKeyInfo
    )
    (tmp / "pub.pem").write_bytes(pem)
    (tmp / "sig").write_bytes(signature)
    (tmp / "data").write_bytes(message)
    digest = "-" + algorithm.value.rsplit("-", 1)[1]
    pss = ["-sigopt", "rsa_padding_mode:pss"] if "pss" in algorithm.value else []
    result = subprocess.run(
        ["openssl", "dgst", digest, *pss, "-verify", str(tmp / "pub.pem"),
         "-signature", str(tmp / "sig"), str(tmp / "data")],
        capture_output=True, text=True, check=False, timeout=30,
    )
    return result.returncode == 0 and "Verified OK" in result.stdout


def test_the_store_and_provider_implement_the_ports(swtpm, store):
    assert isinstance(store, KeyStore)
    assert isinstance(TpmKeyProvider(swtpm.tcti), KeyStoreProvider)
    assert store.available().ok


def test_provider_describes_the_tpm(swtpm):
    provider = TpmKeyProvider(swtpm.tcti)
    [module] = provider.modules()
    assert module.path == swtpm.tcti and module.manufacturer == "IBM"
    assert module.library_version.startswith("tpm2-pytss ")
    [token] = provider.tokens()
    assert token.store == "tpm" and token.module == swtpm.tcti
    assert token.manufacturer == "IBM" and "SW" in token.label
    assert "firmware" in token.model
    assert len(token.serial) == 16 and int(token.serial, 16) >= 0
    assert provider.tokens()[0].serial == token.serial  # stable
    assert provider.tokens(module="device:/dev/elsewhere") == []


def test_each_tpm_has_its_own_serial(swtpm, other_swtpm):
    assert (TpmKeyProvider(swtpm.tcti).tokens()[0].serial
            != TpmKeyProvider(other_swtpm.tcti).tokens()[0].serial)


def test_unreachable_tpm_has_no_tokens(tmp_path: Path):
    provider = TpmKeyProvider(f"swtpm:path={tmp_path}/none")
    assert not provider.available().ok
    assert provider.tokens() == []
    assert provider.modules()[0].manufacturer == ""


def test_found_through_the_entry_point(swtpm, monkeypatch):
    monkeypatch.setenv(ENV_TCTI, swtpm.tcti)
    [ep] = [e for e in metadata.entry_points(group="strongroom.backends") if e.name == "tpm-keys"]
    provider = ep.load()()
    assert isinstance(provider, TpmKeyProvider) and provider.tcti == swtpm.tcti


def test_ec_p256_signature_verifies_with_cryptography_and_openssl(store, ec_key, tmp_path):
    assert ec_key.algorithm == "EC P-256" and ec_key.key_type is KeyType.EcP256
    assert ec_key.key_id == "0102" and ec_key.label == "release signing"
    signature = store.sign(ec_key, MESSAGE, SignAlgorithm.EcdsaSha256)
    verify(ec_key, signature, MESSAGE, SignAlgorithm.EcdsaSha256)
    assert openssl_verifies(tmp_path, ec_key, signature, MESSAGE, SignAlgorithm.EcdsaSha256)
    assert not openssl_verifies(tmp_path, ec_key, signature, MESSAGE + b"x",
                                SignAlgorithm.EcdsaSha256)
    with pytest.raises(InvalidSignature):
        verify(ec_key, signature, MESSAGE + b"x", SignAlgorithm.EcdsaSha256)


@pytest.mark.parametrize("algorithm", [
    SignAlgorithm.RsaPssSha256, SignAlgorithm.RsaPssSha384,
    SignAlgorithm.RsaPkcs1Sha256, SignAlgorithm.RsaPkcs1Sha384,
])
def test_rsa_signatures_verify_with_cryptography_and_openssl(store, rsa_key, algorithm,
                                                             tmp_path):
    assert rsa_key.algorithm == "RSA 3072" and rsa_key.key_type is KeyType.Rsa3072
    signature = store.sign(rsa_key, MESSAGE, algorithm)
    assert len(signature) == 384
    verify(rsa_key, signature, MESSAGE, algorithm)
    assert openssl_verifies(tmp_path, rsa_key, signature, MESSAGE, algorithm)


def test_ec_p384_with_sha384(store, tmp_path):
    key = store.generate("p384", KeyType.EcP384)
    assert key.algorithm == "EC P-384"
    signature = store.sign(key, MESSAGE, SignAlgorithm.EcdsaSha384)
    verify(key, signature, MESSAGE, SignAlgorithm.EcdsaSha384)
    assert openssl_verifies(tmp_path, key, signature, MESSAGE, SignAlgorithm.EcdsaSha384)


def test_prehashed_digest_signature_verifies_over_the_message(store, ec_key, rsa_key):
    sig = store.sign(ec_key, hashlib.sha256(MESSAGE).digest(), SignAlgorithm.EcdsaSha256,
                     prehashed=True)
    verify(ec_key, sig, MESSAGE, SignAlgorithm.EcdsaSha256)
    sig = store.sign(rsa_key, hashlib.sha384(MESSAGE).digest(), SignAlgorithm.RsaPssSha384,
                     prehashed=True)
    verify(rsa_key, sig, MESSAGE, SignAlgorithm.RsaPssSha384)
    with pytest.raises(UsageError):
        store.sign(ec_key, b"short", SignAlgorithm.EcdsaSha256, prehashed=True)


def test_public_key_export_and_fingerprint(store, ec_key, blobs):
    public = load_der_public_key(ec_key.public_key)
    assert isinstance(public, ec.EllipticCurvePublicKey) and public.curve.name == "secp256r1"
    der = public.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    assert der == ec_key.public_key
    assert ec_key.fingerprint == hashlib.sha256(der).hexdigest()
    text = subprocess.run(
        ["openssl", "pkey", "-pubin", "-inform", "DER", "-noout", "-text"],
        input=ec_key.public_key, capture_output=True, check=True, timeout=30,
    ).stdout.decode()
    assert "prime256v1" in text
    listed = {k.key_id: k for k in store.list_keys()}
    assert listed[ec_key.key_id].public_key == ec_key.public_key


def test_keys_are_never_extractable(store, ec_key, rsa_key, blobs):
    for key in (ec_key, rsa_key):
        assert key.sensitive and not key.extractable and key.warnings == ()
        assert key.capabilities == {Capability.Sign, Capability.Verify}
        raw = next(b for b in blobs.blobs("tpm") if b.key_id == key.key_id).data
        public, _ = TPM2B_PUBLIC.unmarshal(b64d(json.loads(raw)["public"]))
        attrs = public.publicArea.objectAttributes
        for required in (TPMA_OBJECT.FIXEDTPM, TPMA_OBJECT.FIXEDPARENT,
                         TPMA_OBJECT.SENSITIVEDATAORIGIN, TPMA_OBJECT.SIGN_ENCRYPT):
            assert attrs & required
        assert not attrs & TPMA_OBJECT.DECRYPT and not attrs & TPMA_OBJECT.RESTRICTED


def test_sign_many_reports_progress_and_leaves_nothing_loaded(swtpm, store, ec_key):
    items = [b"item %d" % i for i in range(12)]
    progress: list[tuple[int, int]] = []
    signatures = list(store.sign_many(ec_key, items, SignAlgorithm.EcdsaSha256,
                                      on_progress=lambda d, t: progress.append((d, t))))
    assert progress == [(i, 12) for i in range(1, 13)]
    for item, sig in zip(items, signatures, strict=True):
        verify(ec_key, sig, item, SignAlgorithm.EcdsaSha256)
    assert open_handles(swtpm.tcti) == NOTHING_LOADED


def test_sign_many_cancelled_stops_and_flushes(swtpm, store, ec_key):
    cancel = threading.Event()
    got: list[bytes] = []

    def on_progress(done: int, total: int) -> None:
        if done == 3:
            cancel.set()

    with pytest.raises(UserCancelled):
        for signature in store.sign_many(ec_key, [b"x"] * 40, SignAlgorithm.EcdsaSha256,
                                         cancel=cancel, on_progress=on_progress):
            got.append(signature)
    assert len(got) == 3
    assert open_handles(swtpm.tcti) == NOTHING_LOADED


def test_signing_from_many_threads_is_serialised_on_the_tpm_worker(store, ec_key):
    def one(i: int) -> None:
        message = b"thread %d" % i
        verify(ec_key, store.sign(ec_key, message, SignAlgorithm.EcdsaSha256), message,
               SignAlgorithm.EcdsaSha256)

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(one, range(16)))


def test_pin_protected_key(swtpm):
    blobs = DictBlobStore()
    with_pin = open_store(swtpm.tcti, blobs, pin="2468")
    try:
        key = with_pin.generate("pin key", KeyType.EcP256)
        verify(key, with_pin.sign(key, MESSAGE, SignAlgorithm.EcdsaSha256), MESSAGE,
               SignAlgorithm.EcdsaSha256)
    finally:
        with_pin.close()

    wrong = open_store(swtpm.tcti, blobs, pin="1357")
    try:
        with pytest.raises(WrongPin) as caught:
            wrong.sign(key, MESSAGE, SignAlgorithm.EcdsaSha256)
        assert isinstance(caught.value.retries, int)
        assert "1357" not in str(caught.value)
    finally:
        wrong.close()
    assert open_handles(swtpm.tcti) == NOTHING_LOADED

    no_pin = open_store(swtpm.tcti, blobs)
    try:
        with pytest.raises(PinRequired):
            no_pin.sign(key, MESSAGE, SignAlgorithm.EcdsaSha256)
    finally:
        no_pin.close()


def test_key_pin_never_crosses_the_wire(swtpm, tmp_path: Path, monkeypatch):
    capture = tmp_path / "tpm.pcap"
    monkeypatch.setenv("TCTI_PCAP_FILE", str(capture))  # libtss2's pcap TCTI records all traffic
    pin = "key-pin-never-on-the-wire-7"
    s = open_store(f"pcap:{swtpm.tcti}", DictBlobStore(), pin=pin)
    try:
        key = s.generate("pin key", KeyType.EcP256)
        s.sign(key, MESSAGE, SignAlgorithm.EcdsaSha256)
    finally:
        s.close()
    traffic = capture.read_bytes()
    assert len(traffic) > 1000
    assert pin.encode() not in traffic


def test_unsupported_types_and_algorithms(store, ec_key, rsa_key):
    for key_type in (KeyType.Rsa4096, KeyType.Ed25519):
        with pytest.raises(Unsupported):
            store.generate("nope", key_type)
    with pytest.raises(Unsupported):
        store.sign(ec_key, MESSAGE, SignAlgorithm.RsaPssSha256)
    with pytest.raises(Unsupported):
        store.sign(rsa_key, MESSAGE, SignAlgorithm.EcdsaSha256)
    with pytest.raises(Unsupported):
        store.sign(ec_key, MESSAGE, SignAlgorithm.Ed25519)
    with pytest.raises(AlreadyExists):
        store.generate("again", KeyType.EcP256, key_id=b"\x01\x02")


def test_keys_of_another_tpm_are_not_listed(swtpm, other_swtpm):
    blobs = DictBlobStore()
    theirs = open_store(other_swtpm.tcti, blobs)
    try:
        their_key = theirs.generate("laptop key", KeyType.EcP256)
    finally:
        theirs.close()
    ours = open_store(swtpm.tcti, blobs)
    try:
        assert ours.list_keys() == []
        mine = ours.generate("desktop key", KeyType.EcP256)
        assert [k.key_id for k in ours.list_keys()] == [mine.key_id]
        assert their_key.token_serial != mine.token_serial
    finally:
        ours.close()


def test_keys_persist_in_the_vault(swtpm, tmp_path: Path):
    vault = make_vault(tmp_path / "v")
    first = open_store(swtpm.tcti, vault)
    try:
        key = first.generate("vault key", KeyType.EcP256)
    finally:
        first.close()
    again = open_store(swtpm.tcti, vault)
    try:
        [listed] = again.list_keys()
        assert listed.fingerprint == key.fingerprint
        verify(listed, again.sign(listed, MESSAGE, SignAlgorithm.EcdsaSha256), MESSAGE,
               SignAlgorithm.EcdsaSha256)
    finally:
        again.close()


def test_closed_store_refuses(swtpm):
    s = open_store(swtpm.tcti, DictBlobStore())
    s.close()
    s.close()  # idempotent
    with pytest.raises(UsageError):
        s.list_keys()


def test_tpm_going_away_mid_session_is_device_removed(tmp_path: Path):
    tpm = start_swtpm(tmp_path / "short-lived")
    try:
        s = open_store(tpm.tcti, DictBlobStore())
        key = s.generate("k", KeyType.EcP256)
    finally:
        tpm.stop()
    try:
        with pytest.raises(DeviceRemoved, match="stopped answering"):
            s.sign(key, MESSAGE, SignAlgorithm.EcdsaSha256)
        assert not s.available().ok
    finally:
        s.close()
