"""Which checks exist, which OS table judges them, accepted-risk exceptions, and the exit code.

Each OS has a table ``CHECKS: dict[str, Check]`` in the package ``<os>/`` beside this file.
Tables are imported when first needed and a missing or broken one never stops the others: its
checks report UNKNOWN "no checks for this OS yet". A check that raises is a bug, reported as
UNKNOWN with the error's name rather than a crash.

Exit codes of a check run (``strongroom check``), over the *required* checks only:
0 every required check passes (PASS, NOT_APPLICABLE or EXCEPTED) · 1 any FAIL ·
5 no FAIL but some UNKNOWN.
"""

from __future__ import annotations

import datetime as dt
import importlib
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from ..errors import UsageError
from .model import OS, Check, CheckResult, Confidence, EvidenceBundle, Policy, Status

log = logging.getLogger("strongroom.compliance")

CHECK_IDS: tuple[str, ...] = (
    "disk-encryption", "patch-age", "screen-lock", "firewall", "guest-account",
    "secure-boot", "auto-updates", "tpm",
)
TITLES: dict[str, str] = {
    "disk-encryption": "Full-disk encryption of the system volume",
    "patch-age": "Security updates installed in time",
    "screen-lock": "Screen locks when idle and asks for the password",
    "firewall": "Firewall enabled",
    "guest-account": "Guest account disabled",
    "secure-boot": "Secure Boot enabled",
    "auto-updates": "Automatic updates enabled",
    "tpm": "TPM present",
}

EXIT_PASS, EXIT_FAIL, EXIT_UNKNOWN = 0, 1, 5


@dataclass(frozen=True)
class ComplianceException:
    """An accepted risk: ``check_id`` reports EXCEPTED until the end of ``until`` (UTC)."""

    check_id: str
    reason: str
    until: dt.date
    created: str = ""
    actor: str = ""

    def active(self, now: dt.datetime) -> bool:
        return now.astimezone(dt.UTC).date() <= self.until

    def to_json(self) -> dict[str, str]:
        return {"check_id": self.check_id, "reason": self.reason, "until": self.until.isoformat(),
                "created": self.created, "actor": self.actor}


def parse_only(text: str | None) -> list[str] | None:
    """``--only ID,ID``: the ids in order, each known; None means every check."""
    if text is None:
        return None
    ids = [part.strip() for part in text.split(",") if part.strip()]
    if not ids:
        raise UsageError("--only needs at least one check id")
    for check_id in ids:
        if check_id not in CHECK_IDS:
            raise UsageError(f"unknown check {check_id!r} (known: {', '.join(CHECK_IDS)})")
    return list(dict.fromkeys(ids))


_TABLES: dict[OS, tuple[Mapping[str, Check] | None, str]] = {}


def _module(os_: OS) -> Any:
    return importlib.import_module(f"strongroom.app.compliance.{os_.value}")


def checks_for(os_: OS) -> tuple[Mapping[str, Check] | None, str]:
    """The OS's check table, or None and why not (not written yet, or failed to import)."""
    if os_ not in _TABLES:
        try:
            table = getattr(_module(os_), "CHECKS", None)
        except ModuleNotFoundError:
            _TABLES[os_] = (None, "no checks for this OS yet")
        except Exception as e:  # noqa: BLE001 - a broken table must not stop the other OSes
            log.warning("the %s checks failed to load: %s", os_.value, type(e).__name__)
            _TABLES[os_] = (None, f"the checks for this OS failed to load ({type(e).__name__})")
        else:
            if isinstance(table, Mapping):
                _TABLES[os_] = (table, "")
            else:
                _TABLES[os_] = (None, "no checks for this OS yet")
    return _TABLES[os_]


def pending_updates(bundle: EvidenceBundle) -> list[str] | None:
    """The pending security updates the bundle shows (for first-seen memory), None if unknown."""
    try:
        module = _module(bundle.os)
    except Exception:  # noqa: BLE001 - no table, nothing to remember
        return None
    fn: Callable[[EvidenceBundle], list[str] | None] | None = getattr(
        module, "pending_security_updates", None
    )
    return None if fn is None else fn(bundle)


def _unknown(check_id: str, reason: str, method: str = "") -> CheckResult:
    return CheckResult(
        check_id=check_id, title=TITLES[check_id], status=Status.Unknown, observed="not judged",
        reason=reason, evidence_excerpt="", remediation="", confidence=Confidence.Low,
        method=method,
    )


def judge(
    bundle: EvidenceBundle,
    policy: Policy,
    now: dt.datetime,
    only: Sequence[str] | None = None,
    exceptions: Iterable[ComplianceException] = (),
) -> list[CheckResult]:
    """Judge every check (or ``only`` these) on ``bundle``; apply unexpired exceptions."""
    table, why = checks_for(bundle.os)
    active = {e.check_id: e for e in exceptions if e.active(now)}
    results: list[CheckResult] = []
    for check_id in only or CHECK_IDS:
        if check_id not in TITLES:
            raise UsageError(f"unknown check {check_id!r}")
        check = None if table is None else table.get(check_id)
        if check is None:
            result = _unknown(check_id, why or "no such check for this OS yet")
        else:
            start = time.perf_counter()
            try:
                result = check(bundle, policy, now)
            except Exception as e:  # noqa: BLE001 - a bug in one check must not hide the others
                log.warning("check %s raised %s", check_id, type(e).__name__)
                result = _unknown(check_id, f"the check failed ({type(e).__name__}); "
                                            "please report it with --dump-evidence")
            result = replace(result, duration=result.duration + time.perf_counter() - start)
        if check_id in active:
            result = apply_exception(result, active[check_id])
        results.append(result)
    return results


def apply_exception(result: CheckResult, exception: ComplianceException) -> CheckResult:
    """FAIL and UNKNOWN become EXCEPTED (the reason keeps what it would have been)."""
    if result.status not in (Status.Fail, Status.Unknown):
        return replace(result, exception={**_exception_json(exception), "applied": "no"})
    return replace(
        result,
        status=Status.Excepted,
        reason=(f"accepted risk until {exception.until.isoformat()}: {exception.reason} "
                f"(otherwise {result.status.value}: {result.reason})"),
        exception={**_exception_json(exception), "applied": "yes",
                   "original_status": result.status.value},
    )


def _exception_json(exception: ComplianceException) -> dict[str, str]:
    return {"reason": exception.reason, "until": exception.until.isoformat(),
            "actor": exception.actor, "created": exception.created}


def exit_code(results: Iterable[CheckResult], policy: Policy) -> int:
    """0 every required check passes · 1 any required FAIL · 5 no FAIL but a required UNKNOWN."""
    required = set(policy.required)
    statuses = {r.status for r in results if r.check_id in required}
    if Status.Fail in statuses:
        return EXIT_FAIL
    if Status.Unknown in statuses:
        return EXIT_UNKNOWN
    return EXIT_PASS


def counts(results: Iterable[CheckResult]) -> dict[str, int]:
    out = {s.value: 0 for s in Status}
    for r in results:
        out[r.status.value] += 1
    return out
