"""Who is acting: after unlock, the unlocking keyslot names its operator and carries their operator
key; a vault from before operators gets its first operator here.

A vault created before operators has keyslots that wrap only the master key. Its first unlock
after the upgrade makes the OS account its first operator (every shipped creator role, a manage
grant on every level), re-wraps each level's data key to that operator and empties the old wraps
under the master key. Only the unlocking slot's KEK is at hand, so the operator key is also kept,
until each of that operator's other slots has been used once, wrapped under a key derived from
the master key (``pending``); a second operator cannot be added before then (operator_admin.py).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ..audit import Outcome
from ..crypto import DecryptionFailed, canonical_json, hkdf, seal, unseal
from ..errors import AuthenticationFailed, NotFound, VaultTampered
from ..keyslots import Keyslot, unwrap_operator_key, wrap_operator_key
from ..model import Classification
from ..vault.datakeys import dek_aad, dek_wrap_key
from ..vault.session import VaultSession
from . import access_changes, custody, grants, operators
from .grants import Scope
from .operators import Operator
from .roles import CREATOR_ROLES
from .wrapping import new_operator_key, public_of


def pending_aad(vault_id: str, operator_id: str) -> bytes:
    return canonical_json({"vault": vault_id, "operator": operator_id, "purpose": "pending"})


def pending_key(master: bytes) -> bytes:
    return hkdf(master, "operator-pending")


def create_first(vault: VaultSession, conn: Any, name: str, now: str) -> tuple[Operator, bytes]:
    """In the caller's transaction: the vault's first operator, an Administrator with a manage
    grant on every level and every key. Returns it and its operator key (private)."""
    operators.seed_roles(conn)
    private, public = new_operator_key()
    first = Operator(operators.new_operator_id(), operators.check_name(name), "",
                     CREATOR_ROLES, operators.ACTIVE, public, now, now)
    operators.insert(conn, first)
    for scope in (*(Scope("level", level.value) for level in Classification), Scope("key", "*")):
        grants.insert(conn, first.id, scope, "manage", grantor=first.name, now=now,
                      justification="the vault's creator")
    act_as(vault, first, private)
    return first, private


def act_as(vault: VaultSession, operator: Operator, key: bytes) -> None:
    """From now on the session acts as ``operator``: audit events name them, DEKs open with
    ``key``."""
    keys = vault._unlocked_keys
    keys.operator_id, keys.operator_key = operator.id, key
    vault.actor = operator.name


def bind_operator(vault: VaultSession, slot: Keyslot, kek: bytes) -> None:
    """Set the acting operator from the unlocking slot (adopting a vault from before operators)."""
    with vault._read() as conn:
        adopted = conn.execute("SELECT count(*) FROM operators").fetchone()[0] > 0
    if not adopted:
        _adopt(vault, slot, kek)
        return
    slot = vault.header.slot(slot.id) or slot
    if slot.operator is None:
        raise VaultTampered(f"keyslot {slot.label or slot.id} belongs to no operator")
    with vault._read() as conn:
        try:
            operator = operators.get(conn, slot.operator)
        except NotFound:
            raise VaultTampered(f"keyslot {slot.label or slot.id} names an unknown operator"
                                ) from None
        pending = conn.execute("SELECT pending_nonce, pending_wrapped FROM operators WHERE id = ?",
                               (operator.id,)).fetchone()
    if not operator.active:
        act_as(vault, operator, b"")
        vault.record("vault.unlock", vault.vault_id, Outcome.Denied,
                     {"slot": slot.id, "operator": operator.name, "status": operator.status})
        raise AuthenticationFailed(f"operator {operator.name} is {operator.status}; an "
                                   "Administrator must reinstate them before they can unlock")
    key = unwrap_operator_key(kek, slot, vault.vault_id)
    if key is None and slot.wrapped_operator is None and pending[1] is not None:
        key = _from_pending(vault, operator.id, bytes(pending[0]), bytes(pending[1]))
        _carry(vault, operator.id, slot.id, kek, key)
    if key is None or public_of(key) != operator.public_key:
        raise VaultTampered(f"keyslot {slot.label or slot.id} does not carry the key of "
                            f"operator {operator.name}")
    act_as(vault, operator, key)
    access_changes.expire_due(vault)
    access_changes.finish_pending_rotations(vault)


def _from_pending(vault: VaultSession, operator_id: str, nonce: bytes, wrapped: bytes) -> bytes:
    try:
        return unseal(pending_key(vault._unlocked_keys.master), nonce, wrapped,
                      pending_aad(vault.vault_id, operator_id))
    except DecryptionFailed as e:
        raise VaultTampered("the operator key kept for the upgrade failed its check") from e


def _carry(vault: VaultSession, operator_id: str, slot_id: str, kek: bytes, key: bytes) -> None:
    """Slot ``slot_id`` now carries the operator key; drop the pending copy once all do."""
    header = vault._fresh_header()
    slots = tuple(wrap_operator_key(kek, key, s, vault.vault_id, operator_id)
                  if s.id == slot_id else s for s in header.slots)
    done = all(s.wrapped_operator is not None for s in slots if s.operator == operator_id)
    with vault._write(anchor=False) as conn:
        if done:
            conn.execute("UPDATE operators SET pending_nonce = NULL, pending_wrapped = NULL "
                         "WHERE id = ?", (operator_id,))
        vault._event("keyslot.operator-key", slot_id, details={"all_slots": done})
    vault._save_header(replace(header, slots=slots))


def _adopt(vault: VaultSession, slot: Keyslot, kek: bytes) -> None:
    master = vault._unlocked_keys.master
    now = vault._now()
    with vault._write(anchor=False) as conn:
        first, private = create_first(vault, conn, vault.actor, now)
        header = vault._fresh_header()
        others = [s for s in header.slots if s.id != slot.id]
        if others:
            nonce, wrapped = seal(pending_key(master), private,
                                  pending_aad(vault.vault_id, first.id))
            conn.execute("UPDATE operators SET pending_nonce = ?, pending_wrapped = ? "
                         "WHERE id = ?", (nonce, wrapped, first.id))
        old_wrap = dek_wrap_key(master)
        for level, generation, dnonce, dwrapped in conn.execute(
                "SELECT level, generation, nonce, wrapped FROM deks").fetchall():
            try:
                dek = unseal(old_wrap, bytes(dnonce), bytes(dwrapped),
                             dek_aad(vault.vault_id, level, generation))
            except DecryptionFailed as e:
                raise VaultTampered(f"the data key for level {level} failed its check") from e
            custody.wrap(conn, vault.vault_id, level, generation, dek, first)
            conn.execute("UPDATE deks SET nonce = ?, wrapped = ? WHERE level = ? AND "
                         "generation = ?", (b"", b"", level, generation))
        vault._event("operator.adopt", first.name,
                     details={"operator": first.id, "roles": list(first.roles),
                              "slots": len(header.slots)})
        refs = operators.header_refs(conn)
    slots = tuple(
        wrap_operator_key(kek, private, s, vault.vault_id, first.id) if s.id == slot.id
        else replace(s, operator=first.id) for s in header.slots)
    vault._save_header(replace(header, slots=slots, operators=refs))
