"""Who may approve an operation under the two-person rule, and which refusals ask for someone.

Two refusals ask for a second operator: a missing approval (``AccessDenied`` with ``missing:
approval``, why ``missing``) and a dual-control level's key that opens only with a second holder's
share (``missing: second holder's share``), which an approval by another holder of the level
brings. The approvers are read in the task runner (no Qt here): the other active operators whose
roles may approve the operation, narrowed to the level's holders when its key is split.
"""

from __future__ import annotations

from dataclasses import dataclass

from strongroom.app.access import custody, operator_admin, policy
from strongroom.app.access.approvals import APPROVER_ROLES, DEFAULT_APPROVER_ROLES
from strongroom.app.errors import AccessDenied
from strongroom.app.unlock_methods import SlotKind
from strongroom.app.vault import Vault

SECOND_HOLDER = "second holder's share"


@dataclass(frozen=True)
class Approver:
    """An operator who may approve; ``has_key``: a security key (fido2 keyslot) of their own."""

    name: str
    has_key: bool = False


@dataclass(frozen=True)
class Request:
    """What an approval is for: the operation and its target as the vault names them, and the
    level of the secret it touches (its holders approve when that level is under dual control)."""

    operation: str
    target: str
    level: str | None = None


def approval_needed(error: BaseException) -> bool:
    """Whether ``error`` asks for a second operator (not a refusal of an approval given)."""
    if not isinstance(error, AccessDenied):
        return False
    missing = error.details.get("missing")
    return (missing == "approval" and error.details.get("why") == "missing") \
        or missing == SECOND_HOLDER


def request_for(error: AccessDenied, hint: Request | None) -> Request | None:
    """The operation and target to approve: the refusal's own, else the caller's ``hint`` (a
    dual-control refusal names only the level). None when neither says."""
    details = error.details
    if details.get("missing") == SECOND_HOLDER:
        if hint is None:
            return None
        return Request(hint.operation, hint.target, str(details.get("level") or hint.level or ""))
    operation = str(details.get("operation") or (hint.operation if hint else ""))
    target = error.target or (hint.target if hint else "")
    if not operation or not target:
        return None
    return Request(operation, target, hint.level if hint else None)


def split_holders(vault: Vault, level: str | None) -> list[str] | None:
    """The holders of ``level``'s key when it is split between them (dual control with two or
    more holders), else None (worker thread)."""
    if not level:
        return None
    with vault._read() as conn:
        if level not in policy.load(conn).dual_control_levels:
            return None
        holders = custody.holder_names(conn, level)
    return holders if len(holders) >= 2 else None


def approvers(vault: Vault, request: Request) -> list[Approver]:
    """The other active operators whose roles may approve ``request``, only holders of its level
    when that level's key is split; each with whether they have a security key (worker thread)."""
    roles = set(APPROVER_ROLES.get(request.operation, DEFAULT_APPROVER_ROLES))
    holders = split_holders(vault, request.level)
    me = vault.actor
    keyed = {s.operator for s in vault.header.slots if s.kind == SlotKind.Fido2.value}
    return [Approver(o.name, o.id in keyed) for o in operator_admin.list_operators(vault)
            if o.active and o.name != me and set(o.roles) & roles
            and (holders is None or o.name in holders)]


def reads_alone(vault: Vault, level: str) -> bool:
    """Whether the acting operator reads a value at ``level`` without a second operator (the
    editor compares a value typed again only then; worker thread)."""
    with vault._read() as conn:
        rule = policy.load(conn)
    if rule.critical("secret.reveal", level=level) and (
            rule.strict or approvers(vault, Request("secret.reveal", "", level))):
        return False
    return split_holders(vault, level) is None
