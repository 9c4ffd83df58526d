"""What every importer shares: reading a file within a size limit, names and tags made valid,
fields kept distinct, warnings counted once per kind, and records turned into a ParsedFile.

An importer reads its format into :class:`Record` s (a group path, a title, an
:class:`~app.entries.Entry`) and hands them to :func:`parsed_file`, which makes the names the
vault accepts, one tag per group path, and distinct names within the file; so the rules below
are the same for KeePass, Bitwarden and CSV:

* A name is the group path and the title joined by ``/``. In each part a ``/`` becomes ``-``
  (a title "example.com/admin" is one name part, not two), control, bidi and other invisible
  characters are dropped (tab and newlines become a space), spaces around it are stripped, an
  empty part is ``(untitled)`` and ``.``/``..`` become ``_``/``__``. Each change is a warning.
* A name longer than the vault allows (256) is cut at the end; a warning.
* The group path is also a tag (``Web/Internal``): a tag holds no commas (each becomes ``;``)
  and at most 64 characters, so a longer path keeps its end (``…`` and the last 63), the part
  that tells groups apart; the name keeps the whole path. Tags from the file itself (KeePass
  tags, Bitwarden collections) get the same treatment.
* Names that repeat within the file: the first keeps it, later ones become ``Name (2)``,
  ``Name (3)``… (never a name another item has); one warning lists them.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from .. import entries, totp
from ..entries import Entry, Field
from ..errors import BadImportFile, NotFound, StorageError, UsageError
from ..fsutil import read_bounded
from ..model import HIDDEN_CATEGORIES
from ..vault.secret_fields import MAX_NAME_CHARS, MAX_TAG_CHARS, check_kind_value
from .model import ImportItem, ParsedFile, file_digest

MIB = 1024 * 1024
UNTITLED = "(untitled)"
EXAMPLES = 3  # names shown in one warning
MAX_TOTAL_BYTES = 512 * MIB  # all items of a file (an attachment shared by N entries counts N)


def read_limited(path: Path, limit: int, what: str) -> bytes:
    """The file's bytes; refused before reading when it is larger than ``limit``."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise NotFound(f"no {what} {path}") from None
    except OSError as e:
        raise StorageError(f"could not read {path}: {e.strerror or type(e).__name__}") from e
    data = b"" if size > limit else read_bounded(path, limit, what)
    if size > limit or len(data) > limit:
        raise BadImportFile(f"{path.name} is larger than {limit // MIB} MiB, more than any "
                            f"{what} Strongroom imports; nothing was imported")
    return data


def decode_text(data: bytes, what: str) -> str:
    """UTF-8 text (a byte-order mark allowed); anything else is refused naming the line."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise BadImportFile(f"line {line} of the {what} is not UTF-8 text; save it as UTF-8 "
                            "and import again") from None


def shown(text: str, limit: int = 60) -> str:
    """A name for a message: invisible characters as \\uXXXX escapes, long ones cut."""
    out = "".join(f"\\u{ord(c):04x}" if unicodedata.category(c) in HIDDEN_CATEGORIES else c
                  for c in text[:limit])
    return "'" + out + ("…" if len(text) > limit else "") + "'"


def _visible(text: str) -> str:
    text = "".join(" " if c in "\t\r\n" else c for c in text)
    return "".join(c for c in text if unicodedata.category(c) not in HIDDEN_CATEGORIES).strip()


def clean_part(text: str) -> str:
    """One part of a secret name, as the vault accepts it (see the module docstring)."""
    part = _visible(text.replace("/", "-"))
    if part in (".", ".."):
        return part.replace(".", "_")
    return part or UNTITLED


def clean_tag(text: str) -> str:
    """A tag as the vault accepts it: visible, no commas, at most 64 characters (its end)."""
    tag = _visible(text.replace(",", ";"))
    return tag if len(tag) <= MAX_TAG_CHARS else "…" + tag[-(MAX_TAG_CHARS - 1):]


def numbered(name: str, n: int) -> str:
    """``name (n)``, cut so that it stays a valid name."""
    suffix = f" ({n})"
    return name[: MAX_NAME_CHARS - len(suffix)].rstrip(" /") + suffix


def free_name(name: str, taken: set[str] | frozenset[str]) -> str:
    """The first ``name (2)``, ``name (3)``… not in ``taken``."""
    n = 2
    while numbered(name, n) in taken:
        n += 1
    return numbered(name, n)


class Warnings:
    """What a file could not bring in, each kind of problem once with a count and examples."""

    def __init__(self) -> None:
        self._counts: dict[str, int] = {}
        self._examples: dict[str, list[str]] = {}

    def add(self, what: str, example: str = "", count: int = 1) -> None:
        self._counts[what] = self._counts.get(what, 0) + count
        examples = self._examples.setdefault(what, [])
        if example and len(examples) <= EXAMPLES:
            examples.append(example)

    def sentences(self) -> tuple[str, ...]:
        out = []
        for what, count in self._counts.items():
            examples = self._examples[what]
            listed = ", ".join(examples[:EXAMPLES]) + (", …" if count > EXAMPLES else "")
            out.append(f"{what} ({count}{': ' + listed if examples else ''})")
        return tuple(out)


class FieldBag:
    """Custom fields of one entry, named distinctly (``name (2)``) and never empty."""

    def __init__(self) -> None:
        self.fields: list[Field] = []
        self._names: set[str] = set()

    def add(self, name: str, value: str, protected: bool = False) -> None:
        if not value:
            return
        name = _visible(name) or "field"
        if name in self._names:
            name = free_name(name, self._names)
        self._names.add(name)
        self.fields.append(Field(name, value, protected))


def totp_uri(text: str, bag: FieldBag, warnings: Warnings, where: str, name: str = "totp", *,
             issuer: str = "", account: str = "") -> str:
    """The canonical otpauth URI of a TOTP setting (a bare seed gets ``issuer`` and
    ``account`` as its label); one that is not a TOTP stays a protected field."""
    if not text.strip():
        return ""
    if "encoder=steam" in text.lower() or text.lower().startswith("steam://"):
        reason = "Steam Guard codes are not TOTP"
    else:
        try:
            return totp.parse(text, issuer=issuer, account=account).uri()
        except UsageError as e:
            reason = str(e)
    warnings.add(f"TOTP settings kept as a protected field {name!r} ({reason})", where)
    bag.add(name, text, protected=True)
    return ""


@dataclass(frozen=True)
class Record:
    """One entry as a format reads it, before the names are made valid and distinct."""

    groups: tuple[str, ...]
    title: str
    entry: Entry
    source: str
    expires: dt.date | None = None
    rotation_due: dt.date | None = None
    tags: tuple[str, ...] = ()
    note: str = ""
    kind: str = "entry"
    value: bytes | None = field(default=None, repr=False)  # for kind value/totp: the bytes


def _name_of(record: Record, warnings: Warnings) -> str:
    raw = [*record.groups, record.title]
    parts = [clean_part(p) for p in raw]
    if parts != raw:
        warnings.add("names changed: '/' inside a name part, invisible characters, spaces at "
                     "the ends or an empty title", f"{shown('/'.join(raw))} → "
                     f"{shown('/'.join(parts))}")
    name = "/".join(parts)
    if len(name) > MAX_NAME_CHARS:
        cut = "/".join(clean_part(p) for p in name[:MAX_NAME_CHARS].rstrip(" /").split("/"))
        warnings.add(f"names longer than {MAX_NAME_CHARS} characters cut", shown(cut))
        name = cut
    return name


def _tags_of(record: Record, warnings: Warnings) -> tuple[str, ...]:
    wanted = (["/".join(clean_part(g) for g in record.groups)] if record.groups else []) + [
        t for t in record.tags if t.strip()]
    tags: list[str] = []
    for raw in wanted:
        tag = clean_tag(raw)
        if tag != raw.strip():
            warnings.add("tags changed: commas become ';', invisible characters dropped, more "
                         f"than {MAX_TAG_CHARS} characters keep the end", shown(raw))
        if tag and tag not in tags:
            tags.append(tag)
    return tuple(tags)


def _value_of(record: Record, warnings: Warnings) -> bytes | None:
    """The sealed bytes, checked as the vault will; an item it would refuse is left out."""
    try:
        value = record.value if record.kind != "entry" else entries.checked(record.entry).encode()
        return check_kind_value(record.kind, value or b"")
    except UsageError as e:
        warnings.add(f"items left out ({str(e).rstrip('.')})", record.source)
        return None


def distinct(items: Sequence[ImportItem], warnings: Warnings) -> list[ImportItem]:
    """The items with names that repeat in the file made distinct, in file order."""
    originals = {item.name for item in items}
    used: set[str] = set()
    out: list[ImportItem] = []
    for item in items:
        if item.name in used:
            new = free_name(item.name, used | originals)
            warnings.add("names that repeat in the file renamed", f"{shown(item.name)} → "
                         f"{shown(new)} ({item.source})")
            item = replace(item, name=new)
        used.add(item.name)
        out.append(item)
    return out


def parsed_file(fmt: str, data: bytes, records: Iterable[Record], warnings: Warnings
                ) -> ParsedFile:
    """The records as valid, distinct import items, with the file's hash and warnings."""
    items: list[ImportItem] = []
    total = 0
    for record in records:
        value = _value_of(record, warnings)
        if value is None:
            continue
        total += len(value)
        if total > MAX_TOTAL_BYTES:
            raise BadImportFile(f"the file's secrets add up to more than {MAX_TOTAL_BYTES // MIB} "
                                "MiB; split it and import the parts")
        items.append(ImportItem(
            name=_name_of(record, warnings), kind=record.kind, value=value,
            tags=_tags_of(record, warnings), note=record.note[:1024], expires=record.expires,
            source=record.source, rotation_due=record.rotation_due))
    items = distinct(items, warnings)
    return ParsedFile(fmt, file_digest(data), len(data), tuple(items), warnings.sentences())
