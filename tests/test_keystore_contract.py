"""The KeyStore contract run against a real SoftHSM2 token through the PKCS#11 backend and
against swtpm through the TPM backend."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from strongroom.app.keys.ports import KeyStore, KeyType
from strongroom.backends.pkcs11 import provider
from strongroom.backends.tpm import TpmKeyProvider

from helpers.keystore_contract import KeyStoreContract
from helpers.softhsm import SoftHsm, softhsm  # noqa: F401
from helpers.swtpm import DictBlobStore, swtpm_fixture  # noqa: F401


class TestSoftHsmKeyStore(KeyStoreContract):
    @pytest.fixture(scope="class")
    @classmethod
    def store(cls, softhsm: SoftHsm) -> Iterator[KeyStore]:  # noqa: F811
        p11 = provider()
        token = next(t for t in p11.tokens(softhsm.module) if t.label == softhsm.label)
        store = p11.open(token, softhsm.pin)
        yield store
        store.close()

    @pytest.fixture(scope="class")
    @classmethod
    def supported_types(cls) -> frozenset[KeyType]:
        return frozenset(KeyType)


class TestTpmKeyStore(KeyStoreContract):
    """The same contract on swtpm: keys under the storage primary, blobs kept by the caller."""

    @pytest.fixture(scope="class")
    @classmethod
    def store(cls, swtpm) -> Iterator[KeyStore]:
        provider = TpmKeyProvider(swtpm.tcti)
        store = provider.open(provider.tokens()[0], None, blobs=DictBlobStore())
        yield store
        store.close()

    @pytest.fixture(scope="class")
    @classmethod
    def supported_types(cls) -> frozenset[KeyType]:
        return frozenset({KeyType.EcP256, KeyType.EcP384, KeyType.Rsa3072})
