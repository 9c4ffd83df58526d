"""Key rotation: a new master key (SQLCipher rekey) and new per-level data keys, crash-safe.

The header first holds the new master key beside the old (``wrapped_next``), then the database is
rekeyed, then the header keeps only the new key; an unlock in between completes or abandons it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from .. import database
from ..audit import Outcome
from ..crypto import DecryptionFailed, random_key, seal, unseal
from ..errors import Refused, VaultTampered
from ..fsutil import exclusive_lock
from ..header import Header
from ..keyslots import wrap_master_key
from ..model import Classification
from .datakeys import dek_aad, dek_wrap_key, secret_aad
from .layout import LOCK_FILE
from .session import VaultSession


def rotate_master_key(vault: VaultSession, *, backup: bool = True) -> None:
    """Give the database a new random master key (SQLCipher rekey) and re-wrap the slot.

    Crash-safe: the header first holds the new key beside the old (``wrapped_next``), then the
    database is rekeyed, then the header keeps only the new key. An unlock in between finds
    whichever key opens the database and completes or abandons the rotation.
    """
    with vault._mutex:
        keys = vault._unlocked_keys
        header = vault._fresh_header()
        blocker = rekey_blocker(vault, header)
        if blocker:
            raise Refused(blocker)
        if backup:
            vault.auto_backup("rekey")
        slot = header.slot(keys.slot_id)
        assert slot is not None  # noqa: S101 - checked above: the unlocking slot is in the header
        new_master = random_key()
        pending = replace(
            slot, wrapped_next=wrap_master_key(keys.kek, new_master, slot, vault.vault_id)
        )
        vault._save_header(replace(header, slots=(pending,)))
        old_master = keys.master
        with vault._mutex, exclusive_lock(vault.path / LOCK_FILE):
            database.rekey(vault._conn, new_master)
        vault._keys = replace(keys, master=new_master)
        vault._finish_rotation(old_master, new_master, recovered=False)


def rekey_blocker(vault: VaultSession, header: Header | None = None) -> str | None:
    """Why the master key cannot be rotated now, as a sentence; None when it can."""
    keys = vault._unlocked_keys
    header = header or vault._fresh_header()
    others = [s.label or s.id for s in header.slots if s.id != keys.slot_id]
    if others:
        return ("rotating the master key re-wraps only the keyslot used to unlock; remove or "
                f"re-enrol these first: {', '.join(others)}")
    if not keys.kek:
        return "unlock the vault again before rotating its master key"
    return None


def finish_rotation(
    vault: VaultSession, old_master: bytes, new_master: bytes, *, recovered: bool
) -> None:
    """Re-wrap the DEKs under the new master key and drop the old key from the header."""
    old_wrap, new_wrap = dek_wrap_key(old_master), dek_wrap_key(new_master)
    # The header stays MAC'd under the old key until the last step below.
    with vault._write(anchor=False, header_master=old_master) as conn:
        rows = conn.execute("SELECT level, generation, nonce, wrapped FROM deks").fetchall()
        for level, generation, nonce, wrapped in rows:
            if not bytes(wrapped):
                continue  # wrapped to operators (access/custody.py), not under the master key
            aad = dek_aad(vault.vault_id, level, generation)
            try:
                unseal(new_wrap, bytes(nonce), bytes(wrapped), aad)
                continue  # already re-wrapped before an interruption
            except DecryptionFailed:
                pass
            try:
                dek = unseal(old_wrap, bytes(nonce), bytes(wrapped), aad)
            except DecryptionFailed as e:
                raise VaultTampered(f"the data key for level {level} failed its check") from e
            new_nonce, new_wrapped = seal(new_wrap, dek, aad)
            conn.execute(
                "UPDATE deks SET nonce = ?, wrapped = ? WHERE level = ? AND generation = ?",
                (new_nonce, new_wrapped, level, generation),
            )
        vault._event("vault.rekey", vault.vault_id, details={"recovered": recovered})
    header = Header.load(vault.header_path)
    if not (header.mac_ok(old_master) or header.mac_ok(new_master)):
        raise VaultTampered("the vault header was modified outside Strongroom")
    slots = tuple(
        s if s.wrapped_next is None else replace(s, wrapped=s.wrapped_next, wrapped_next=None)
        for s in header.slots
    )
    vault._save_header(replace(header, slots=slots))


def abandon_rotation(vault: VaultSession) -> None:
    header = vault._fresh_header()
    slots = tuple(replace(s, wrapped_next=None) for s in header.slots)
    with vault._write(anchor=False):
        vault._event("vault.rekey", vault.vault_id, Outcome.Failed, {"abandoned": True})
    vault._save_header(replace(header, slots=slots))


def rotate_dek(vault: VaultSession, level: Classification, *, backup: bool = True) -> int:
    """New data key for one level; re-encrypts that level's versions only. Returns the count."""
    if backup:
        vault.auto_backup(f"dek-{level.value}")
    with vault._write() as conn:
        return rotate_dek_in(vault, conn, level)


def rotate_dek_in(vault: VaultSession, conn: Any, level: Classification) -> int:
    """In the caller's transaction: a new generation of ``level``'s key, wrapped to the operators
    whose grants need it now (access/custody.py), every value re-encrypted, the old key and all
    its wraps deleted. The acting operator must hold the old key."""
    old_generation = vault._deks.current_generation(level.value)
    generation = old_generation + 1
    rows = conn.execute(
        "SELECT secret_id, version, dek_generation, nonce, ciphertext FROM versions "
        "WHERE classification = ?",
        (level.value,),
    ).fetchall()
    old = {gen: vault._deks.get(level.value, gen) for gen in {r[2] for r in rows}}
    new_dek = vault._deks.new(level, generation)
    for secret_id, version, gen, nonce, ciphertext in rows:
        aad = secret_aad(secret_id, version)
        try:
            value = unseal(old[gen], bytes(nonce), bytes(ciphertext), aad)
        except DecryptionFailed as e:
            raise VaultTampered("a stored value failed its integrity check") from e
        new_nonce, new_ciphertext = seal(new_dek, value, aad)
        conn.execute(
            "UPDATE versions SET dek_generation = ?, nonce = ?, ciphertext = ? "
            "WHERE secret_id = ? AND version = ?",
            (generation, new_nonce, new_ciphertext, secret_id, version),
        )
    conn.execute("DELETE FROM deks WHERE level = ? AND generation < ?", (level.value, generation))
    conn.execute("DELETE FROM dek_wraps WHERE level = ? AND generation < ?",
                 (level.value, generation))
    vault._deks.forget_older(level.value, generation)
    holders = [r[0] for r in conn.execute(
        "SELECT operator_id FROM dek_wraps WHERE level = ? AND generation = ? ORDER BY 1",
        (level.value, generation)).fetchall()]
    vault._event(
        "dek.rotate",
        level.value,
        details={"generation": generation, "versions": len(rows), "holders": holders},
    )
    return len(rows)


def rotate_all(vault: VaultSession) -> None:
    """Master key and every level's data key, after one automatic backup."""
    vault.auto_backup("rotate")
    rotate_master_key(vault, backup=False)
    for level in Classification:
        rotate_dek(vault, level, backup=False)
