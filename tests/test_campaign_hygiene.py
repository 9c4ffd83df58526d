"""The secret-hygiene campaign, small (tests/campaigns/hygiene.py; ``make soak`` adds every
error path it can trigger): canary values, passphrases and a token PIN go through create,
reveal, copy (console, offscreen), export, sign (SoftHSM2) and back up, and then are searched for
in every file, audit row, output, argv and environment where they must not be."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from campaigns.hygiene import PIN, VALUE, Hsm, HygieneReport, run_hygiene_campaign
from helpers.softhsm import softhsm, softhsm_module  # noqa: F401 - softhsm: a fixture


@pytest.fixture
def hsm(request: pytest.FixtureRequest) -> Hsm | None:
    """A SoftHSM2 token whose user PIN is a canary; None where SoftHSM2 is not installed."""
    if softhsm_module() is None:
        return None
    setup = request.getfixturevalue("softhsm")
    return Hsm(setup.env, setup.add_token("hygiene", pin=PIN))


def test_the_canaries_are_nowhere_they_must_not_be(tmp_path: Path, hsm: Hsm | None) -> None:
    report = run_hygiene_campaign(tmp_path, full=False, hsm=hsm)
    assert report.hits == []
    assert report.surprises == []
    assert report.skipped == ([] if hsm is not None else ["keys sign (no SoftHSM2)"])
    places = report.places
    assert places["audit rows"] >= 20
    assert places["stderr of error paths"] == len(report.error_paths) >= 6
    assert places["argv and environment of each command (cmdline)"] == report.commands - 1
    assert places["temp and work files, while running"] > 0  # the backups' work folders
    for category in ("files in the vault folder (database, header, backups, locks)",
                     "files of the restored vault", "state dir (XDG_STATE_HOME)",
                     "config dir (XDG_CONFIG_HOME)", "backup, signature and key files written"):
        assert places[category] > 0, category


def test_the_search_finds_a_canary_in_any_form() -> None:
    """The campaign can fail: each form a leak could take is found."""
    report = HygieneReport()
    core = VALUE.rstrip(b"\n")
    for data in (b"x" + core, core.hex().upper().encode(), base64.b64encode(b"ab" + VALUE + b"c"),
                 core.decode().encode("utf-16-le"), b"pin=" + PIN.encode()):
        report.scan("a place", "here", data)
    assert len(report.hits) == 5 and report.places["a place"] == 5

