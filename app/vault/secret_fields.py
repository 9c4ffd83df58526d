"""The checks a secret's name, tags, owner, note and value pass before anything is written."""

from __future__ import annotations

from collections.abc import Iterable

from .. import entries
from ..errors import UsageError
from ..model import has_hidden

MAX_VALUE_BYTES = 16 * 1024 * 1024
MAX_NAME_CHARS = 256
MAX_TAG_CHARS = 64
MAX_NOTE_CHARS = 64 * 1024


def check_name(name: str) -> str:
    if not name or len(name) > MAX_NAME_CHARS:
        raise UsageError(f"a secret name must be 1 to {MAX_NAME_CHARS} characters")
    if name != name.strip() or has_hidden(name):
        raise UsageError("a secret name cannot start or end with spaces or hold control, bidi or "
                         "other invisible characters")
    if any(part in ("", ".", "..") for part in name.split("/")):
        raise UsageError("a secret name is parts separated by '/', none of them empty, '.' or '..'")
    return name


def check_owner(owner: str) -> str:
    if not owner.strip() or len(owner) > MAX_NAME_CHARS or has_hidden(owner):
        raise UsageError(f"invalid owner {owner!r}: 1 to {MAX_NAME_CHARS} visible characters")
    return owner


def check_tags(tags: Iterable[str]) -> tuple[str, ...]:
    out: list[str] = []
    for tag in tags:
        tag = tag.strip()
        if not tag or len(tag) > MAX_TAG_CHARS or "," in tag or has_hidden(tag):
            raise UsageError(f"invalid tag {tag!r}: 1 to {MAX_TAG_CHARS} visible "
                             "characters, no commas")
        if tag not in out:
            out.append(tag)
    return tuple(sorted(out))


def check_value(value: bytes) -> bytes:
    if not value:
        raise UsageError("the secret value is empty")
    if len(value) > MAX_VALUE_BYTES:
        raise UsageError(f"the secret value is larger than {MAX_VALUE_BYTES // (1024 * 1024)} MiB")
    return value


def check_note(note: str) -> str:
    if len(note) > MAX_NOTE_CHARS:
        raise UsageError(f"the note is longer than {MAX_NOTE_CHARS} characters")
    return note


def check_kind_value(kind: str, value: bytes) -> bytes:
    """The bytes to seal for a value of ``kind``: a TOTP seed becomes its canonical URI, an
    entry must be a well-formed entry document."""
    entries.check_kind(kind)
    if kind == "totp":
        try:
            text = value.decode("utf-8")
        except UnicodeDecodeError:
            raise UsageError("a TOTP seed is text: an otpauth:// URI or base32") from None
        return check_value(entries.seal_totp(text))
    if kind == "entry":
        entries.checked(entries.decode(value))
    return check_value(value)
