"""SLIP-39 share sets: a secret split M-of-N among named custodians, checked later by commitment.

The shares are handed back once, to be shown to each custodian, and are never stored or logged.
Per share the vault keeps a random salt and a commitment: SHA-256 over a domain label, the set id,
the share's index, the salt and the share's canonical words. A share typed in later is checked
against it without combining anything, and the commitment says nothing about the share. Drills
ask each custodian, every ``drill_days``, to prove they still hold their share.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import shamir_mnemonic

from ..access import enforce
from ..access.roles import OPERATORS_MANAGE
from ..audit import Outcome
from ..crypto import mac_equal
from ..errors import AuthenticationFailed, NotFound, UsageError
from ..model import has_hidden, parse_iso
from ..vault.session import VaultSession
from .share_words import InvalidShare, parse_share

COMMITMENT_LABEL = b"strongroom/share-commitment/v1"
SALT_BYTES = 16
MAX_SHARES = 16  # SLIP-39's most members in a group
MAX_CUSTODIAN_CHARS = 64
DEFAULT_DRILL_DAYS = 180
MAX_DRILL_DAYS = 3660
OVERDUE = "overdue"  # a holder's flag, as on review items: the drill is past due
RETIRED = "retired"  # a set's flag: the keyslot it was made for has been removed

SETS = ("SELECT id, purpose, threshold, count, created, ceremony_id, slot_id, drill_days "
        "FROM share_sets")
HOLDERS = ("SELECT set_id, idx, custodian, salt, commitment, last_drill FROM share_holders")


class ShareMismatch(AuthenticationFailed):
    """A well-formed share that is not the one expected: another set's, or another holder's."""


@dataclass(frozen=True)
class Holder:
    """One custodian's place in a set: public facts only (the salt and commitment hide the
    share)."""

    index: int  # 1-based, in the order the custodians were named
    custodian: str
    salt: bytes = field(repr=False)
    commitment: bytes = field(repr=False)
    last_drill: str | None = None


@dataclass(frozen=True)
class ShareSet:
    id: str
    purpose: str
    threshold: int
    count: int
    created: str
    drill_days: int
    holders: tuple[Holder, ...]
    ceremony_id: str | None = None
    slot_id: str | None = None

    def holder(self, custodian: str) -> Holder:
        wanted = custodian.strip().casefold()
        for h in self.holders:
            if h.custodian.casefold() == wanted:
                return h
        raise NotFound(f"share set {self.id} has no custodian named {custodian.strip()!r}; "
                       f"its custodians: {', '.join(h.custodian for h in self.holders)}")

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "purpose": self.purpose, "threshold": self.threshold,
                "count": self.count, "created": self.created, "drill_days": self.drill_days,
                "ceremony": self.ceremony_id, "slot": self.slot_id,
                "custodians": [h.custodian for h in self.holders]}


@dataclass(frozen=True)
class IssuedShare:
    """One custodian's share, to be shown to them once. Never stored, never logged."""

    index: int
    custodian: str
    mnemonic: str = field(repr=False)


@dataclass(frozen=True)
class DrillStatus:
    """When a holder last proved their share, and when the next drill is due."""

    set_id: str
    purpose: str
    index: int
    custodian: str
    last_drill: str | None
    due: str
    flags: tuple[str, ...] = ()

    @property
    def overdue(self) -> bool:
        return OVERDUE in self.flags

    def to_json(self) -> dict[str, Any]:
        return {"set": self.set_id, "purpose": self.purpose, "index": self.index,
                "custodian": self.custodian, "last_drill": self.last_drill, "due": self.due,
                "overdue": self.overdue, "flags": list(self.flags)}


# ----- splitting and commitments -----------------------------------------------------------------


def check_custodians(names: Sequence[str]) -> list[str]:
    """The custodians' names, stripped; each 1..64 visible characters, no two alike."""
    out: list[str] = []
    for name in names:
        name = name.strip()
        if not name or len(name) > MAX_CUSTODIAN_CHARS or has_hidden(name):
            raise UsageError(f"a custodian's name is 1 to {MAX_CUSTODIAN_CHARS} visible "
                             "characters")
        if name.casefold() in (n.casefold() for n in out):
            raise UsageError(f"custodian {name!r} is named twice: one share per custodian")
        out.append(name)
    return out


def check_threshold(threshold: int, count: int) -> None:
    """M of N: 2 <= M <= N <= 16 (SLIP-39 makes no 1-of-N set: that is N copies)."""
    if not 2 <= count <= MAX_SHARES:
        raise UsageError(f"a share set has 2 to {MAX_SHARES} custodians, not {count}")
    if not 2 <= threshold <= count:
        raise UsageError(f"the threshold is 2 to the number of custodians ({count}), "
                         f"not {threshold}")


def check_drill_days(days: int) -> int:
    if not 1 <= days <= MAX_DRILL_DAYS:
        raise UsageError(f"drills are due every 1 to {MAX_DRILL_DAYS} days, not {days}")
    return days


def commitment(set_id: str, index: int, salt: bytes, mnemonic: str) -> bytes:
    """SHA-256 over the label, set id, index, salt and canonical words, each length-prefixed."""
    digest = hashlib.sha256()
    for part in (COMMITMENT_LABEL, set_id.encode(), str(index).encode(), salt,
                 mnemonic.encode()):
        digest.update(len(part).to_bytes(4, "big"))
        digest.update(part)
    return digest.digest()


def split(secret: bytes, threshold: int, custodians: Sequence[str], *, purpose: str,
          created: str, drill_days: int = DEFAULT_DRILL_DAYS, ceremony_id: str | None = None,
          slot_id: str | None = None, iteration_exponent: int = 1
          ) -> tuple[ShareSet, list[IssuedShare]]:
    """Split ``secret`` (16 bytes or more, even length) into one SLIP-39 share per custodian, any
    ``threshold`` of which recover it; the set (commitments only) and the shares to hand out."""
    names = check_custodians(custodians)
    check_threshold(threshold, len(names))
    check_drill_days(drill_days)
    if not 0 <= iteration_exponent <= 15:
        raise UsageError("the SLIP-39 iteration exponent is 0 to 15")
    if len(secret) < 16 or len(secret) % 2:
        raise UsageError("SLIP-39 splits a secret of 16 bytes or more, of even length")
    [mnemonics] = shamir_mnemonic.generate_mnemonics(
        1, [(threshold, len(names))], secret, iteration_exponent=iteration_exponent)
    set_id = secrets.token_hex(4)
    holders, issued = [], []
    for index, (name, mnemonic) in enumerate(zip(names, mnemonics, strict=True), 1):
        salt = secrets.token_bytes(SALT_BYTES)
        holders.append(Holder(index, name, salt, commitment(set_id, index, salt, mnemonic)))
        issued.append(IssuedShare(index, name, mnemonic))
    share_set = ShareSet(set_id, purpose, threshold, len(names), created, drill_days,
                         tuple(holders), ceremony_id, slot_id)
    return share_set, issued


def match(share_set: ShareSet, words: str) -> Holder:
    """The holder whose share ``words`` is, by commitment; InvalidShare (malformed) or
    ShareMismatch (a share, but none of this set's)."""
    mnemonic = parse_share(words).mnemonic()
    found = None
    for holder in share_set.holders:  # all compared, so the time says nothing about which
        if mac_equal(commitment(share_set.id, holder.index, holder.salt, mnemonic),
                     holder.commitment):
            found = holder
    if found is None:
        raise ShareMismatch(f"this share is not one of share set {share_set.id}'s")
    return found


# ----- stored -----------------------------------------------------------------------------------


def save(conn: Any, share_set: ShareSet) -> None:
    """Insert the set and its holders (inside the caller's write transaction)."""
    conn.execute(
        "INSERT INTO share_sets (id, purpose, threshold, count, created, ceremony_id, slot_id, "
        "drill_days) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (share_set.id, share_set.purpose, share_set.threshold, share_set.count,
         share_set.created, share_set.ceremony_id, share_set.slot_id, share_set.drill_days))
    conn.executemany(
        "INSERT INTO share_holders (set_id, idx, custodian, salt, commitment, last_drill) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [(share_set.id, h.index, h.custodian, h.salt, h.commitment, h.last_drill)
         for h in share_set.holders])


def created_details(share_set: ShareSet) -> dict[str, Any]:
    """What the ``shares.create`` audit event says: who holds a share, never a share."""
    return {"set": share_set.id, "purpose": share_set.purpose,
            "threshold": share_set.threshold, "count": share_set.count,
            "custodians": [h.custodian for h in share_set.holders],
            "slot": share_set.slot_id, "ceremony": share_set.ceremony_id,
            "drill_days": share_set.drill_days}


@enforce.denials_audited
def create_share_set(vault: VaultSession, secret: bytes, threshold: int,
                     custodians: Sequence[str], *, purpose: str,
                     drill_days: int = DEFAULT_DRILL_DAYS, ceremony_id: str | None = None,
                     iteration_exponent: int = 1) -> tuple[ShareSet, list[IssuedShare]]:
    """Split ``secret`` and keep its set's commitments: an Administrator's operation
    (operators.manage), audited as ``shares.create``. The shares are returned, never kept."""
    share_set, issued = split(secret, threshold, custodians, purpose=purpose,
                              created=vault._now(), drill_days=drill_days,
                              ceremony_id=ceremony_id, iteration_exponent=iteration_exponent)
    with vault._write() as conn:
        enforce.require_role(vault, conn, OPERATORS_MANAGE, "create a share set")
        save(conn, share_set)
        vault._event("shares.create", share_set.id, details=created_details(share_set))
    return share_set, issued


def _sets(conn: Any, set_id: str | None = None) -> list[ShareSet]:
    where, args = ("", ()) if set_id is None else (" WHERE id = ?", (set_id,))
    rows = conn.execute(SETS + where + " ORDER BY created, id", args).fetchall()
    hwhere = "" if set_id is None else " WHERE set_id = ?"
    holders: dict[str, list[Holder]] = {}
    for r in conn.execute(HOLDERS + hwhere + " ORDER BY set_id, idx", args).fetchall():
        holders.setdefault(r[0], []).append(
            Holder(int(r[1]), str(r[2]), bytes(r[3]), bytes(r[4]), r[5]))
    return [ShareSet(r[0], r[1], int(r[2]), int(r[3]), r[4], int(r[7]),
                     tuple(holders.get(r[0], ())), r[5], r[6]) for r in rows]


def load(conn: Any, set_id: str) -> ShareSet:
    found = _sets(conn, set_id.strip())
    if not found:
        raise NotFound(f"no share set {set_id.strip()!r}; see 'strongroom shares list'")
    return found[0]


def share_sets(vault: VaultSession) -> list[ShareSet]:
    """Every share set of the vault, oldest first."""
    with vault._read() as conn:
        return _sets(conn)


def get_set(vault: VaultSession, set_id: str) -> ShareSet:
    with vault._read() as conn:
        return load(conn, set_id)


def is_retired(vault: VaultSession, share_set: ShareSet) -> bool:
    """Whether the keyslot the set was made for is gone (its shares open nothing now)."""
    return share_set.slot_id is not None and vault.header.slot(share_set.slot_id) is None


# ----- checking and drills ------------------------------------------------------------------------


def check_share(vault: VaultSession, set_id: str, words: str) -> int:
    """The index of the holder whose share ``words`` is (1-based); nothing is recorded."""
    return match(get_set(vault, set_id), words).index


def drill(vault: VaultSession, set_id: str, custodian: str, words: str) -> Holder:
    """Record that ``custodian`` still holds their share of ``set_id`` (``shares.drill``), or
    record the failed drill and raise: InvalidShare for a malformed share, ShareMismatch for
    another set's or another holder's."""
    with vault._mutex:
        share_set = get_set(vault, set_id)
        holder = share_set.holder(custodian)
        facts = {"set": share_set.id, "index": holder.index, "custodian": holder.custodian}
        try:
            found = match(share_set, words)
            if found.index != holder.index:
                raise ShareMismatch(f"this is the share of holder {found.index} "
                                    f"({found.custodian}), not {holder.custodian}'s")
        except (InvalidShare, ShareMismatch) as e:
            vault.record("shares.drill", share_set.id, Outcome.Failed, {**facts, "reason": str(e)})
            raise
        now = vault._now()
        with vault._write(anchor=False) as conn:
            conn.execute("UPDATE share_holders SET last_drill = ? WHERE set_id = ? AND idx = ?",
                         (now, share_set.id, holder.index))
            vault._event("shares.drill", share_set.id, details=facts)
        # A drill of a recovery set is that slot's test: `unlock-method list` shows its date.
        header = vault._fresh_header()
        vault._save_header(replace(header, slots=tuple(
            replace(s, last_tested=now) if s.id == share_set.slot_id else s
            for s in header.slots)))
        return replace(holder, last_drill=now)


def drill_statuses(share_set: ShareSet, now: dt.datetime) -> list[DrillStatus]:
    """Each holder's last drill and next due date; past due is flagged overdue."""
    out = []
    for h in share_set.holders:
        due = parse_iso(h.last_drill or share_set.created) + dt.timedelta(
            days=share_set.drill_days)
        flags = (OVERDUE,) if now > due else ()
        out.append(DrillStatus(share_set.id, share_set.purpose, h.index, h.custodian,
                               h.last_drill, due.date().isoformat(), flags))
    return out


def drills_due(vault: VaultSession, now: dt.datetime) -> list[DrillStatus]:
    """Holders whose last drill (or, never drilled, their set's creation) is older than their
    set's ``drill_days``, flagged overdue; sets whose keyslot was removed are left out."""
    return [status for share_set in share_sets(vault) if not is_retired(vault, share_set)
            for status in drill_statuses(share_set, now) if status.overdue]
