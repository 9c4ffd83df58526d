"""Key stores are known by what they can do (their StoreKind), never by name: the registry read
from the ``strongroom.keystores`` entry points, and a guard that no caller compares store names."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from strongroom.app.errors import UsageError
from strongroom.app.keys import tokens as key_tokens
from strongroom.app.keys.ports import PssSalt, StoreKind

ROOT = Path(__file__).resolve().parents[1]
# The callers: the CLI, the keys feature (certificates, signing…) and the console's keys section.
CALLERS = [path for folder in ("app/cli", "app/keys", "ui/keys")
           for path in sorted((ROOT / folder).glob("*.py"))]


def test_the_installed_stores_are_pkcs11_tpm_and_transit_with_pkcs11_the_default() -> None:
    assert key_tokens.store_names() == ("pkcs11", "tpm", "transit")
    assert key_tokens.DEFAULT_STORE in key_tokens.store_names()


def test_each_backend_declares_what_its_store_can_do() -> None:
    pkcs11, tpm = key_tokens.kind_of("pkcs11"), key_tokens.kind_of("tpm")
    assert isinstance(pkcs11, StoreKind) and isinstance(tpm, StoreKind)
    assert (pkcs11.name, pkcs11.title, pkcs11.entry_point) == ("pkcs11", "PKCS#11", "pkcs11")
    assert pkcs11.takes_modules and pkcs11.keeps_certificates and not pkcs11.key_pins
    assert not pkcs11.keeps_blobs_in_vault and pkcs11.pss_salt is PssSalt.HashLength
    assert (tpm.name, tpm.title, tpm.entry_point) == ("tpm", "TPM", "tpm-keys")
    assert tpm.keeps_blobs_in_vault and tpm.key_pins and not tpm.takes_modules
    assert not tpm.keeps_certificates and tpm.pss_salt is PssSalt.Unknown
    transit = key_tokens.kind_of("transit")
    assert (transit.name, transit.title, transit.entry_point) == (
        "transit", "OpenBao Transit", "transit")
    assert transit.needs_remotes and transit.pss_salt is PssSalt.HashLength
    assert not (transit.takes_modules or transit.keeps_blobs_in_vault or transit.key_pins)
    assert not pkcs11.needs_remotes and not tpm.needs_remotes


def test_providers_load_by_store_name_or_by_their_entry_point() -> None:
    for name in key_tokens.store_names():
        kind = key_tokens.kind_of(name)
        for asked in (name, kind.entry_point):
            provider = key_tokens.load_provider(asked)
            assert provider.store == name and provider.kind == kind
    assert key_tokens.module_provider().kind.takes_modules


def test_an_unknown_store_is_a_usage_error_naming_the_installed_ones() -> None:
    with pytest.raises(UsageError,
                       match=r"unknown key store 'vault-hsm' \(choose pkcs11 or tpm or transit\)"):
        key_tokens.load_provider("vault-hsm")
    assert StoreKind.unknown("gone") == StoreKind("gone", "gone", "gone")


@pytest.mark.parametrize("path", CALLERS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_no_caller_compares_a_store_name(path: Path) -> None:
    names = set(key_tokens.store_names()) | {key_tokens.kind_of(n).entry_point
                                             for n in key_tokens.store_names()}
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Compare):
            parts = [node.left, *node.comparators]
            found += [f"line {node.lineno}: {p.value!r}" for p in parts
                      if isinstance(p, ast.Constant) and p.value in names]
    assert not found, f"{path.relative_to(ROOT)} compares store names: {', '.join(found)}"
