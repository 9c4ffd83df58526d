"""Grants: an operator may do a permission on a scope, given by a grantor with a justification,
until an optional expiry or a revocation.

Scopes: one secret, a tag, a classification level, a signing key, a token. Permissions rise:
list < read (reveal) < use (sign) < manage; a grant of one includes those below it. A grant that
lets an operator read values in a level also puts that level's data key in their hands
(custody.py); list does not.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import UsageError
from ..model import Classification

SCOPE_KINDS = ("secret", "tag", "level", "key", "token")
PERMISSIONS = ("list", "read", "use", "manage")
ALIASES = {"reveal": "read", "sign": "use"}
MAX_JUSTIFICATION_CHARS = 1024

_SELECT = ("SELECT id, operator_id, scope_kind, scope, permission, grantor, created, "
           "justification, expires, revoked, revoked_by, revoke_reason FROM grants")


@dataclass(frozen=True)
class Scope:
    kind: str
    value: str

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}"

    @classmethod
    def parse(cls, text: str) -> Scope:
        """``level:critical``, ``secret:db/prod``, ``tag:payments``, ``key:ID``, ``token:SERIAL``
        (``key:*``: every key)."""
        kind, sep, value = text.partition(":")
        kind = kind.strip().lower()
        if not sep or kind not in SCOPE_KINDS or not value.strip():
            raise UsageError(f"invalid scope {text!r}: use one of "
                             f"{', '.join(k + ':NAME' for k in SCOPE_KINDS)}")
        if kind == "level":
            value = Classification.parse(value).value
        return cls(kind, value.strip())


@dataclass(frozen=True)
class Grant:
    id: int
    operator_id: str
    scope: Scope
    permission: str
    grantor: str
    created: str
    justification: str
    expires: str | None = None
    revoked: str | None = None
    revoked_by: str | None = None
    revoke_reason: str | None = None

    def live(self, now: str) -> bool:
        return self.revoked is None and (self.expires is None or self.expires > now)

    def allows(self, permission: str) -> bool:
        return rank(self.permission) >= rank(permission)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "operator_id": self.operator_id, "scope": str(self.scope),
                "permission": self.permission, "grantor": self.grantor, "created": self.created,
                "justification": self.justification, "expires": self.expires,
                "revoked": self.revoked, "revoked_by": self.revoked_by,
                "revoke_reason": self.revoke_reason}


def permission(text: str) -> str:
    word = ALIASES.get(text.strip().lower(), text.strip().lower())
    if word not in PERMISSIONS:
        raise UsageError(f"unknown permission {text!r}; use one of: {', '.join(PERMISSIONS)}")
    return word


def rank(word: str) -> int:
    return PERMISSIONS.index(word) + 1


def check_justification(text: str) -> str:
    text = text.strip()
    if not text or len(text) > MAX_JUSTIFICATION_CHARS:
        raise UsageError(f"a justification is 1 to {MAX_JUSTIFICATION_CHARS} characters")
    return text


def _row(r: Sequence[Any]) -> Grant:
    return Grant(r[0], r[1], Scope(r[2], r[3]), r[4], r[5], r[6], r[7], r[8], r[9], r[10],
                 r[11])


def get(conn: Any, grant_id: int) -> Grant | None:
    row = conn.execute(_SELECT + " WHERE id = ?", (grant_id,)).fetchone()
    return None if row is None else _row(row)


def grants_of(conn: Any, operator_id: str, now: str | None = None) -> list[Grant]:
    """The operator's grants not revoked (and, given ``now``, not expired)."""
    rows = conn.execute(_SELECT + " WHERE operator_id = ? AND revoked IS NULL ORDER BY id",
                        (operator_id,)).fetchall()
    grants = [_row(r) for r in rows]
    return grants if now is None else [g for g in grants if g.live(now)]


def all_grants(conn: Any, *, include_revoked: bool = False) -> list[Grant]:
    where = "" if include_revoked else " WHERE revoked IS NULL"
    return [_row(r) for r in conn.execute(_SELECT + where + " ORDER BY id").fetchall()]


def insert(conn: Any, operator_id: str, scope: Scope, perm: str, *, grantor: str, now: str,
           justification: str, expires: str | None = None) -> Grant:
    cursor = conn.execute(
        "INSERT INTO grants (operator_id, scope_kind, scope, permission, grantor, created, "
        "justification, expires) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (operator_id, scope.kind, scope.value, perm, grantor, now, justification, expires),
    )
    return Grant(int(cursor.lastrowid), operator_id, scope, perm, grantor, now, justification,
                 expires)


def mark_revoked(conn: Any, grant_id: int, *, by: str, now: str, reason: str) -> None:
    conn.execute("UPDATE grants SET revoked = ?, revoked_by = ?, revoke_reason = ? WHERE id = ?",
                 (now, by, reason, grant_id))


def set_permission(conn: Any, grant_id: int, perm: str) -> None:
    conn.execute("UPDATE grants SET permission = ? WHERE id = ?", (perm, grant_id))


def set_expiry(conn: Any, grant_id: int, expires: str | None) -> None:
    conn.execute("UPDATE grants SET expires = ? WHERE id = ?", (expires, grant_id))


# ----- what a grant covers ----------------------------------------------------------------------


def covers_secret(grant: Grant, name: str, level: str, tags: Sequence[str]) -> bool:
    s = grant.scope
    return ((s.kind == "secret" and s.value == name) or (s.kind == "level" and s.value == level)
            or (s.kind == "tag" and s.value in tags))


def covers_key(grant: Grant, key_id: str, token: str | None) -> bool:
    s = grant.scope
    return (s.kind == "key" and s.value == key_id) or (
        s.kind == "token" and token is not None and s.value == token)


def levels_needed(conn: Any, grants: Sequence[Grant]) -> set[str]:
    """The levels whose data key these grants need: every level they let read values in."""
    levels: set[str] = set()
    for g in grants:
        if not g.allows("read"):
            continue
        if g.scope.kind == "level":
            levels.add(g.scope.value)
        elif g.scope.kind == "secret":
            row = conn.execute("SELECT classification FROM secrets WHERE name = ?",
                               (g.scope.value,)).fetchone()
            if row is not None:
                levels.add(str(row[0]))
        elif g.scope.kind == "tag":
            rows = conn.execute(
                "SELECT DISTINCT s.classification FROM secrets s JOIN secret_tags t "
                "ON t.secret_id = s.id WHERE t.tag = ?", (g.scope.value,)).fetchall()
            levels.update(str(r[0]) for r in rows)
    return levels
