"""Import from CSV, with a column mapping: which column is the name, the group, the password…

The first row is the header. A mapping says what each column is (``FIELDS``); a column the
mapping does not name becomes a custom field of that name, and ``ignore`` drops one. Presets
fill in the mapping for KeePassXC's CSV export and Bitwarden's; :func:`detect_preset` knows them
by their header, and without a preset columns named like a field (``title``, ``user``,
``folder``…) map to it. The console shows the mapping before anything is read
(:func:`header`, :func:`suggested_mapping`), then calls :func:`parse_csv` with the one chosen.

* KeePassXC's ``Group`` column starts with the root group's name ("Passwords/Web"); the preset
  drops that first part, so the names match a KDBX import of the same database, and leaves out
  rows of its "Recycle Bin" group (KeePassXC's English name for it).
* Bitwarden's ``fields`` column holds custom fields as "name: value" lines; ``collections`` (an
  organisation export) become tags.
* The text must be UTF-8 (a byte-order mark is fine); anything else is refused naming the line.
  Cells are kept as text exactly: a cell that looks like a spreadsheet formula (``=…``, ``+…``,
  ``@…``) is a value like any other and is never evaluated here.
* A row with fewer cells than the header reads the missing ones as empty (a warning); one with
  more is refused, because cells have then shifted (an unquoted comma) and a password could land
  in the wrong field.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping
from pathlib import Path

from ..entries import ENTRY_TYPES, Entry
from ..errors import BadImportFile, UsageError
from .common import (
    MIB,
    FieldBag,
    Record,
    Warnings,
    decode_text,
    parsed_file,
    read_limited,
    totp_uri,
)
from .model import ParsedFile

FORMAT = "csv"
MAX_FILE_BYTES = 64 * MIB
FIELDS = ("name", "group", "username", "password", "url", "notes", "totp", "type", "tags",
          "fields", "field", "protected", "ignore")
# field: a custom field named after the column (the default); protected: the same, masked;
# fields: Bitwarden's "name: value" lines; tags: comma-separated; type: login, note, card…
ALIASES = {"title": "name", "folder": "group", "path": "group", "user": "username",
           "login": "username", "user name": "username", "pass": "password", "uri": "url",
           "website": "url", "note": "notes", "otp": "totp", "tag": "tags"}
PRESETS: dict[str, dict[str, str]] = {
    "keepassxc": {"Group": "group", "Title": "name", "Username": "username",
                  "Password": "password", "URL": "url", "Notes": "notes", "TOTP": "totp",
                  "Icon": "ignore", "Last Modified": "ignore", "Created": "ignore"},
    "bitwarden": {"folder": "group", "collections": "tags", "favorite": "ignore",
                  "type": "type", "name": "name", "notes": "notes", "fields": "fields",
                  "reprompt": "ignore", "login_uri": "url", "login_username": "username",
                  "login_password": "password", "login_totp": "totp"},
}
RECYCLE_BIN = "Recycle Bin"


def header(data: bytes) -> tuple[str, ...]:
    """The CSV's header row, for the mapping step."""
    return tuple(next(_rows(decode_text(data, "CSV file")))[1])


def detect_preset(columns: tuple[str, ...]) -> str | None:
    """The preset whose export has this header, if any."""
    names = set(columns)
    if {"Group", "Title", "Username", "Password", "URL"} <= names:
        return "keepassxc"
    if {"name", "login_username", "login_password"} <= names and names & {"folder",
                                                                          "collections"}:
        return "bitwarden"
    return None


def suggested_mapping(columns: tuple[str, ...], preset: str | None = None) -> dict[str, str]:
    """Column -> field: the preset's (detected if not given), or by the columns' names."""
    preset = preset or detect_preset(columns)
    if preset is not None and preset not in PRESETS:
        raise UsageError(f"unknown CSV preset {preset!r}; use one of: {', '.join(PRESETS)}")
    out = {}
    for column in columns:
        if preset is not None:
            out[column] = PRESETS[preset].get(column, "field")
        else:
            key = column.strip().lower()
            key = ALIASES.get(key, key)
            out[column] = key if key in FIELDS and key not in ("field", "protected",
                                                               "ignore") else "field"
    return out


def read_csv(path: Path, mapping: Mapping[str, str] | None = None,
             preset: str | None = None) -> ParsedFile:
    """A CSV file read into import items (``mapping`` overrides the preset's columns)."""
    return parse_csv(read_limited(path, MAX_FILE_BYTES, "CSV file"), mapping, preset)


def parse_csv(data: bytes, mapping: Mapping[str, str] | None = None,
              preset: str | None = None) -> ParsedFile:
    """The bytes of a CSV file as import items, or one sentence saying why not."""
    rows = _rows(decode_text(data, "CSV file"))
    columns = tuple(next(rows)[1])
    if len(set(columns)) != len(columns):
        raise BadImportFile("the CSV header names a column twice; give each column its own "
                            "name")
    preset = preset or detect_preset(columns)
    chosen = suggested_mapping(columns, preset) | _checked(mapping or {}, columns)
    if "name" not in chosen.values():
        raise UsageError("no column of the CSV is mapped to the name; map one with "
                         "--map COLUMN=name")
    warnings = Warnings()
    records = []
    for line, cells in rows:
        if len(cells) > len(columns):
            raise BadImportFile(f"line {line} of the CSV file has {len(cells)} cells but the "
                                f"header has {len(columns)}; its quoting is probably broken "
                                "(an unquoted comma?), so nothing was imported")
        if len(cells) < len(columns):
            warnings.add("rows with fewer cells than the header (missing cells read as empty)",
                         f"line {line}")
        row = dict(zip(columns, cells, strict=False))
        record = _record(row, chosen, preset, f"line {line}", warnings)
        if record is not None:
            records.append(record)
    return parsed_file(FORMAT, data, records, warnings)


def _checked(mapping: Mapping[str, str], columns: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for column, target in mapping.items():
        if column not in columns:
            raise UsageError(f"the CSV has no column {column!r}; its columns are: "
                             + ", ".join(columns))
        target = ALIASES.get(target.strip().lower(), target.strip().lower())
        if target not in FIELDS:
            raise UsageError(f"unknown field {target!r} for column {column!r}; use one of: "
                             + ", ".join(FIELDS))
        out[column] = target
    return out


def _rows(text: str) -> Iterator[tuple[int, list[str]]]:
    """(line number, cells) of each non-empty row; the header first."""
    first = text.split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=first.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    empty = True
    try:
        for cells in reader:
            if any(c.strip() for c in cells):
                empty = False
                yield reader.line_num, cells
    except csv.Error as e:
        raise BadImportFile(f"line {reader.line_num} of the CSV file cannot be read ({e})"
                            ) from None
    if empty:
        raise BadImportFile("the CSV file is empty")


def _record(row: dict[str, str], mapping: dict[str, str], preset: str | None, source: str,
            warnings: Warnings) -> Record | None:
    bag = FieldBag()
    got: dict[str, str] = {}
    tags: list[str] = []
    for column, value in row.items():
        target = mapping[column]
        if target == "ignore" or not value:
            continue
        if target in ("field", "protected"):
            bag.add(column, value, protected=target == "protected")
        elif target == "fields":
            for line in value.splitlines():
                name, _, text = line.partition(": ")
                bag.add(name, text)
        elif target == "tags":
            tags += [t for t in value.split(",") if t.strip()]
        else:
            got[target] = got[target] + "\n" + value if target in got else value
    groups = tuple(p for p in got.get("group", "").split("/") if p.strip())
    if preset == "keepassxc" and groups:
        groups = groups[1:]  # the root group's name
        if groups[:1] == (RECYCLE_BIN,):
            warnings.add("rows in KeePassXC's Recycle Bin left out", source)
            return None
    kind = got.get("type", "login").strip().lower()
    otp = totp_uri(got.get("totp", ""), bag, warnings, source, issuer=got.get("name", ""),
                   account=got.get("username", ""))
    entry = Entry(
        type=kind if kind in ENTRY_TYPES else ("note" if kind == "securenote" else "login"),
        password=got.get("password", ""), username=got.get("username", ""),
        url=got.get("url", ""), notes=got.get("notes", ""), totp=otp, fields=tuple(bag.fields))
    return Record(groups, got.get("name", ""), entry, source, tags=tuple(tags))
