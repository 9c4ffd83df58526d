"""Grant administration and what it does to the keys: give, revoke, reduce or extend a grant, and
change the policy.

Giving a grant that reads values in a level wraps the level's key to the operator (the grantor
must hold it). When a revocation (or a reduction, or removing the operator) leaves an operator
no longer needing a level, their wraps of it are deleted and the level's key is rotated in the
same transaction, so a crash leaves the old state or the new one, never half. If the operator
making the change does not hold that level, the rotation is left to the level's next holder to
unlock (custody.pending_rotations); the event says so.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import NotFound, Refused, UsageError
from ..model import Classification
from ..vault.rotation import rotate_dek_in
from . import approvals, custody, enforce, grants, operators, policy
from .approvals import Approval
from .grants import Grant, Scope
from .operators import REMOVED, Operator
from .roles import GRANTS_MANAGE, POLICY_MANAGE

if TYPE_CHECKING:
    from ..vault.session import VaultSession


@enforce.denials_audited
def add_grant(vault: VaultSession, operator_name: str, scope: Scope, permission: str, *,
              justification: str, expires: str | None = None,
              approval: Approval | None = None) -> Grant:
    permission = grants.permission(permission)
    justification = grants.check_justification(justification)
    with vault._write() as conn:
        who = enforce.require_role(vault, conn, GRANTS_MANAGE, "give grants")
        target = operators.named(conn, operator_name)
        if target.status == REMOVED:
            raise Refused(f"{target.name} was removed and can hold no grant")
        _check_scope(conn, scope)
        if expires is not None and expires <= vault._now():
            raise UsageError("the expiry is in the past")
        extra = _approved(vault, conn, f"grant:{target.name}:{scope}", approval)
        grant = grants.insert(conn, target.id, scope, permission, grantor=who.operator.name,
                              now=vault._now(), justification=justification, expires=expires)
        wrapped = _wrap_needed(vault, conn, target)
        vault._event("grant.add", f"{target.name}:{scope}",
                     details={**grant.to_json(), "operator": target.name,
                              "levels_wrapped": wrapped, **extra})
        return grant


@enforce.denials_audited
def revoke_grant(vault: VaultSession, grant_id: int, *, reason: str,
                 approval: Approval | None = None) -> dict[str, Any]:
    """Revoke a grant; returns what changed for the keys (levels dropped, rotated, pending)."""
    reason = grants.check_justification(reason)
    with vault._write() as conn:
        grant, target = _live_grant(vault, conn, grant_id, "revoke grants")
        extra = _approved(vault, conn, f"grant:{target.name}:{grant.scope}", approval)
        grants.mark_revoked(conn, grant.id, by=vault.actor, now=vault._now(), reason=reason)
        changed = after_change(vault, conn, target)
        vault._event("grant.revoke", f"{target.name}:{grant.scope}",
                     details={"grant": grant.id, "reason": reason, **changed, **extra})
        return changed


@enforce.denials_audited
def change_grant(vault: VaultSession, grant_id: int, *, permission: str | None = None,
                 expires: str | None = None, clear_expiry: bool = False, reason: str,
                 approval: Approval | None = None) -> dict[str, Any]:
    """Reduce a grant to a narrower permission, or extend (or clear) its expiry."""
    reason = grants.check_justification(reason)
    with vault._write() as conn:
        grant, target = _live_grant(vault, conn, grant_id, "change grants")
        details: dict[str, Any] = {"grant": grant.id, "reason": reason}
        if permission is not None:
            permission = grants.permission(permission)
            if grants.rank(permission) >= grants.rank(grant.permission):
                raise UsageError(f"reduce a grant to a narrower permission than "
                                 f"{grant.permission}")
            details["permission"] = {"from": grant.permission, "to": permission}
        if expires is not None or clear_expiry:
            if expires is not None and expires <= vault._now():
                raise UsageError("the expiry is in the past")
            details["expires"] = {"from": grant.expires, "to": expires}
        if len(details) == 2:
            raise UsageError("say what to change: a narrower permission or a new expiry")
        details |= _approved(vault, conn, f"grant:{target.name}:{grant.scope}", approval)
        if permission is not None:
            grants.set_permission(conn, grant.id, permission)
        if "expires" in details:
            grants.set_expiry(conn, grant.id, expires)
        changed = after_change(vault, conn, target)
        vault._event("grant.change", f"{target.name}:{grant.scope}", details={**details,
                                                                             **changed})
        return changed


@enforce.denials_audited
def set_policy(vault: VaultSession, new: policy.Policy, *, approval: Approval | None = None
               ) -> None:
    with vault._write() as conn:
        enforce.require_role(vault, conn, POLICY_MANAGE, "change the access policy")
        old = policy.load(conn)
        # Judged by the policy in force, so a policy cannot switch off its own gate unapproved.
        extra = approvals.check(vault, conn, "policy.change", "policy", approval,
                                critical=old.critical("policy.change"))
        policy.save(conn, new)
        changed = sorted(k for k, v in new.to_json().items() if old.to_json()[k] != v)
        flipped = set(old.dual_control_levels) ^ set(new.dual_control_levels)
        for level in sorted(flipped):  # split (or join) the key among its holders now
            if custody.held_levels(conn, vault._unlocked_keys.operator_id) >= {level}:
                _redistribute(vault, conn, level)
        vault._event("policy.change", "policy", details={"fields": changed, **extra})


def list_grants(vault: VaultSession, *, operator: str | None = None,
                include_revoked: bool = False) -> list[tuple[Grant, str]]:
    """Grants with their operator's name: everyone's for an Administrator, Auditor or Reviewer,
    else the acting operator's own."""
    with vault._read() as conn:
        me = enforce.actor(vault, conn)
        names = {o.id: o.name for o in operators.all_operators(conn)}
        rows = grants.all_grants(conn, include_revoked=include_revoked)
    sees_all = bool(me.permissions & {GRANTS_MANAGE, "audit.read", "reviews.decide"})
    out = [(g, names.get(g.operator_id, g.operator_id)) for g in rows
           if sees_all or g.operator_id == me.operator.id]
    if operator is not None:
        out = [(g, n) for g, n in out if n.casefold() == operator.strip().casefold()]
    return out


# ----- the keys following the grants ------------------------------------------------------------


def revoke_all(vault: VaultSession, conn: Any, target: Operator, *, reason: str) -> list[int]:
    revoked = [g.id for g in grants.grants_of(conn, target.id)]
    for grant_id in revoked:
        grants.mark_revoked(conn, grant_id, by=vault.actor, now=vault._now(), reason=reason)
    return revoked


def after_change(vault: VaultSession, conn: Any, target: Operator) -> dict[str, Any]:
    """Drop ``target``'s wraps of levels their grants no longer need; rotate those levels."""
    held = custody.held_levels(conn, target.id) | _older_wraps(conn, target.id)
    needed = set() if operators.get(conn, target.id).status == REMOVED else custody.needs(
        conn, target.id, vault._now())
    dropped = sorted(held - needed)
    custody.drop(conn, target.id, dropped)
    rotated, pending = [], []
    mine = custody.held_levels(conn, vault._unlocked_keys.operator_id)
    for level in dropped:
        if level in mine:
            rotate_dek_in(vault, conn, Classification(level))
            rotated.append(level)
        else:
            pending.append(level)
    if pending:
        custody.set_pending_rotations(conn, [*custody.pending_rotations(conn), *pending])
    return {"levels_dropped": dropped, "levels_rotated": rotated, "rotation_pending": pending}


def finish_pending_rotations(vault: VaultSession) -> list[str]:
    """At unlock: rotate the levels left pending that the acting operator holds."""
    with vault._read() as conn:
        pending = custody.pending_rotations(conn)
        mine = custody.held_levels(conn, vault._unlocked_keys.operator_id) if pending else set()
    todo = [level for level in pending if level in mine]
    if not todo:
        return []
    with vault._write() as conn:
        for level in todo:
            rotate_dek_in(vault, conn, Classification(level))
        custody.set_pending_rotations(conn, [p for p in pending if p not in todo])
    return todo


def expire_due(vault: VaultSession) -> list[int]:
    """At unlock: grants past their expiry are revoked (reason "expired") and the keys follow
    them as for any revocation: wraps dropped, levels rotated (or left pending for a holder)."""
    now = vault._now()
    with vault._read() as conn:
        due = conn.execute("SELECT id, operator_id FROM grants WHERE revoked IS NULL AND "
                           "expires IS NOT NULL AND expires <= ?", (now,)).fetchall()
    if not due:
        return []
    with vault._write() as conn:
        for grant_id, _ in due:
            grants.mark_revoked(conn, grant_id, by="expiry", now=now, reason="expired")
        for operator_id in sorted({r[1] for r in due}):
            target = operators.get(conn, operator_id)
            changed = after_change(vault, conn, target)
            vault._event("grant.expire", target.name,
                         details={"grants": [r[0] for r in due if r[1] == operator_id],
                                  **changed})
    return [int(r[0]) for r in due]


def _older_wraps(conn: Any, operator_id: str) -> set[str]:
    return {str(r[0]) for r in conn.execute(
        "SELECT DISTINCT level FROM dek_wraps WHERE operator_id = ?", (operator_id,)).fetchall()}


def _wrap_needed(vault: VaultSession, conn: Any, target: Operator) -> list[str]:
    """Give ``target`` the current key of each level they now need and do not hold (under dual
    control: new shares for every holder, of the same key)."""
    missing = sorted(custody.needs(conn, target.id, vault._now())
                     - custody.held_levels(conn, target.id))
    for level in missing:
        _redistribute(vault, conn, level)
    return missing


def _redistribute(vault: VaultSession, conn: Any, level: str) -> None:
    generation = vault._deks.current_generation(level)
    dek = vault._deks.get(level, generation)  # AccessDenied: the grantor does not hold it
    custody.distribute(conn, vault.vault_id, level, generation, dek,
                       custody.holders_needed(conn, level, vault._now()),
                       dual=vault._deks.dual(level))


def _live_grant(vault: VaultSession, conn: Any, grant_id: int, what: str
                ) -> tuple[Grant, Operator]:
    enforce.require_role(vault, conn, GRANTS_MANAGE, what)
    grant = grants.get(conn, grant_id)
    if grant is None:
        raise NotFound(f"no grant {grant_id}")
    if grant.revoked is not None:
        raise Refused(f"grant {grant_id} was already revoked")
    return grant, operators.get(conn, grant.operator_id)


def _check_scope(conn: Any, scope: Scope) -> None:
    if scope.kind == "secret" and not conn.execute(
            "SELECT 1 FROM secrets WHERE name = ?", (scope.value,)).fetchone():
        raise NotFound(f"no secret named {scope.value!r} to grant")
    if scope.kind == "tag" and not conn.execute(
            "SELECT 1 FROM secret_tags WHERE tag = ? LIMIT 1", (scope.value,)).fetchone():
        raise NotFound(f"no secret carries the tag {scope.value!r}")


def _approved(vault: VaultSession, conn: Any, target: str, approval: Approval | None
              ) -> dict[str, Any]:
    rule = policy.load(conn)
    return approvals.check(vault, conn, "access.change", target, approval,
                           critical=rule.critical("access.change"))
