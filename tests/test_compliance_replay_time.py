"""Replayed evidence is judged at the time it was collected (issue 13), or at ``--at TIME``, and
every report says which clock it used; a collection is judged when it runs."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace
from pathlib import Path

import pytest

from strongroom.app.compliance import evidence_io, service
from strongroom.app.compliance.model import Policy, Status
from strongroom.app.errors import UsageError

from conftest import run_cli
from helpers.compliance_cases import FIXTURES

# Collected 2026-11-23T11:59:00Z, one day after the last cumulative update.
PATCHED = FIXTURES / "patch-age" / "windows" / "patched-yesterday"


@pytest.fixture
def state_env(tmp_path: Path) -> dict[str, str]:
    return {"STRONGROOM_STATE_DIR": str(tmp_path / "state"),
            "STRONGROOM_VAULT": str(tmp_path / "no-vault")}


def replay(state_env: dict[str, str], *args: str) -> tuple[int, dict]:
    r = run_cli("check", "--json", "--evidence", str(PATCHED), "--only", "patch-age", *args,
                env=state_env)
    assert r.code in (0, 1, 5), r.err
    return r.code, json.loads(r.out)


def test_a_replay_is_judged_when_its_evidence_was_collected(state_env: dict[str, str]) -> None:
    code, report = replay(state_env)
    [patch] = report["checks"]
    assert code == 0 and patch["status"] == "PASS" and "patched 1 day ago" in patch["observed"]
    assert report["judged_at"] == "2026-11-23T11:59:00Z"
    assert report["judged_at_source"] == "collected" == service.AT_COLLECTED
    assert report["collected"] == "2026-11-23T11:59:00Z"
    assert report["time"] != report["judged_at"]  # the report's own time is when it ran


def test_at_chooses_the_clock_and_the_report_says_so(state_env: dict[str, str]) -> None:
    code, report = replay(state_env, "--at", "2036-11-23T12:00:00Z")
    [patch] = report["checks"]
    assert code == 1 and patch["status"] == "FAIL"
    assert patch["observed"] == "patched 3654 days ago"
    assert report["judged_at"] == "2036-11-23T12:00:00Z" and report["judged_at_source"] == "--at"
    # An offset is converted; no offset means UTC; a date alone is its midnight (UTC).
    _, report = replay(state_env, "--at", "2026-11-25T12:00:00+02:00")
    assert report["judged_at"] == "2026-11-25T10:00:00Z"
    _, report = replay(state_env, "--at", "2026-11-24")
    assert report["judged_at"] == "2026-11-24T00:00:00Z"
    assert report["checks"][0]["observed"] == "patched 1 day ago"


def test_the_table_says_which_time_was_used(state_env: dict[str, str]) -> None:
    r = run_cli("check", "--evidence", str(PATCHED), "--only", "patch-age", env=state_env)
    assert ("Judged at 2026-11-23 11:59 UTC, when the evidence was collected (--at TIME to "
            "choose another)") in r.text
    r = run_cli("check", "--evidence", str(PATCHED), "--only", "patch-age", "--at",
                "2026-12-01T08:00:00Z", env=state_env)
    assert ("Judged at 2026-12-01 08:00 UTC (--at); the evidence was collected "
            "2026-11-23T11:59:00Z") in r.text


def test_a_bundle_without_a_collection_time_is_judged_now_and_says_so(
    state_env: dict[str, str], tmp_path: Path
) -> None:
    bundle = evidence_io.load_bundle(PATCHED)
    evidence_io.dump_bundle(replace(bundle, collected=""), tmp_path / "undated", redacted=False)
    r = run_cli("check", "--json", "--evidence", str(tmp_path / "undated"), "--only", "tpm",
                env=state_env)
    report = json.loads(r.out)
    assert report["judged_at_source"] == "now" and report["judged_at"] == report["time"]
    r = run_cli("check", "--evidence", str(tmp_path / "undated"), "--only", "tpm",
                env=state_env)
    assert "(now): the evidence does not say when it was collected" in r.text


@pytest.mark.parametrize(("args", "message"), [
    (["--evidence", str(PATCHED), "--at", "next tuesday"],
     "--at needs an ISO 8601 time such as 2026-11-23T10:00:00Z, not 'next tuesday'"),
    (["--evidence", str(PATCHED), "--at", "2026-13-40"], "--at needs an ISO 8601 time"),
    (["--at", "2026-11-23T10:00:00Z", "--only", "tpm"],
     "--at applies only to replayed evidence (--evidence DIR)"),
])
def test_a_bad_at_is_one_usage_sentence(state_env: dict[str, str], args: list[str],
                                        message: str) -> None:
    r = run_cli("check", *args, env=state_env)
    assert r.code == 2 and message in r.err and r.err.count("\n") == 1, r.err


def test_the_service_judges_a_replay_at_collection_time_and_a_collection_now() -> None:
    bundle = evidence_io.load_bundle(PATCHED)
    now = dt.datetime(2036, 1, 1, tzinfo=dt.UTC)
    run = service.evaluate(None, Policy(), ["patch-age"], now, bundle=bundle)
    assert run.judged_at == dt.datetime(2026, 11, 23, 11, 59, tzinfo=dt.UTC)
    assert run.judged_at_source == service.AT_COLLECTED
    assert run.results[0].status is Status.Pass
    at = dt.datetime(2026, 11, 30, tzinfo=dt.UTC)
    run = service.evaluate(None, Policy(), ["patch-age"], now, bundle=bundle, at=at)
    assert run.judged_at == at and run.results[0].status is Status.Fail
    with pytest.raises(UsageError, match="only to replayed evidence"):
        service.judgement_time(None, at, now)
    assert service.judgement_time(None, None, now) == (now, service.AT_NOW)


def test_a_stored_replay_records_its_clock_in_the_audit_event(vault) -> None:
    bundle = evidence_io.load_bundle(PATCHED)
    service.run_checks(vault, Policy(), ["patch-age"], dt.datetime.now(dt.UTC), bundle=bundle)
    [event] = vault.audit_events(action="compliance.check")
    assert event.details["judged_at"] == "2026-11-23T11:59:00Z"
