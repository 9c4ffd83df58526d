"""Audit events as OCSF 1.3.0 events, one compact JSON object per line.

Every event becomes one of three classes (docs/audit-forwarding.md has the table):
Authentication (3002) for unlocks, locks and keyslots; Account Change (3001) for operators,
grants, roles and passphrases; API Activity (6003) for everything else. The Strongroom fields,
seq and chain hash included, are kept whole under ``unmapped``, so the chain can still be checked
from an OCSF export (verify.py's rules, with ``prev`` the hash of the event before).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

from ..audit import AuditEvent
from ..audit_export import _atomic_text
from ..model import parse_iso

OCSF_VERSION = "1.3.0"
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
PRODUCT = {"name": "Strongroom", "vendor_name": "Strongroom"}

AUTHENTICATION, ACCOUNT_CHANGE, API_ACTIVITY = 3002, 3001, 6003
CLASSES: dict[int, tuple[str, int, str]] = {  # class_uid: (class_name, category_uid, category)
    AUTHENTICATION: ("Authentication", 3, "Identity & Access Management"),
    ACCOUNT_CHANGE: ("Account Change", 3, "Identity & Access Management"),
    API_ACTIVITY: ("API Activity", 6, "Application Activity"),
}
# Exact actions first, then the first matching prefix; the activity ids are OCSF's own.
EXACT: dict[str, tuple[int, int, str]] = {
    "vault.unlock": (AUTHENTICATION, 1, "Logon"),
    "unlock.recovery": (AUTHENTICATION, 1, "Logon"),
    "vault.lock": (AUTHENTICATION, 2, "Logoff"),
    "operator.add": (ACCOUNT_CHANGE, 1, "Create"),
    "operator.adopt": (ACCOUNT_CHANGE, 1, "Create"),
    "operator.remove": (ACCOUNT_CHANGE, 6, "Delete"),
    "passphrase.change": (ACCOUNT_CHANGE, 3, "Password Change"),
    "grant.add": (ACCOUNT_CHANGE, 7, "Attach Policy"),
    "grant.revoke": (ACCOUNT_CHANGE, 8, "Detach Policy"),
    "grant.expire": (ACCOUNT_CHANGE, 8, "Detach Policy"),
}
PREFIXES: tuple[tuple[str, int], ...] = (
    ("vault.unlock", AUTHENTICATION), ("vault.lock", AUTHENTICATION), ("unlock.", AUTHENTICATION),
    ("keyslot.", AUTHENTICATION), ("operator.", ACCOUNT_CHANGE), ("grant.", ACCOUNT_CHANGE),
    ("role.", ACCOUNT_CHANGE), ("roles.", ACCOUNT_CHANGE),
)
# API Activity by the action's last word: Create 1, Read 2, Update 3, Delete 4.
API_VERBS: dict[str, tuple[int, str]] = {
    **{w: (1, "Create") for w in ("create", "add", "store", "import", "begin", "start")},
    **{w: (2, "Read") for w in ("read", "reveal", "copy", "export", "file", "totp", "get",
                                 "show", "verify", "check", "drill", "test")},
    **{w: (3, "Update") for w in ("update", "write", "change", "rekey", "rotate", "set",
                                   "decide", "accept", "enable", "disable", "restore", "close",
                                   "sign", "forward", "checkpoint", "migrate")},
    **{w: (4, "Delete") for w in ("delete", "remove", "expire")},
}
SEVERITY = {"ok": (1, "Informational"), "failed": (2, "Low"), "denied": (3, "Medium")}
STATUS = {"ok": (1, "Success"), "failed": (2, "Failure"), "denied": (2, "Failure")}


def classify(action: str) -> tuple[int, int, str]:
    """(class_uid, activity_id, activity_name) for an action."""
    if action in EXACT:
        return EXACT[action]
    for prefix, class_uid in PREFIXES:
        if action.startswith(prefix):
            return class_uid, 99, "Other"
    activity, name = API_VERBS.get(action.rsplit(".", 1)[-1].split("-")[-1], (99, "Other"))
    return API_ACTIVITY, activity, name


def epoch_ms(ts: str) -> int:
    """Milliseconds since the epoch, exactly (no float); 0 for a time that does not parse."""
    try:
        moment = parse_iso(ts)
    except ValueError:
        return 0
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return (moment - _EPOCH) // dt.timedelta(milliseconds=1)


def ocsf_event(event: AuditEvent) -> dict[str, Any]:
    """One audit event as an OCSF event of its class."""
    class_uid, activity_id, activity_name = classify(event.action)
    class_name, category_uid, category_name = CLASSES[class_uid]
    severity_id, severity = SEVERITY.get(event.outcome, (0, "Unknown"))
    status_id, status = STATUS.get(event.outcome, (0, "Unknown"))
    out: dict[str, Any] = {
        "class_uid": class_uid, "class_name": class_name,
        "category_uid": category_uid, "category_name": category_name,
        "activity_id": activity_id, "activity_name": activity_name,
        "type_uid": class_uid * 100 + activity_id,
        "type_name": f"{class_name}: {activity_name}",
        "severity_id": severity_id, "severity": severity,
        "status_id": status_id, "status": status,
        "time": epoch_ms(event.ts),
        "message": f"{event.action} {event.target} ({event.outcome})",
        "actor": {"user": {"name": event.actor}},
        "metadata": {"product": dict(PRODUCT), "version": OCSF_VERSION,
                     "uid": event.hash.hex(), "sequence": event.seq},
        "unmapped": {"seq": event.seq, "ts": event.ts, "actor": event.actor,
                     "action": event.action,
                     "target": event.target, "outcome": event.outcome,
                     "details": event.details, "hash": event.hash.hex()},
    }
    if event.outcome == "denied":
        out["status_detail"] = "denied"
    if class_uid == AUTHENTICATION:
        out["user"] = {"name": event.actor}
        out["service"] = {"name": "Strongroom"}
    elif class_uid == ACCOUNT_CHANGE:
        out["user"] = {"name": event.target}
    else:
        out["api"] = {"operation": event.action, "service": {"name": "Strongroom"}}
        out["resources"] = [{"name": event.target}]
    return out


def ocsf_line(event: AuditEvent) -> str:
    return json.dumps(ocsf_event(event), ensure_ascii=False, separators=(",", ":")) + "\n"


def export_ocsf(events: Iterable[AuditEvent], path: Path) -> int:
    """Write ``events`` to ``path`` as OCSF JSON lines, atomically; returns how many."""

    def write(out: IO[str]) -> int:
        count = 0
        for event in events:
            out.write(ocsf_line(event))
            count += 1
        return count

    return _atomic_text(Path(path), write)


__all__ = ["OCSF_VERSION", "classify", "export_ocsf", "ocsf_event", "ocsf_line"]
