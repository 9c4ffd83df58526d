"""An import's preview (:func:`plan`) and the import itself (:func:`apply`), for every format.

``plan`` matches a :class:`ParsedFile` against the vault: the names already taken, and for each
the name ``rename`` would give it (free in the vault and among the file's own names). Nothing is
written. ``apply`` then writes the whole file in one transaction, all or nothing:

* each item as ``add_secret`` would (the acting operator's ``manage`` grant on its name, level
  and tags; a ``secret.create`` event each), or under ``version`` as a new version of the
  secret with its name (a ``secret.update`` event each; that secret keeps its own level, tags,
  note and dates, and takes the item's kind);
* at a level under dual control, writing needs the second holder: one approval of
  ``secret.write`` on ``import:<SHA-256 of the file>`` covers the whole import;
* one ``secret.import`` event at the end: format, the file's SHA-256 and size, the counts,
  classification and choice on conflicts; never a value, a field or a name from inside;
* ``progress(done, total)`` after each item; when it returns False the transaction is rolled
  back (:class:`UserCancelled`) and nothing is kept, not even an audit event.

If the vault changed between the preview and the import (a name taken or freed since), the
import is refused rather than doing something the preview did not show.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ..access import approvals, enforce
from ..access.approvals import Approval
from ..errors import Refused, UserCancelled
from ..model import Classification
from ..vault import version_meta
from ..vault.secret_fields import check_kind_value
from ..vault.secrets import NewSecret, _info, _insert_secret, _insert_version
from .common import free_name
from .model import Conflict, ImportPlan, ImportResult, OnConflict, ParsedFile, Progress

if TYPE_CHECKING:
    from ..vault.session import VaultSession

EVENT = "secret.import"


def approval_target(parsed: ParsedFile) -> str:
    """What a second holder approves (``secret.write``) for an import at a dual-control level."""
    return f"import:{parsed.sha256}"


def plan(vault: VaultSession, parsed: ParsedFile,
         classification: Classification | str = Classification.Moderate,
         on_conflict: OnConflict | str = OnConflict.skip) -> ImportPlan:
    """The preview: which of the file's names the vault has, and what each would become."""
    level = Classification.parse(classification) if isinstance(classification, str) else (
        classification)
    choice = OnConflict(on_conflict)
    with vault._read() as conn:
        conflicts = _conflicts(conn, parsed)
    return ImportPlan(parsed, level.value, choice, conflicts)


def _conflicts(conn: Any, parsed: ParsedFile) -> tuple[Conflict, ...]:
    in_vault = {r[0] for r in conn.execute("SELECT name FROM secrets")}
    in_file = {item.name for item in parsed.items}
    taken = in_vault | in_file
    out = []
    for item in parsed.items:
        if item.name in in_vault:
            renamed = free_name(item.name, taken)
            taken.add(renamed)
            out.append(Conflict(item.name, renamed))
    return tuple(out)


@enforce.denials_audited
def apply(vault: VaultSession, the_plan: ImportPlan, *, progress: Progress | None = None,
          approval: Approval | None = None) -> ImportResult:
    """Write the planned import in one transaction; all of it, or nothing."""
    parsed, choice = the_plan.parsed, the_plan.on_conflict
    level = Classification(the_plan.classification)
    counts = {"added": 0, "versioned": 0, "renamed": 0, "skipped": 0}
    with vault._write() as conn:
        extra = approvals.check(vault, conn, "secret.write", approval_target(parsed), approval,
                                critical=False)
        if _conflicts(conn, parsed) != the_plan.conflicts:
            raise Refused("the vault changed since the import was previewed (a name was added "
                          "or removed); preview it again")
        who = enforce.actor(vault, conn)
        renamed = {c.name: c.renamed for c in the_plan.conflicts}
        mark = {"import": parsed.sha256}
        total = len(parsed.items)
        for done, item in enumerate(parsed.items, 1):
            new = NewSecret(name=item.name, value=item.value, kind=item.kind, tags=item.tags,
                            classification=Classification(item.classification or level),
                            note=item.note, expires=item.expires,
                            rotation_due=item.rotation_due)
            if item.name not in renamed:
                _insert_secret(vault, new, who, extra=mark)
                counts["added"] += 1
            elif choice is OnConflict.rename:
                _insert_secret(vault, replace(new, name=renamed[item.name]), who, extra=mark)
                counts["renamed"] += 1
            elif choice is OnConflict.version:
                _new_version(vault, who, new, mark)
                counts["versioned"] += 1
            else:
                counts["skipped"] += 1
            if progress is not None and not progress(done, total):
                raise UserCancelled("the import was cancelled; nothing was written")
        vault._event(EVENT, approval_target(parsed), details={
            "format": parsed.format, "sha256": parsed.sha256, "size": parsed.size,
            "items": total, **counts, "classification": level.value,
            "on_conflict": choice.value, "warnings": len(parsed.warnings), **extra})
        head = vault._log.head()
    return ImportResult(**counts, audit_seq=head.seq if head is not None else None)


def _new_version(vault: VaultSession, who: enforce.Actor, new: NewSecret,
                 mark: dict[str, Any]) -> None:
    """The item's value as the next version of the secret with its name (update_secret's way,
    inside the import's transaction); the secret keeps its metadata, takes the item's kind."""
    info = _info(vault, new.name)
    enforce.require_secret(vault, vault._conn, "manage", info.name, info.classification.value,
                           info.tags, who=who)
    value = check_kind_value(new.kind, new.value)
    updated = replace(info, kind=new.kind, updated=vault._now(), version=info.version + 1)
    version_meta.freeze(vault, info)
    vault._conn.execute("UPDATE secrets SET updated = ?, version = ?, kind = ? WHERE id = ?",
                        (updated.updated, updated.version, updated.kind, info.id))
    _insert_version(vault, updated, updated.version, value)
    fields = ["kind"] if new.kind != info.kind else []
    vault._event("secret.update", info.name,
                 details={"version": updated.version, "fields": fields, **mark})
