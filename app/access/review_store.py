"""Review campaigns and their items as stored: the two facts, reading and writing their rows
(tables ``review_campaigns`` and ``review_items``), and the dates campaigns keep."""

from __future__ import annotations

import calendar
import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import NotFound, UsageError
from ..model import iso, parse_iso
from . import operators
from .roles import AUDIT_READ, REPORTS_READ, REVIEWS_DECIDE, REVIEWS_MANAGE

OPEN, CLOSED = "open", "closed"
OVERDUE = "overdue"  # an item's flag: undecided when the campaign closed past its due date
READERS = frozenset({AUDIT_READ, REPORTS_READ, REVIEWS_DECIDE, REVIEWS_MANAGE})

CAMPAIGNS = ("SELECT id, name, scope, reviewers, created, created_by, starts, due, recurrence, "
             "default_decision, justification_required, unused_days, status, closed, closed_by, "
             "outcome FROM review_campaigns")
ITEMS = ("SELECT id, campaign_id, kind, grant_id, subject, recommendation, reason, decision, "
         "decided_by, decided, justification, change, flags FROM review_items")


@dataclass(frozen=True)
class Campaign:
    id: int
    name: str
    scope: dict[str, Any]
    reviewers: tuple[str, ...]  # operator ids
    created: str
    created_by: str
    starts: str  # a timestamp, or YYYY-MM-DD
    due: str  # YYYY-MM-DD: decisions are due by the end of that day (UTC)
    recurrence: str | None
    default_decision: str
    justification_required: bool
    unused_days: int
    status: str
    closed: str | None = None
    closed_by: str | None = None
    outcome: dict[str, Any] | None = None

    def overdue(self, now: dt.datetime) -> bool:
        return self.status == OPEN and past(now, self.due)

    def to_json(self, names: Mapping[str, str]) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "scope": self.scope,
                "reviewers": [names.get(r, r) for r in self.reviewers],
                "created": self.created, "created_by": self.created_by, "starts": self.starts,
                "due": self.due, "recurrence": self.recurrence,
                "default_decision": self.default_decision,
                "justification_required": self.justification_required,
                "unused_days": self.unused_days, "status": self.status, "closed": self.closed,
                "closed_by": self.closed_by, "outcome": self.outcome}


@dataclass(frozen=True)
class ReviewItem:
    id: int
    campaign_id: int
    kind: str  # grant | workstation
    grant_id: int | None
    subject: dict[str, Any]
    recommendation: str
    reason: str
    decision: str | None = None
    decided_by: str | None = None
    decided: str | None = None
    justification: str | None = None
    change: dict[str, Any] | None = None  # requested before close; what changed after
    flags: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "campaign": self.campaign_id, "kind": self.kind,
                "grant": self.grant_id, "subject": self.subject,
                "recommendation": self.recommendation, "reason": self.reason,
                "decision": self.decision, "decided_by": self.decided_by,
                "decided": self.decided, "justification": self.justification,
                "change": self.change, "flags": list(self.flags)}


def names(conn: Any) -> dict[str, str]:
    return {o.id: o.name for o in operators.all_operators(conn)}


def campaign_row(r: Sequence[Any]) -> Campaign:
    return Campaign(int(r[0]), r[1], json.loads(r[2]), tuple(json.loads(r[3])), r[4], r[5], r[6],
                    r[7], r[8], r[9], bool(r[10]), int(r[11]), r[12], r[13], r[14],
                    None if r[15] is None else json.loads(r[15]))


def item_row(r: Sequence[Any]) -> ReviewItem:
    return ReviewItem(int(r[0]), int(r[1]), r[2], r[3], json.loads(r[4]), r[5], r[6], r[7], r[8],
                      r[9], r[10], None if r[11] is None else json.loads(r[11]),
                      tuple(json.loads(r[12])))


def get_campaign(conn: Any, campaign_id: int) -> Campaign:
    row = conn.execute(CAMPAIGNS + " WHERE id = ?", (campaign_id,)).fetchone()
    if row is None:
        raise NotFound(f"no review campaign {campaign_id}")
    return campaign_row(row)


def items_of(conn: Any, campaign_id: int) -> list[ReviewItem]:
    rows = conn.execute(ITEMS + " WHERE campaign_id = ? ORDER BY id", (campaign_id,)).fetchall()
    return [item_row(r) for r in rows]


def get_item(conn: Any, campaign_id: int, item_id: int) -> ReviewItem:
    row = conn.execute(ITEMS + " WHERE id = ? AND campaign_id = ?",
                       (item_id, campaign_id)).fetchone()
    if row is None:
        raise NotFound(f"campaign {campaign_id} has no item {item_id}")
    return item_row(row)


def insert_campaign(conn: Any, c: Campaign) -> int:
    cursor = conn.execute(
        "INSERT INTO review_campaigns (name, scope, reviewers, created, created_by, starts, due, "
        "recurrence, default_decision, justification_required, unused_days, status) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (c.name, json.dumps(c.scope, sort_keys=True), json.dumps(list(c.reviewers)), c.created,
         c.created_by, c.starts, c.due, c.recurrence, c.default_decision,
         int(c.justification_required), c.unused_days, c.status))
    return int(cursor.lastrowid)


def close_campaign(conn: Any, campaign_id: int, *, now: str, by: str,
                   outcome: Mapping[str, Any]) -> None:
    conn.execute("UPDATE review_campaigns SET status = ?, closed = ?, closed_by = ?, "
                 "outcome = ? WHERE id = ?",
                 (CLOSED, now, by, json.dumps(outcome, sort_keys=True), campaign_id))


def save_item(conn: Any, item: ReviewItem) -> None:
    conn.execute(
        "UPDATE review_items SET decision = ?, decided_by = ?, decided = ?, justification = ?, "
        "change = ?, flags = ? WHERE id = ?",
        (item.decision, item.decided_by, item.decided, item.justification,
         None if item.change is None else json.dumps(item.change, sort_keys=True),
         json.dumps(list(item.flags)), item.id))


def past(now: dt.datetime, day: str) -> bool:
    """Whether the day ``day`` (YYYY-MM-DD) is over at ``now`` (UTC)."""
    return now.astimezone(dt.UTC).date() > dt.date.fromisoformat(day)


def parse_day(value: dt.date | str, what: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).date()
    if isinstance(value, dt.date):
        return value
    text = value.strip() if isinstance(value, str) else ""
    try:
        return (dt.date.fromisoformat(text) if len(text) == 10
                else parse_iso(text).astimezone(dt.UTC).date())
    except ValueError:
        raise UsageError(f"invalid {what} {value!r}: use YYYY-MM-DD") from None


def parse_expiry(value: dt.date | str) -> str:
    """A grant expiry: a timestamp as given, or the end of the given day (UTC)."""
    if isinstance(value, dt.datetime) or (isinstance(value, str) and len(value.strip()) > 10):
        try:
            moment = value if isinstance(value, dt.datetime) else parse_iso(value.strip())
        except ValueError:
            raise UsageError(f"invalid expiry {value!r}: use YYYY-MM-DD") from None
        return iso(moment)
    return iso(dt.datetime.combine(parse_day(value, "expiry date"), dt.time.max, dt.UTC))


def add_months(day: dt.date, months: int) -> dt.date:
    """``day`` moved by whole months, to the month's last day where it is shorter."""
    years, month = divmod(day.month - 1 + months, 12)
    year = day.year + years
    return day.replace(year=year, month=month + 1,
                       day=min(day.day, calendar.monthrange(year, month + 1)[1]))
