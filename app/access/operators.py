"""Operators: the people who share a vault. Each has a name, a contact, roles and a status, an
X25519 public key in the vault, and the private half wrapped under each of their own keyslots.

The operators table is the authority; the header keeps a MAC'd copy of ids, names and statuses
so that the lock screen can ask who is unlocking before anything is decrypted.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import NotFound, UsageError
from ..header import OperatorRef
from ..model import has_hidden
from .roles import SHIPPED_ROLES

ACTIVE, SUSPENDED, REMOVED = "active", "suspended", "removed"
STATUSES = (ACTIVE, SUSPENDED, REMOVED)
MAX_NAME_CHARS = 64
MAX_CONTACT_CHARS = 256

_SELECT = "SELECT id, name, contact, roles, status, public_key, created, updated FROM operators"


@dataclass(frozen=True)
class Operator:
    id: str
    name: str
    contact: str
    roles: tuple[str, ...]
    status: str
    public_key: bytes
    created: str
    updated: str

    @property
    def active(self) -> bool:
        return self.status == ACTIVE

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "contact": self.contact,
                "roles": list(self.roles), "status": self.status, "created": self.created,
                "updated": self.updated}


def new_operator_id() -> str:
    return secrets.token_hex(6)


def check_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > MAX_NAME_CHARS or has_hidden(name):
        raise UsageError(f"an operator name is 1 to {MAX_NAME_CHARS} visible characters")
    return name


def check_contact(contact: str) -> str:
    if len(contact) > MAX_CONTACT_CHARS or has_hidden(contact):
        raise UsageError(f"a contact is at most {MAX_CONTACT_CHARS} visible characters")
    return contact.strip()


def check_roles(conn: Any, roles: Iterable[str]) -> tuple[str, ...]:
    known = {name.casefold(): name for name in role_names(conn)}
    out: list[str] = []
    for role in roles:
        name = known.get(role.strip().casefold())
        if name is None:
            raise UsageError(f"unknown role {role!r}; the roles are: {', '.join(known.values())}")
        if name not in out:
            out.append(name)
    return tuple(out)


def _row(r: Sequence[Any]) -> Operator:
    return Operator(r[0], r[1], r[2], tuple(json.loads(r[3])), r[4], bytes(r[5]), r[6], r[7])


def all_operators(conn: Any) -> list[Operator]:
    return [_row(r) for r in conn.execute(_SELECT + " ORDER BY name").fetchall()]


def get(conn: Any, operator_id: str) -> Operator:
    row = conn.execute(_SELECT + " WHERE id = ?", (operator_id,)).fetchone()
    if row is None:
        raise NotFound(f"no operator with id {operator_id}")
    return _row(row)


def named(conn: Any, name: str) -> Operator:
    row = conn.execute(_SELECT + " WHERE name = ?", (name.strip(),)).fetchone()
    if row is None:
        raise NotFound(f"no operator named {name!r}")
    return _row(row)


def insert(conn: Any, operator: Operator) -> None:
    if conn.execute("SELECT 1 FROM operators WHERE name = ?", (operator.name,)).fetchone():
        raise UsageError(f"an operator named {operator.name!r} already exists")
    conn.execute(
        "INSERT INTO operators (id, name, contact, roles, status, public_key, created, updated) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (operator.id, operator.name, operator.contact, json.dumps(list(operator.roles)),
         operator.status, operator.public_key, operator.created, operator.updated),
    )


def set_status(conn: Any, operator_id: str, status: str, now: str) -> None:
    conn.execute("UPDATE operators SET status = ?, updated = ? WHERE id = ?",
                 (status, now, operator_id))


def set_roles(conn: Any, operator_id: str, roles: tuple[str, ...], now: str) -> None:
    conn.execute("UPDATE operators SET roles = ?, updated = ? WHERE id = ?",
                 (json.dumps(list(roles)), now, operator_id))


# ----- roles -----------------------------------------------------------------------------------


def seed_roles(conn: Any) -> None:
    """The shipped roles, where the vault does not have them yet."""
    for name, permissions in SHIPPED_ROLES.items():
        conn.execute("INSERT OR IGNORE INTO roles (name, permissions, shipped) VALUES (?, ?, 1)",
                     (name, json.dumps(list(permissions))))


def role_names(conn: Any) -> list[str]:
    return [str(r[0]) for r in conn.execute("SELECT name FROM roles ORDER BY name").fetchall()]


def roles_table(conn: Any) -> dict[str, tuple[str, ...]]:
    return {str(r[0]): tuple(json.loads(r[1]))
            for r in conn.execute("SELECT name, permissions FROM roles").fetchall()}


def permissions_of(conn: Any, operator: Operator) -> frozenset[str]:
    table = roles_table(conn)
    return frozenset(p for role in operator.roles for p in table.get(role, ()))


# ----- the header's copy -----------------------------------------------------------------------


def header_refs(conn: Any) -> tuple[OperatorRef, ...]:
    return tuple(OperatorRef(o.id, o.name, o.status) for o in all_operators(conn)
                 if o.status != REMOVED)
