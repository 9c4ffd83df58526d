"""The device-health gate: the policy can require this endpoint's checks (disk encryption, screen
lock, patch age) to pass, or hold a recorded exception, before values of given levels are revealed
or given keys sign.

The gate reads the newest check run stored in the vault (``strongroom check --store``, or the
console's Compliance section); a run older than the policy's ``health_max_age_hours`` does not
count. The run used (id, time, each gated check's status) goes into the operation's audit event;
a failing check refuses with that check's own reason and fix.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any

from ..errors import AccessDenied
from ..model import parse_iso
from .policy import Policy

if TYPE_CHECKING:
    from ..vault.session import VaultSession

OPEN_STATUSES = ("PASS", "EXCEPTED")


def check(vault: VaultSession, conn: Any, rule: Policy, *, target: str, level: str | None = None,
          keys: tuple[str, ...] = ()) -> dict[str, Any]:
    """In the operation's transaction: what the audit event records, or AccessDenied."""
    if level not in rule.health_levels and not set(keys) & set(rule.health_keys):
        return {}
    from ..compliance.model import COLLECTED  # the checks' model: only where a level needs it

    # Only checks this machine ran: replayed evidence (check --evidence DIR --store) is stored
    # for the record, but anyone can bring a folder of passing evidence from elsewhere.
    row = conn.execute("SELECT id, ts FROM compliance_runs WHERE source = ? "
                       "ORDER BY id DESC LIMIT 1", (COLLECTED,)).fetchone()
    age = None if row is None else vault.clock.now() - parse_iso(row[1])
    if row is None or age is None or age > dt.timedelta(hours=rule.health_max_age_hours):
        when = ("none collected here is stored (replayed evidence does not count)"
                if row is None else f"the newest is from {row[1][:16]}")
        raise _closed(f"the device-health gate needs this endpoint's checks from the last "
                      f"{rule.health_max_age_hours} hours and {when}; run 'strongroom check "
                      "--store' (or Compliance → Run checks) first", target, None)
    run_id, ts = int(row[0]), str(row[1])
    found = {str(r[0]): json.loads(r[1]) for r in conn.execute(
        "SELECT check_id, result FROM compliance_results WHERE run_id = ?", (run_id,))}
    statuses: dict[str, str] = {}
    for check_id in rule.health_checks:
        result = found.get(check_id)
        status = "MISSING" if result is None else str(result.get("status"))
        statuses[check_id] = status
        if status not in OPEN_STATUSES:
            why = ("it was not part of the run" if result is None
                   else f"{result.get('title', check_id)}: {status} — {result.get('reason', '')}")
            fix = "" if result is None or not result.get("remediation") else (
                f" Fix: {result['remediation']}")
            raise _closed(f"the device-health gate is closed: {why}.{fix}", target,
                          {"run": run_id, "ts": ts, "check": check_id, "status": status})
    return {"health": {"run": run_id, "ts": ts, "checks": statuses}}


def _closed(message: str, target: str, details: dict[str, Any] | None) -> AccessDenied:
    return AccessDenied(message, target=target,
                        details={"missing": "device-health", **({"health": details}
                                                              if details else {})})
