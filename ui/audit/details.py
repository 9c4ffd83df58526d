"""An audit event's details as a line a person reads ("version 3 · classification high · approved
by alice"); the table keeps the full JSON for its tooltip."""

from __future__ import annotations

import re
from typing import Any

SEPARATOR = " · "
FIRST = ("version", "versions", "classification", "kind", "label", "operation", "format",
         "events")  # shown first, in this order; the rest alphabetically, the approval last
LAST = ("approval",)
HEX = re.compile(r"[0-9a-fA-F]{24,}")
HEX_SHOWN = 12  # a digest or fingerprint is shortened to its first characters
TEXT_SHOWN = 80
LIST_SHOWN = 4


def readable(details: dict[str, Any]) -> str:
    """Every field as "name value", joined with " · "; "from A · to B" reads "from A to B"."""
    details = dict(details)
    parts: list[str] = []
    if "from" in details and "to" in details:
        parts.append(f"from {value_text(details.pop('from'))} to {value_text(details.pop('to'))}")
    for key in sorted(details, key=_order):
        parts.append(field_text(key, details[key]))
    return SEPARATOR.join(p for p in parts if p)


def _order(key: str) -> tuple[int, int, str]:
    if key in FIRST:
        return (0, FIRST.index(key), key)
    return (2 if key in LAST else 1, 0, key)


def field_text(key: str, value: Any) -> str:
    if key == "approval" and isinstance(value, dict) and value.get("approver"):
        return f"approved by {value['approver']}"
    if value is True:
        return key.replace("_", " ")
    return f"{key.replace('_', ' ')} {value_text(value)}"


def value_text(value: Any) -> str:
    """A value in a few words: booleans as yes/no, long hex shortened, long lists counted."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None:
        return "none"
    if isinstance(value, str):
        if HEX.fullmatch(value):
            return value[:HEX_SHOWN] + "…"
        return value if len(value) <= TEXT_SHOWN else value[: TEXT_SHOWN - 1] + "…"
    if isinstance(value, list | tuple):
        shown = ", ".join(value_text(v) for v in value[:LIST_SHOWN]) or "none"
        more = len(value) - LIST_SHOWN
        return shown + (f" and {more} more" if more > 0 else "")
    if isinstance(value, dict):
        inner = ", ".join(f"{k.replace('_', ' ')} {value_text(v)}" for k, v in value.items())
        return f"({inner})" if inner else "none"
    return str(value)
