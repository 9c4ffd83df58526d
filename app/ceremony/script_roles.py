"""The roles of a ceremony script: their kinds (each a Strongroom role), who may fill them, the
crypto officers' quorum, segregation of duties, and the check of the people against a vault."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from . import script_lines
from .script_lines import Problem

ROLE_KINDS = {"ceremony-administrator": "Ceremony Administrator", "witness": "Witness",
              "crypto-officer": "Crypto Officer", "auditor": "Auditor"}


@dataclass(frozen=True)
class RoleSpec:
    id: str
    kind: str
    operators: tuple[str, ...]
    quorum: int
    line: int

    @property
    def strongroom_role(self) -> str:
        return ROLE_KINDS[self.kind]


def read_roles(raw: Mapping[str, Any], lines: script_lines.Lines, out: list[Problem]
           ) -> dict[str, RoleSpec]:
    table = script_lines.table_of(raw, "roles", lines, out)
    roles: dict[str, RoleSpec] = {}
    for role_id, spec in table.items():
        line = lines.table(f"roles.{role_id}") or lines.key("roles", role_id) or 1

        def at(key: str, role_id: str = role_id, line: int = line) -> int:
            return lines.key(f"roles.{role_id}", key) or line

        if not isinstance(spec, dict):
            out.append(Problem(line, f"role {role_id!r} must be a table"))
            continue
        kind = spec.get("kind")
        if not isinstance(kind, str) or kind not in ROLE_KINDS:
            out.append(Problem(at("kind"), f"role {role_id!r} has kind {kind!r}; use one of: "
                                     f"{', '.join(ROLE_KINDS)}"))
            continue
        people = spec.get("operators")
        if (not isinstance(people, list) or not people or len(people) > 64
                or not all(isinstance(p, str) and 0 < len(p) <= 64 for p in people)):
            out.append(Problem(at("operators"), f"role {role_id!r} needs operators: a list of "
                                                "names"))
            continue
        if len(set(people)) != len(people):
            out.append(Problem(at("operators"), f"role {role_id!r} names an operator twice"))
        quorum = spec.get("quorum", 1)
        if kind != "crypto-officer" and "quorum" in spec:
            out.append(Problem(at("quorum"), f"only crypto officers have a quorum, not "
                                             f"{role_id!r}"))
        if type(quorum) is not int or not 1 <= quorum <= len(people):
            out.append(Problem(at("quorum"), f"the quorum of {role_id!r} must be 1 to "
                                             f"{len(people)}"))
            quorum = 1
        for key in sorted(set(spec) - {"kind", "operators", "quorum"}):
            out.append(Problem(at(key), f"unknown key {key!r} in role {role_id!r}"))
        roles[role_id] = RoleSpec(role_id, kind, tuple(people), quorum, at("operators"))
    for kind in ("ceremony-administrator", "witness", "crypto-officer"):
        found = [r for r in roles.values() if r.kind == kind]
        if not found:
            out.append(Problem(lines.table("roles") or 1, f"the script has no {kind} role"))
        elif len(found) > 1:
            out.append(Problem(found[1].line, f"the script has two {kind} roles"))
    _segregation(roles, out)
    return roles


def _segregation(roles: Mapping[str, RoleSpec], out: list[Problem]) -> None:
    """One operator, one role; the witness is never a crypto officer (also by the first)."""
    seen: dict[str, RoleSpec] = {}
    for role in roles.values():
        for person in role.operators:
            other = seen.get(person.casefold())
            if other is not None:
                both = {other.kind, role.kind}
                why = ("the witness is never a crypto officer"
                       if both == {"witness", "crypto-officer"} else "one person, one role")
                out.append(Problem(role.line, f"segregation of duties: {person} is in role "
                                              f"{other.id!r} and in {role.id!r} ({why})"))
            else:
                seen[person.casefold()] = role


def check_operators(script: Any, operators: Mapping[str, tuple[str, bool, tuple[str, ...]]]
                    ) -> list[Problem]:
    """With a vault: each named operator exists, is active and holds the role's Strongroom role.
    ``operators`` maps a name to (name, active, roles)."""
    found: list[Problem] = []
    for role in script.roles.values():
        for person in role.operators:
            known = operators.get(person.casefold())
            if known is None:
                found.append(Problem(role.line, f"role {role.id!r}: no operator named "
                                                 f"{person!r} in this vault"))
            elif not known[1]:
                found.append(Problem(role.line, f"role {role.id!r}: {known[0]} is not active"))
            elif role.strongroom_role not in known[2]:
                found.append(Problem(role.line, f"role {role.id!r}: {known[0]} does not hold "
                                                f"the {role.strongroom_role} role"))
    return found
