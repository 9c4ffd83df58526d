"""Secrets: names, values, versions, tags and search, each change and read an audit event.

A new value makes a new version sealed under its level's data key; metadata alone changes in place.
Each operation first checks the acting operator's role and grants (access/enforce.py) and, where
the policy says so, a second operator's approval (access/approvals.py); a refusal is audited.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from ..access import approvals, enforce, health_gate
from ..access import policy as access_policy
from ..access.approvals import Approval
from ..errors import AlreadyExists, NotFound, UsageError
from ..model import Classification, SecretInfo, VersionInfo
from . import version_meta
from .secret_fields import (
    check_kind_value,
    check_name,
    check_note,
    check_owner,
    check_tags,
)
from .session import VaultSession

_T = TypeVar("_T")

READ_PURPOSES = ("read", "reveal", "copy", "export", "totp")

_SELECT_INFO = (
    "SELECT id, name, classification, owner, note, tags, created, updated, expires, rotation_due,"
    " version, kind FROM secrets"
)


@dataclass(frozen=True)
class NewSecret:
    """What a caller supplies to create a secret."""

    name: str
    value: bytes = field(repr=False)
    classification: Classification = Classification.Moderate
    tags: tuple[str, ...] = ()
    note: str = ""
    owner: str | None = None
    expires: dt.date | None = None
    rotation_due: dt.date | None = None
    kind: str = "value"  # value, totp or entry (app/entries.py)


def row_to_info(row: Sequence[Any]) -> SecretInfo:
    return SecretInfo(
        id=row[0],
        name=row[1],
        classification=Classification(row[2]),
        owner=row[3],
        note=row[4],
        tags=tuple(json.loads(row[5])),
        created=row[6],
        updated=row[7],
        expires=row[8],
        rotation_due=row[9],
        version=row[10],
        kind=row[11],
    )


def _fts_trigrams(term: str) -> str:
    """Every trigram of ``term`` ANDed: the detail=none index (schema 7) finds the rows holding
    them all, a superset that ``sr_contains`` (database.py) narrows to the substring."""
    grams = dict.fromkeys(term[i:i + 3] for i in range(len(term) - 2))
    return " AND ".join('"' + g.replace('"', '""') + '"' for g in grams)


def _insert_version(vault: VaultSession, info: SecretInfo, version: int, value: bytes) -> None:
    """A new current version: its metadata is the secret's (version_meta.SAME_AS_SECRET)."""
    level = info.classification.value
    generation, nonce, ciphertext = vault._deks.encrypt_version(info.id, version, level, value)
    vault._conn.execute(
        "INSERT INTO versions (secret_id, version, created, actor, classification, "
        "dek_generation, nonce, ciphertext, meta) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (info.id, version, info.updated, vault.actor, level, generation, nonce, ciphertext,
         version_meta.SAME_AS_SECRET),
    )


def _set_tags(vault: VaultSession, secret_id: int, tags: tuple[str, ...]) -> None:
    vault._conn.execute("DELETE FROM secret_tags WHERE secret_id = ?", (secret_id,))
    vault._conn.executemany(
        "INSERT INTO secret_tags (secret_id, tag) VALUES (?, ?)",
        [(secret_id, t) for t in tags],
    )


def _insert_secret(vault: VaultSession, new: NewSecret,
                   who: enforce.Actor | None = None, extra: dict[str, Any] | None = None
                   ) -> SecretInfo:
    name = check_name(new.name)
    value = check_kind_value(new.kind, new.value)
    tags = check_tags(new.tags)
    note = check_note(new.note)
    now = vault._now()
    owner = check_owner(new.owner) if new.owner else vault.actor
    expires = new.expires.isoformat() if new.expires else None
    rotation_due = new.rotation_due.isoformat() if new.rotation_due else None
    enforce.require_secret(vault, vault._conn, "manage", name, new.classification.value, tags,
                           who=who)
    if vault._conn.execute("SELECT 1 FROM secrets WHERE name = ?", (name,)).fetchone():
        raise AlreadyExists(f"a secret named {name!r} already exists")
    cursor = vault._conn.execute(
        "INSERT INTO secrets (name, classification, owner, note, tags, created, updated, "
        "expires, rotation_due, version, kind) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?)",
        (name, new.classification.value, owner, note, json.dumps(list(tags)), now, now,
         expires, rotation_due, new.kind),
    )
    info = SecretInfo(
        cursor.lastrowid, name, new.classification, owner, note, tags, now, now, expires,
        rotation_due, 1, new.kind,
    )
    _set_tags(vault, info.id, tags)
    _insert_version(vault, info, 1, value)
    level = info.classification.value
    vault._event("secret.create", name,
                 details={"version": 1, "classification": level, "kind": new.kind,
                          **(extra or {})})
    return info


@enforce.denials_audited
def add_secret(vault: VaultSession, new: NewSecret, *, approval: Approval | None = None
               ) -> SecretInfo:
    """Add a secret. At a dual-control level writing its value needs the level key, so a second
    holder's ``approval`` (of ``secret.write``) too."""
    with vault._write() as conn:
        extra = approvals.check(vault, conn, "secret.write", new.name, approval, critical=False)
        return _insert_secret(vault, new, extra=extra)


@enforce.denials_audited
def add_secrets(vault: VaultSession, items: Iterable[NewSecret]) -> int:
    """Add many secrets in one transaction (imports, benchmarks); all or none."""
    count = 0
    with vault._write() as conn:
        who = enforce.actor(vault, conn)
        for item in items:
            _insert_secret(vault, item, who)
            count += 1
    return count


def _info(vault: VaultSession, name: str) -> SecretInfo:
    row = vault._conn.execute(
        _SELECT_INFO + " WHERE name = ?", (name,)
    ).fetchone()
    if row is None:
        raise NotFound(f"no secret named {name!r}")
    return row_to_info(row)


def _checked_info(vault: VaultSession, name: str, permission: str) -> SecretInfo:
    info = _info(vault, name)
    enforce.require_secret(vault, vault._conn, permission, name, info.classification.value,
                           info.tags)
    return info


@enforce.denials_audited
def secret_info(vault: VaultSession, name: str) -> SecretInfo:
    with vault._read():
        return _checked_info(vault, name, "list")


def reveal_operation(purpose: str) -> str:
    """The operation a read is for the two-person rule: an export, or a reveal."""
    return "secret.export" if purpose == "export" else "secret.reveal"


@enforce.denials_audited
def get_secret(
    vault: VaultSession, name: str, version: int | None = None, purpose: str = "read",
    *, approval: Approval | None = None,
) -> bytes:
    """Decrypt a secret's value (the current version unless ``version``); an audited read.
    A Critical value needs ``approval`` by a second operator where the policy says so."""
    if purpose not in READ_PURPOSES:
        raise UsageError(f"unknown read purpose {purpose!r}")
    with vault._write() as conn:
        info = _checked_info(vault, name, "read")
        version = info.version if version is None else version
        operation = reveal_operation(purpose)
        rule = access_policy.load(conn)
        extra = approvals.check(vault, conn, operation, name, approval,
                                critical=rule.critical(operation,
                                                       level=info.classification.value))
        extra |= health_gate.check(vault, conn, rule, target=name,
                                   level=info.classification.value)
        value = vault._deks.decrypt_version(name, info.id, version)
        vault._event(f"secret.{purpose}", name, details={"version": version, **extra})
    return value


@enforce.denials_audited
def update_secret(vault: VaultSession, name: str,
    value: bytes | None = None,
    *,
    classification: Classification | None = None,
    tags: Iterable[str] | None = None,
    note: str | None = None,
    owner: str | None = None,
    expires: dt.date | None = None,
    clear_expires: bool = False,
    rotation_due: dt.date | None = None,
    clear_rotation_due: bool = False,
    kind: str | None = None,
    approval: Approval | None = None,
) -> SecretInfo:
    """Change a secret: a new value makes a new version; metadata alone changes in place.

    A classification change without a new value re-encrypts the current value under the new
    level's data key as a new version, so no value is ever held under two levels' keys.
    ``kind`` says how a new ``value`` is read (app/entries.py); it keeps the current kind if not
    given, and cannot change without a new value.
    """
    if kind is not None and value is None:
        raise UsageError("a secret's kind changes only with a new value")
    with vault._write() as conn:
        info = _checked_info(vault, name, "manage")
        extra = approvals.check(vault, conn, "secret.write", name, approval, critical=False)
        changes: dict[str, Any] = {}
        if classification is not None and classification != info.classification:
            changes["classification"] = classification
        if tags is not None and check_tags(tags) != info.tags:
            changes["tags"] = check_tags(tags)
        if note is not None and check_note(note) != info.note:
            changes["note"] = note
        if owner is not None and check_owner(owner) != info.owner:
            changes["owner"] = owner
        if expires is not None or clear_expires:
            new_exp = None if clear_expires else expires.isoformat()  # type: ignore[union-attr]
            if new_exp != info.expires:
                changes["expires"] = new_exp
        if rotation_due is not None or clear_rotation_due:
            new_rot = None if clear_rotation_due else rotation_due.isoformat()  # type: ignore[union-attr]
            if new_rot != info.rotation_due:
                changes["rotation_due"] = new_rot
        if kind is not None and kind != info.kind:
            changes["kind"] = kind
        if value is not None:
            value = check_kind_value(changes.get("kind", info.kind), value)
        if value is None and not changes:
            return info
        if "classification" in changes or "tags" in changes:  # allowed where it lands, too
            enforce.require_secret(vault, vault._conn, "manage", name,
                                   changes.get("classification", info.classification).value,
                                   changes.get("tags", info.tags))
        if value is None and "classification" in changes:
            value = vault._deks.decrypt_version(name, info.id, info.version)
        new_version = info.version + 1 if value is not None else info.version
        updated = replace(info, **changes, updated=vault._now(), version=new_version)
        version_meta.freeze(vault, info)
        vault._conn.execute(
            "UPDATE secrets SET classification = ?, owner = ?, note = ?, tags = ?, "
            "updated = ?, expires = ?, rotation_due = ?, version = ?, kind = ? WHERE id = ?",
            (updated.classification.value, updated.owner, updated.note,
             json.dumps(list(updated.tags)), updated.updated, updated.expires,
             updated.rotation_due, updated.version, updated.kind, info.id),
        )
        if "tags" in changes:
            _set_tags(vault, info.id, updated.tags)
        if value is not None:
            _insert_version(vault, updated, new_version, value)
        details: dict[str, Any] = {"version": new_version, "fields": sorted(changes), **extra}
        if "classification" in changes:
            details["classification"] = updated.classification.value
        vault._event("secret.update", name, details=details)
        return updated


@enforce.denials_audited
def delete_secret(vault: VaultSession, name: str, *, approval: Approval | None = None) -> None:
    """Delete a secret and all its versions (SQLCipher secure_delete overwrites the pages).
    A High or Critical secret needs ``approval`` by a second operator where the policy says so."""
    with vault._write() as conn:
        info = _checked_info(vault, name, "manage")
        rule = access_policy.load(conn)
        extra = approvals.check(vault, conn, "secret.delete", name, approval,
                                critical=rule.critical("secret.delete",
                                                       level=info.classification.value))
        vault._conn.execute("DELETE FROM versions WHERE secret_id = ?", (info.id,))
        vault._conn.execute("DELETE FROM secrets WHERE id = ?", (info.id,))
        vault._event("secret.delete", name, details={"versions": info.version, **extra})


def list_secrets(vault: VaultSession, search: str | None = None,
    classification: Classification | None = None,
    tag: str | None = None,
    limit: int | None = None,
) -> list[SecretInfo]:
    """Metadata of the secrets that match, by name; values are never decrypted (``map_secrets``
    says how ``search`` is answered)."""
    return map_secrets(vault, _same, search, classification, tag, limit)


def _same(info: SecretInfo) -> SecretInfo:
    return info


def map_secrets(vault: VaultSession, convert: Callable[[SecretInfo], _T],
    search: str | None = None,
    classification: Classification | None = None,
    tag: str | None = None,
    limit: int | None = None,
) -> list[_T]:
    """``convert`` of each secret that matches, by name, row by row as they are read: a caller
    that keeps less than a SecretInfo (the console's table, at 100k) never holds them all.

    ``search`` is a case-insensitive substring of name, tags, note or owner, answered from a
    trigram index and checked on the rows it finds (terms of one or two characters fall back to
    a scan of names).
    """
    where: list[str] = []
    args: list[Any] = []
    sql = _SELECT_INFO
    if search:
        if len(search) >= 3:
            where.append("id IN (SELECT rowid FROM secrets_fts WHERE secrets_fts MATCH ?)"
                         " AND sr_contains(?, name, tags, note, owner)")
            args += [_fts_trigrams(search), search]
        else:
            where.append("name LIKE ? ESCAPE '\\'")
            escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            args.append(f"%{escaped}%")
    if classification is not None:
        where.append("classification = ?")
        args.append(classification.value)
    if tag is not None:
        where.append("id IN (SELECT secret_id FROM secret_tags WHERE tag = ?)")
        args.append(tag)
    with vault._read() as conn:
        visible = enforce.list_filter(vault, conn)
    if visible is not None:  # only what the operator's grants let them list
        where.append(visible[0])
        args += visible[1]
    if where:
        sql += " WHERE " + " AND ".join(where)
    # "+name": sort in memory after a table scan; walking the name index fetches rows out of
    # order and decrypts pages repeatedly (3x slower at 100k secrets).
    sql += " ORDER BY +name"
    if limit is not None:
        sql += " LIMIT ?"
        args.append(limit)
    with vault._read() as conn:
        return [convert(row_to_info(r)) for r in conn.execute(sql, args)]


def count_secrets(vault: VaultSession) -> int:
    """How many secrets the acting operator may list."""
    with vault._read() as conn:
        visible = enforce.list_filter(vault, conn)
        where, args = ("", []) if visible is None else (" WHERE " + visible[0], visible[1])
        sql = "SELECT count(*) FROM secrets" + where  # nosec B608 - placeholders only
        return int(conn.execute(sql, args).fetchone()[0])


@enforce.denials_audited
def history(vault: VaultSession, name: str) -> list[VersionInfo]:
    with vault._read() as conn:
        info = _checked_info(vault, name, "list")
        rows = conn.execute(
            "SELECT version, created, actor, classification, meta FROM versions "
            "WHERE secret_id = ? ORDER BY version",
            (info.id,),
        ).fetchall()
    return [
        VersionInfo(r[0], r[1], r[2], Classification(r[3]), version_meta.read(r[4], r[3], info))
        for r in rows
    ]
