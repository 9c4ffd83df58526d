"""Facts the vault hands out: classification levels, secret metadata, versions."""

from __future__ import annotations

import datetime as dt
import unicodedata
from dataclasses import dataclass
from enum import Enum
from typing import Any, Protocol

from .errors import UsageError

# Control, format (bidi overrides such as U+202E), separator, private-use, surrogate and unassigned
# characters: invisible or misleading in a list, so never part of a name, tag or owner.
HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def has_hidden(text: str) -> bool:
    return any(unicodedata.category(c) in HIDDEN_CATEGORIES for c in text)


class Classification(Enum):
    """Data classification levels of the policy Strongroom serves; each has its own data key."""

    Critical = "critical"
    High = "high"
    Moderate = "moderate"
    Low = "low"
    Public = "public"

    @classmethod
    def parse(cls, text: str) -> Classification:
        try:
            return cls(text.strip().lower())
        except ValueError:
            names = ", ".join(c.value for c in cls)
            raise UsageError(f"unknown classification {text!r}; use one of: {names}") from None


class Clock(Protocol):
    """A port for the time, so date logic is testable."""

    def now(self) -> dt.datetime: ...


class SystemClock:
    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="microseconds").replace(
        "+00:00", "Z"
    )


def parse_iso(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def parse_date(text: str, what: str = "date") -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"invalid {what} {text!r}: use YYYY-MM-DD") from None


@dataclass(frozen=True)
class SecretInfo:
    """A secret's metadata; never its value."""

    id: int
    name: str
    classification: Classification
    owner: str
    note: str
    tags: tuple[str, ...]
    created: str
    updated: str
    expires: str | None
    rotation_due: str | None
    version: int
    kind: str = "value"  # how the value reads: value, totp or entry (app/entries.py)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "classification": self.classification.value,
            "owner": self.owner,
            "note": self.note,
            "tags": list(self.tags),
            "created": self.created,
            "updated": self.updated,
            "expires": self.expires,
            "rotation_due": self.rotation_due,
            "version": self.version,
            "kind": self.kind,
        }


@dataclass(frozen=True)
class VersionInfo:
    """One stored version of a secret: when, by whom, under which metadata; never the value."""

    version: int
    created: str
    actor: str
    classification: Classification
    meta: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "created": self.created,
            "actor": self.actor,
            "classification": self.classification.value,
            "meta": self.meta,
        }
