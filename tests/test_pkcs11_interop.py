"""Interop with OpenSC's pkcs11-tool and openssl on the same SoftHSM2 token.

A key Strongroom generates signs through ``pkcs11-tool --sign`` (verified with cryptography and
``openssl dgst``); keys ``pkcs11-tool --keypairgen`` makes are listed and used by Strongroom
(verified with ``openssl dgst``). The test PIN goes on pkcs11-tool's command line because that is
the tool's interface; it guards a throwaway token.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from strongroom.app.keys.ports import KeyInfo, KeyType, SignAlgorithm
from strongroom.backends.pkcs11 import Pkcs11KeyStore, provider

from helpers.keystore_contract import verify_signature
from helpers.softhsm import SoftHsm, softhsm  # noqa: F401

pytestmark = pytest.mark.skipif(
    shutil.which("pkcs11-tool") is None or shutil.which("openssl") is None,
    reason="needs OpenSC's pkcs11-tool and openssl",
)
MESSAGE = b"interop between Strongroom, OpenSC and OpenSSL\n" * 10


@pytest.fixture(scope="module")
def token_label(softhsm: SoftHsm) -> str:  # noqa: F811
    return softhsm.take_token()


@pytest.fixture(scope="module")
def store(softhsm: SoftHsm, token_label: str) -> Iterator[Pkcs11KeyStore]:  # noqa: F811
    p11 = provider()
    token = next(t for t in p11.tokens(softhsm.module) if t.label == token_label)
    store = p11.open(token, softhsm.pin)
    yield store
    store.close()


def tool(softhsm: SoftHsm, token_label: str, *args: str) -> str:  # noqa: F811
    proc = subprocess.run(
        ["pkcs11-tool", "--module", softhsm.module, "--token-label", token_label,
         "--login", "--pin", softhsm.pin, *args],
        capture_output=True, text=True, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def openssl_verify(tmp_path: Path, pem: str, signature: bytes, *options: str) -> None:
    (tmp_path / "pub.pem").write_text(pem)
    (tmp_path / "msg").write_bytes(MESSAGE)
    (tmp_path / "sig").write_bytes(signature)
    proc = subprocess.run(
        ["openssl", "dgst", "-sha256", "-verify", str(tmp_path / "pub.pem"), *options,
         "-signature", str(tmp_path / "sig"), str(tmp_path / "msg")],
        capture_output=True, text=True, check=False,
    )
    assert proc.returncode == 0 and "Verified OK" in proc.stdout, proc.stdout + proc.stderr


def listed(store: Pkcs11KeyStore, label: str) -> KeyInfo:
    return next(k for k in store.list_keys() if k.label == label)


def test_a_strongroom_key_signs_through_pkcs11_tool(softhsm: SoftHsm, token_label: str,  # noqa: F811
                                                    store: Pkcs11KeyStore,
                                                    tmp_path: Path) -> None:
    key = store.generate("strongroom-made", KeyType.EcP256)
    (tmp_path / "digest").write_bytes(hashlib.sha256(MESSAGE).digest())
    tool(softhsm, token_label, "--sign", "--id", key.key_id, "-m", "ECDSA",
         "--signature-format", "openssl", "--input-file", str(tmp_path / "digest"),
         "--output-file", str(tmp_path / "tool.sig"))
    signature = (tmp_path / "tool.sig").read_bytes()
    verify_signature(key, signature, MESSAGE, SignAlgorithm.EcdsaSha256)
    openssl_verify(tmp_path, store.public_key_pem(key), signature)
    # and pkcs11-tool reads the same public key Strongroom reports
    out = tool(softhsm, token_label, "--list-objects", "--type", "pubkey")
    assert "strongroom-made" in out and key.key_id in out.replace(" ", "")


def test_a_pkcs11_tool_ec_key_is_listed_and_used(softhsm: SoftHsm, token_label: str,  # noqa: F811
                                                  store: Pkcs11KeyStore, tmp_path: Path) -> None:
    tool(softhsm, token_label, "--keypairgen", "--key-type", "EC:prime256v1",
         "--id", "0a0b0c", "--label", "tool-ec")
    key = listed(store, "tool-ec")
    assert key.key_id == "0a0b0c"
    assert key.algorithm == "EC P-256" and key.key_type is KeyType.EcP256
    signature = store.sign(key, MESSAGE, SignAlgorithm.EcdsaSha256)
    openssl_verify(tmp_path, store.public_key_pem(key), signature)
    # the SPKI Strongroom built equals the one pkcs11-tool exports
    tool(softhsm, token_label, "--read-object", "--type", "pubkey", "--id", "0a0b0c",
         "--output-file", str(tmp_path / "tool-pub.der"))
    assert (tmp_path / "tool-pub.der").read_bytes() == key.public_key


def test_a_pkcs11_tool_rsa_2048_key_is_listed_and_signs_pss(
    softhsm: SoftHsm, token_label: str, store: Pkcs11KeyStore, tmp_path: Path  # noqa: F811
) -> None:
    tool(softhsm, token_label, "--keypairgen", "--key-type", "rsa:2048",
         "--id", "0d0e", "--label", "tool-rsa")
    key = listed(store, "tool-rsa")
    assert key.algorithm == "RSA 2048" and key.key_type is None  # not a type we generate
    pem = store.public_key_pem(key)
    signature = store.sign(key, MESSAGE, SignAlgorithm.RsaPssSha256)
    openssl_verify(tmp_path, pem, signature, "-sigopt", "rsa_padding_mode:pss",
                   "-sigopt", "rsa_pss_saltlen:32", "-sigopt", "rsa_mgf1_md:sha256")
    openssl_verify(tmp_path, pem, store.sign(key, MESSAGE, SignAlgorithm.RsaPkcs1Sha256))


def test_a_pkcs11_tool_ed25519_key_is_listed_and_used(
    softhsm: SoftHsm, token_label: str, store: Pkcs11KeyStore, tmp_path: Path  # noqa: F811
) -> None:
    tool(softhsm, token_label, "--keypairgen", "--key-type", "EC:edwards25519",
         "--id", "0f", "--label", "tool-ed")
    key = listed(store, "tool-ed")
    assert key.algorithm == "Ed25519" and key.key_type is KeyType.Ed25519
    signature = store.sign(key, MESSAGE, SignAlgorithm.Ed25519)
    verify_signature(key, signature, MESSAGE, SignAlgorithm.Ed25519)
    (tmp_path / "pub.pem").write_text(store.public_key_pem(key))
    (tmp_path / "msg").write_bytes(MESSAGE)
    (tmp_path / "sig").write_bytes(signature)
    proc = subprocess.run(
        ["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", str(tmp_path / "pub.pem"),
         "-rawin", "-in", str(tmp_path / "msg"), "-sigfile", str(tmp_path / "sig")],
        capture_output=True, text=True, check=False,
    )
    assert proc.returncode == 0 and "Signature Verified Successfully" in proc.stdout, proc.stderr
