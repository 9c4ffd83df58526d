"""Operator administration: add, suspend, reinstate and remove operators, change their roles, and
each operator's unlock-factor inventory.

Every change here is ``access.change`` under the two-person rule and needs an Administrator.
Removing an operator deletes their keyslots, revokes their grants, drops their wraps of level keys
and rotates those levels (access_changes.py), since they may have kept the old keys.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from ..errors import NotFound, Refused
from ..keyslots import new_passphrase_slot, wrap_operator_key
from ..model import parse_iso
from . import access_changes, approvals, enforce, operators, policy
from .approvals import Approval
from .operators import ACTIVE, REMOVED, SUSPENDED, Operator
from .roles import ADMINISTRATOR, OPERATORS_MANAGE
from .wrapping import new_operator_key

if TYPE_CHECKING:
    from ..vault.session import VaultSession


@enforce.denials_audited
def add_operator(vault: VaultSession, name: str, passphrase: bytes, *, roles: Sequence[str],
                 contact: str = "", kdf_time_ms: int = 1000,
                 approval: Approval | None = None) -> Operator:
    """A new operator with a passphrase keyslot of their own (they type it at this console)."""
    name = operators.check_name(name)
    contact = operators.check_contact(contact)
    with vault._read() as conn:
        enforce.require_role(vault, conn, OPERATORS_MANAGE, "add operators")
        chosen = operators.check_roles(conn, roles)
        waiting = [str(r[0]) for r in conn.execute(
            "SELECT name FROM operators WHERE pending_wrapped IS NOT NULL").fetchall()]
    if waiting:
        raise Refused(
            f"{', '.join(waiting)} still has unlock methods from before operators that have not "
            "been used since the upgrade; unlock or test each once ('strongroom unlock test'), "
            "or remove it, before adding a second operator")
    keys = vault._unlocked_keys
    private, public = new_operator_key()
    now = vault._now()
    new = Operator(operators.new_operator_id(), name, contact, chosen, ACTIVE, public, now, now)
    slot, kek = new_passphrase_slot(passphrase, keys.master, vault.vault_id, now=now,
                                    label=f"{name}: passphrase", kdf_time_ms=kdf_time_ms)
    slot = wrap_operator_key(kek, private, slot, vault.vault_id, new.id)
    with vault._write(anchor=False) as conn:
        enforce.require_role(vault, conn, OPERATORS_MANAGE, "add operators")
        extra = _approved(vault, conn, f"operator:{name}", approval)
        operators.insert(conn, new)
        vault._event("operator.add", name, details={"operator": new.id, "roles": list(chosen),
                                                    "slot": slot.id, **extra})
        refs = operators.header_refs(conn)
    header = vault._fresh_header()
    vault._save_header(replace(header, slots=(*header.slots, slot), operators=refs))
    return new


@enforce.denials_audited
def set_roles(vault: VaultSession, name: str, roles: Sequence[str], *,
              approval: Approval | None = None) -> Operator:
    with vault._write() as conn:
        enforce.require_role(vault, conn, OPERATORS_MANAGE, "change roles")
        target = operators.named(conn, name)
        chosen = operators.check_roles(conn, roles)
        if ADMINISTRATOR in target.roles and ADMINISTRATOR not in chosen:
            _keep_an_administrator(conn, target)
        extra = _approved(vault, conn, f"operator:{target.name}", approval)
        operators.set_roles(conn, target.id, chosen, vault._now())
        vault._event("operator.roles", target.name,
                     details={"from": list(target.roles), "to": list(chosen), **extra})
        return operators.get(conn, target.id)


@enforce.denials_audited
def set_status(vault: VaultSession, name: str, status: str, *,
               approval: Approval | None = None) -> Operator:
    """Suspend (``suspended``) or reinstate (``active``) an operator."""
    if status not in (ACTIVE, SUSPENDED):
        raise Refused(f"an operator is set active or suspended here, not {status}")
    with vault._write(anchor=False) as conn:
        enforce.require_role(vault, conn, OPERATORS_MANAGE, "suspend or reinstate operators")
        target = operators.named(conn, name)
        if target.status == REMOVED:
            raise Refused(f"{target.name} was removed; add them again as a new operator")
        if status == SUSPENDED:
            if target.id == vault._unlocked_keys.operator_id:
                raise Refused("an operator cannot suspend themselves")
            _keep_an_administrator(conn, target)
        extra = _approved(vault, conn, f"operator:{target.name}", approval)
        operators.set_status(conn, target.id, status, vault._now())
        vault._event("operator.status", target.name,
                     details={"from": target.status, "to": status, **extra})
        refs = operators.header_refs(conn)
    vault._save_header(replace(vault._fresh_header(), operators=refs))
    with vault._read() as conn:
        return operators.get(conn, target.id)


@enforce.denials_audited
def remove_operator(vault: VaultSession, name: str, *, approval: Approval | None = None
                    ) -> dict[str, Any]:
    """Remove an operator for good: keyslots, grants, level-key wraps; their levels rotated."""
    with vault._write(anchor=False) as conn:
        enforce.require_role(vault, conn, OPERATORS_MANAGE, "remove operators")
        target = operators.named(conn, name)
        if target.id == vault._unlocked_keys.operator_id:
            raise Refused("an operator cannot remove themselves")
        if target.status == REMOVED:
            raise NotFound(f"{target.name} was already removed")
        _keep_an_administrator(conn, target)
        extra = _approved(vault, conn, f"operator:{target.name}", approval)
        revoked = access_changes.revoke_all(vault, conn, target, reason="operator removed")
        operators.set_status(conn, target.id, REMOVED, vault._now())
        changed = access_changes.after_change(vault, conn, target)
        header = vault._fresh_header()
        gone = [s.id for s in header.slots if s.operator == target.id]
        vault._event("operator.remove", target.name,
                     details={"slots": gone, "grants": revoked, **changed, **extra})
        refs = operators.header_refs(conn)
    vault._save_header(replace(header, slots=tuple(s for s in header.slots
                                                   if s.operator != target.id), operators=refs))
    return {"slots": gone, "grants": revoked, **changed}


def list_operators(vault: VaultSession) -> list[Operator]:
    with vault._read() as conn:
        return operators.all_operators(conn)


def _approved(vault: VaultSession, conn: Any, target: str, approval: Approval | None
              ) -> dict[str, Any]:
    rule = policy.load(conn)
    return approvals.check(vault, conn, "access.change", target, approval,
                           critical=rule.critical("access.change"))


def _keep_an_administrator(conn: Any, leaving: Operator) -> None:
    others = [o for o in operators.all_operators(conn)
              if o.active and o.id != leaving.id and ADMINISTRATOR in o.roles]
    if ADMINISTRATOR in leaving.roles and not others:
        raise Refused(f"{leaving.name} is the last active Administrator; make another "
                      "operator an Administrator first")


# ----- unlock-factor inventory ------------------------------------------------------------------


@dataclass(frozen=True)
class FactorWarning:
    operator: str
    slot_id: str | None
    message: str

    def to_json(self) -> dict[str, Any]:
        return {"operator": self.operator, "slot": self.slot_id, "message": self.message}


def factor_warnings(vault: VaultSession, *, everyone: bool | None = None,
                    now: dt.datetime | None = None) -> list[FactorWarning]:
    """Warnings about unlock factors: an operator with a single factor (a lone passphrase
    included), a factor not tested (or used) for the policy's N days. The acting operator's
    own, or everyone's for an Administrator (``everyone`` None decides by role)."""
    now = now or vault.clock.now()
    with vault._read() as conn:
        me = enforce.actor(vault, conn)
        days = policy.load(conn).factor_test_days
        people = operators.all_operators(conn)
    if everyone is None:
        everyone = me.may(OPERATORS_MANAGE)
    out: list[FactorWarning] = []
    for person in people:
        if person.status == REMOVED or (not everyone and person.id != me.operator.id):
            continue
        slots = [s for s in vault.header.slots if s.operator == person.id]
        if len(slots) == 1:
            out.append(FactorWarning(person.name, slots[0].id,
                                     f"{person.name} has a single unlock method "
                                     f"({slots[0].label or slots[0].kind}); enrol a second "
                                     "so one lost factor does not lock them out"))
        for slot in slots:
            stamps = [t for t in (slot.last_tested, slot.last_used, slot.created) if t]
            last = max(parse_iso(t) for t in stamps)
            idle = (now - last).days
            if idle >= days:
                out.append(FactorWarning(person.name, slot.id,
                                         f"{slot.label or slot.kind} of {person.name} has not "
                                         f"been used or tested for {idle} days"))
    return out
