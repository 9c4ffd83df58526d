"""The checks before every operation: the acting operator's roles and live grants.

A refusal is :class:`AccessDenied` naming what is missing; :func:`denials_audited` records it as
an ``access.denied`` event (outside the refused operation's own transaction, which rolls back).
Values are also protected by keys (custody.py): these checks are what narrows access *within* a
level the operator holds, and what guards operations that keys do not (listing, keys, admin).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar, cast

from ..audit import Outcome
from ..errors import AccessDenied
from ..model import Classification
from . import grants, operators
from .grants import Grant
from .operators import Operator
from .roles import KEYS_CUSTODY, SECRETS_CUSTODY, SHIPPED_ROLES

if TYPE_CHECKING:
    from ..vault.session import VaultSession

F = TypeVar("F", bound=Callable[..., Any])
ALL_LEVELS = frozenset(c.value for c in Classification)


@dataclass(frozen=True)
class Actor:
    """The acting operator as the checks see them, read once per operation."""

    operator: Operator
    permissions: frozenset[str]
    grants: tuple[Grant, ...]

    def may(self, permission: str) -> bool:
        return permission in self.permissions

    def grant_for_secret(self, permission: str, name: str, level: str,
                         tags: Sequence[str]) -> Grant | None:
        return next((g for g in self.grants if g.allows(permission)
                     and grants.covers_secret(g, name, level, tags)), None)


def actor(vault: VaultSession, conn: Any) -> Actor:
    operator_id = vault._unlocked_keys.operator_id
    if not operator_id and _before_operators(conn):
        return _SOLE_USER
    operator = operators.get(conn, operator_id)
    if not operator.active:
        raise AccessDenied(f"operator {operator.name} is {operator.status}",
                           target=operator.name, details={"status": operator.status})
    return Actor(operator, operators.permissions_of(conn, operator),
                 tuple(grants.grants_of(conn, operator.id, vault._now())))


def _before_operators(conn: Any) -> bool:
    """A database of schema 3 or older, still being written by the code path that makes such
    vaults for upgrade tests (vault/creation.py): one implicit user, as then."""
    return conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'operators'").fetchone() is None


_SOLE_USER = Actor(
    Operator("", "", "", (), operators.ACTIVE, b"", "", ""),
    frozenset(p for perms in SHIPPED_ROLES.values() for p in perms),
    tuple(Grant(0, "", grants.Scope("level", c.value), "manage", "", "", "")
          for c in Classification))


def require_role(vault: VaultSession, conn: Any, permission: str, what: str) -> Actor:
    """The actor, if one of their roles gives ``permission``; else AccessDenied."""
    who = actor(vault, conn)
    if not who.may(permission):
        raise AccessDenied(
            f"{who.operator.name} may not {what}: none of their roles "
            f"({', '.join(who.operator.roles) or 'none'}) gives {permission}",
            target=what, details={"missing": f"role:{permission}"})
    return who


def require_secret(vault: VaultSession, conn: Any, permission: str, name: str, level: str,
                   tags: Sequence[str], *, who: Actor | None = None) -> Grant:
    """The grant that lets the actor do ``permission`` on this secret; else AccessDenied."""
    who = who or actor(vault, conn)
    if permission != "list" and not who.may(SECRETS_CUSTODY):
        raise AccessDenied(
            f"{who.operator.name} may not {_verb(permission)} secrets: none of their roles "
            f"({', '.join(who.operator.roles) or 'none'}) is a custodian role",
            target=name, details={"missing": f"role:{SECRETS_CUSTODY}", "permission": permission})
    grant = who.grant_for_secret(permission, name, level, tags)
    if grant is None:
        raise AccessDenied(
            f"{who.operator.name} has no {permission} grant on secret {name!r} (nor on its "
            f"level {level}{' or its tags' if tags else ''})",
            target=name, details={"missing": f"{permission} on secret:{name} or level:{level}",
                                  "permission": permission})
    return grant


def list_filter(vault: VaultSession, conn: Any) -> tuple[str, list[Any]] | None:
    """A WHERE clause limiting a secrets query to what the actor may list; None: everything."""
    who = actor(vault, conn)
    listable = [g for g in who.grants if g.allows("list")]
    levels = {g.scope.value for g in listable if g.scope.kind == "level"}
    if levels >= ALL_LEVELS:
        return None
    names = sorted({g.scope.value for g in listable if g.scope.kind == "secret"})
    tags = sorted({g.scope.value for g in listable if g.scope.kind == "tag"})
    # Only placeholders are formatted in; every value is a bound parameter.
    marks = {len(levels): ", ".join("?" * len(levels)), len(names): ", ".join("?" * len(names)),
             len(tags): ", ".join("?" * len(tags))}
    parts, args = ["0"], []
    if levels:
        parts.append("classification IN (" + marks[len(levels)] + ")")
        args += sorted(levels)
    if names:
        parts.append("name IN (" + marks[len(names)] + ")")
        args += names
    if tags:
        parts.append("id IN (SELECT secret_id FROM secret_tags WHERE tag IN ("  # nosec B608
                     + marks[len(tags)] + "))")
        args += tags
    return "(" + " OR ".join(parts) + ")", args


def require_key(vault: VaultSession, conn: Any, permission: str, key_id: str, label: str,
                token: str | None) -> Grant:
    """The grant that lets the actor use or manage this key (by id or label, or its token)."""
    who = actor(vault, conn)
    if not who.may(KEYS_CUSTODY):
        raise AccessDenied(
            f"{who.operator.name} may not {_verb(permission)} keys: none of their roles "
            f"({', '.join(who.operator.roles) or 'none'}) is a key custodian role",
            target=label, details={"missing": f"role:{KEYS_CUSTODY}", "permission": permission})
    grant = next((g for g in who.grants if g.allows(permission) and (
        grants.covers_key(g, key_id, token) or grants.covers_key(g, label, token)
        or _all_keys(g))), None)
    if grant is None:
        raise AccessDenied(
            f"{who.operator.name} has no {permission} grant on key {label!r}"
            f"{'' if token is None else f' (nor on token {token!r})'}",
            target=label, details={"missing": f"{permission} on key:{key_id}",
                                   "permission": permission})
    return grant


def _all_keys(grant: Grant) -> bool:
    return grant.scope.kind == "key" and grant.scope.value == "*"


def _verb(permission: str) -> str:
    return {"read": "reveal", "use": "use", "manage": "manage"}.get(permission, permission)


def denials_audited(func: F) -> F:
    """Record an AccessDenied raised by ``func(vault, …)`` as an ``access.denied`` event."""

    @functools.wraps(func)
    def guarded(vault: VaultSession, *args: Any, **kwargs: Any) -> Any:
        try:
            return func(vault, *args, **kwargs)
        except AccessDenied as e:
            record_denial(vault, e)
            raise
        finally:  # a second holder's shares serve the one operation approved
            if vault.unlocked:
                vault._unlocked_keys.co_shares.clear()

    return cast(F, guarded)


def record_denial(vault: VaultSession, e: AccessDenied) -> None:
    vault.record("access.denied", e.target or "-", Outcome.Denied,
                 {"operation": "", **e.details, "reason": str(e)})
