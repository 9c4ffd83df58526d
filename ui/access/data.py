"""What the Access Reviews section shows, read from the vault in one task on the worker thread:
operators, their unlock methods and factor warnings, grants, the who-can-access-what matrices,
the two-person policy and recent approvals, and the review campaigns. No Qt here.

Parts that the acting operator's roles do not open (the audit log, the campaigns) come back as
a note saying why, not as an error for the whole section.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from strongroom.app.access import (
    access_changes,
    enforce,
    operator_admin,
    operators,
    policy,
    reviews,
)
from strongroom.app.access.grants import PERMISSIONS, Grant, covers_secret, rank
from strongroom.app.access.operator_admin import FactorWarning
from strongroom.app.access.operators import REMOVED, Operator
from strongroom.app.access.review_store import parse_expiry
from strongroom.app.access.roles import AUDIT_READ
from strongroom.app.audit import AuditEvent
from strongroom.app.model import SecretInfo
from strongroom.app.vault import Vault

MATRIX_SECRETS = 2000  # rows of the per-secret matrix; a note says when there are more
AUDIT_SCAN = 5000  # recent audit events searched for approvals
KEY_KINDS = ("key", "token")


@dataclass(frozen=True)
class ApprovalSeen:
    """One approval found in the audit log: who approved what, for whom, when."""

    ts: str
    action: str
    target: str
    actor: str
    approver: str
    method: str
    outcome: str


@dataclass(frozen=True)
class Matrix:
    """Rows by columns of the strongest permission, with the grant scope that gives it."""

    rows: list[str]
    columns: list[str]
    cells: dict[tuple[str, str], tuple[str, str]]  # (row, column) -> (permission, via scope)
    note: str = ""

    def cell(self, row: str, column: str) -> str:
        found = self.cells.get((row, column))
        return "" if found is None else f"{found[0]} ({found[1]})"


@dataclass(frozen=True)
class Snapshot:
    me: str
    permissions: frozenset[str]
    operators: list[Operator]
    methods: dict[str, int]  # operator id -> their unlock methods
    warnings: list[FactorWarning]
    grants: list[tuple[Grant, str]]  # revoked included; the table hides them unless asked
    roles: list[str]
    tags: list[str]
    secret_names: list[str]
    now: str
    secrets_matrix: Matrix
    keys_matrix: Matrix
    policy: policy.Policy
    approvals: list[ApprovalSeen] = field(default_factory=list)
    approvals_note: str = ""
    campaigns: list[dict[str, Any]] = field(default_factory=list)
    campaigns_note: str = ""

    def may(self, permission: str) -> bool:
        return permission in self.permissions

    def operator_names(self, *, active_only: bool = False) -> list[str]:
        return [o.name for o in self.operators if o.status != REMOVED
                and (o.active or not active_only)]


def load(vault: Vault) -> Snapshot:
    """Everything the section shows (runs on the worker thread)."""
    with vault._read() as conn:
        me = enforce.actor(vault, conn)
        rule = policy.load(conn)
        roles = operators.role_names(conn)
        tags = [str(r[0]) for r in conn.execute(
            "SELECT DISTINCT tag FROM secret_tags ORDER BY tag").fetchall()]
    people = operator_admin.list_operators(vault)
    methods = {o.id: sum(s.operator == o.id for s in vault.header.slots) for o in people}
    warnings = operator_admin.factor_warnings(vault)
    rows = access_changes.list_grants(vault, include_revoked=True)
    now = vault._now()
    secrets = vault.list_secrets(limit=MATRIX_SECRETS + 1)
    live = [(g, name) for g, name in rows if g.live(now)]
    columns = [o.name for o in people if o.status != REMOVED]
    approvals, approvals_note = _approvals(vault, me.permissions)
    campaigns, campaigns_note = _campaigns(vault, me.permissions)
    return Snapshot(
        me=me.operator.name or vault.actor, permissions=me.permissions, operators=people,
        methods=methods, warnings=warnings, grants=rows, roles=roles, tags=tags,
        secret_names=[s.name for s in secrets[:MATRIX_SECRETS]], now=now,
        secrets_matrix=secrets_matrix(secrets, live, columns),
        keys_matrix=keys_matrix(live, columns), policy=rule, approvals=approvals,
        approvals_note=approvals_note, campaigns=campaigns, campaigns_note=campaigns_note)


# ----- the matrices ----------------------------------------------------------------------------


def _stronger(old: tuple[str, str] | None, grant: Grant) -> tuple[str, str]:
    if old is None or rank(grant.permission) > rank(old[0]):
        return grant.permission, str(grant.scope)
    return old


def secrets_matrix(secrets: Sequence[SecretInfo], grants: Iterable[tuple[Grant, str]],
                   columns: Sequence[str]) -> Matrix:
    """Per secret and operator: the strongest permission a secret, tag or level grant gives."""
    shown = list(secrets[:MATRIX_SECRETS])
    grants = list(grants)
    cells: dict[tuple[str, str], tuple[str, str]] = {}
    for info in shown:
        level = info.classification.value
        for grant, name in grants:
            if covers_secret(grant, info.name, level, info.tags):
                cells[(info.name, name)] = _stronger(cells.get((info.name, name)), grant)
    note = (f"Showing the first {MATRIX_SECRETS} secrets you may list, by name."
            if len(secrets) > MATRIX_SECRETS else "")
    return Matrix([i.name for i in shown], list(columns), cells, note)


def keys_matrix(grants: Iterable[tuple[Grant, str]], columns: Sequence[str]) -> Matrix:
    """Per key or token scope that appears in a grant, and operator: the strongest permission
    (``key:*`` counts for every key row)."""
    grants = [(g, n) for g, n in grants if g.scope.kind in KEY_KINDS]
    rows = sorted({str(g.scope) for g, _ in grants})
    cells: dict[tuple[str, str], tuple[str, str]] = {}
    for row in rows:
        for grant, name in grants:
            scope = str(grant.scope)
            if scope == row or (scope == "key:*" and row.startswith("key:")):
                cells[(row, name)] = _stronger(cells.get((row, name)), grant)
    return Matrix(rows, list(columns), cells)


# ----- approvals and campaigns -----------------------------------------------------------------


def approvals_in(events: Iterable[AuditEvent]) -> list[ApprovalSeen]:
    """The events that carry an approval (and failed approvals), newest first."""
    out: list[ApprovalSeen] = []
    for e in events:
        given = e.details.get("approval")
        if isinstance(given, dict):
            out.append(ApprovalSeen(e.ts, e.action, e.target, e.actor,
                                    str(given.get("approver", "")), str(given.get("method", "")),
                                    e.outcome))
        elif e.action == "approval.failed":
            out.append(ApprovalSeen(e.ts, str(e.details.get("operation", "")), e.target, e.actor,
                                    str(e.details.get("approver", "")),
                                    str(e.details.get("method", "")), e.outcome))
    return out


def _approvals(vault: Vault, permissions: frozenset[str]) -> tuple[list[ApprovalSeen], str]:
    # Asked only of those who may read the log: a refusal would be an audit event each refresh.
    if AUDIT_READ not in permissions:
        return [], ("Recent approvals come from the audit log, which your roles do not open "
                    "(Auditor or Administrator).")
    events = vault.audit_events(limit=AUDIT_SCAN)
    found = approvals_in(events)
    return found, "" if found else f"No approval in the last {len(events)} audit events."


def _campaigns(vault: Vault, permissions: frozenset[str]
               ) -> tuple[list[dict[str, Any]], str]:
    if not permissions & reviews.READERS:
        return [], ("Access reviews are for Reviewers, Auditors and Administrators; your roles "
                    "give none of these.")
    found = reviews.list_campaigns(vault)
    return found, "" if found else (
        "No review campaign yet. Start one with 'strongroom review create'.")


# ----- small words -----------------------------------------------------------------------------


def day(ts: str | None, empty: str = "") -> str:
    return empty if not ts else ts[:10]


def weaker_than(permission: str) -> list[str]:
    return [p for p in PERMISSIONS if rank(p) < rank(permission)]


def keys_effect(changed: dict[str, Any]) -> str:
    """What a revocation or removal did to the level keys, in one sentence."""
    rotated = [level.capitalize() for level in changed.get("levels_rotated", [])]
    pending = [level.capitalize() for level in changed.get("rotation_pending", [])]
    parts = []
    if rotated:
        parts.append(f"{', '.join(rotated)} key{'s' if len(rotated) > 1 else ''} rotated")
    if pending:
        parts.append(f"{', '.join(pending)} key rotation pending until a holder unlocks")
    return "; ".join(parts) + "." if parts else "No level key needed rotating."


def expiry_of(day_: dt.date) -> str:
    """A grant expiry at the end of ``day_`` (UTC), as the vault stores it."""
    return parse_expiry(day_)
