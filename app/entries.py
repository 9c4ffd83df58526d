"""What a secret's value holds, by kind: raw bytes, a TOTP seed, or an entry with fields.

``value``  the bytes as given (a password, a key file, a token): what Strongroom always kept.
``totp``   a TOTP generator, stored as its canonical otpauth:// URI (app/totp.py).
``entry``  a record as password managers keep them: password, username, URL, notes, custom
           fields, attachments and an optional TOTP; a login, secure note, card or identity.

The kind is a column of the secret (schema 6) and decides how the sealed bytes are read; an entry
is sealed as one canonical JSON document, so all of its fields share the secret's version,
classification and data key.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any

from .errors import UsageError
from .totp import TotpSpec
from .totp import parse as parse_totp

KINDS = ("value", "totp", "entry")
ENTRY_TYPES = ("login", "note", "card", "identity")
ENTRY_FORMAT = 1
STANDARD_FIELDS = ("password", "username", "url", "notes")
MAX_FIELDS = 1000


def check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise UsageError(f"unknown secret kind {kind!r}; use one of: {', '.join(KINDS)}")
    return kind


@dataclass(frozen=True)
class Field:
    """A custom field; ``protected`` ones are masked in the console and in KDBX exports."""

    name: str
    value: str = field(repr=False)
    protected: bool = False


@dataclass(frozen=True)
class Attachment:
    name: str
    data: bytes = field(repr=False)


@dataclass(frozen=True)
class Entry:
    """A password-manager record, sealed whole as one secret value."""

    type: str = "login"
    password: str = field(default="", repr=False)
    username: str = field(default="", repr=False)
    url: str = field(default="", repr=False)
    notes: str = field(default="", repr=False)
    fields: tuple[Field, ...] = ()
    attachments: tuple[Attachment, ...] = ()
    totp: str = field(default="", repr=False)  # a canonical otpauth URI, or ""

    def encode(self) -> bytes:
        document = {
            "format": ENTRY_FORMAT, "type": self.type, "password": self.password,
            "username": self.username, "url": self.url, "notes": self.notes,
            "fields": [[f.name, f.value, f.protected] for f in self.fields],
            "attachments": [[a.name, base64.b64encode(a.data).decode()]
                            for a in self.attachments],
            "totp": self.totp,
        }
        return json.dumps(document, ensure_ascii=False, sort_keys=True,
                          separators=(",", ":")).encode()

    def get(self, name: str) -> str:
        """A standard field (password, username, url, notes, totp) or a custom one by name."""
        if name in STANDARD_FIELDS or name == "totp":
            return str(getattr(self, name))
        for f in self.fields:
            if f.name == name:
                return f.value
        raise UsageError(f"the entry has no field {name!r}; it has: "
                         + ", ".join(self.field_names()))

    def field_names(self) -> list[str]:
        names = [n for n in STANDARD_FIELDS if getattr(self, n)]
        return names + (["totp"] if self.totp else []) + [f.name for f in self.fields]

    def totp_spec(self) -> TotpSpec | None:
        return parse_totp(self.totp) if self.totp else None

    def to_json(self) -> dict[str, Any]:
        """Every field, attachments as base64: what `secret get --json` prints."""
        return {
            "type": self.type, "password": self.password, "username": self.username,
            "url": self.url, "notes": self.notes, "totp": self.totp,
            "fields": [{"name": f.name, "value": f.value, "protected": f.protected}
                       for f in self.fields],
            "attachments": [{"name": a.name, "size": len(a.data),
                             "data_base64": base64.b64encode(a.data).decode()}
                            for a in self.attachments],
        }


def checked(entry: Entry) -> Entry:
    """The entry if it can be stored: a known type, something in it, a valid TOTP, few fields."""
    if entry.type not in ENTRY_TYPES:
        raise UsageError(f"unknown entry type {entry.type!r}; use one of: "
                         + ", ".join(ENTRY_TYPES))
    if len(entry.fields) > MAX_FIELDS or len(entry.attachments) > MAX_FIELDS:
        raise UsageError(f"an entry holds at most {MAX_FIELDS} fields and attachments")
    names = [f.name for f in entry.fields]
    if any(not n for n in names) or len(set(names)) != len(names):
        raise UsageError("custom field names must be present and distinct")
    if entry.totp:
        parse_totp(entry.totp)
    if not (entry.password or entry.username or entry.url or entry.notes or entry.fields
            or entry.attachments or entry.totp):
        raise UsageError("the entry is empty")
    return entry


def decode(data: bytes) -> Entry:
    """An entry from its sealed bytes; a damaged document is one sentence, never a traceback."""
    try:
        doc = json.loads(data.decode("utf-8"))
        if not isinstance(doc, dict) or doc.get("format") != ENTRY_FORMAT:
            raise ValueError("format")
        return Entry(
            type=str(doc["type"]), password=str(doc["password"]),
            username=str(doc["username"]), url=str(doc["url"]), notes=str(doc["notes"]),
            fields=tuple(Field(str(n), str(v), bool(p)) for n, v, p in doc["fields"]),
            attachments=tuple(Attachment(str(n), base64.b64decode(d, validate=True))
                              for n, d in doc["attachments"]),
            totp=str(doc["totp"]),
        )
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise UsageError("the stored entry is not a Strongroom entry document") from None


def primary(kind: str, data: bytes) -> bytes:
    """What `secret get` prints and the console copies: the value, the entry's password, or for
    a TOTP secret the current code."""
    if kind == "entry":
        return decode(data).password.encode()
    if kind == "totp":
        return parse_totp(data.decode("utf-8", "replace")).code().encode()
    return data


def seal_totp(text: str) -> bytes:
    """A TOTP secret's stored bytes: the canonical URI of what the user gave."""
    return parse_totp(text).uri().encode()
