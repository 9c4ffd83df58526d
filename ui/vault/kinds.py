"""How the console shows and copies each kind of secret (app/entries.py): no Qt here.

A plain value is shown as its text (or hex); a TOTP seed as its current code and the seconds it
has left, recomputed each second while shown; an entry as its fields, with its TOTP code live.
Copy puts the value, the current code, or the entry's password on the clipboard.
"""

from __future__ import annotations

from collections.abc import Callable

from strongroom.app import entries
from strongroom.app.totp import TotpSpec
from strongroom.app.totp import parse as parse_totp

from ..clipboard import shown_text

KIND_LABELS = {"value": "Value", "totp": "TOTP seed", "entry": "Entry"}


def grouped(code: str) -> str:
    """A code as people read it aloud: 123 456, 1234 5678."""
    half = len(code) // 2
    return f"{code[:half]} {code[half:]}"


def totp_line(spec: TotpSpec) -> str:
    return f"{grouped(spec.code())}   (next code in {spec.remaining()} s)"


def render(kind: str, value: bytes) -> Callable[[], str]:
    """What the reveal field shows, as a function called again every second while shown."""
    if kind == "totp":
        spec = parse_totp(value.decode("utf-8", "replace"))
        return lambda: totp_line(spec)
    if kind != "entry":
        text = shown_text(value)
        return lambda: text
    entry = entries.decode(value)
    lines = [f"{label}: {text}" for label, text in (
        ("Username", entry.username), ("URL", entry.url), ("Password", entry.password))
        if text]
    lines += [f"{f.name}: {f.value}" for f in entry.fields]
    if entry.attachments:
        lines.append("Attachments: " + ", ".join(
            f"{a.name} ({len(a.data)} B)" for a in entry.attachments))
    if entry.notes:
        lines += ["Notes:", *entry.notes.splitlines()]
    head = "\n".join(lines)
    spec = entry.totp_spec()
    if spec is None:
        return lambda: head
    return lambda: f"TOTP: {totp_line(spec)}\n{head}".rstrip()


def to_copy(kind: str, value: bytes) -> bytes:
    """What Copy puts on the clipboard: the value, the current TOTP code, the entry's password."""
    return entries.primary(kind, value)
