"""Rollback layer 4: a signed checkpoint written to a file outside the vault (`audit checkpoint
--out`) lets `audit verify --checkpoint FILE` refuse a log that is behind it or differs from it,
even when the whole folder was put back and the witness deleted with it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from strongroom.app.vault import DB_FILE, HEADER_FILE, NewSecret, Vault
from strongroom.app.vault.witness import witness_file

from conftest import PASSPHRASE, Result, make_vault, run_cli, snapshot, unlocker
from helpers.cli_checks import one_line_error
from helpers.softhsm import USER_PIN, softhsm  # noqa: F401 - session fixture

TOKEN = "checkpoint-files"


def cli(*args: str, vault: Path, pin: str | None = None) -> Result:
    return run_cli(*args, vault=vault, passphrases=[PASSPHRASE],
                   pins=None if pin is None else [pin])


def _add(path: Path, name: str) -> None:
    with Vault.open(path) as vault:
        vault.unlock(unlocker())
        vault.add_secret(NewSecret(name=name, value=b"v"))


@pytest.fixture(scope="module")
def signer(softhsm) -> str:  # noqa: F811 - the imported session fixture
    softhsm.add_token(TOKEN)
    return TOKEN


def _checkpoint(path: Path, out: Path, *extra: str) -> Result:
    return cli("--json", "audit", "checkpoint", "--token", TOKEN, "--key", "witness-key",
               "--out", str(out), *extra, vault=path, pin=USER_PIN)


def test_a_checkpoint_file_catches_a_whole_folder_rollback(signer: str, tmp_path: Path) -> None:
    path, old = tmp_path / "v", tmp_path / "old"
    make_vault(path).lock()
    made = cli("keys", "generate", "--token", TOKEN, "--label", "witness-key", "--type",
               "ec-p256", vault=path, pin=USER_PIN)
    assert made.code == 0, made.err
    early, late = tmp_path / "early.json", tmp_path / "late.json"
    assert _checkpoint(path, early).code == 0
    old.mkdir()
    for name in (DB_FILE, HEADER_FILE):
        shutil.copy2(path / name, old / name)
    _add(path, "after-the-copy")
    signed = _checkpoint(path, late)
    assert signed.code == 0, signed.err
    body = json.loads(late.read_text())
    assert body["format"] == "strongroom-audit-checkpoint/1" and body["seq"] > 1
    assert late.stat().st_mode & 0o777 == 0o644  # public: a hash, a public key, a signature
    assert cli("audit", "verify", "--checkpoint", str(early), "--checkpoint", str(late),
               vault=path).code == 0

    # The whole folder goes back, and the witness with it: unlock cannot tell any more ...
    with Vault.open(path) as vault:
        witness = witness_file(vault.vault_id, path)
    for name in (DB_FILE, HEADER_FILE):
        shutil.copy2(old / name, path / name)
    witness.unlink()
    assert cli("secret", "list", vault=path).code == 0
    # ... but the file kept elsewhere can.
    behind = cli("audit", "verify", "--checkpoint", str(late), vault=path)
    assert behind.code == 3, behind
    assert "BEHIND" in behind.text and "behind the checkpoint in late.json" in behind.text
    assert cli("audit", "verify", "--checkpoint", str(early), vault=path).code == 0
    # Each unlock since appended events: the put-back log now runs past the checkpoint's
    # sequence on another branch, and still fails it.
    again = cli("--json", "audit", "verify", "--checkpoint", str(late), vault=path)
    assert again.code == 3
    assert [f["status"] for f in json.loads(again.out)["checkpoint_files"]] in (
        ["behind"], ["differs"])


def test_a_file_altered_or_of_another_vault_fails(signer: str, tmp_path: Path) -> None:
    path, other = tmp_path / "v", tmp_path / "other"
    make_vault(path).lock()
    make_vault(other).lock()
    assert cli("keys", "generate", "--token", TOKEN, "--label", "witness-key", "--type",
               "ec-p256", vault=path, pin=USER_PIN).code in (0, 1)  # the label may exist
    out = tmp_path / "cp.json"
    assert _checkpoint(path, out).code == 0
    assert cli("audit", "verify", "--checkpoint", str(out), vault=other).code == 3
    body = json.loads(out.read_text())
    forged = dict(body, seq=body["seq"] + 5)  # a later head the key never signed
    bad = tmp_path / "forged.json"
    bad.write_text(json.dumps(forged))
    result = cli("audit", "verify", "--checkpoint", str(bad), vault=path)
    assert result.code == 3 and "does not verify" in result.text


@pytest.mark.parametrize("content", [b"", b"{", b"\xff\xfe", b'{"format": "x"}',
                                     b"[" * 100_000, b'{"format": "strongroom-audit-checkpoint/1",'
                                     b' "seq": "1"}'])
def test_a_malformed_file_is_one_line_exit_3_before_any_prompt(
    vault_dir: Path, tmp_path: Path, content: bytes
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_bytes(content)
    before = snapshot(vault_dir)
    # No passphrase given: the file is judged before anything asks for one.
    one_line_error(run_cli("audit", "verify", "--checkpoint", str(bad), vault=vault_dir), 3,
                   "checkpoint file")
    assert snapshot(vault_dir) == before


def test_out_refuses_an_existing_file_unless_forced(signer: str, tmp_path: Path) -> None:
    path = tmp_path / "v"
    make_vault(path).lock()
    cli("keys", "generate", "--token", TOKEN, "--label", "witness-key", "--type", "ec-p256",
        vault=path, pin=USER_PIN)
    out = tmp_path / "cp.json"
    out.write_text("keep me")
    one_line_error(_checkpoint(path, out), 1, "already exists")
    assert out.read_text() == "keep me"
    assert _checkpoint(path, out, "--force").code == 0
    assert json.loads(out.read_text())["format"] == "strongroom-audit-checkpoint/1"
