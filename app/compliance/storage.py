"""Compliance data in the vault (schema 2): runs, results, exceptions and first-seen memory.

Every change is written in one transaction with its audit event, as the vault does for secrets:
if the event cannot be written, nothing is stored. Like backup.py this module works inside the
vault's own transaction helpers.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from typing import Any

from ..access import approvals, enforce
from ..access import policy as access_policy
from ..access.approvals import Approval
from ..access.roles import POLICY_MANAGE
from ..errors import NotFound, UsageError
from ..vault import Vault
from .model import CheckResult, EvidenceBundle
from .registry import CHECK_IDS, ComplianceException, counts

MAX_REASON_CHARS = 1000


def store_run(
    vault: Vault,
    bundle: EvidenceBundle,
    results: Sequence[CheckResult],
    *,
    policy: Mapping[str, Any],
    source: str,
    exit_code: int,
    judged_at: str | None = None,
) -> int:
    """Store one run and its results and audit it as ``compliance.check``; returns the run id.
    ``judged_at`` (the clock the checks were judged by) goes into the audit event."""
    tally = counts(results)
    with vault._write() as conn:
        cursor = conn.execute(
            "INSERT INTO compliance_runs (ts, host, os, source, policy, counts, exit_code) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (vault._now(), bundle.host, bundle.os.value, source,
             json.dumps(dict(policy), sort_keys=True), json.dumps(tally, sort_keys=True),
             exit_code),
        )
        run_id = int(cursor.lastrowid)
        conn.executemany(
            "INSERT INTO compliance_results (run_id, check_id, status, result) VALUES (?, ?, ?, ?)",
            [(run_id, r.check_id, r.status.value, json.dumps(r.to_json(), sort_keys=True))
             for r in results],
        )
        details: dict[str, Any] = {k: v for k, v in tally.items() if v}
        details.update({"run": run_id, "exit_code": exit_code, "source": source,
                        "os": bundle.os.value})
        if judged_at is not None:
            details["judged_at"] = judged_at
        vault._event("compliance.check", bundle.host or "localhost", details=details)
    return run_id


def runs(vault: Vault, limit: int = 20) -> list[dict[str, Any]]:
    """The most recent runs, newest first, with their results."""
    with vault._read() as conn:
        rows = conn.execute(
            "SELECT id, ts, host, os, source, policy, counts, exit_code FROM compliance_runs "
            "ORDER BY id DESC LIMIT ?", (limit,),
        ).fetchall()
        out = []
        for r in rows:
            results = conn.execute(
                "SELECT result FROM compliance_results WHERE run_id = ? ORDER BY check_id",
                (r[0],),
            ).fetchall()
            out.append({"id": r[0], "ts": r[1], "host": r[2], "os": r[3], "source": r[4],
                        "policy": json.loads(r[5]), "counts": json.loads(r[6]),
                        "exit_code": r[7], "results": [json.loads(x[0]) for x in results]})
    return out


# ----- exceptions ------------------------------------------------------------------------------


def list_exceptions(vault: Vault) -> list[ComplianceException]:
    with vault._read() as conn:
        rows = conn.execute(
            "SELECT check_id, reason, until, created, actor FROM compliance_exceptions "
            "ORDER BY check_id"
        ).fetchall()
    return [ComplianceException(r[0], r[1], dt.date.fromisoformat(r[2]), r[3], r[4])
            for r in rows]


@enforce.denials_audited
def add_exception(
    vault: Vault, check_id: str, reason: str, until: dt.date, *, today: dt.date | None = None,
    approval: Approval | None = None,
) -> ComplianceException:
    """Record (or replace) the accepted risk for one check until the end of ``until``.

    An exception opens the device-health gate for that check, so it is policy: an
    Administrator's, and a two-person operation where the access policy gates policy changes."""
    if check_id not in CHECK_IDS:
        raise UsageError(f"unknown check {check_id!r} (known: {', '.join(CHECK_IDS)})")
    reason = " ".join(reason.split())
    if not reason:
        raise UsageError("an exception needs a reason (--reason TEXT)")
    if len(reason) > MAX_REASON_CHARS:
        raise UsageError(f"the reason is longer than {MAX_REASON_CHARS} characters")
    today = today or vault.clock.now().astimezone(dt.UTC).date()
    if until < today:
        raise UsageError(f"--until {until.isoformat()} is in the past")
    exception = ComplianceException(check_id, reason, until, vault._now(), vault.actor)
    with vault._write() as conn:
        extra = _policy_change(vault, conn, check_id, approval)
        replaced = conn.execute(
            "SELECT 1 FROM compliance_exceptions WHERE check_id = ?", (check_id,)
        ).fetchone() is not None
        conn.execute(
            "INSERT OR REPLACE INTO compliance_exceptions (check_id, reason, until, created, "
            "actor) VALUES (?, ?, ?, ?, ?)",
            (check_id, reason, until.isoformat(), exception.created, exception.actor),
        )
        vault._event("compliance.exception.add", check_id,
                     details={"until": until.isoformat(), "reason": reason,
                              "replaced": replaced, **extra})
    return exception


@enforce.denials_audited
def remove_exception(vault: Vault, check_id: str, *, approval: Approval | None = None) -> None:
    with vault._write() as conn:
        extra = _policy_change(vault, conn, check_id, approval)
        row = conn.execute(
            "SELECT until FROM compliance_exceptions WHERE check_id = ?", (check_id,)
        ).fetchone()
        if row is None:
            raise NotFound(f"no exception recorded for {check_id!r}")
        conn.execute("DELETE FROM compliance_exceptions WHERE check_id = ?", (check_id,))
        vault._event("compliance.exception.remove", check_id,
                     details={"until": row[0], **extra})


def _policy_change(vault: Vault, conn: Any, check_id: str, approval: Approval | None
                   ) -> dict[str, Any]:
    enforce.require_role(vault, conn, POLICY_MANAGE, "record compliance exceptions")
    return approvals.check(vault, conn, "policy.change", f"exception:{check_id}", approval,
                           critical=access_policy.load(conn).critical("policy.change"))


# ----- first-seen memory -----------------------------------------------------------------------


def load_first_seen(vault: Vault) -> dict[str, str]:
    with vault._read() as conn:
        return {r[0]: r[1] for r in conn.execute(
            "SELECT key, first_seen FROM compliance_first_seen").fetchall()}


def save_first_seen(vault: Vault, mapping: Mapping[str, str]) -> None:
    """Replace the memory with ``mapping`` (not audited: it is bookkeeping, not an action)."""
    with vault._write(anchor=False) as conn:
        conn.execute("DELETE FROM compliance_first_seen")
        conn.executemany("INSERT INTO compliance_first_seen (key, first_seen) VALUES (?, ?)",
                         sorted(mapping.items()))
