"""The recovery keyslot: any M of N custodians' SLIP-39 shares open the vault.

Its KEK is HKDF of a random 32-byte recovery secret, split M-of-N into a share set (purpose
``vault-recovery``, its ``slot_id`` naming the slot) whose shares are shown once and never kept.
Like any keyslot it wraps the master key and the acting operator's key under that KEK; its
parameters hold the set id, M, N and an HKDF salt — nothing secret, nothing of a share.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import shamir_mnemonic

from ..access import enforce
from ..access.roles import OPERATORS_MANAGE
from ..crypto import hkdf
from ..errors import AuthenticationFailed, HeaderCorrupt, Refused, UsageError, UserCancelled
from ..keyslots import (
    Keyslot,
    StatusCallback,
    WrappedKey,
    b64d,
    b64e,
    new_slot_id,
    wrap_master_key,
    wrap_operator_key,
)
from ..model import has_hidden
from ..unlock_methods import RECOVERY
from ..vault.session import VaultSession
from .share_words import InvalidShare, parse_share
from .shares import (
    DEFAULT_DRILL_DAYS,
    IssuedShare,
    ShareSet,
    check_custodians,
    check_threshold,
    created_details,
    save,
    split,
)

PURPOSE = "vault-recovery"
SECRET_BYTES = 32
KEK_LABEL = "keyslot/recovery"
MAX_LABEL_CHARS = 256


@dataclass(frozen=True)
class RecoverySetup:
    """A new recovery keyslot, its share set, and the shares to show each custodian once."""

    slot: Keyslot
    share_set: ShareSet
    shares: tuple[IssuedShare, ...] = field(repr=False)


@dataclass(frozen=True)
class RecoveryParams:
    set_id: str
    threshold: int
    count: int
    kek_salt: bytes = field(repr=False)


def recovery_params(slot: Keyslot) -> RecoveryParams:
    """A recovery slot's public parameters; HeaderCorrupt when malformed."""
    p = slot.params
    try:
        params = RecoveryParams(p["set"], p["threshold"], p["count"], b64d(p["kek_salt"]))
    except (KeyError, ValueError, TypeError):
        params = None
    if (params is None or not isinstance(params.set_id, str)
            or type(params.threshold) is not int or type(params.count) is not int
            or not 1 <= params.threshold <= params.count or len(params.kek_salt) < 16):
        raise HeaderCorrupt(f"recovery keyslot {slot.id} has malformed parameters")
    return params


def shares_needed(slots: Sequence[Keyslot]) -> int:
    """How many shares to ask for to open one of ``slots`` (the largest M among them)."""
    return max((recovery_params(s).threshold for s in slots if s.kind == RECOVERY), default=0)


def combine(shares: Sequence[str]) -> bytes:
    """The recovery secret from exactly M shares of one set; AuthenticationFailed, in one
    sentence naming the share at fault, for anything else."""
    if not shares:
        raise AuthenticationFailed("no recovery shares were given")
    parsed = []
    for number, text in enumerate(shares, 1):
        try:
            parsed.append(parse_share(text))
        except InvalidShare as e:
            raise AuthenticationFailed(f"share {number}: {e}") from None
    first = parsed[0]
    for number, share in enumerate(parsed[1:], 2):
        if (share.common_parameters() != first.common_parameters()
                or share.member_threshold != first.member_threshold):
            raise AuthenticationFailed(f"share {number} is of another share set than share 1")
    if len({s.index for s in parsed}) < len(parsed):
        raise AuthenticationFailed("the same share was given twice")
    needed = first.member_threshold
    if len(parsed) != needed:
        raise AuthenticationFailed(
            f"{len(parsed)} share{'s' * (len(parsed) != 1)} given; this set opens with exactly "
            f"{needed} of its custodians' shares")
    try:
        secret = bytes(shamir_mnemonic.combine_mnemonics([s.mnemonic() for s in parsed]))
    except (shamir_mnemonic.MnemonicError, ValueError):
        raise AuthenticationFailed("the shares do not combine: they are not all of one set"
                                   ) from None
    if len(secret) != SECRET_BYTES:
        raise AuthenticationFailed("these shares are not of a vault recovery set")
    return secret


def derive_kek(secret: bytes, params: RecoveryParams) -> bytes:
    return hkdf(secret, KEK_LABEL, salt=params.kek_salt)


@dataclass
class RecoveryUnlocker:
    """A :class:`keyslots.KeyslotUnlocker` for recovery slots: M custodians' shares, typed in.

    The shares are combined once (the first slot tried); a slot of another set then gets a KEK
    that does not open it, as a wrong passphrase would."""

    shares: list[str] = field(repr=False)
    kind: str = RECOVERY
    _secret: bytes | None = field(default=None, repr=False)

    def derive_kek(
        self,
        slot: Keyslot,
        *,
        cancel: threading.Event | None = None,
        on_status: StatusCallback | None = None,
    ) -> bytes:
        if cancel is not None and cancel.is_set():
            raise UserCancelled()
        params = recovery_params(slot)
        if self._secret is None:
            if on_status is not None:
                on_status("Combining the recovery shares")
            self._secret = combine(self.shares)
        return derive_kek(self._secret, params)

    def forget(self) -> None:
        """Drop the shares and the secret they made."""
        self.shares.clear()
        self._secret = None


def _label(label: str | None, threshold: int, count: int) -> str:
    label = (label or f"Recovery ({threshold} of {count} shares)").strip()
    if not label or len(label) > MAX_LABEL_CHARS or has_hidden(label):
        raise UsageError(f"a keyslot label is 1 to {MAX_LABEL_CHARS} printable characters")
    return label


@enforce.denials_audited
def create_recovery_slot(
    vault: VaultSession, threshold: int, custodians: Sequence[str], *,
    label: str | None = None, drill_days: int = DEFAULT_DRILL_DAYS,
    ceremony_id: str | None = None, iteration_exponent: int = 1,
) -> RecoverySetup:
    """A recovery keyslot that any ``threshold`` of the custodians' shares open, as the acting
    operator's: an Administrator's operation (operators.manage), audited as ``keyslot.add`` and
    ``shares.create`` in one transaction. The shares are in the result only."""
    names = check_custodians(custodians)
    check_threshold(threshold, len(names))
    label = _label(label, threshold, len(names))
    with vault._mutex:
        keys = vault._unlocked_keys
        with vault._read() as conn:  # refused before any secret is made
            enforce.require_role(vault, conn, OPERATORS_MANAGE, "create a recovery keyslot")
        secret = secrets.token_bytes(SECRET_BYTES)
        now, slot_id = vault._now(), new_slot_id()
        share_set, issued = split(secret, threshold, names, purpose=PURPOSE, created=now,
                                  drill_days=drill_days, ceremony_id=ceremony_id,
                                  slot_id=slot_id, iteration_exponent=iteration_exponent)
        if combine([s.mnemonic for s in issued[:threshold]]) != secret:  # pragma: no cover
            raise Refused("the new shares did not combine back to the secret; nothing was "
                          "created")
        params: Mapping[str, Any] = {"set": share_set.id, "threshold": threshold,
                                     "count": len(names), "kek_salt": b64e(secrets.token_bytes(32))}
        slot = Keyslot(id=slot_id, kind=RECOVERY, label=label, params=params,
                       wrapped=WrappedKey(b"", b""), created=now)
        kek = derive_kek(secret, recovery_params(slot))
        slot = replace(slot, wrapped=wrap_master_key(kek, keys.master, slot, vault.vault_id))
        if keys.operator_id:
            slot = wrap_operator_key(kek, keys.operator_key, slot, vault.vault_id,
                                     keys.operator_id)
        header = vault._fresh_header()
        with vault._write(anchor=False) as conn:
            enforce.require_role(vault, conn, OPERATORS_MANAGE, "create a recovery keyslot")
            save(conn, share_set)
            vault._event("keyslot.add", slot.id, details={
                "kind": RECOVERY, "label": label, "set": share_set.id,
                "threshold": threshold, "count": len(names)})
            vault._event("shares.create", share_set.id, details=created_details(share_set))
        vault._save_header(replace(header, slots=(*header.slots, slot)))
    return RecoverySetup(slot, share_set, tuple(issued))
