"""Reading access reviews: the campaign list with progress, one campaign with its items, and the
report (Auditors, Reviewers and Administrators)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..errors import AccessDenied
from . import enforce
from . import review_store as store
from .review_items import DRILL, REVOKE, WORKSTATION
from .review_store import OVERDUE, READERS, ReviewItem

if TYPE_CHECKING:
    from ..vault.session import VaultSession


@enforce.denials_audited
def list_campaigns(vault: VaultSession) -> list[dict[str, Any]]:
    """Every campaign with its progress and whether it is overdue."""
    with vault._read() as conn:
        _require_reader(vault, conn, "read access reviews")
        names = store.names(conn)
        counts = {int(r[0]): (int(r[1]), int(r[2])) for r in conn.execute(
            "SELECT campaign_id, count(decision), count(*) FROM review_items "
            "GROUP BY campaign_id").fetchall()}
        campaigns = [store.campaign_row(r)
                     for r in conn.execute(store.CAMPAIGNS + " ORDER BY id").fetchall()]
    now = vault.clock.now()
    return [{**c.to_json(names), "overdue": c.overdue(now),
             "progress": dict(zip(("decided", "total"), counts.get(c.id, (0, 0)), strict=True))}
            for c in campaigns]


@enforce.denials_audited
def show(vault: VaultSession, campaign_id: int) -> dict[str, Any]:
    """A campaign with its items (context, recommendation, decision), progress and overdue."""
    with vault._read() as conn:
        _require_reader(vault, conn, "read access reviews")
        return _view(vault, conn, campaign_id)[0]


@enforce.denials_audited
def report(vault: VaultSession, campaign_id: int) -> dict[str, Any]:
    """The campaign's report: Auditors and Reviewers (and Administrators) may read it."""
    with vault._read() as conn:
        _require_reader(vault, conn, "read access review reports")
        view, items = _view(vault, conn, campaign_id)
    return {**view, "generated": vault._now(),
            "overdue_items": [i["id"] for i in view["items"] if i["overdue"]],
            "remediation": remediation(items)}


def _view(vault: VaultSession, conn: Any, campaign_id: int
          ) -> tuple[dict[str, Any], list[ReviewItem]]:
    campaign = store.get_campaign(conn, campaign_id)
    items = store.items_of(conn, campaign.id)
    now = vault.clock.now()
    late = campaign.overdue(now)
    decided = sum(i.decision is not None for i in items)
    return {**campaign.to_json(store.names(conn)), "overdue": late,
            "progress": {"decided": decided, "total": len(items)},
            "items": [{**i.to_json(), "overdue": OVERDUE in i.flags or (
                late and i.decision is None)} for i in items]}, items


def _require_reader(vault: VaultSession, conn: Any, what: str) -> None:
    who = enforce.actor(vault, conn)
    if not who.permissions & READERS:
        raise AccessDenied(
            f"{who.operator.name} may not {what}: none of their roles "
            f"({', '.join(who.operator.roles) or 'none'}) gives "
            f"{' or '.join(sorted(READERS))}",
            target=what, details={"missing": "role:" + "|".join(sorted(READERS))})


def remediation(items: Sequence[ReviewItem]) -> list[dict[str, Any]]:
    """What revokes the workstation access and the shares decided revoke (never run here)."""
    return [{"item": i.id, "principal": i.subject.get("principal") or i.subject.get("custodian"),
             "source": i.subject.get("source") or f"share set {i.subject.get('set')}",
             "command": i.subject.get("remediation")}
            for i in items if i.kind in (WORKSTATION, DRILL) and i.decision == REVOKE]
