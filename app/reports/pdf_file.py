"""The PDF 1.4 file around a report's pages: objects, fonts, document info, xref table, trailer."""

from __future__ import annotations

import hashlib
import unicodedata
import zlib
from collections.abc import Sequence
from datetime import datetime

from .pdf_text import Font

PAGE_WIDTH = 595.28  # A4 portrait, in points
PAGE_HEIGHT = 841.89
_HEADER = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"  # the binary comment line tells tools the file is binary
_FIRST_PAGE_OBJECT = 4 + len(Font)  # 1 catalog, 2 page tree, 3 info, then one per font


def number(v: float) -> bytes:
    """A PDF real with at most two decimals and no trailing zeros (``12.5``, ``0``, ``-3``)."""
    s = f"{v:.2f}".rstrip("0").rstrip(".")
    return b"0" if s in ("-0", "") else s.encode("ascii")


def pdf_date(generated: str) -> bytes | None:
    """``generated`` as a PDF date (``D:20250304050607Z``) if it is an ISO 8601 time, else None."""
    try:
        t = datetime.fromisoformat(generated.strip())
    except ValueError:
        return None
    s = f"D:{t.year:04d}{t.month:02d}{t.day:02d}{t.hour:02d}{t.minute:02d}{t.second:02d}"
    offset = t.utcoffset()
    if offset is not None:
        minutes = round(offset.total_seconds()) // 60
        sign = "-" if minutes < 0 else "+"
        hours, mins = divmod(abs(minutes), 60)
        s += "Z" if minutes == 0 else f"{sign}{hours:02d}'{mins:02d}'"
    return s.encode("ascii")


def text_string(text: str) -> bytes:
    """``text`` as a PDF text string for document info: UTF-16BE with a byte-order mark, in hex
    (so any character survives and none can end the string), controls and format characters
    dropped, line breaks as spaces."""
    kept = "".join(
        ch if unicodedata.category(ch) != "Cs" else "\ufffd"
        for ch in " ".join(text.splitlines())
        if unicodedata.category(ch) not in ("Cc", "Cf")
    )
    return b"<FEFF" + kept.encode("utf-16-be").hex().upper().encode("ascii") + b">"


def _stream(content: bytes) -> bytes:
    data = zlib.compress(content, 9)
    return b"<< /Length %d /Filter /FlateDecode >>\nstream\n%s\nendstream" % (len(data), data)


def assemble(pages: Sequence[bytes], *, title: str, generated: str) -> bytes:
    """A complete PDF file whose pages have the content streams ``pages``, in order."""
    page_ids = [_FIRST_PAGE_OBJECT + 2 * i for i in range(len(pages))]
    fonts = b" ".join(b"/%s %d 0 R" % (f.value.encode(), 4 + i) for i, f in enumerate(Font))
    info = b"/Title " + text_string(title) + b" /Producer (Strongroom)"
    created = pdf_date(generated)
    if created is not None:
        info += b" /CreationDate (" + created + b")"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>"
        % (b" ".join(b"%d 0 R" % p for p in page_ids), len(pages)),
        b"<< " + info + b" >>",
    ]
    objects += [
        b"<< /Type /Font /Subtype /Type1 /BaseFont /%s /Encoding /WinAnsiEncoding >>"
        % f.base_font.encode()
        for f in Font
    ]
    for page_id, content in zip(page_ids, pages, strict=True):
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %s %s] /Resources << /Font << %s >> >>"
            b" /Contents %d 0 R >>"
            % (number(PAGE_WIDTH), number(PAGE_HEIGHT), fonts, page_id + 1)
        )
        objects.append(_stream(content))
    out = bytearray(_HEADER)
    offsets: list[int] = []
    for n, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (n, body)
    xref_at = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    # The same input gives the same file, so the ID is a digest of the body, not a random nonce.
    doc_id = hashlib.sha256(out).hexdigest()[:32].upper().encode("ascii")
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info 3 0 R /ID [<%s> <%s>] >>\n" % (
        len(objects) + 1, doc_id, doc_id,
    )
    out += b"startxref\n%d\n%%%%EOF\n" % xref_at
    return bytes(out)
