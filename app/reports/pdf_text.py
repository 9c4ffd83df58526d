"""Text for the PDF writer: made safe, encoded to WinAnsi, measured in Helvetica, wrapped.

Every string a caller passes goes through :func:`winansi_lines` before it reaches a page. Control
and format characters (C0/C1 controls, zero-width characters, bidi embeddings, overrides and
isolates, soft hyphens) are dropped; tabs and Unicode spaces become a space; line and paragraph
separators become line breaks. What is left is NFC-normalised and encoded to WinAnsi (cp1252);
every character WinAnsi has no code for — Cyrillic, CJK, emoji, lone surrogates — becomes ``?``.
Page text is written as PDF literal strings in which ``\\``, ``(`` and ``)`` are escaped and every
byte outside printable ASCII is an octal escape, so no input can end a string early.
"""

from __future__ import annotations

import unicodedata
from enum import Enum

from .helvetica_widths import FIRST_CODE, HELVETICA, HELVETICA_BOLD


class Font(Enum):
    """The two standard Type1 fonts a report uses; the value is its resource name on each page."""

    Regular = "F1"
    Bold = "F2"

    @property
    def base_font(self) -> str:
        return "Helvetica" if self is Font.Regular else "Helvetica-Bold"

    @property
    def widths(self) -> tuple[int, ...]:
        return HELVETICA if self is Font.Regular else HELVETICA_BOLD


REPLACEMENT = b"?"
_DROPPED_CATEGORIES = frozenset({"Cc", "Cf"})


def _encode_char(ch: str) -> bytes:
    if ch == "\t" or (unicodedata.category(ch) == "Zs" and ch != "\xa0"):
        return b" "
    if unicodedata.category(ch) in _DROPPED_CATEGORIES:
        return b""
    try:  # every character cp1252 maps below 0x20 or to 0x7F is a Cc, dropped above
        return ch.encode("cp1252")
    except UnicodeEncodeError:
        return REPLACEMENT


def winansi_lines(text: str) -> list[bytes]:
    """``text`` as WinAnsi-encoded lines, split at its line breaks, with nothing unsafe left in."""
    # splitlines() also breaks at \v, \f, \x1c-\x1e, \x85, U+2028 and U+2029.
    return [
        b"".join(_encode_char(ch) for ch in unicodedata.normalize("NFC", line))
        for line in text.splitlines()
    ]


def winansi(text: str) -> bytes:
    """``text`` on one line: its line breaks become spaces."""
    return b" ".join(winansi_lines(text))


def width(data: bytes, font: Font, size: float) -> float:
    """The advance width of WinAnsi ``data`` set in ``font`` at ``size`` points, in points."""
    table = font.widths
    return sum(table[b - FIRST_CODE] for b in data) * size / 1000


def _break_word(word: bytes, font: Font, size: float, limit: float) -> list[bytes]:
    """A word too long for a line, cut into pieces that fit (at least one character each)."""
    pieces: list[bytes] = []
    start, units, table = 0, 0, font.widths
    for i, b in enumerate(word):
        w = table[b - FIRST_CODE]
        if i > start and (units + w) * size / 1000 > limit:
            pieces.append(word[start:i])
            start, units = i, 0
        units += w
    pieces.append(word[start:])
    return pieces


def wrap(text: str, font: Font, size: float, limit: float) -> list[bytes]:
    """``text`` broken into WinAnsi lines no wider than ``limit`` points, at spaces where it can
    and inside a word only when the word alone is too wide; an empty text is one empty line."""
    space = width(b" ", font, size)
    out: list[bytes] = []
    for line in winansi_lines(text) or [b""]:
        current: list[bytes] = []
        current_w = 0.0
        for word in line.split(b" "):
            if not word:
                continue
            w = width(word, font, size)
            if current and current_w + space + w <= limit:
                current.append(word)
                current_w += space + w
                continue
            if current:
                out.append(b" ".join(current))
            if w <= limit:
                current, current_w = [word], w
                continue
            *full, last = _break_word(word, font, size, limit)
            out.extend(full)
            current, current_w = [last], width(last, font, size)
        out.append(b" ".join(current))
    return out


def truncate(data: bytes, font: Font, size: float, limit: float) -> bytes:
    """WinAnsi ``data`` cut to fit ``limit`` points, ending in an ellipsis if anything was cut."""
    if width(data, font, size) <= limit:
        return data
    ellipsis = b"\x85"
    room = (limit - width(ellipsis, font, size)) * 1000 / size
    units, table = 0, font.widths
    for i, b in enumerate(data):
        units += table[b - FIRST_CODE]
        if units > room:
            return data[:i] + ellipsis
    return data + ellipsis  # pragma: no cover - the whole text fit, returned above


def pdf_string(data: bytes) -> bytes:
    """WinAnsi ``data`` as a PDF literal string: printable ASCII kept, the rest escaped."""
    out = bytearray(b"(")
    for b in data:
        if b in b"\\()":
            out += b"\\" + bytes([b])
        elif 0x20 <= b <= 0x7E:
            out.append(b)
        else:
            out += b"\\%03o" % b
    out += b")"
    return bytes(out)
