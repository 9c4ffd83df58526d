"""How one secret shows as a table row: the columns, cell texts, due dates, colours, and the
sort and filter keys; :class:`Row`, a secret's metadata as the table keeps it; and
:class:`Loaded`, the rows as a worker hands them to the model."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple, TypeVar

from PySide6.QtGui import QColor, QFont

from strongroom.app.model import Classification, SecretInfo, parse_iso
from strongroom.app.vault.secrets import map_secrets
from strongroom.app.vault.session import VaultSession

SOON_DAYS = 14
OVERDUE = QColor("#b3261e")
SOON = QColor("#a05a00")
BOLD = QFont()
BOLD.setBold(True)
LEVEL_COLOURS = {
    Classification.Critical: QColor("#b3261e"),
    Classification.High: QColor("#c2571a"),
    Classification.Moderate: QColor("#8a6d00"),
    Classification.Low: QColor("#2e7d32"),
    Classification.Public: QColor("#546e7a"),
}
LEVEL_RANK = {level: rank for rank, level in enumerate(Classification)}  # Critical first


class Column(enum.Enum):
    """The table's columns, in display order."""

    Name = 0
    Classification = 1
    Tags = 2
    Owner = 3
    Updated = 4
    Expires = 5
    RotationDue = 6

    @property
    def header(self) -> str:
        return {Column.RotationDue: "Rotation due"}.get(self, self.name)


class Due(enum.Enum):
    """Where a date (expiry, rotation) stands relative to today."""

    Unset = "unset"
    Later = "later"
    Soon = "soon"
    Overdue = "overdue"


def due_state(date: str | None, today: dt.date) -> tuple[Due, int]:
    """The state of ``date`` and the days left (negative when past)."""
    if not date:
        return Due.Unset, 0
    try:
        days = (dt.date.fromisoformat(date) - today).days
    except ValueError:
        return Due.Unset, 0
    if days < 0:
        return Due.Overdue, days
    return (Due.Soon if days <= SOON_DAYS else Due.Later), days


def due_text(date: str | None, today: dt.date, past_word: str) -> str:
    """The date, with "in 5 days" when soon or ``past_word`` when past: text, not only colour."""
    state, days = due_state(date, today)
    if state is Due.Unset:
        return ""
    if state is Due.Overdue:
        return f"{date} · {past_word}"
    if state is Due.Soon:
        return f"{date} · " + ("today" if days == 0 else f"in {days} day{'s' * (days != 1)}")
    return str(date)


def local_time(stamp: str) -> str:
    try:
        return parse_iso(stamp).astimezone().strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return stamp


_T = TypeVar("_T", bound=Hashable)


class Row(NamedTuple):
    """A secret's metadata as the table keeps it, in :class:`SecretInfo`'s field order: a tuple
    has no per-instance dict (at 100k rows a SecretInfo each cost ~40 MB more)."""

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
    kind: str

    @classmethod
    def of(cls, info: SecretInfo) -> Row:
        return cls(info.id, info.name, info.classification, info.owner, info.note, info.tags,
                   info.created, info.updated, info.expires, info.rotation_due, info.version,
                   info.kind)

    def info(self) -> SecretInfo:
        return SecretInfo(*self)


class RowPool:
    """Makes rows that share one copy of each owner, note, tag list, date and kind: across a
    vault most of them repeat. Kept only while one load is converted."""

    def __init__(self) -> None:
        self._seen: dict[Any, Any] = {}

    def _one(self, value: _T) -> _T:
        return self._seen.setdefault(value, value)  # type: ignore[no-any-return]

    def row(self, info: SecretInfo) -> Row:
        one = self._one
        return Row(info.id, info.name, info.classification, one(info.owner), one(info.note),
                   one(info.tags), info.created, info.updated, one(info.expires),
                   one(info.rotation_due), info.version, one(info.kind))


def haystack(info: Row) -> str:
    """What the filter searches: name, tags, note and owner, case-folded, fields kept apart."""
    return "\n".join((info.name, " ".join(info.tags), info.note, info.owner)).casefold()


SORT_KEYS: dict[Column, Callable[[Row], Any]] = {
    Column.Name: lambda i: i.name.casefold(),
    Column.Classification: lambda i: LEVEL_RANK[i.classification],
    Column.Tags: lambda i: " ".join(i.tags).casefold(),
    Column.Owner: lambda i: i.owner.casefold(),
    Column.Updated: lambda i: i.updated,
    Column.Expires: lambda i: i.expires or "9999",  # unset dates sort last
    Column.RotationDue: lambda i: i.rotation_due or "9999",
}


@dataclass(frozen=True)
class Loaded:
    """The vault's metadata as the worker hands it over, with what is slow to work out at 100k
    rows done there too: the haystacks, the name index and the order by name."""

    rows: list[Row]
    haystacks: list[str]
    by_name: dict[str, int]
    name_order: list[int] | None = None  # None: to be sorted by the model

    @classmethod
    def build(cls, infos: Iterable[SecretInfo | Row]) -> Loaded:
        """From SecretInfos (made into pooled rows here) or rows (RowPool's, as the worker's)."""
        pool = RowPool()
        rows = [i if isinstance(i, Row) else pool.row(i) for i in infos]
        return cls.of(rows)

    @classmethod
    def load(cls, vault: VaultSession, limit: int | None = None) -> Loaded:
        """Read the vault's metadata straight into pooled rows (in the worker)."""
        return cls.of(map_secrets(vault, RowPool().row, limit=limit))

    @classmethod
    def of(cls, rows: list[Row]) -> Loaded:
        keys = [SORT_KEYS[Column.Name](i) for i in rows]
        numbers = list(range(len(rows)))  # one int object per row, shared by the index and order
        by_name = dict(zip((i.name for i in rows), numbers, strict=True))
        return cls(
            rows, [haystack(i) for i in rows], by_name, sorted(numbers, key=keys.__getitem__),
        )


@dataclass(frozen=True)
class Cells:
    """One row as the view shows it, worked out once per load rather than on every repaint."""

    texts: tuple[str, ...]
    tooltips: tuple[str | None, ...]
    due: tuple[Due, ...]
    badge: QColor

    @classmethod
    def of(cls, info: Row, today: dt.date) -> Cells:
        texts = (info.name, info.classification.value, ", ".join(info.tags), info.owner,
                 local_time(info.updated), due_text(info.expires, today, "expired"),
                 due_text(info.rotation_due, today, "overdue"))
        due = [Due.Unset] * len(Column)
        due[Column.Expires.value] = due_state(info.expires, today)[0]
        due[Column.RotationDue.value] = due_state(info.rotation_due, today)[0]
        tooltips = [t or None for t in texts]
        if info.note:
            tooltips[Column.Name.value] = f"{info.name}\n{info.note[:500]}"
        return cls(texts, tuple(tooltips), tuple(due), LEVEL_COLOURS[info.classification])
