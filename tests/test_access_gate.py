"""The device-health gate: reveals at gated levels and signing with gated keys need a fresh check
run whose gated checks pass (or are excepted); the run used is in the audit event."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from strongroom.app.access import access_changes, policy
from strongroom.app.compliance import storage
from strongroom.app.compliance.model import (
    COLLECTED,
    EVIDENCE,
    OS,
    CheckResult,
    Confidence,
    EvidenceBundle,
    Status,
)
from strongroom.app.errors import AccessDenied
from strongroom.app.keyslots import normalize_passphrase
from strongroom.app.model import Classification
from strongroom.app.vault import NewSecret, Vault

NOW = dt.datetime(2026, 12, 6, 12, 0, tzinfo=dt.UTC)


class Clock:
    def __init__(self) -> None:
        self.at = NOW

    def now(self) -> dt.datetime:
        return self.at


def result(check_id: str, status: Status) -> CheckResult:
    return CheckResult(check_id, check_id.replace("-", " ").title(), status, "observed",
                       f"{check_id} is {status.value.lower()}", "", f"enable {check_id}",
                       Confidence.High, "test run")


def store(vault: Vault, source: str = COLLECTED, **statuses: Status) -> int:
    results = [result(cid, statuses.get(cid.replace("-", "_"), Status.Pass))
               for cid in policy.HEALTH_CHECKS]
    return storage.store_run(vault, EvidenceBundle(OS.Linux, vault._now(), {}), results,
                             policy={}, source=source, exit_code=0)


@pytest.fixture
def gated(tmp_path: Path) -> tuple[Vault, Clock]:
    clock = Clock()
    v = Vault.create(tmp_path / "v", normalize_passphrase("gate test passphrase"),
                     kdf_time_ms=10, clock=clock)
    v.add_secret(NewSecret("crit", b"critical", Classification.Critical))
    v.add_secret(NewSecret("low", b"low", Classification.Low))
    access_changes.set_policy(v, policy.Policy(health_levels=("critical",)))
    yield v, clock
    v.lock()


def test_no_check_run_closes_the_gate_for_gated_levels_only(gated: tuple[Vault, Clock]) -> None:
    v, _ = gated
    with pytest.raises(AccessDenied, match="strongroom check --store") as e:
        v.get_secret("crit")
    assert e.value.exit_code == 6
    assert v.get_secret("low") == b"low"
    [denied] = v.audit_events(action="access.denied")
    assert denied.details["missing"] == "device-health"


def test_a_passing_fresh_run_opens_it_and_the_event_names_the_run(gated: tuple[Vault, Clock]
                                                                  ) -> None:
    v, _ = gated
    run = store(v)
    assert v.get_secret("crit") == b"critical"
    [read] = v.audit_events(action="secret.read")
    assert read.details["health"]["run"] == run
    assert read.details["health"]["checks"] == {c: "PASS" for c in policy.HEALTH_CHECKS}


def test_replayed_evidence_does_not_open_the_gate(gated: tuple[Vault, Clock]) -> None:
    """Evidence brought in from elsewhere (check --evidence DIR --store) is kept, not trusted."""
    v, _ = gated
    store(v, source=EVIDENCE)
    with pytest.raises(AccessDenied, match="replayed evidence does not count"):
        v.get_secret("crit")
    store(v)
    assert v.get_secret("crit") == b"critical"


def test_a_failing_check_refuses_with_its_own_reason_and_fix(gated: tuple[Vault, Clock]) -> None:
    v, _ = gated
    run = store(v, screen_lock=Status.Fail)
    with pytest.raises(AccessDenied, match=r"Screen Lock: FAIL — screen-lock is fail\. "
                                           r"Fix: enable screen-lock"):
        v.get_secret("crit")
    denied = v.audit_events(action="access.denied")[0]
    assert denied.details["health"] == {"run": run, "ts": denied.details["health"]["ts"],
                                        "check": "screen-lock", "status": "FAIL"}


def test_an_excepted_check_passes_and_an_unknown_one_does_not(gated: tuple[Vault, Clock]) -> None:
    v, _ = gated
    store(v, patch_age=Status.Excepted)
    assert v.get_secret("crit") == b"critical"
    store(v, disk_encryption=Status.Unknown)
    with pytest.raises(AccessDenied, match="Disk Encryption: UNKNOWN"):
        v.get_secret("crit")


def test_a_stale_run_does_not_count(gated: tuple[Vault, Clock]) -> None:
    v, clock = gated
    store(v)
    clock.at = NOW + dt.timedelta(hours=25)
    with pytest.raises(AccessDenied, match="from the last 24 hours"):
        v.get_secret("crit")


def test_a_custodian_cannot_open_the_gate_with_an_exception(gated: tuple[Vault, Clock]) -> None:
    """An exception opens the gate for its check, so it is an Administrator's policy change."""
    from strongroom.app.access import operator_admin
    from strongroom.app.access.grants import Scope
    from strongroom.app.keyslots import PassphraseUnlocker

    v, clock = gated
    operator_admin.add_operator(v, "bob", b"bob gate pass 1", roles=["Custodian"],
                                kdf_time_ms=10)
    access_changes.add_grant(v, "bob", Scope.parse("level:critical"), "read",
                             justification="gate test")
    store(v, screen_lock=Status.Fail)
    bob = Vault.open(v.path, clock=clock)
    bob.unlock(PassphraseUnlocker.from_text("bob gate pass 1"))
    with bob:
        with pytest.raises(AccessDenied, match="may not record compliance exceptions"):
            storage.add_exception(bob, "screen-lock", "waiver", NOW.date())
        assert storage.list_exceptions(bob) == []
    storage.add_exception(v, "screen-lock", "kiosk has no lock; covered by badge access",
                          NOW.date())
    assert [e.check_id for e in storage.list_exceptions(v)] == ["screen-lock"]
