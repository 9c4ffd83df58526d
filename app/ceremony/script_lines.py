"""Where things are in a script's text: the line of a table, of a key in a table, of the n-th
``[[steps]]`` and of a key in it. tomllib keeps no positions, so the text is scanned for the
headers and ``key =`` lines (good enough to point a reviewer at the right place)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

_HEADER = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.\-\"' ]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"^\s*([A-Za-z0-9_\-\"']+)\s*=")
_PLAIN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,127}$")


def plain_name(text: str) -> bool:
    return bool(_PLAIN.match(text)) and ".." not in text


class Lines:
    def __init__(self, text: str) -> None:
        self._tables: dict[str, int] = {}
        self._keys: dict[tuple[str | None, str], int] = {}
        self._steps: list[int] = []
        self._step_keys: dict[tuple[int, str], int] = {}
        current: str | None = None
        step = -1
        for number, line in enumerate(text.splitlines(), start=1):
            header = _HEADER.match(line)
            if header:
                current = header.group(2).replace('"', "").replace("'", "").strip()
                if header.group(1) == "[[" and current == "steps":
                    step = len(self._steps)
                    self._steps.append(number)
                else:
                    step = -1
                    self._tables.setdefault(current, number)
                continue
            key = _KEY.match(line)
            if key is None:
                continue
            word = key.group(1).strip("\"'")
            if step >= 0:
                self._step_keys.setdefault((step, word), number)
            else:
                self._keys.setdefault((current, word), number)

    def table(self, name: str) -> int:
        return self._tables.get(name, 0)

    def key(self, table: str | None, key: str) -> int:
        return self._keys.get((table, key), 0)

    def step(self, index: int) -> int:
        return self._steps[index] if index < len(self._steps) else (
            self._steps[-1] if self._steps else 1)

    def step_key(self, index: int, key: str) -> int:
        return self._step_keys.get((index, key), 0)


@dataclass(frozen=True)
class Problem:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


def table_of(raw: Mapping[str, Any], key: str, lines: Lines, out: list[Problem]
             ) -> dict[str, Any]:
    value = raw.get(key)
    if value is None:
        out.append(Problem(1, f"the script has no [{key}] table"))
        return {}
    if not isinstance(value, dict):
        out.append(Problem(lines.key(None, key) or 1, f"{key} must be a table"))
        return {}
    return value
