"""Small helpers the per-OS checks share: typed evidence lookups, dates, plists, JSON, results.

Everything here is pure: it reads evidence already gathered and never touches the machine.
"""

from __future__ import annotations

import binascii
import datetime as dt
import json
import plistlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from xml.parsers.expat import ExpatError

from .model import (
    Check,
    CheckResult,
    CommandEvidence,
    Confidence,
    Evidence,
    EvidenceBundle,
    FileEvidence,
    Policy,
    RegistryEvidence,
    Status,
)

CheckFn = Callable[[EvidenceBundle, Policy, dt.datetime], CheckResult]


@dataclass
class FunctionCheck:
    """A pure check function with the id and title the Check protocol asks for.

    Not frozen: the protocol declares ``id`` and ``title`` as plain (settable) attributes.
    """

    id: str
    title: str
    fn: CheckFn

    def __call__(self, bundle: EvidenceBundle, policy: Policy, now: dt.datetime) -> CheckResult:
        return self.fn(bundle, policy, as_utc(now))


def checks_table(*checks: FunctionCheck) -> dict[str, Check]:
    return {c.id: c for c in checks}


@dataclass(frozen=True)
class Verdict:
    """Builds the CheckResults of one check, so each branch states only what differs."""

    check_id: str
    title: str
    method: str

    def __call__(self, status: Status, observed: str, reason: str, excerpt: str = "",
                 remediation: str = "", confidence: Confidence | None = None,
                 method: str | None = None) -> CheckResult:
        if confidence is None:  # an answer read from the source is high; no answer is low
            confidence = Confidence.Low if status is Status.Unknown else Confidence.High
        return CheckResult(
            check_id=self.check_id, title=self.title, status=status, observed=observed,
            reason=reason, evidence_excerpt=excerpt.strip(),
            remediation="" if status is Status.Pass else remediation,
            confidence=confidence, method=method or self.method,
        )


# --- evidence lookups ------------------------------------------------------------------------

def command(bundle: EvidenceBundle, evidence_id: str) -> CommandEvidence | None:
    item = bundle.get(evidence_id)
    return item if isinstance(item, CommandEvidence) else None


def file(bundle: EvidenceBundle, evidence_id: str) -> FileEvidence | None:
    item = bundle.get(evidence_id)
    return item if isinstance(item, FileEvidence) else None


def registry(bundle: EvidenceBundle, evidence_id: str) -> RegistryEvidence | None:
    item = bundle.get(evidence_id)
    return item if isinstance(item, RegistryEvidence) else None


_ERROR_WORDS = {
    "missing": "not found",
    "permission": "permission denied",
    "timeout": "timed out",
    "not-windows": "only readable on Windows",
    "directory": "is a directory",
}


def unavailable(item: Evidence | None, what: str) -> str | None:
    """Why ``item`` gives no answer at all ("fdesetup: not found"), or None if it ran/was read."""
    if item is None:
        return f"{what}: not collected"
    if item.error is not None:
        return f"{what}: {_ERROR_WORDS.get(item.error, item.error)}"
    return None


def output(item: CommandEvidence) -> str:
    """stdout and stderr together: several macOS tools answer on stderr."""
    return "\n".join(part for part in (item.stdout.strip(), item.stderr.strip()) if part)


def lines_matching(text: str, pattern: str, limit: int = 6) -> str:
    rx = re.compile(pattern, re.IGNORECASE)
    hits = [line.strip() for line in text.splitlines() if rx.search(line)]
    return "\n".join(hits[:limit])


def shorten(text: str, limit: int = 100) -> str:
    """One line of a long message, cut at a word with an ellipsis."""
    line = " ".join(text.split())
    if len(line) <= limit:
        return line
    return line[:limit].rsplit(" ", 1)[0].rstrip(",;:") + "…"


def first_lines(text: str, limit: int = 4) -> str:
    return "\n".join(line.rstrip() for line in text.strip().splitlines()[:limit])


# --- values ----------------------------------------------------------------------------------

def as_int(value: object) -> int | None:
    """A registry/plist/JSON value as an integer: REG_SZ "600" and REG_DWORD 600 alike."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        text = value.strip().rstrip("\x00")
        if re.fullmatch(r"[+-]?\d+", text):
            return int(text)
        if re.fullmatch(r"0x[0-9a-fA-F]+", text):
            return int(text, 16)
    return None


def as_bool(value: object) -> bool | None:
    if isinstance(value, bool):
        return value
    number = as_int(value)
    if number is not None:
        return number != 0
    if isinstance(value, str):
        word = value.strip().lower()
        if word in ("true", "yes", "on"):
            return True
        if word in ("false", "no", "off"):
            return False
    return None


# --- dates -----------------------------------------------------------------------------------

def as_utc(moment: dt.datetime) -> dt.datetime:
    """Aware UTC; a naive datetime is taken to be UTC already (plistlib, COM DATEs)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


def parse_iso(text: object) -> dt.datetime | None:
    """ISO 8601 as PowerShell's ``.ToString('o')`` writes it (7 fraction digits, Z or none)."""
    if not isinstance(text, str) or not text.strip():
        return None
    try:
        return as_utc(dt.datetime.fromisoformat(text.strip()))
    except ValueError:
        return None


def days_since(now: dt.datetime, then: dt.datetime) -> float:
    return (as_utc(now) - as_utc(then)).total_seconds() / 86400


def describe_age(days: float) -> str:
    if days < 1:
        return "less than a day ago"
    whole = int(days)
    return f"{whole} day{'s' if whole != 1 else ''} ago"


_FILETIME_EPOCH = dt.datetime(1601, 1, 1, tzinfo=dt.UTC)


def parse_short_date(text: str, pattern: str | None = None) -> list[dt.date]:
    """Every date a short, possibly localized date string can mean ("23.11.2026", "3/4/2026").

    Win32_QuickFixEngineering.InstalledOn (what Get-HotFix reads) is a free-form string written
    by whoever installed the update: usually M/d/yyyy, sometimes in the machine's short date
    format, on old systems a hex FILETIME. ``pattern`` is the .NET ShortDatePattern of the
    machine's culture ("dd.MM.yyyy"); it decides the order only when its separator matches the
    string's. Otherwise both day/month orders are returned and the caller judges with both.
    """
    raw = text.strip().split(" ")[0] if text.strip() else ""
    if re.fullmatch(r"[0-9a-fA-F]{15,16}", raw) and not raw.isdigit():
        try:
            return [(_FILETIME_EPOCH + dt.timedelta(microseconds=int(raw, 16) // 10)).date()]
        except OverflowError:
            return []
    parts = re.findall(r"\d+", raw)
    if len(parts) != 3:
        return []
    a, b, c = (int(p) for p in parts)
    if len(parts[0]) == 4:
        orders = [(a, b, c)]  # year first: y-M-d is the only order in use
    else:
        year = c + 2000 if c < 100 else c
        separator = re.sub(r"[\d\s]", "", raw)[:1]
        order = _pattern_order(pattern) if pattern else None
        if order and pattern and separator and separator in pattern and order != "ymd":
            orders = [(year, a, b)] if order == "mdy" else [(year, b, a)]
        else:
            orders = [(year, a, b), (year, b, a)]
    found: list[dt.date] = []
    for year, month, day in orders:
        try:
            candidate = dt.date(year, month, day)
        except ValueError:
            continue
        if candidate not in found:
            found.append(candidate)
    return found


def _pattern_order(pattern: str) -> str | None:
    letters = [ch for ch in pattern if ch in "dMy"]
    order = "".join(dict.fromkeys(ch.lower() for ch in letters))
    return order if sorted(order) == ["d", "m", "y"] else None


# --- structured payloads ---------------------------------------------------------------------

def load_plist(content: str | None) -> Any:
    """A plist read as text (XML) or, for binary plists, as hex; None if it is neither."""
    if content is None:
        return None
    text = content.strip()
    data: bytes
    if re.fullmatch(r"(?:[0-9a-fA-F]{2})+", text):
        data = binascii.unhexlify(text)
    else:
        data = content.encode("utf-8")
    try:
        return plistlib.loads(data)
    except (plistlib.InvalidFileException, ExpatError, ValueError, TypeError, OverflowError,
            KeyError, IndexError, RecursionError):
        return None


def load_json(text: str) -> Any:
    """JSON from a tool's stdout (PowerShell may prefix a BOM); None if it is not JSON."""
    body = text.strip().lstrip("\ufeff").strip()
    if not body:
        return None
    try:
        return json.loads(body)
    except (ValueError, RecursionError):  # not JSON, a 4,301-digit number, nested too deep
        return None


def as_list(value: object) -> list[Any]:
    """A JSON array as PowerShell emits it: [..], a lone object, null, or 5.1's {value, Count}."""
    if value is None:
        return []
    if isinstance(value, list):
        return value
    if isinstance(value, dict) and isinstance(value.get("value"), list) and "Count" in value:
        return list(value["value"])
    return [value]


def powershell_error(payload: object) -> str | None:
    """The message our PowerShell wrapper prints when the script threw, else None."""
    if isinstance(payload, dict) and "error" in payload and "message" in payload:
        return str(payload.get("message") or payload.get("error"))
    return None


def looks_like_access_denied(text: str) -> bool:
    lowered = text.lower()
    return any(word in lowered for word in (
        "access is denied", "access denied", "accessdenied", "0x80041003", "0x80070005",
        "unauthorizedaccess", "requires elevation", "administrator",
    ))


def joined(items: Iterable[str], limit: int = 3) -> str:
    names = list(items)
    if len(names) <= limit:
        return ", ".join(names)
    return ", ".join(names[:limit]) + f" and {len(names) - limit} more"
