"""A header whose Argon2id costs or salt are out of range is corrupt (exit 3, before any attempt):
never a wrong passphrase that also counts a failure, never an internal error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from strongroom.app.vault import BACKOFF_FILE, HEADER_FILE

from conftest import PASSPHRASE, run_cli, snapshot
from helpers.cli_checks import one_line_error

EDITS = {
    "iterations 1": ("iterations", 1),
    "iterations 10^9": ("iterations", 10**9),
    "memory 8 KiB": ("memory_kib", 8),
    "memory 2^40 KiB": ("memory_kib", 2**40),
    "lanes 0": ("lanes", 0),
    "iterations as text": ("iterations", "3"),
    "unknown kdf": ("kdf", "scrypt"),
    "salt not base64": ("salt", "not base64 !!"),
    "salt too short": ("salt", "AAAA"),
    "salt a number": ("salt", 12),
}


@pytest.mark.parametrize("edit", sorted(EDITS))
def test_out_of_range_kdf_parameters_are_a_corrupt_header(vault_dir: Path, edit: str) -> None:
    key, value = EDITS[edit]
    header = json.loads((vault_dir / HEADER_FILE).read_text())
    header["slots"][0]["params"][key] = value
    (vault_dir / HEADER_FILE).write_text(json.dumps(header))
    before = snapshot(vault_dir)
    line = one_line_error(run_cli("secret", "list", vault=vault_dir, passphrases=[PASSPHRASE]),
                          3, "header")
    assert "corrupt" in line and "passphrase does not open" not in line
    assert snapshot(vault_dir) == before
    assert not (vault_dir / BACKOFF_FILE).exists()  # no attempt was counted
