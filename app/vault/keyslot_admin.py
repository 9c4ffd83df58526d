"""Keyslot administration: change the passphrase, enrol, rename, test and remove unlock methods.

Each change is an audit event, then a new header (MAC'd under the master key) is written.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from ..access import approvals, enforce
from ..access import policy as access_policy
from ..access.approvals import Approval
from ..access.roles import OPERATORS_MANAGE
from ..audit import Outcome
from ..crypto import Argon2Params
from ..errors import (
    AuthenticationFailed,
    NotFound,
    Refused,
    StrongroomError,
    UsageError,
    UserCancelled,
    WrongPassphrase,
)
from ..header import Header
from ..keyslots import (
    PASSPHRASE,
    Keyslot,
    KeyslotUnlocker,
    PassphraseUnlocker,
    StatusCallback,
    argon2_params_from_slot,
    new_passphrase_slot,
    unwrap_master_key,
    unwrap_operator_key,
    wrap_operator_key,
)
from ..unlock_methods import (
    MIN_FIDO2_KEYS,
    HardwareUnlocker,
    Prompts,
    SlotKind,
    SlotRef,
    SlotSecretSource,
    needs_passphrase,
    new_hardware_slot,
)
from . import rotation
from .secret_fields import MAX_NAME_CHARS
from .session import VaultSession


def _slot_label(label: str) -> str:
    label = label.strip()
    if not label or len(label) > MAX_NAME_CHARS or any(ord(c) < 32 for c in label):
        raise UsageError("a keyslot label is 1 to 256 printable characters")
    return label


def change_passphrase(
    vault: VaultSession, old: bytes, new: bytes, *, rekey: bool | None = None
) -> bool:
    """Re-wrap the master key for the passphrase slot that ``old`` opens, under ``new``; then,
    unless ``rekey`` is False, rotate the master key so that an older copy of the header with
    the old passphrase no longer opens the database. Returns whether it was rotated.

    ``rekey`` None rotates when it can (the changed slot is the only one and opened the vault);
    True insists (Refused, before anything changes, when it cannot). Refused while two-factor
    slots exist: they mix the passphrase they were enrolled with into their KEK, and re-wrapping
    them needs their device; remove and re-enrol them instead.
    """
    with vault._mutex:
        keys = vault._unlocked_keys
        header = vault._fresh_header()
        two_factor = [s.label or s.id for s in header.slots if needs_passphrase(s)]
        if two_factor:
            raise Refused(
                "these two-factor keyslots use the current passphrase: "
                f"{', '.join(two_factor)}; remove them, change it, then enrol them again"
            )
        if rekey and (blocker := rotation.rekey_blocker(vault, header)):
            raise Refused(f"{blocker}; nothing was changed")
        unlocker = PassphraseUnlocker(old)
        for slot in (s for s in header.slots if s.kind == PASSPHRASE):
            kek = unlocker.derive_kek(slot)
            if unwrap_master_key(kek, slot, vault.vault_id) == keys.master:
                break
        else:
            vault.backoff.record_failure(vault.clock.now())
            raise WrongPassphrase("the current passphrase is wrong; nothing was changed")
        replacement, new_kek = new_passphrase_slot(
            new, keys.master, vault.vault_id, now=slot.created,
            label=slot.label, kdf=argon2_params_from_slot(slot), slot_id=slot.id,
        )
        replacement = carry_operator(slot, kek, replacement, new_kek, vault.vault_id)
        slots = tuple(replacement if s.id == slot.id else s for s in header.slots)
        with vault._write(anchor=False):
            vault._event("passphrase.change", slot.id)
        vault._save_header(replace(header, slots=slots))
        if keys.slot_id == slot.id:
            keys.kek = new_kek
        return _rekey_if(vault, rekey)


def carry_operator(old: Keyslot, old_kek: bytes, new: Keyslot, new_kek: bytes, vault_id: str
                   ) -> Keyslot:
    """``new`` replacing ``old``: the same operator, their key re-wrapped under the new KEK."""
    if old.operator is None:
        return new
    key = unwrap_operator_key(old_kek, old, vault_id)
    if key is None:  # a slot from before operators, not used since: it stays so
        return replace(new, operator=old.operator)
    return wrap_operator_key(new_kek, key, new, vault_id, old.operator)


def _rekey_if(vault: VaultSession, rekey: bool | None) -> bool:
    """After a keyslot change: rotate the master key unless told not to or it cannot be."""
    if rekey is False or rotation.rekey_blocker(vault) is not None:
        return False
    rotation.rotate_master_key(vault)
    return True


def add_hardware_slot(vault: VaultSession, source: SlotSecretSource,
    *,
    label: str,
    options: Mapping[str, Any] | None = None,
    passphrase: bytes | None = None,
    prompts: Prompts | None = None,
    cancel: threading.Event | None = None,
    on_status: StatusCallback | None = None,
) -> Keyslot:
    """Enrol a FIDO2 key, the TPM or the OS keyring as another way to open the vault.

    With ``passphrase`` the slot is two-factor: it needs the device and that passphrase, which
    must open one of the vault's passphrase slots (so a typo cannot lock anyone out).
    """
    label = _slot_label(label)
    with vault._mutex:
        keys = vault._unlocked_keys
        header = vault._fresh_header()
        kdf = None
        if passphrase is not None:
            kdf = _passphrase_slot_for(vault, header, passphrase, keys.master)
        slot, kek = new_hardware_slot(
            source, keys.master, vault.vault_id, now=vault._now(), label=label,
            options=options, passphrase=passphrase, two_factor_kdf=kdf, prompts=prompts,
            cancel=cancel, on_status=on_status,
            enrolled=[SlotRef(s.id, s.label, s.params) for s in header.slots
                      if s.kind == source.kind],
        )
        if keys.operator_id:  # (none while a vault of schema 3 is made for upgrade tests)
            slot = wrap_operator_key(kek, keys.operator_key, slot, vault.vault_id,
                                     keys.operator_id)
        header = vault._fresh_header()
        with vault._write(anchor=False):
            vault._event(
                "keyslot.add", slot.id,
                details={"kind": slot.kind, "label": label, "two_factor": kdf is not None},
            )
        vault._save_header(replace(header, slots=(*header.slots, slot)))
        return slot


def _passphrase_slot_for(vault: VaultSession, header: Header, passphrase: bytes, master: bytes
) -> Argon2Params:
    """The Argon2id cost of the passphrase slot ``passphrase`` opens, or WrongPassphrase."""
    unlocker = PassphraseUnlocker(passphrase)
    for slot in (s for s in header.slots if s.kind == PASSPHRASE):
        if unwrap_master_key(unlocker.derive_kek(slot), slot, vault.vault_id) == master:
            return argon2_params_from_slot(slot)
    raise WrongPassphrase("the passphrase does not open this vault; nothing was enrolled")


@enforce.denials_audited
def remove_slot(
    vault: VaultSession, slot_id: str, source: SlotSecretSource | None = None,
    *, rekey: bool | None = None, approval: Approval | None = None,
) -> bool:
    """Remove a keyslot. Never the last one, and never the last passphrase slot unless at
    least two security keys remain (one lost key must not lock the vault for good). Then, as
    for a passphrase change, rotate the master key when it can (``rekey``), so the removed
    slot in an older copy of the header opens nothing; returns whether it was rotated."""
    with vault._mutex:
        vault._unlocked_keys  # noqa: B018 - raises VaultLocked
        header = vault._fresh_header()
        slot = header.slot(slot_id)
        if slot is None:
            raise NotFound(f"no keyslot {slot_id}")
        # The checks look at what the slot's own operator keeps; the header keeps everyone's.
        rest = [s for s in header.slots if s.id != slot_id and s.operator == slot.operator]
        if not rest:
            raise Refused("this is the vault's only keyslot; add another before removing it"
                          if len(header.slots) == 1 else "this is its operator's only keyslot; "
                          "add another for them, or remove the operator, before removing it")
        fido2_left = sum(1 for s in rest if s.kind == SlotKind.Fido2.value)
        if (slot.kind == PASSPHRASE and not any(s.kind == PASSPHRASE for s in rest)
                and fido2_left < MIN_FIDO2_KEYS):
            raise Refused(
                "this is the last passphrase keyslot; enrol at least two security keys "
                "before removing it"
            )
        with vault._write(anchor=False) as conn:
            if slot.operator != vault._unlocked_keys.operator_id:
                enforce.require_role(vault, conn, OPERATORS_MANAGE,
                                     "remove another operator's unlock method")
            extra = approvals.check(vault, conn, "keyslot.remove", slot.id, approval,
                                    critical=access_policy.load(conn).critical("keyslot.remove"))
            vault._event("keyslot.remove", slot.id, details={"kind": slot.kind, **extra})
        if slot_id == vault._unlocked_keys.slot_id:
            vault._unlocked_keys.kek = b""
        vault._save_header(replace(header, slots=tuple(s for s in header.slots
                                                       if s.id != slot_id)))
    if source is not None:
        source.forget(SlotRef(slot.id, slot.label, slot.params))
    return _rekey_if(vault, rekey)


def rename_slot(vault: VaultSession, slot_id: str, label: str) -> None:
    label = _slot_label(label)
    with vault._mutex:
        header = vault._fresh_header()
        slot = header.slot(slot_id)
        if slot is None:
            raise NotFound(f"no keyslot {slot_id}")
        with vault._write(anchor=False):
            vault._event("keyslot.rename", slot.id, details={"label": label})
        vault._save_header(replace(
            header, slots=tuple(replace(s, label=label) if s.id == slot_id else s
                                for s in header.slots),
        ))


def test_slot(vault: VaultSession, slot_id: str,
    unlocker: KeyslotUnlocker,
    *,
    cancel: threading.Event | None = None,
    on_status: StatusCallback | None = None,
) -> None:
    """Check that ``unlocker`` still opens ``slot_id`` (the key works, the PIN is known)."""
    with vault._mutex:
        master = vault._unlocked_keys.master
        header = vault._fresh_header()
        slot = header.slot(slot_id)
        if slot is None:
            raise NotFound(f"no keyslot {slot_id}")
        if slot.kind != unlocker.kind:
            raise UsageError(f"keyslot {slot_id} is a {slot.kind} slot, not {unlocker.kind}")
        try:
            if isinstance(unlocker, HardwareUnlocker):
                unlocker.select([slot], cancel=cancel, on_status=on_status)
            kek = unlocker.derive_kek(slot, cancel=cancel, on_status=on_status)
            ok = unwrap_master_key(kek, slot, vault.vault_id) == master
        except UserCancelled:
            raise
        except StrongroomError as e:
            vault.record("keyslot.test", slot.id, Outcome.Failed,
                        {"kind": slot.kind, "error": type(e).__name__})
            raise
        if not ok:
            vault.record("keyslot.test", slot.id, Outcome.Failed, {"kind": slot.kind})
            raise AuthenticationFailed(
                f"keyslot {slot.label or slot.id} did not open the vault"
            )
        with vault._write(anchor=False):
            vault._event("keyslot.test", slot.id, details={"kind": slot.kind})
        header = vault._fresh_header()
        now = vault._now()
        vault._save_header(replace(
            header, slots=tuple(replace(s, last_tested=now) if s.id == slot_id else s
                                for s in header.slots),
        ))
