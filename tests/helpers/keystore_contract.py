"""The KeyStore contract (app.keys.ports.KeyStore): tests every key store backend must pass.

Like keyring's ``BackendBasicTests``: subclass :class:`KeyStoreContract` in a test module and
provide two fixtures of class (or wider) scope::

    class TestMyStore(KeyStoreContract):
        @pytest.fixture(scope="class")
        @classmethod
        def store(cls):              # a logged-in KeyStore; the contract generates keys in it
            ...
        @pytest.fixture(scope="class")
        @classmethod
        def supported_types(cls):    # the KeyTypes this store can generate
            return frozenset({KeyType.EcP256, ...})

Each supported type is generated once per class (labels are unique per run). Signatures are
checked with ``cryptography`` over the original message; :func:`verify_signature` is there for
other tests (CLI, console) too.
"""

from __future__ import annotations

import hashlib
import threading
import uuid

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from strongroom.app.errors import AlreadyExists, Unsupported, UserCancelled
from strongroom.app.keys.ports import Capability, KeyInfo, KeyStore, KeyType, SignAlgorithm

ALGORITHM_NAME = {
    KeyType.EcP256: "EC P-256",
    KeyType.EcP384: "EC P-384",
    KeyType.Rsa3072: "RSA 3072",
    KeyType.Rsa4096: "RSA 4096",
    KeyType.Ed25519: "Ed25519",
}
_EC = (SignAlgorithm.EcdsaSha256, SignAlgorithm.EcdsaSha384)
_RSA = (SignAlgorithm.RsaPssSha256, SignAlgorithm.RsaPssSha384,
        SignAlgorithm.RsaPkcs1Sha256, SignAlgorithm.RsaPkcs1Sha384)
ALGORITHMS_FOR = {
    KeyType.EcP256: _EC,
    KeyType.EcP384: _EC,
    KeyType.Rsa3072: _RSA,
    KeyType.Rsa4096: _RSA,
    KeyType.Ed25519: (SignAlgorithm.Ed25519,),
}
HASH_OF = {
    SignAlgorithm.EcdsaSha256: hashes.SHA256(),
    SignAlgorithm.EcdsaSha384: hashes.SHA384(),
    SignAlgorithm.RsaPssSha256: hashes.SHA256(),
    SignAlgorithm.RsaPssSha384: hashes.SHA384(),
    SignAlgorithm.RsaPkcs1Sha256: hashes.SHA256(),
    SignAlgorithm.RsaPkcs1Sha384: hashes.SHA384(),
}
MESSAGE = b"Strongroom contract message \x00\xff" * 3


def verify_signature(key: KeyInfo, signature: bytes, message: bytes,
                     algorithm: SignAlgorithm) -> None:
    """Verify with ``cryptography`` over ``message``; raises InvalidSignature when it fails."""
    public = serialization.load_der_public_key(key.public_key)
    if algorithm is SignAlgorithm.Ed25519:
        assert isinstance(public, ed25519.Ed25519PublicKey)
        public.verify(signature, message)
        return
    digest = HASH_OF[algorithm]
    if algorithm in _EC:
        assert isinstance(public, ec.EllipticCurvePublicKey)
        public.verify(signature, message, ec.ECDSA(digest))
        return
    assert isinstance(public, rsa.RSAPublicKey)
    if algorithm in (SignAlgorithm.RsaPssSha256, SignAlgorithm.RsaPssSha384):
        pad: padding.AsymmetricPadding = padding.PSS(
            mgf=padding.MGF1(digest), salt_length=digest.digest_size
        )
    else:
        pad = padding.PKCS1v15()
    public.verify(signature, message, pad, digest)


def _hash(algorithm: SignAlgorithm, message: bytes) -> bytes:
    return hashlib.new(HASH_OF[algorithm].name, message).digest()


class KeyStoreContract:
    """Mixin: the behaviour every KeyStore shows (see the module docstring for the fixtures)."""

    @pytest.fixture(scope="class")
    @classmethod
    def run_tag(cls) -> str:
        return uuid.uuid4().hex[:8]

    @pytest.fixture(scope="class")
    @classmethod
    def generated(cls, store: KeyStore, supported_types: frozenset[KeyType],
                  run_tag: str) -> dict[KeyType, KeyInfo]:
        return {t: store.generate(f"contract-{run_tag}-{t.value}", t)
                for t in sorted(supported_types)}

    def test_store_is_available_and_names_its_token(self, store: KeyStore) -> None:
        assert store.available().ok
        token = store.token()
        assert token.store == store.store
        assert isinstance(store, KeyStore)

    def test_generated_keys_are_listed_with_their_facts(
        self, store: KeyStore, generated: dict[KeyType, KeyInfo], run_tag: str
    ) -> None:
        listed = {k.label: k for k in store.list_keys()}
        for key_type, made in generated.items():
            key = listed[f"contract-{run_tag}-{key_type.value}"]
            assert key == made
            assert key.store == store.store
            assert key.algorithm == ALGORITHM_NAME[key_type]
            assert key.key_type is key_type
            assert key.sensitive and not key.extractable
            assert key.warnings == ()
            assert Capability.Sign in key.capabilities
            assert key.fingerprint == hashlib.sha256(key.public_key).hexdigest()
            public = serialization.load_der_public_key(key.public_key)
            if key_type in (KeyType.Rsa3072, KeyType.Rsa4096):
                assert isinstance(public, rsa.RSAPublicKey)
                assert public.key_size == int(key_type.value.split("-")[1])
            elif key_type is KeyType.Ed25519:
                assert isinstance(public, ed25519.Ed25519PublicKey)
            else:
                assert isinstance(public, ec.EllipticCurvePublicKey)
                assert public.curve.key_size == int(key_type.value[-3:])

    def test_each_algorithm_signs_and_verifies(
        self, store: KeyStore, generated: dict[KeyType, KeyInfo]
    ) -> None:
        for key_type, key in generated.items():
            for algorithm in ALGORITHMS_FOR[key_type]:
                signature = store.sign(key, MESSAGE, algorithm)
                verify_signature(key, signature, MESSAGE, algorithm)

    def test_a_prehashed_digest_gives_a_signature_over_the_message(
        self, store: KeyStore, generated: dict[KeyType, KeyInfo]
    ) -> None:
        for key_type, key in generated.items():
            for algorithm in ALGORITHMS_FOR[key_type]:
                if algorithm is SignAlgorithm.Ed25519:
                    with pytest.raises(Unsupported):
                        store.sign(key, hashlib.sha256(MESSAGE).digest(), algorithm,
                                   prehashed=True)
                    continue
                signature = store.sign(key, _hash(algorithm, MESSAGE), algorithm, prehashed=True)
                verify_signature(key, signature, MESSAGE, algorithm)

    def test_a_signature_does_not_verify_over_another_message(
        self, store: KeyStore, generated: dict[KeyType, KeyInfo]
    ) -> None:
        from cryptography.exceptions import InvalidSignature

        for key_type, key in generated.items():
            algorithm = ALGORITHMS_FOR[key_type][0]
            signature = store.sign(key, MESSAGE, algorithm)
            with pytest.raises(InvalidSignature):
                verify_signature(key, signature, MESSAGE + b"!", algorithm)

    def test_an_algorithm_of_another_family_is_unsupported(
        self, store: KeyStore, generated: dict[KeyType, KeyInfo]
    ) -> None:
        for key_type, key in generated.items():
            for algorithm in set(SignAlgorithm) - set(ALGORITHMS_FOR[key_type]):
                if key_type in (KeyType.EcP256, KeyType.EcP384) and algorithm in _EC:
                    continue
                with pytest.raises(Unsupported):
                    store.sign(key, MESSAGE, algorithm)

    def test_sign_many_keeps_order_and_reports_progress(
        self, store: KeyStore, generated: dict[KeyType, KeyInfo]
    ) -> None:
        key_type, key = next(iter(generated.items()))
        algorithm = ALGORITHMS_FOR[key_type][0]
        messages = [f"message {i}".encode() for i in range(5)]
        progress: list[tuple[int, int]] = []
        signatures = list(store.sign_many(
            key, messages, algorithm, on_progress=lambda d, t: progress.append((d, t))
        ))
        assert len(signatures) == len(messages)
        for message, signature in zip(messages, signatures, strict=True):
            verify_signature(key, signature, message, algorithm)
        assert progress == [(i, 5) for i in range(1, 6)]

    def test_sign_many_prehashed(
        self, store: KeyStore, generated: dict[KeyType, KeyInfo]
    ) -> None:
        for key_type, key in generated.items():
            algorithm = ALGORITHMS_FOR[key_type][0]
            if algorithm is SignAlgorithm.Ed25519:
                continue
            messages = [b"a", b"b", b"c"]
            digests = [_hash(algorithm, m) for m in messages]
            signatures = list(store.sign_many(key, digests, algorithm, prehashed=True))
            for message, signature in zip(messages, signatures, strict=True):
                verify_signature(key, signature, message, algorithm)

    def test_sign_many_stops_when_cancelled(
        self, store: KeyStore, generated: dict[KeyType, KeyInfo]
    ) -> None:
        key_type, key = next(iter(generated.items()))
        cancel = threading.Event()
        cancel.set()
        with pytest.raises(UserCancelled):
            list(store.sign_many(key, [b"x"] * 3, ALGORITHMS_FOR[key_type][0], cancel=cancel))

    def test_sign_many_stops_soon_after_a_cancel_mid_batch(
        self, store: KeyStore, generated: dict[KeyType, KeyInfo]
    ) -> None:
        key_type, key = next(iter(generated.items()))
        cancel = threading.Event()
        got: list[bytes] = []

        def progress(done: int, total: int) -> None:
            if done == 3:
                cancel.set()

        with pytest.raises(UserCancelled):
            for signature in store.sign_many(key, [b"x"] * 200, ALGORITHMS_FOR[key_type][0],
                                             cancel=cancel, on_progress=progress):
                got.append(signature)
        assert len(got) == 3

    def test_a_cancel_set_before_the_call_means_nothing_is_done(
        self, store: KeyStore, generated: dict[KeyType, KeyInfo], run_tag: str
    ) -> None:
        key_type, key = next(iter(generated.items()))
        cancel = threading.Event()
        cancel.set()
        statuses: list[str] = []
        with pytest.raises(UserCancelled):
            store.sign(key, MESSAGE, ALGORITHMS_FOR[key_type][0], cancel=cancel,
                       on_status=statuses.append)
        before = store.list_keys()
        label = f"contract-{run_tag}-cancelled"
        with pytest.raises(UserCancelled):
            store.generate(label, key_type, cancel=cancel, on_status=statuses.append)
        with pytest.raises(UserCancelled):
            store.list_keys(cancel=cancel, on_status=statuses.append)
        assert store.list_keys() == before  # no key was made
        assert statuses == []  # nothing was waited for

    def test_an_unset_cancel_and_a_status_callback_change_nothing(
        self, store: KeyStore, generated: dict[KeyType, KeyInfo]
    ) -> None:
        key_type, key = next(iter(generated.items()))
        algorithm = ALGORITHMS_FOR[key_type][0]
        cancel, statuses = threading.Event(), []
        signature = store.sign(key, MESSAGE, algorithm, cancel=cancel, on_status=statuses.append)
        verify_signature(key, signature, MESSAGE, algorithm)
        assert key in store.list_keys(cancel=cancel, on_status=statuses.append)
        assert all(isinstance(text, str) and text for text in statuses)

    def test_a_duplicate_label_is_refused(
        self, store: KeyStore, generated: dict[KeyType, KeyInfo]
    ) -> None:
        key_type, key = next(iter(generated.items()))
        before = len(store.list_keys())
        with pytest.raises(AlreadyExists):
            store.generate(key.label, key_type)
        assert len(store.list_keys()) == before

    def test_an_unsupported_type_raises_unsupported(
        self, store: KeyStore, supported_types: frozenset[KeyType]
    ) -> None:
        missing = set(KeyType) - set(supported_types)
        if not missing:
            pytest.skip("this store generates every KeyType")
        for key_type in missing:
            with pytest.raises(Unsupported):
                store.generate(f"unsupported-{uuid.uuid4().hex[:6]}", key_type)
