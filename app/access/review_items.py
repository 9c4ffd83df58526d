"""What an access review covers and what it recommends: the live grants in a campaign's scope,
each with its context and last use from the audit log, and this workstation's privileged access.

A grant's last use is the newest successful audit event by its operator (the audit ``actor`` is
the operator's name) that reads, copies, exports or updates a secret, or signs with a key, that
the grant's scope covers. Level and tag scopes are matched by the secrets at that level or with
that tag now, so a use of a secret since deleted is not seen. A grant unused for the campaign's
``unused_days`` (counted from its creation when never used) is recommended for revocation, as is
every grant of a suspended operator.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import UsageError
from ..model import Classification, has_hidden, iso, parse_iso
from . import grants, operators
from .grants import Grant
from .operators import SUSPENDED, Operator
from .workstation_parsers import PrivilegedAccess

GRANT, WORKSTATION, DRILL = "grant", "workstation", "drill"
KEEP, REVOKE = "keep", "revoke"
USE_ACTIONS = ("secret.read", "secret.reveal", "secret.copy", "secret.export", "secret.update",
               "keys.sign")
SCOPE_LISTS = ("levels", "tags", "keys", "tokens", "operators")
MAX_SCOPE_NAMES = 256
MANUAL = "review manually"


@dataclass(frozen=True)
class NewItem:
    """An item about to be stored: what is reviewed, and the recommendation with its reason."""

    kind: str
    grant_id: int | None
    subject: dict[str, Any]
    recommendation: str
    reason: str


@dataclass(frozen=True)
class _Use:
    ts: str
    action: str
    target: str
    details: dict[str, Any]


# ----- the scope --------------------------------------------------------------------------------


def check_scope(conn: Any, scope: Mapping[str, Any]) -> dict[str, Any]:
    """The scope in its stored form: ``{"all": true}`` and/or named lists, ``"workstation"``;
    UsageError for a malformed one, NotFound for an unknown operator."""
    if not isinstance(scope, Mapping) or not scope:
        raise UsageError("a review scope is 'all' or one or more of levels, tags, keys, tokens, "
                         "operators and workstation")
    out: dict[str, Any] = {}
    for key, value in scope.items():
        if key in ("all", "workstation", "drills"):
            if value is not True and value is not False:
                raise UsageError(f"the scope's {key!r} is true or false")
            if value:
                out[key] = True
        elif key in SCOPE_LISTS:
            out[key] = _names(conn, key, value)
        else:
            raise UsageError(f"unknown review scope {key!r}; use all, workstation, drills or "
                             f"{', '.join(SCOPE_LISTS)}")
    if out.get("all") and any(k in out for k in SCOPE_LISTS):
        raise UsageError("a review scope of all grants takes no levels, tags, keys, tokens or "
                         "operators besides")
    if not out:
        raise UsageError("the review scope selects nothing")
    return out


def _names(conn: Any, key: str, value: Any) -> list[str]:
    if isinstance(value, str) or not isinstance(value, Sequence) or not value or not all(
            isinstance(v, str) and v.strip() and not has_hidden(v) for v in value):
        raise UsageError(f"the scope's {key} is a list of visible names")
    if len(value) > MAX_SCOPE_NAMES:
        raise UsageError(f"the scope's {key} lists at most {MAX_SCOPE_NAMES} names")
    names = [v.strip() for v in value]
    if key == "levels":
        names = [Classification.parse(v).value for v in names]
    elif key == "operators":
        names = [operators.named(conn, v).name for v in names]
    return sorted(set(names))


class _Secrets:
    """Every secret's level and tags, read once: what level and tag scopes cover."""

    def __init__(self, conn: Any) -> None:
        rows = conn.execute("SELECT name, classification, tags FROM secrets").fetchall()
        self.by_name = {str(r[0]): (str(r[1]), tuple(json.loads(r[2]))) for r in rows}

    def covered(self, grant: Grant, name: str) -> bool:
        found = self.by_name.get(name)
        return found is not None and grants.covers_secret(grant, name, found[0], found[1])

    def levels_of(self, grant: Grant) -> set[str]:
        s = grant.scope
        if s.kind == "level":
            return {s.value}
        return {level for name, (level, tags) in self.by_name.items()
                if (s.kind == "secret" and s.value == name)
                or (s.kind == "tag" and s.value in tags)}


def in_scope(grant: Grant, operator: Operator, scope: Mapping[str, Any], secrets: _Secrets
             ) -> bool:
    """Whether the campaign reviews this grant: any selector of the scope matches it."""
    if scope.get("all"):
        return True
    s = grant.scope
    return bool(
        operator.name in scope.get("operators", ())
        or secrets.levels_of(grant) & set(scope.get("levels", ()))
        or (s.kind == "tag" and s.value in scope.get("tags", ()))
        or (s.kind == "secret" and set(secrets.by_name.get(s.value, ("", ()))[1])
            & set(scope.get("tags", ())))
        or (s.kind == "key" and (s.value == "*" or s.value in scope.get("keys", ()))
            and "keys" in scope)
        or (s.kind == "token" and s.value in scope.get("tokens", ())))


# ----- last use and the recommendation ----------------------------------------------------------


def _uses(conn: Any, names: Iterable[str]) -> dict[str, list[_Use]]:
    """Each named operator's successful uses, newest first (one pass over the log)."""
    wanted = {n.casefold() for n in names}
    out: dict[str, list[_Use]] = {}
    if not wanted:
        return out
    rows = conn.execute(
        "SELECT actor, ts, action, target, details FROM audit WHERE outcome = 'ok' AND action IN "
        "(?, ?, ?, ?, ?, ?) ORDER BY seq DESC", USE_ACTIONS).fetchall()
    for actor, ts, action, target, details in rows:
        if str(actor).casefold() in wanted:
            out.setdefault(str(actor).casefold(), []).append(
                _Use(str(ts), str(action), str(target), json.loads(details)))
    return out


def _covers_use(grant: Grant, use: _Use, secrets: _Secrets) -> bool:
    s = grant.scope
    if use.action == "keys.sign":
        d = use.details
        if s.kind == "key":
            return s.value == "*" or s.value in (d.get("key_id"), d.get("key_label"))
        return s.kind == "token" and s.value in (d.get("token_serial"), d.get("token"))
    return secrets.covered(grant, use.target)


def _recommend(grant: Grant, operator: Operator, last: _Use | None, now: dt.datetime,
               unused_days: int) -> tuple[str, str]:
    if operator.status == SUSPENDED:
        return REVOKE, f"{operator.name} is suspended."
    created = parse_iso(grant.created)
    age = (now - created).days
    if last is None:
        if age >= unused_days:
            return REVOKE, (f"Never used in the {age} days since it was given "
                            f"(limit {unused_days} days).")
        return KEEP, f"Not used yet, but given only {age} days ago (limit {unused_days} days)."
    idle = (now - max(parse_iso(last.ts), created)).days
    if idle >= unused_days:
        return REVOKE, (f"Unused for {idle} days since its last use on {last.ts[:10]} "
                        f"(limit {unused_days} days).")
    return KEEP, f"Last used {idle} days ago, on {last.ts[:10]} (limit {unused_days} days)."


def grant_items(conn: Any, scope: Mapping[str, Any], now: dt.datetime, unused_days: int
                ) -> list[NewItem]:
    """One item per live grant in ``scope``, with its context and recommendation."""
    stamp = iso(now)
    people = {o.id: o for o in operators.all_operators(conn)}
    secrets = _Secrets(conn)
    chosen = [g for g in grants.all_grants(conn)
              if g.live(stamp) and in_scope(g, people[g.operator_id], scope, secrets)]
    uses = _uses(conn, {people[g.operator_id].name for g in chosen})
    items = []
    for g in chosen:
        who = people[g.operator_id]
        last = next((u for u in uses.get(who.name.casefold(), ())
                     if _covers_use(g, u, secrets)), None)
        recommendation, reason = _recommend(g, who, last, now, unused_days)
        subject = {
            "operator": who.name, "operator_id": who.id, "operator_status": who.status,
            "scope": str(g.scope), "permission": g.permission, "grantor": g.grantor,
            "created": g.created, "expires": g.expires, "justification": g.justification,
            "age_days": (now - parse_iso(g.created)).days,
            "last_used": None if last is None else last.ts,
            "last_use": None if last is None else f"{last.action} {last.target}",
        }
        items.append(NewItem(GRANT, g.id, subject, recommendation, reason))
    return items


def workstation_item(access: PrivilegedAccess, *, listed: str) -> NewItem:
    """An item for one workstation access; Strongroom only lists its revoking command."""
    subject = {"kind": access.kind.value, "principal": access.principal,
               "source": access.source, "detail": access.detail, "item_id": access.item_id,
               "remediation": access.remediation, "listed": listed}
    return NewItem(WORKSTATION, None, subject, KEEP, MANUAL)


def drill_items(conn: Any, now: dt.datetime, live_slots: set[str]) -> list[NewItem]:
    """One item per custodian of each SLIP-39 share set whose keyslot still exists: do they
    still hold their share? A share not drilled within its set's period (or never) is
    recommended for re-issue; revoking one lists what to do (a new quorum ceremony), since a
    share cannot be taken back."""
    rows = conn.execute(
        "SELECT s.id, s.purpose, s.threshold, s.count, s.created, s.slot_id, s.drill_days, "
        "h.idx, h.custodian, h.last_drill FROM share_sets s JOIN share_holders h "
        "ON h.set_id = s.id ORDER BY s.created, h.idx").fetchall()
    items = []
    for set_id, purpose, m, n, created, slot, days, index, custodian, last in rows:
        if slot not in live_slots:  # its keyslot was removed: the shares open nothing
            continue
        due = parse_iso(last or created) + dt.timedelta(days=days)
        subject = {"set": set_id, "purpose": purpose, "threshold": m, "count": n,
                   "slot": slot, "index": index, "custodian": custodian, "last_drill": last,
                   "due": due.date().isoformat(),
                   "remediation": f"run the recovery quorum ceremony again without "
                                  f"{custodian}'s share, then remove keyslot {slot}"}
        late = now > due
        reason = (f"{custodian} last proved their share {'never' if last is None else last[:10]}"
                  f"; it was due by {due.date()}") if late else (
            f"{custodian} proved their share on {last[:10] if last else created[:10]}")
        items.append(NewItem(DRILL, None, subject, REVOKE if late else KEEP, reason))
    return items


def carried_item(subject: Mapping[str, Any]) -> NewItem:
    """A workstation item carried into a recurring campaign as it was listed."""
    return NewItem(WORKSTATION, None, dict(subject), KEEP, MANUAL)


def insert(conn: Any, campaign_id: int, items: Sequence[NewItem]) -> None:
    for item in items:
        conn.execute(
            "INSERT INTO review_items (campaign_id, kind, grant_id, subject, recommendation, "
            "reason, flags) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (campaign_id, item.kind, item.grant_id, json.dumps(item.subject, sort_keys=True),
             item.recommendation, item.reason, "[]"))
