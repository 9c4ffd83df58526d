"""Who holds each level's data key: one wrap per (level, generation, operator), made to the
operator's public key (wrapping.py), opened only with their operator key.

An operator holds a level when their live grants let them read values in it (grants.py). Giving a
grant wraps the level's current key to them (the grantor must hold it); revoking the last grant
that needed a level drops their wraps and rotates the level's key, re-encrypting its values for
the remaining holders, because the operator may have kept the old key. When the operator revoking
does not hold the level, the rotation is left pending and done by the level's next holder to
unlock (``pending_rotations``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..crypto import DecryptionFailed
from ..errors import AccessDenied, VaultTampered
from . import grants, operators
from .operators import Operator
from .wrapping import WrappedDek, dek_wrap_aad, unwrap_with, wrap_to

SHARE_PREFIX = b"slip39:"  # a wrap holding one SLIP-39 share of the key, not the key itself


@dataclass(frozen=True)
class Share:
    """One holder's SLIP-39 share (2-of-N) of a dual-control level's key."""

    level: str
    generation: int
    mnemonic: str = field(repr=False)

PENDING_KEY = "rotate_levels"  # meta: levels whose key must be rotated by their next holder


def needs(conn: Any, operator_id: str, now: str) -> set[str]:
    """The levels whose data key this operator's live grants need."""
    return grants.levels_needed(conn, grants.grants_of(conn, operator_id, now))


def holders_needed(conn: Any, level: str, now: str) -> list[Operator]:
    """The operators (not removed) who should hold ``level``'s key now."""
    return [o for o in operators.all_operators(conn)
            if o.status != operators.REMOVED and level in needs(conn, o.id, now)]


def wrap(conn: Any, vault_id: str, level: str, generation: int, dek: bytes,
         operator: Operator) -> None:
    _store(conn, vault_id, level, generation, dek, operator)


def _store(conn: Any, vault_id: str, level: str, generation: int, payload: bytes,
           operator: Operator) -> None:
    w = wrap_to(operator.public_key, payload,
                dek_wrap_aad(vault_id, level, generation, operator.id))
    conn.execute(
        "INSERT OR REPLACE INTO dek_wraps (level, generation, operator_id, ephemeral, nonce, "
        "wrapped) VALUES (?, ?, ?, ?, ?, ?)",
        (level, generation, operator.id, w.ephemeral, w.nonce, w.ciphertext),
    )


def distribute(conn: Any, vault_id: str, level: str, generation: int, dek: bytes,
               holders: Sequence[Operator], *, dual: bool) -> bool:
    """Give ``holders`` the key of ``level``/``generation``, replacing every wrap of it: under
    dual control with two or more holders each gets one SLIP-39 share (any two open it), else
    each gets the whole key. Returns whether it was split."""
    conn.execute("DELETE FROM dek_wraps WHERE level = ? AND generation = ?", (level, generation))
    split = dual and len(holders) >= 2
    if not split:
        for operator in holders:
            _store(conn, vault_id, level, generation, dek, operator)
        return False
    import shamir_mnemonic  # SLIP-39, only for a level under dual control

    [shares] = shamir_mnemonic.generate_mnemonics(1, [(2, len(holders))], dek,
                                                  iteration_exponent=0)
    for operator, mnemonic in zip(holders, shares, strict=True):
        _store(conn, vault_id, level, generation, SHARE_PREFIX + mnemonic.encode(), operator)
    return True


def combine(mine: Share, theirs: str) -> bytes:
    """The key from two holders' shares; VaultTampered when they do not combine."""
    import shamir_mnemonic

    try:
        return bytes(shamir_mnemonic.combine_mnemonics([mine.mnemonic, theirs]))
    except (shamir_mnemonic.MnemonicError, ValueError) as e:
        raise VaultTampered(f"the two shares of the level {mine.level} key do not combine") from e


def unwrap(conn: Any, vault_id: str, level: str, generation: int, operator_id: str,
           operator_key: bytes) -> bytes:
    """``level``'s data key of ``generation`` for this operator; AccessDenied if they hold none."""
    row = conn.execute(
        "SELECT ephemeral, nonce, wrapped FROM dek_wraps WHERE level = ? AND generation = ? "
        "AND operator_id = ?", (level, generation, operator_id)).fetchone()
    if row is None or not operator_key:
        raise AccessDenied(
            f"you hold no data key for level {level}: values at that level need a grant on "
            "the level, the secret or its tag from an Administrator",
            target=level, details={"missing": f"level:{level}", "permission": "read"})
    try:
        payload = unwrap_with(operator_key, WrappedDek(bytes(row[0]), bytes(row[1]),
                                                       bytes(row[2])),
                              dek_wrap_aad(vault_id, level, generation, operator_id))
    except DecryptionFailed as e:
        raise VaultTampered(f"your wrap of the data key for level {level} failed its "
                            "integrity check") from e
    return payload


def open_wrap(payload: bytes, level: str, generation: int) -> bytes | Share:
    """A wrap's content: the whole key, or a share of it (dual control)."""
    if payload.startswith(SHARE_PREFIX):
        return Share(level, generation, payload[len(SHARE_PREFIX):].decode("ascii"))
    return payload


def holder_names(conn: Any, level: str) -> list[str]:
    rows = conn.execute(
        "SELECT o.name FROM dek_wraps w JOIN operators o ON o.id = w.operator_id WHERE "
        "w.level = ? AND w.generation = (SELECT max(generation) FROM deks WHERE level = ?) "
        "ORDER BY o.name", (level, level)).fetchall()
    return [str(r[0]) for r in rows]


def holds(conn: Any, operator_id: str, level: str) -> bool:
    return conn.execute(
        "SELECT 1 FROM dek_wraps WHERE level = ? AND operator_id = ? AND generation = "
        "(SELECT max(generation) FROM deks WHERE level = ?)", (level, operator_id, level)
    ).fetchone() is not None


def held_levels(conn: Any, operator_id: str) -> set[str]:
    rows = conn.execute(
        "SELECT DISTINCT w.level FROM dek_wraps w WHERE w.operator_id = ? AND w.generation = "
        "(SELECT max(generation) FROM deks d WHERE d.level = w.level)", (operator_id,)).fetchall()
    return {str(r[0]) for r in rows}


def drop(conn: Any, operator_id: str, levels: Iterable[str]) -> None:
    for level in levels:
        conn.execute("DELETE FROM dek_wraps WHERE operator_id = ? AND level = ?",
                     (operator_id, level))


def pending_rotations(conn: Any) -> list[str]:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (PENDING_KEY,)).fetchone()
    return [] if row is None else list(json.loads(row[0]))


def set_pending_rotations(conn: Any, levels: Iterable[str]) -> None:
    levels = sorted(set(levels))
    if levels:
        conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                     (PENDING_KEY, json.dumps(levels)))
    else:
        conn.execute("DELETE FROM meta WHERE key = ?", (PENDING_KEY,))
