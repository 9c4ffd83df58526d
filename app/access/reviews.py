"""Access reviews: campaigns in which reviewers decide, item by item, whether operators keep their
grants (and this workstation's privileged access); closing a campaign applies the decisions.

A campaign lists its items when it is created: each live grant in its scope, with context and a
recommendation (review_items.py). Reviewers record keep, revoke, reduce or extend until the
campaign closes, and nothing changes before; nobody decides about their own grant. Closing gives
undecided items the campaign's default and then, in one transaction, revokes, reduces or extends
the grants, drops the level keys their operators no longer need and rotates those levels
(access_changes.after_change), and starts the next campaign of a recurring one. Strongroom never
changes workstation access: the report lists the commands that revoke it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ..errors import AccessDenied, Refused, UsageError
from ..model import has_hidden, iso
from . import (
    access_changes,
    approvals,
    enforce,
    grants,
    operators,
    policy,
    review_items,
    workstation,
)
from . import review_store as store
from .operators import Operator
from .review_items import DRILL, GRANT, KEEP, REVOKE, WORKSTATION, NewItem
from .review_store import OPEN, OVERDUE, READERS, Campaign, ReviewItem
from .review_views import list_campaigns, remediation, report, show
from .roles import REVIEWS_DECIDE, REVIEWS_MANAGE
from .workstation_parsers import PrivilegedAccess

if TYPE_CHECKING:
    from ..vault.session import VaultSession

REDUCE, EXTEND = "reduce", "extend"
DECISIONS = (KEEP, REVOKE, REDUCE, EXTEND)
RECOMMENDATION = "recommendation"
DEFAULTS = (KEEP, REVOKE, RECOMMENDATION)
RECURRENCES = {"monthly": 1, "quarterly": 3, "yearly": 12}
DEFAULT_DECIDER = "default"  # decided_by of an item given the campaign's default at close
REVIEWER_IS_GRANTOR, ALREADY_REVOKED = "reviewer-is-grantor", "already-revoked"
NOT_APPLIED = "not-applied"
__all__ = ["OVERDUE", "READERS", "close", "create_campaign", "decide", "list_campaigns",
           "remediation", "report", "show"]
MAX_NAME_CHARS = 128

# ----- creating a campaign ------------------------------------------------------------------------


@enforce.denials_audited
def create_campaign(vault: VaultSession, name: str, *, scope: Mapping[str, Any],
                    reviewers: Sequence[str], due: dt.date | str,
                    starts: dt.date | str | None = None, recurrence: str | None = None,
                    default_decision: str = RECOMMENDATION, justification_required: bool = True,
                    unused_days: int | None = None,
                    workstation_items: Sequence[PrivilegedAccess] | None = None) -> Campaign:
    """A new open campaign with its items listed now; needs reviews.manage. With
    ``workstation: true`` in the scope and no ``workstation_items``, this workstation's
    privileged access is collected (workstation.collect)."""
    name = name.strip() if isinstance(name, str) else ""
    if not name or len(name) > MAX_NAME_CHARS or has_hidden(name):
        raise UsageError(f"a campaign name is 1 to {MAX_NAME_CHARS} visible characters")
    if recurrence is not None and recurrence not in RECURRENCES:
        raise UsageError(f"unknown recurrence {recurrence!r}; use {', '.join(RECURRENCES)}")
    if default_decision not in DEFAULTS:
        raise UsageError(f"unknown default decision {default_decision!r}; use "
                         f"{', '.join(DEFAULTS)}")
    if unused_days is not None and (type(unused_days) is not int
                                    or not 1 <= unused_days <= 3650):
        raise UsageError("unused days is a whole number from 1 to 3650")
    now = vault.clock.now()
    start = iso(now) if starts is None else store.parse_day(starts, "start date").isoformat()
    due_day = store.parse_day(due, "due date")
    if due_day < dt.date.fromisoformat(start[:10]):
        raise UsageError(f"the due date {due_day} is before the start {start[:10]}")
    wants_workstation = isinstance(scope, Mapping) and scope.get("workstation") is True
    if workstation_items is not None and not wants_workstation:
        raise UsageError("workstation items need 'workstation' in the campaign's scope")
    if wants_workstation and workstation_items is None:
        with vault._read() as conn:  # refused before anything on this machine is listed
            enforce.require_role(vault, conn, REVIEWS_MANAGE, "create access reviews")
        workstation_items = workstation.collect()
    with vault._write() as conn:
        who = enforce.require_role(vault, conn, REVIEWS_MANAGE, "create access reviews")
        checked = review_items.check_scope(conn, scope)
        people = _reviewers(conn, reviewers)
        days = policy.load(conn).unused_days if unused_days is None else unused_days
        items = review_items.grant_items(conn, checked, now, days)
        items += [review_items.workstation_item(a, listed=iso(now))
                  for a in workstation_items or ()]
        if checked.get("drills"):
            items += review_items.drill_items(conn, now, {s.id for s in vault.header.slots})
        campaign = Campaign(0, name, checked, tuple(o.id for o in people), iso(now),
                            who.operator.name, start, due_day.isoformat(), recurrence,
                            default_decision, bool(justification_required), days, OPEN)
        return _insert(vault, conn, campaign, items, {})


def _reviewers(conn: Any, names: Sequence[str]) -> list[Operator]:
    if isinstance(names, str) or not names:
        raise UsageError("a review campaign needs at least one reviewer")
    out: list[Operator] = []
    for name in names:
        person = operators.named(conn, name)
        if not person.active:
            raise Refused(f"{person.name} is {person.status} and cannot review")
        if REVIEWS_DECIDE not in operators.permissions_of(conn, person):
            raise Refused(f"{person.name} cannot review: none of their roles "
                          f"({', '.join(person.roles) or 'none'}) gives {REVIEWS_DECIDE}")
        if person not in out:
            out.append(person)
    return out


def _insert(vault: VaultSession, conn: Any, c: Campaign, items: Sequence[NewItem],
            extra: dict[str, Any]) -> Campaign:
    c = replace(c, id=store.insert_campaign(conn, c))
    review_items.insert(conn, c.id, items)
    names = store.names(conn)
    vault._event("review.create", f"review:{c.id}", details={
        "campaign": c.id, "name": c.name, "scope": c.scope, "starts": c.starts, "due": c.due,
        "reviewers": [names.get(r, r) for r in c.reviewers], "recurrence": c.recurrence,
        "default": c.default_decision, "items": sum(i.kind == GRANT for i in items),
        "workstation_items": sum(i.kind == WORKSTATION for i in items), **extra})
    return c


# ----- deciding -----------------------------------------------------------------------------------


@enforce.denials_audited
def decide(vault: VaultSession, campaign_id: int, item_id: int, decision: str, *,
           justification: str | None = None, permission: str | None = None,
           expires: dt.date | str | None = None) -> ReviewItem:
    """Record a campaign reviewer's decision on one item (changeable until the campaign closes;
    applied only then). ``reduce`` takes a narrower ``permission``, ``extend`` a later
    ``expires``."""
    decision = decision.strip().lower()
    if decision not in DECISIONS:
        raise UsageError(f"unknown decision {decision!r}; use {', '.join(DECISIONS)}")
    with vault._write() as conn:
        who = enforce.require_role(vault, conn, REVIEWS_DECIDE, "decide access reviews")
        campaign = store.get_campaign(conn, campaign_id)
        target = f"review:{campaign.id}"
        if who.operator.id not in campaign.reviewers:
            raise AccessDenied(f"{who.operator.name} is not a reviewer of campaign "
                               f"{campaign.id} ({campaign.name})", target=target,
                               details={"missing": f"reviewer of campaign {campaign.id}"})
        if campaign.status != OPEN:
            raise Refused(f"campaign {campaign.id} was closed on {(campaign.closed or '')[:10]}; "
                          "its decisions are final")
        item = store.get_item(conn, campaign.id, item_id)
        if item.kind == GRANT and item.subject.get("operator_id") == who.operator.id:
            raise AccessDenied(f"{who.operator.name} may not review their own grant (item "
                               f"{item.id}); another reviewer must decide it", target=target,
                               details={"missing": "another reviewer", "item": item.id,
                                        "rule": "no self-review"})
        requested = _requested(vault, conn, item, decision, permission, expires)
        text = _justification(campaign, justification)
        flags = [f for f in item.flags if f != REVIEWER_IS_GRANTOR]
        if item.kind == GRANT and str(item.subject.get("grantor", "")).casefold() == \
                who.operator.name.casefold():
            flags.append(REVIEWER_IS_GRANTOR)
        done = replace(item, decision=decision, decided_by=who.operator.name,
                       decided=vault._now(), justification=text,
                       change=None if requested is None else {"requested": requested},
                       flags=tuple(flags))
        store.save_item(conn, done)
        vault._event("review.decide", target, details={
            "campaign": campaign.id, "item": item.id, "grant": item.grant_id,
            "about": item.subject.get("operator") or item.subject.get("principal"),
            "decision": decision, "previous": item.decision, **(requested or {}),
            "justification": text, "flags": flags})
        return done


def _requested(vault: VaultSession, conn: Any, item: ReviewItem, decision: str,
               permission: str | None, expires: dt.date | str | None) -> dict[str, Any] | None:
    if item.kind in (WORKSTATION, DRILL) and decision in (REDUCE, EXTEND):
        raise UsageError(f"{item.kind} items are kept or revoked; Strongroom does not change "
                         "them itself")
    grant = None if item.grant_id is None else grants.get(conn, item.grant_id)
    if decision == REDUCE:
        if permission is None or expires is not None:
            raise UsageError("reduce takes the narrower permission and no expiry")
        perm = grants.permission(permission)
        current = grant.permission if grant else str(item.subject.get("permission"))
        if grants.rank(perm) >= grants.rank(current):
            raise UsageError(f"reduce to a narrower permission than {current}")
        return {"permission": perm}
    if decision == EXTEND:
        if expires is None or permission is not None:
            raise UsageError("extend takes the new expiry date and no permission")
        new = store.parse_expiry(expires)
        until = grant.expires if grant else item.subject.get("expires")
        if until is None:
            raise UsageError("the grant does not expire, so there is nothing to extend")
        if new <= max(str(until), vault._now()):
            raise UsageError(f"extend to a date after the grant's expiry {str(until)[:10]} "
                             "and after today")
        return {"expires": new}
    if permission is not None or expires is not None:
        raise UsageError(f"{decision} takes no permission or expiry")
    return None


def _justification(campaign: Campaign, text: str | None) -> str | None:
    if text is None or not text.strip():
        if campaign.justification_required:
            raise UsageError(f"campaign {campaign.id} needs a justification for each decision")
        return None
    return grants.check_justification(text)


# ----- closing ------------------------------------------------------------------------------------


@enforce.denials_audited
def close(vault: VaultSession, campaign_id: int, *, approval: approvals.Approval | None = None
          ) -> dict[str, Any]:
    """Close a campaign and apply its decisions in one transaction; returns the outcome.
    Decisions that extend a grant widen access, so a campaign holding one closes under the
    two-person rule for access changes (``approval``); revocations and reductions do not."""
    with vault._write() as conn:
        enforce.require_role(vault, conn, REVIEWS_MANAGE, "close access reviews")
        campaign = store.get_campaign(conn, campaign_id)
        if campaign.status != OPEN:
            raise Refused(f"campaign {campaign.id} was already closed on "
                          f"{(campaign.closed or '')[:10]}")
        extends = any(i.decision == "extend" for i in store.items_of(conn, campaign.id))
        approved = approvals.check(vault, conn, "access.change", f"review:{campaign.id}",
                                   approval, critical=extends and policy.load(conn).critical(
                                       "access.change"))
        moment = vault.clock.now()
        now, late = iso(moment), store.past(moment, campaign.due)
        items: list[ReviewItem] = []
        follow: dict[str, list[int]] = {}  # operator id -> indexes of their changed items
        for item in store.items_of(conn, campaign.id):
            if item.decision is None:
                item = replace(item, decision=item.recommendation if campaign.default_decision
                               == RECOMMENDATION else campaign.default_decision,
                               decided_by=DEFAULT_DECIDER, decided=now,
                               flags=(*item.flags, OVERDUE) if late else item.flags)
            item, affected = _apply(vault, conn, campaign, item, now)
            if affected is not None:
                follow.setdefault(affected, []).append(len(items))
            items.append(item)
        keys: dict[str, Any] = {}
        for operator_id, indexes in follow.items():
            person = operators.get(conn, operator_id)
            keys[person.name] = access_changes.after_change(vault, conn, person)
            for i in indexes:
                items[i] = replace(items[i], change={**(items[i].change or {}),
                                                     "keys": keys[person.name]})
        for item in items:
            store.save_item(conn, item)
        outcome = _outcome(items, keys)
        nxt = _next(vault, conn, campaign, items, moment) if campaign.recurrence else None
        outcome["next_campaign"] = None if nxt is None else nxt.id
        store.close_campaign(conn, campaign.id, now=now, by=vault.actor, outcome=outcome)
        vault._event("review.close", f"review:{campaign.id}", details={
            "campaign": campaign.id, "name": campaign.name, "past_due": late, **approved,
            **{k: v for k, v in outcome.items() if k != "remediation"},
            "remediation": len(outcome["remediation"])})
        return outcome


def _apply(vault: VaultSession, conn: Any, campaign: Campaign, item: ReviewItem, now: str
           ) -> tuple[ReviewItem, str | None]:
    """Carry out one decided item; returns it with what changed, and whose keys must follow."""
    if item.kind in (WORKSTATION, DRILL):
        if item.decision != REVOKE:
            return item, None
        return replace(item, change={"applied": False,
                                     "remediation": item.subject.get("remediation")}), None
    requested = (item.change or {}).get("requested") or {}
    base: dict[str, Any] = {"requested": requested} if requested else {}
    grant = None if item.grant_id is None else grants.get(conn, item.grant_id)
    if grant is None or grant.revoked is not None:
        when = "" if grant is None else f" on {(grant.revoked or '')[:10]} by {grant.revoked_by}"
        return replace(item, change={**base, "applied": False,
                                     "note": f"the grant was already revoked{when}"},
                       flags=(*item.flags, ALREADY_REVOKED)), None
    if item.decision == KEEP:
        return item, None
    reason = f"access review {campaign.name}"
    target = f"{item.subject.get('operator')}:{grant.scope}"
    about = {"grant": grant.id, "reason": reason, "review": campaign.id, "item": item.id}
    if item.decision == REVOKE:
        grants.mark_revoked(conn, grant.id, by=vault.actor, now=now, reason=reason)
        vault._event("grant.revoke", target, details=about)
        return replace(item, change={**base, "applied": True, "revoked": now}), grant.operator_id
    if item.decision == REDUCE:
        to = str(requested["permission"])
        if grants.rank(to) >= grants.rank(grant.permission):
            note = f"the grant was already {grant.permission} at close"
            return replace(item, change={**base, "applied": False, "note": note},
                           flags=(*item.flags, NOT_APPLIED)), None
        grants.set_permission(conn, grant.id, to)
        change = {"permission": {"from": grant.permission, "to": to}}
        vault._event("grant.change", target, details={**about, **change})
        return replace(item, change={**base, "applied": True, **change}), grant.operator_id
    new = str(requested["expires"])
    if new <= now or (grant.expires is not None and new <= grant.expires):
        return replace(item, change={**base, "applied": False,
                                     "note": f"the expiry {new[:10]} was no extension at close"},
                       flags=(*item.flags, NOT_APPLIED)), None
    grants.set_expiry(conn, grant.id, new)
    extended = {"expires": {"from": grant.expires, "to": new}}
    vault._event("grant.change", target, details={**about, **extended})
    return replace(item, change={**base, "applied": True, **extended}), None


def _outcome(items: Sequence[ReviewItem], keys: Mapping[str, Any]) -> dict[str, Any]:
    def union(field: str) -> list[str]:
        return sorted({level for k in keys.values() for level in k[field]})

    return {
        "items": len(items),
        "decisions": {d: sum(i.decision == d for i in items) for d in DECISIONS},
        "defaulted": sum(i.decided_by == DEFAULT_DECIDER for i in items),
        "overdue": sum(OVERDUE in i.flags for i in items),
        "applied": sum(bool(i.change and i.change.get("applied")) for i in items),
        "already_revoked": sum(ALREADY_REVOKED in i.flags for i in items),
        "not_applied": sum(NOT_APPLIED in i.flags for i in items),
        "levels_rotated": union("levels_rotated"),
        "rotation_pending": union("rotation_pending"),
        "remediation": remediation(items),
    }


def _next(vault: VaultSession, conn: Any, old: Campaign, items: Sequence[ReviewItem],
          moment: dt.datetime) -> Campaign:
    """The recurring campaign's next round: from the old due date, due one period later."""
    start = dt.date.fromisoformat(old.due)
    due = store.add_months(start, RECURRENCES[old.recurrence or ""])
    fresh = review_items.grant_items(conn, old.scope, moment, old.unused_days)
    fresh += [review_items.carried_item(i.subject) for i in items if i.kind == WORKSTATION]
    new = replace(old, id=0, created=iso(moment), created_by=vault.actor,
                  starts=start.isoformat(), due=due.isoformat(), status=OPEN, closed=None,
                  closed_by=None, outcome=None)
    return _insert(vault, conn, new, fresh, {"follows": old.id})
