"""The tamper campaign, small (tests/campaigns/tamper.py; ``make soak`` runs 1,000): every kind
of mutation, twice, judged through the CLI against what the README promises."""

from __future__ import annotations

import random
from pathlib import Path

from campaigns.tamper import (
    DETECTED,
    KINDS,
    MISSED,
    NO_EFFECT,
    REFUSED,
    WRONG,
    _judge_header,
    _judge_vault,
    run_tamper_campaign,
)

# The kinds the README says end in exit 3, every time.
ALWAYS_DETECTED = [k for k in KINDS if k.startswith(("audit", "rollback", "truncate"))] + [
    "flip vault.db", "witness edited (seq or hash)"]


def test_every_kind_of_mutation_is_detected_or_ends_as_documented(tmp_path: Path) -> None:
    seed = random.randrange(2**32)  # noqa: S311 - chooses mutations, not keys
    report = run_tamper_campaign(2 * len(KINDS), seed, tmp_path)
    bad = [f"{c.kind} ({c.what}): {c.outcome}, exit {c.code}: {c.message}" for c in report.bad()]
    assert bad == [], f"seed {seed}: {bad}"
    by_kind = report.by_kind()
    assert sorted(by_kind) == sorted(KINDS)
    for kind in ALWAYS_DETECTED:
        assert by_kind[kind] == {DETECTED: 2}, (seed, kind, by_kind[kind])
    assert report.count(DETECTED) >= len(ALWAYS_DETECTED) * 2


def test_the_judge_calls_an_unnoticed_change_missed_and_a_stray_exit_wrong(
        tmp_path: Path) -> None:
    """The campaign can fail: exit 0 after a database flip is a miss; exit 4 for a header whose
    keyslots did not change is wrong; a header that says the same thing has no effect."""
    assert _judge_vault("flip vault.db", 0, tmp_path, None, None) == MISSED  # type: ignore[arg-type]
    assert _judge_vault("audit row deleted", 1, tmp_path, None, None) == WRONG  # type: ignore[arg-type]
    header = (b'{"magic": "strongroom-vault-header", "format": 1, "vault_id": "v", "created": '
              b'"t", "slots": [{"id": "a", "kind": "k", "label": "l", "params": {}, "nonce": '
              b'"AAAA", "wrapped": "AAAA", "created": "t"}], "anchor": {"seq": 1, "hash": "%s"}}')
    lower, upper = header % (b"ab" * 32), header % (b"AB" * 32)
    assert _judge_header(0, lower, upper) == NO_EFFECT
    assert _judge_header(0, lower, header % (b"cd" * 32)) == MISSED
    assert _judge_header(4, lower, upper) == WRONG
    assert _judge_header(4, lower, lower.replace(b'"wrapped": "AAAA"', b'"wrapped": "AAAB"')) \
        == REFUSED
