"""What every importer reads a file into, and what the preview shows before anything is written.

An importer (kdbx.py, bitwarden.py, csv_import.py, archive.py) turns an outside file into a
:class:`ParsedFile`: one :class:`ImportItem` per secret, with the file's hash for the audit log
and warnings for what it could not carry. :func:`apply.plan` matches the items against the vault
(conflicts by name) and :func:`apply.apply` writes them in one transaction. Nothing in this module
touches the vault.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

FORMATS = ("kdbx", "bitwarden", "csv", "archive")

# Called with (done, total) while a long import runs; returns False to cancel (nothing is kept).
Progress = Callable[[int, int], bool]


class OnConflict(Enum):
    """What happens to an item whose name the vault already has."""

    skip = "skip"        # keep the vault's secret, drop the item
    rename = "rename"    # add the item as "name (2)", "name (3)", …
    version = "version"  # the item becomes a new version of the existing secret


@dataclass(frozen=True)
class ImportItem:
    """One secret to be: its name (group path + title), kind and sealed bytes, never printed."""

    name: str
    kind: str                       # "value", "totp" or "entry" (app/entries.py)
    value: bytes = field(repr=False)
    tags: tuple[str, ...] = ()
    note: str = ""                  # metadata note (searchable, not secret): kept short
    expires: dt.date | None = None
    source: str = ""                # where in the file, for messages: "entry 12 (Root/Web)"
    classification: str | None = None  # the archive keeps each secret's own level
    rotation_due: dt.date | None = None


@dataclass(frozen=True)
class ParsedFile:
    """A whole outside file, read and checked; nothing written yet."""

    format: str
    sha256: str
    size: int
    items: tuple[ImportItem, ...]
    warnings: tuple[str, ...] = ()   # one sentence each: what was left out and why

    def counts(self) -> dict[str, int]:
        kinds: dict[str, int] = {}
        for item in self.items:
            kinds[item.kind] = kinds.get(item.kind, 0) + 1
        return {"items": len(self.items), **kinds, "warnings": len(self.warnings)}


def file_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Conflict:
    """An item whose name is taken, and the name it gets under ``rename``."""

    name: str
    renamed: str


@dataclass(frozen=True)
class ImportPlan:
    """The preview: the items, which names are taken, what each choice would do."""

    parsed: ParsedFile
    classification: str
    on_conflict: OnConflict
    conflicts: tuple[Conflict, ...]

    def summary(self) -> dict[str, int]:
        """How many secrets are added, versioned, renamed and skipped under ``on_conflict``."""
        taken = len(self.conflicts)
        fresh = len(self.parsed.items) - taken
        out = {"add": fresh, "version": 0, "rename": 0, "skip": 0}
        out[self.on_conflict.value] += taken
        return out


@dataclass(frozen=True)
class ImportResult:
    added: int
    versioned: int
    renamed: int
    skipped: int
    audit_seq: int | None = None
