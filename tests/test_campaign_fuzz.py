"""The fuzz campaign, small (tests/campaigns/fuzz.py; ``make soak`` runs many more inputs):
every parser of outside input raises only Strongroom's documented errors. Below it, the inputs
the campaign found that ended in "internal error", each now a clear refusal."""

from __future__ import annotations

import json
import random
import struct
from pathlib import Path

from strongroom.app.vault import BACKOFF_FILE
from strongroom.app.vault.backup import MAGIC, parse

from campaigns.common import PASSPHRASE as CAMPAIGN_PASSPHRASE
from campaigns.common import cli
from campaigns.fuzz import make_subjects, remac, run_fuzz_campaign
from conftest import PASSPHRASE

EXAMPLES = 100


def test_every_parser_raises_only_documented_errors(tmp_path: Path) -> None:
    seed = random.randrange(2**32)  # noqa: S311 - chooses inputs, not keys
    report = run_fuzz_campaign(EXAMPLES, seed, tmp_path)
    crashes = {f"{t.name}: {where}": example for t in report.targets
               for where, example in t.crashes.items()}
    assert crashes == {}, f"seed {seed}: {crashes}"
    assert len(report.targets) == 10
    assert all(t.executions >= 10 for t in report.targets), report.table()


def _one_line(run, code: int, *words: str) -> None:  # type: ignore[no-untyped-def]
    assert run.code == code, run.err
    assert run.one_line, run.err
    for word in words:
        assert word in run.err, run.err


def test_a_back_off_count_too_large_for_a_float_backs_off_for_the_hour(vault_dir: Path) -> None:
    """Was: OverflowError (2.0 ** count) as an internal error."""
    (vault_dir / BACKOFF_FILE).write_text(json.dumps(
        {"failures": 5000, "first_failure": None, "last_failure": None}))
    _one_line(cli("secret", "list", vault=vault_dir, passphrases=[PASSPHRASE]), 4,
              "5000 failed unlock attempts", "wait 3600 s")


def test_a_backup_whose_manifest_nests_100000_deep_is_corrupt(tmp_path: Path) -> None:
    """Was: RecursionError from json.loads as an internal error."""
    manifest = b"[" * 100_000
    path = tmp_path / "deep.srbk"
    path.write_bytes(MAGIC + struct.pack(">II", 1, len(manifest)) + manifest
                     + struct.pack(">IQ", 0, 0) + b"\0" * 32)
    _one_line(cli("backup", "verify", str(path), passphrases=[PASSPHRASE]), 3, "corrupt")


def test_a_backup_re_maced_with_an_audit_head_that_is_no_number_is_corrupt(
        tmp_path: Path) -> None:
    """Was: TypeError from int(manifest["audit_head"]) after the HMAC passed, an internal error
    (only someone holding the master key can write such a file)."""
    s = make_subjects(tmp_path)
    try:
        manifest = {**parse(s.backup_path).manifest, "audit_head": [False, None]}
        path = tmp_path / "odd.srbk"
        path.write_bytes(remac(s, manifest))
    finally:
        s.vault.lock()
    _one_line(cli("backup", "verify", str(path), passphrases=[CAMPAIGN_PASSPHRASE]), 3,
              "corrupt")
