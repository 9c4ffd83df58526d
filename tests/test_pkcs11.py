"""The PKCS#11 backend on a real SoftHSM2: inventory, PINs, errors, removal, warnings, certificates.

SoftHSM2 2.6 never locks a user PIN (twelve wrong logins in a row all answer CKR_PIN_INCORRECT;
it only raises CKF_USER_PIN_COUNT_LOW after a failure), so the locked-PIN translation is tested
on the CK_RV our login path receives rather than on a locked token. "Token removed" is made real
by moving the token's directory away from SoftHSM2 mid-batch (SoftHSM2 then answers
CKR_OBJECT_HANDLE_INVALID and fails C_GetTokenInfo, which the store recognises as removal) and
by closing the session underneath the store (CKR_SESSION_HANDLE_INVALID).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass
from pkcs11 import exceptions as p11e

from strongroom.app.errors import (
    AlreadyExists,
    DeviceRemoved,
    HardwareError,
    NotFound,
    PinBlocked,
    Refused,
    Unsupported,
    WrongPin,
)
from strongroom.app.keys.ports import KeyInfo, KeyStoreProvider, SignAlgorithm, TokenInfo
from strongroom.app.keys.ports import KeyType as SrKeyType
from strongroom.backends.pkcs11 import Pkcs11Provider, provider
from strongroom.backends.pkcs11._errors import rv_error, translate
from strongroom.backends.pkcs11._module import loaded
from strongroom.backends.pkcs11._worker import assert_on_worker, worker_for
from strongroom.backends.pkcs11.store import Pkcs11KeyStore

from helpers.keystore_contract import verify_signature
from helpers.softhsm import SoftHsm, softhsm  # noqa: F401

T = TypeVar("T")


@pytest.fixture(scope="module")
def p11() -> Pkcs11Provider:
    return provider()


def token_named(p11: Pkcs11Provider, module: str, label: str) -> TokenInfo:
    return next(t for t in p11.tokens(module) if t.label == label)


_spare_label: list[str] = []


def spare_label(softhsm: SoftHsm) -> str:  # noqa: F811
    """The label of this module's own token (taken once)."""
    if not _spare_label:
        _spare_label.append(softhsm.take_token())
    return _spare_label[0]


@pytest.fixture(scope="module")
def spare(softhsm: SoftHsm, p11: Pkcs11Provider) -> Iterator[Pkcs11KeyStore]:  # noqa: F811
    """A store on a token of this module's own (so PIN tests and key clutter stay here)."""
    store = p11.open(token_named(p11, softhsm.module, spare_label(softhsm)), softhsm.pin)
    yield store
    store.close()


@pytest.fixture(scope="module")
def ec_key(spare: Pkcs11KeyStore) -> KeyInfo:
    return spare.generate("ec-key", SrKeyType.EcP256)


def on_worker(module: str, fn: Callable[[], T]) -> T:
    """Run raw python-pkcs11 code where the store's sessions live: the module's worker."""
    return worker_for(module).run(fn)


def raw_session(module: str, store: Pkcs11KeyStore, rw: bool = False) -> Any:
    """A plain python-pkcs11 session on ``store``'s token (call on the worker; close it)."""
    return loaded(module).slot(store.token().slot).get_token().open(rw=rw)


# ----- modules and tokens -------------------------------------------------------------------


def test_provider_is_the_port(p11: Pkcs11Provider) -> None:
    assert isinstance(p11, KeyStoreProvider)
    assert p11.store == "pkcs11"
    assert p11.available().ok


def test_detected_softhsm_reports_c_getinfo(softhsm: SoftHsm, p11: Pkcs11Provider) -> None:  # noqa: F811
    infos = [m for m in p11.modules() if Path(m.path).resolve() == Path(softhsm.module).resolve()]
    assert len(infos) == 1  # two links to one library are one module
    info = infos[0]
    assert info.detected
    assert info.manufacturer == "SoftHSM"
    assert info.cryptoki_version == "2.40"
    assert info.library_version.startswith("2.")


def test_a_module_added_by_path_is_listed_and_its_tokens_found(
    softhsm: SoftHsm, tmp_path: Path  # noqa: F811
) -> None:
    copy = tmp_path / "vendor-pkcs11.so"
    shutil.copyfile(Path(softhsm.module).resolve(), copy)
    p11 = Pkcs11Provider(extra_modules=[str(copy)])
    added = [m for m in p11.modules() if m.path == str(copy)]
    assert len(added) == 1 and not added[0].detected
    assert softhsm.label in {t.label for t in p11.tokens(module=str(copy))}
    other = Pkcs11Provider()
    info = other.add_module(str(copy))
    assert info.path == str(copy) and info.manufacturer == "SoftHSM"


def test_a_missing_module_is_named(p11: Pkcs11Provider, tmp_path: Path) -> None:
    missing = str(tmp_path / "nowhere" / "pkcs11.so")
    with pytest.raises(NotFound, match=r"^no PKCS#11 module at .*nowhere/pkcs11\.so$"):
        p11.tokens(module=missing)
    with pytest.raises(NotFound):
        Pkcs11Provider().add_module(missing)


def test_a_file_that_is_not_a_module_says_why(p11: Pkcs11Provider, tmp_path: Path) -> None:
    junk = tmp_path / "junk.so"
    junk.write_bytes(b"not an ELF file")
    with pytest.raises(HardwareError, match=r"junk\.so is not a loadable PKCS#11 module: .+"):
        p11.tokens(module=str(junk))
    libz = next((p for p in ("/lib/x86_64-linux-gnu/libz.so.1",
                             "/usr/lib/x86_64-linux-gnu/libz.so.1") if Path(p).exists()), None)
    if libz is not None:  # a real library without C_GetFunctionList
        with pytest.raises(HardwareError, match="PKCS#11 module"):
            Pkcs11Provider().add_module(libz)


def test_token_inventory(softhsm: SoftHsm, p11: Pkcs11Provider,  # noqa: F811
                         spare: Pkcs11KeyStore) -> None:
    token = token_named(p11, softhsm.module, spare_label(softhsm))
    assert token.store == "pkcs11" and token.module == softhsm.module
    assert token.manufacturer == "SoftHSM project" and token.model == "SoftHSM v2"
    assert token.serial and token.slot is not None
    assert {"login-required", "user-pin-initialized", "token-initialized", "rng"} <= set(
        token.flags
    )
    assert "user-pin-locked" not in token.flags
    # SoftHSM2 answers CK_UNAVAILABLE_INFORMATION for its memory counters.
    assert token.free_public_memory is None and token.free_private_memory is None
    assert token.logged_in  # `spare` is logged in to it
    assert spare.token() == token


def test_logged_in_is_false_without_a_login(softhsm: SoftHsm, p11: Pkcs11Provider) -> None:  # noqa: F811
    no_login = softhsm.take_token()
    token = token_named(p11, softhsm.module, no_login)
    assert not token.logged_in
    store = p11.open(token, None)
    try:
        assert not store.token().logged_in
        assert store.list_keys() == []
    finally:
        store.close()


# ----- PINs -------------------------------------------------------------------------------


def test_wrong_pin_then_right_pin(softhsm: SoftHsm, p11: Pkcs11Provider) -> None:  # noqa: F811
    pin_tests = softhsm.take_token()
    token = token_named(p11, softhsm.module, pin_tests)
    with pytest.raises(WrongPin) as caught:
        p11.open(token, "000000")
    assert caught.value.retries is None
    assert "few tries are left" in str(caught.value)  # SoftHSM2 sets USER_PIN_COUNT_LOW
    assert "000000" not in str(caught.value) and softhsm.pin not in str(caught.value)
    assert "user-pin-count-low" in token_named(p11, softhsm.module, pin_tests).flags
    # We never retry or lock on our own: the right PIN still opens the token.
    store = p11.open(token, softhsm.pin)
    try:
        assert store.token().logged_in
        assert "user-pin-count-low" not in store.token().flags
    finally:
        store.close()
    assert not token_named(p11, softhsm.module, pin_tests).logged_in


def test_a_second_store_on_a_logged_in_token_still_needs_the_right_pin(
    softhsm: SoftHsm, p11: Pkcs11Provider, spare: Pkcs11KeyStore  # noqa: F811
) -> None:
    # SoftHSM2 answers CKR_USER_ALREADY_LOGGED_IN without looking at the PIN while `spare` is
    # logged in; the store must not take that as a good PIN.
    token = spare.token()
    with pytest.raises(WrongPin):
        p11.open(token, "999999")
    second = p11.open(token, softhsm.pin)
    second.close()
    assert spare.token().logged_in  # closing the second store did not log the first one out
    assert spare.list_keys() is not None


def test_locked_and_last_try_flags_translate() -> None:
    # SoftHSM2 cannot lock a PIN (see the module docstring): the CK_RVs C_Login returns are fed
    # through the same translation the store uses.
    with pytest.raises(PinBlocked, match="locked"):
        raise translate(rv_error(0xA4), "logging in to token 't'")
    final = translate(rv_error(0xA0), "logging in to token 't'", token_flags=0x00020000)
    assert isinstance(final, WrongPin) and "final try" in str(final)
    assert isinstance(translate(p11e.PinLocked(), "x"), PinBlocked)
    for gone in (p11e.DeviceRemoved(), p11e.TokenNotPresent(), p11e.SessionHandleInvalid(),
                 p11e.SessionClosed()):
        assert isinstance(translate(gone, "x"), DeviceRemoved)
    assert isinstance(translate(p11e.MechanismInvalid(), "x"), Unsupported)


# ----- generation, flags, warnings --------------------------------------------------------


def test_generated_key_attributes_on_the_token(softhsm: SoftHsm, spare: Pkcs11KeyStore,  # noqa: F811
                                               ec_key: KeyInfo) -> None:
    def read() -> dict:
        session = raw_session(softhsm.module, spare)
        try:
            priv = next(session.get_objects({Attribute.CLASS: ObjectClass.PRIVATE_KEY,
                                             Attribute.ID: bytes.fromhex(ec_key.key_id)}))
            return priv.get_attributes([Attribute.TOKEN, Attribute.PRIVATE, Attribute.SENSITIVE,
                                    Attribute.EXTRACTABLE, Attribute.ALWAYS_SENSITIVE,
                                    Attribute.NEVER_EXTRACTABLE, Attribute.LABEL])
        finally:
            session.close()

    attrs = on_worker(softhsm.module, read)  # the store's login covers this session too
    assert attrs[Attribute.TOKEN] and attrs[Attribute.PRIVATE]
    assert attrs[Attribute.SENSITIVE] and not attrs[Attribute.EXTRACTABLE]
    assert attrs[Attribute.ALWAYS_SENSITIVE] and attrs[Attribute.NEVER_EXTRACTABLE]
    assert attrs[Attribute.LABEL] == "ec-key"
    assert len(bytes.fromhex(ec_key.key_id)) == 8


def test_chosen_id_and_duplicates(spare: Pkcs11KeyStore, ec_key: KeyInfo) -> None:
    key = spare.generate("chosen-id", SrKeyType.EcP256, key_id=b"\x01\x02\x03")
    assert key.key_id == "010203"
    with pytest.raises(AlreadyExists, match="with id 010203"):
        spare.generate("another", SrKeyType.EcP256, key_id=b"\x01\x02\x03")
    with pytest.raises(AlreadyExists, match="labelled 'ec-key'"):
        spare.generate("ec-key", SrKeyType.EcP384)


def test_extractable_and_not_sensitive_keys_are_warned(softhsm: SoftHsm,  # noqa: F811
                                                       spare: Pkcs11KeyStore) -> None:
    def make() -> None:
        session = raw_session(softhsm.module, spare, rw=True)
        session.generate_keypair(
            KeyType.EC, id=b"\xee\x01", label="leaky", store=True,
            public_template={Attribute.EC_PARAMS: bytes.fromhex("06082a8648ce3d030107")},
            private_template={Attribute.SENSITIVE: False, Attribute.EXTRACTABLE: True},
        )
        session.close()

    on_worker(softhsm.module, make)
    leaky = next(k for k in spare.list_keys() if k.label == "leaky")
    assert leaky.extractable and not leaky.sensitive
    assert any("extractable" in w for w in leaky.warnings)
    assert any("not marked sensitive" in w for w in leaky.warnings)


# ----- mechanisms ----------------------------------------------------------------------------


def test_an_algorithm_for_another_key_type_never_reaches_the_token(spare: Pkcs11KeyStore,
                                                                   ec_key: KeyInfo) -> None:
    # The store checks the key's family first: SoftHSM2 2.6.1 crashes the process when asked
    # for CKM_RSA_PKCS_PSS with an EC key, so this must be refused before C_SignInit.
    with pytest.raises(Unsupported, match="cannot sign with an EC P-256 key"):
        spare.sign(ec_key, b"m", SignAlgorithm.RsaPssSha256)
    with pytest.raises(Unsupported):
        spare.sign(dataclasses.replace(ec_key, algorithm="RSA 3072"), b"m",
                   SignAlgorithm.EcdsaSha256)


def test_a_mechanism_the_token_does_not_list_is_unsupported(softhsm: SoftHsm,  # noqa: F811
                                                            p11: Pkcs11Provider,
                                                            ec_key: KeyInfo) -> None:
    # SoftHSM2 lists every mechanism it has; a store is told the token lists fewer (as a card
    # without EdDSA or raw ECDSA would) to show what it does then.
    store = p11.open(token_named(p11, softhsm.module, spare_label(softhsm)), softhsm.pin)
    try:
        store._mechanisms = store._mechanisms - {
            Mechanism.EC_EDWARDS_KEY_PAIR_GEN, Mechanism.EDDSA, Mechanism.ECDSA
        }
        with pytest.raises(Unsupported, match="EC_EDWARDS_KEY_PAIR_GEN") as c:
            store.generate("no-ed", SrKeyType.Ed25519)
        assert "ed25519" in str(c.value)
        with pytest.raises(Unsupported, match="neither ECDSA nor ECDSA_SHA256"):
            store.sign(ec_key, b"m", SignAlgorithm.EcdsaSha256)
        with pytest.raises(Unsupported, match="prehashed"):
            store.sign(ec_key, hashlib.sha256(b"m").digest(), SignAlgorithm.EcdsaSha256,
                       prehashed=True)
        # Told the token hashes (CKM_ECDSA_SHA256), the store sends the message with it; SoftHSM2
        # has no such mechanism and its own CKR_MECHANISM_INVALID comes back as Unsupported.
        store._mechanisms = store._mechanisms | {Mechanism.ECDSA_SHA256}
        with pytest.raises(Unsupported, match=r"does not support this \(MechanismInvalid"):
            store.sign(ec_key, b"hashed on the token", SignAlgorithm.EcdsaSha256)
    finally:
        store.close()


# ----- removal -------------------------------------------------------------------------------


def test_token_deleted_mid_batch_is_device_removed(softhsm: SoftHsm,  # noqa: F811
                                                   p11: Pkcs11Provider) -> None:
    doomed = softhsm.take_token()
    store = p11.open(token_named(p11, softhsm.module, doomed), softhsm.pin)
    try:
        key = store.generate("k", SrKeyType.EcP256)
        token_dir = softhsm.token_path(doomed)
        got: list[bytes] = []

        def progress(done: int, total: int) -> None:
            if done == 1:  # in one step, as a token leaves its reader (rmtree would race)
                token_dir.rename(softhsm.token_dir.parent / f"removed-{doomed}")

        with pytest.raises(DeviceRemoved, match="removed"):
            for signature in store.sign_many(key, [b"m"] * 200, SignAlgorithm.EcdsaSha256,
                                             on_progress=progress):
                got.append(signature)
        assert 1 <= len(got) < 200
        with pytest.raises(DeviceRemoved):
            store.sign(key, b"again", SignAlgorithm.EcdsaSha256)
    finally:
        store.close()


def test_session_closed_underneath_is_device_removed(spare: Pkcs11KeyStore, softhsm: SoftHsm,  # noqa: F811
                                                     p11: Pkcs11Provider, ec_key: KeyInfo) -> None:
    store = p11.open(token_named(p11, softhsm.module, spare_label(softhsm)), softhsm.pin)
    try:
        store._worker.run(lambda: store._session.close())
        with pytest.raises(DeviceRemoved, match="session"):
            store.sign(ec_key, b"m", SignAlgorithm.EcdsaSha256)
    finally:
        store.close()
    # the other store on that token is still logged in and works
    verify_signature(ec_key, spare.sign(ec_key, b"m", SignAlgorithm.EcdsaSha256), b"m",
                     SignAlgorithm.EcdsaSha256)


# ----- certificates, PEM, delete -------------------------------------------------------------


def _certificate_for(key: KeyInfo) -> bytes:
    ca = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Strongroom test CA")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, key.label)]))
        .issuer_name(name)
        .public_key(serialization.load_der_public_key(key.public_key))
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(ca, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.DER)


def test_certificate_import_sits_next_to_the_key(softhsm: SoftHsm,  # noqa: F811
                                                 spare: Pkcs11KeyStore) -> None:
    key = spare.generate("with-cert", SrKeyType.EcP256)
    assert not key.has_certificate
    der = _certificate_for(key)
    spare.import_certificate(key, der)
    listed = next(k for k in spare.list_keys() if k.label == "with-cert")
    assert listed.has_certificate and listed.public_key == key.public_key

    def read() -> list[dict]:
        session = raw_session(softhsm.module, spare)
        try:
            query = {Attribute.CLASS: ObjectClass.CERTIFICATE,
                     Attribute.ID: bytes.fromhex(key.key_id)}
            return [c.get_attributes([Attribute.LABEL, Attribute.VALUE])
                    for c in session.get_objects(query)]
        finally:
            session.close()

    certs = on_worker(softhsm.module, read)
    assert [(c[Attribute.LABEL], bytes(c[Attribute.VALUE])) for c in certs] == [("with-cert", der)]
    other = spare.generate("no-cert", SrKeyType.EcP256)
    with pytest.raises(Refused, match="not that of key 'no-cert'"):
        spare.import_certificate(other, der)


def test_public_key_pem_and_delete(spare: Pkcs11KeyStore) -> None:
    key = spare.generate("to-delete", SrKeyType.Ed25519)
    pem = spare.public_key_pem(key)
    assert pem.startswith("-----BEGIN PUBLIC KEY-----")
    public = serialization.load_pem_public_key(pem.encode())
    assert public.public_bytes(serialization.Encoding.DER,
                               serialization.PublicFormat.SubjectPublicKeyInfo) == key.public_key
    spare.delete_key(key)
    assert "to-delete" not in {k.label for k in spare.list_keys()}
    with pytest.raises(NotFound):
        spare.sign(key, b"m", SignAlgorithm.Ed25519)


def test_a_key_deleted_by_another_session_is_not_found(softhsm: SoftHsm,  # noqa: F811
                                                       p11: Pkcs11Provider,
                                                       spare: Pkcs11KeyStore) -> None:
    key = spare.generate("deleted-elsewhere", SrKeyType.EcP256)
    spare.sign(key, b"m", SignAlgorithm.EcdsaSha256)  # the store now holds the key's handle
    with p11.open(spare.token(), softhsm.pin) as other:
        other.delete_key(key)
    with pytest.raises(NotFound, match="no longer there"):
        spare.sign(key, b"m", SignAlgorithm.EcdsaSha256)
    with pytest.raises(NotFound, match="no private key 'deleted-elsewhere'"):
        spare.sign(key, b"m", SignAlgorithm.EcdsaSha256)


# ----- threads -------------------------------------------------------------------------------


def test_calls_from_many_threads_are_marshalled_to_one_worker(softhsm: SoftHsm,  # noqa: F811
                                                              spare: Pkcs11KeyStore,
                                                              ec_key: KeyInfo) -> None:
    key = worker_for(softhsm.module).key
    with pytest.raises(AssertionError, match="not on its module worker"):
        assert_on_worker(key)
    worker_for(softhsm.module).run(assert_on_worker, key)
    results: list[bytes] = []
    errors: list[BaseException] = []

    def sign(i: int) -> None:
        try:
            message = f"thread {i}".encode()
            signature = spare.sign(ec_key, message, SignAlgorithm.EcdsaSha256)
            verify_signature(ec_key, signature, message, SignAlgorithm.EcdsaSha256)
            results.append(signature)
        except BaseException as e:  # noqa: BLE001 - collected and asserted below
            errors.append(e)

    threads = [threading.Thread(target=sign, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(results) == 8
