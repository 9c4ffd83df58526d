"""The PDF report writer, checked by real PDF tools: qpdf --check, pdftotext and pdfinfo (poppler).

The tools are Debian's qpdf and poppler-utils, installed by packaging/bootstrap.sh; a test that
cannot find them fails, so a missing validator is never mistaken for a passing one.
"""

from __future__ import annotations

import re
import shutil
import stat
import subprocess
import tempfile
import zlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from strongroom.app.errors import StorageError
from strongroom.app.reports.helvetica_widths import HELVETICA, HELVETICA_BOLD
from strongroom.app.reports.pdf import BOTTOM, MARGIN, USABLE_WIDTH, PdfReport
from strongroom.app.reports.pdf_file import PAGE_HEIGHT, PAGE_WIDTH
from strongroom.app.reports.pdf_text import Font, pdf_string, width, winansi_lines, wrap

HOSTILE = ") Tj ET /JavaScript ("
GENERATED = "2025-03-04T05:06:07Z"


# ----- the real tools ----------------------------------------------------------------------------

def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed: run packaging/bootstrap.sh (qpdf, poppler-utils)")
    return path


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([tool(args[0]), *args[1:]], capture_output=True, text=True,
                          check=False, timeout=60)


def write(data: bytes, folder: Path) -> Path:
    path = folder / "report.pdf"
    path.write_bytes(data)
    return path


def qpdf_check(path: Path) -> None:
    proc = run("qpdf", "--check", str(path))
    # 0 only: qpdf exits 3 on warnings, e.g. when it had to rebuild a wrong xref table.
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "No syntax or stream encoding errors found" in proc.stdout


def page_texts(path: Path) -> list[str]:
    proc = run("pdftotext", "-layout", "-enc", "UTF-8", str(path), "-")
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.split("\f")[: pages(path)]


def info(path: Path) -> dict[str, str]:
    proc = run("pdfinfo", str(path))
    assert proc.returncode == 0, proc.stderr
    pairs = (line.split(":", 1) for line in proc.stdout.splitlines() if ":" in line)
    return {k.strip(): v.strip() for k, v in pairs}


def pages(path: Path) -> int:
    return int(info(path)["Pages"])


def words_with_boxes(path: Path) -> list[tuple[int, float, float, float, float, str]]:
    """(page, xMin, yMin, xMax, yMax, text) of every word pdftotext finds, y measured down."""
    proc = run("pdftotext", "-bbox", "-enc", "UTF-8", str(path), "-")
    assert proc.returncode == 0, proc.stderr
    found, page = [], 0
    for line in proc.stdout.splitlines():
        if "<page " in line:
            page += 1
        m = re.search(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">'
                      r"(.*)</word>", line)
        if m:
            x0, y0, x1, y1 = (float(v) for v in m.groups()[:4])
            found.append((page, x0, y0, x1, y1, m.group(5)))
    return found


# ----- the file's own structure ----------------------------------------------------------------

def content_streams(data: bytes) -> list[bytes]:
    out = []
    for m in re.finditer(rb"<< /Length (\d+) /Filter /FlateDecode >>\nstream\n", data):
        out.append(zlib.decompress(data[m.end(): m.end() + int(m.group(1))]))
    return out


# Stricter than a PDF reader: a string may hold only plain bytes and the escapes the writer uses,
# so an unescaped parenthesis either ends a string early or is left where no token matches.
TOKEN = re.compile(rb"\((?:[^\\()]|\\[0-7]{3}|\\[\\()])*\)|[^\s()]+|\s+")


def tokens(stream: bytes) -> tuple[list[bytes], list[bytes]]:
    """A content stream's tokens outside strings, and its strings decoded."""
    toks: list[bytes] = []
    strings: list[bytes] = []
    pos = 0
    while pos < len(stream):
        m = TOKEN.match(stream, pos)
        assert m is not None, stream[pos: pos + 40]
        pos = m.end()
        if m.group().startswith(b"("):
            strings.append(re.sub(rb"\\([0-7]{3}|.)", lambda e: bytes([int(e[1], 8)])
                                  if e[1].isdigit() else e[1], m.group()[1:-1]))
        elif not m.group().isspace():
            toks.append(m.group())
    return toks, strings


OPERATORS = {b"BT", b"ET", b"Tf", b"Td", b"Tj", b"re", b"f", b"S", b"g", b"G", b"w", b"m", b"l"}


def assert_only_our_operators(data: bytes) -> list[str]:
    """Every content stream holds only the operators the writer emits and the two font names,
    is plain ASCII, and shows its strings with Tj; returns all the text shown."""
    shown: list[str] = []
    for stream in content_streams(data):
        assert all(0x20 <= b < 0x7F or b == 0x0A for b in stream)
        toks, strings = tokens(stream)
        names = {t for t in toks if t.startswith(b"/")}
        ops = {t for t in toks if not t.startswith(b"/") and not re.fullmatch(rb"-?[\d.]+", t)}
        assert names <= {b"/F1", b"/F2"}, names
        assert ops <= OPERATORS, ops - OPERATORS
        assert toks.count(b"Tj") == len(strings) == toks.count(b"BT")
        shown += [s.decode("cp1252") for s in strings]
    return shown


def sample(rows: int = 3) -> PdfReport:
    report = PdfReport("Quarterly access review", generated=GENERATED)
    report.fields([("Vault", "prod-eu"), ("Reviewer", "alice@example.org"), ("Grants", "42")])
    report.heading("Scope")
    report.paragraph("Every grant on the production vault, with who approved it and when.")
    report.heading("Grants")
    report.table(
        ["Principal", "Secret", "Role"],
        [[f"user-{i:04d}", f"db/secret-{i:04d}", "reader" if i % 2 else "writer"]
         for i in range(rows)],
        widths=[2, 3, 1],
    )
    return report


# ----- tests -------------------------------------------------------------------------------------

def test_a_tiny_report_is_valid_and_reads_back(tmp_path: Path) -> None:
    path = write(sample().to_bytes(), tmp_path)
    qpdf_check(path)
    meta = info(path)
    assert meta["Pages"] == "1"
    assert meta["Title"] == "Quarterly access review"
    assert meta["Page size"].startswith("595.28 x 841.89")
    assert meta["PDF version"] == "1.4"
    assert meta["JavaScript"] == "no"
    (text,) = page_texts(path)
    for expected in ("Quarterly access review", f"Generated: {GENERATED}", "Vault:", "prod-eu",
                     "Reviewer:", "alice@example.org", "Scope", "Grants", "Principal", "Secret",
                     "Role", "Every grant on the production vault, with who approved it and when.",
                     "Page 1 of 1", f"Quarterly access review \u2014 generated {GENERATED}"):
        assert expected in text
    for i in range(3):
        assert re.search(rf"user-{i:04d}\s+db/secret-{i:04d}\s+(reader|writer)", text)


def test_a_500_row_table_spans_pages_with_the_header_and_page_numbers_on_each(
    tmp_path: Path,
) -> None:
    path = write(sample(500).to_bytes(), tmp_path)
    qpdf_check(path)
    total = pages(path)
    assert total >= 8
    texts = page_texts(path)
    assert len(texts) == total
    for number, text in enumerate(texts, start=1):
        assert re.findall(r"Page \d+ of \d+", text) == [f"Page {number} of {total}"]
        assert re.search(r"Principal\s+Secret\s+Role", text), f"no header row on page {number}"
        assert "Quarterly access review \u2014 generated" in text
    whole = "\n".join(texts)
    for i in range(500):
        assert len(re.findall(rf"user-{i:04d}\s+db/secret-{i:04d}\s", whole)) == 1, i


def test_page_count_grows_with_the_rows(tmp_path: Path) -> None:
    counts = []
    for rows in (10, 150, 600):
        folder = tmp_path / str(rows)
        folder.mkdir()
        counts.append(pages(write(sample(rows).to_bytes(), folder)))
    assert counts[0] == 1
    assert counts[0] < counts[1] < counts[2]


def test_long_unbreakable_words_wrap_inside_the_page_and_their_column(tmp_path: Path) -> None:
    report = PdfReport("Long words", generated="today")
    report.paragraph("Q" * 4000)
    report.table(["id", "Z" * 3000], [["1", "W" * 2500]], widths=[1, 3])
    path = write(report.to_bytes(), tmp_path)
    qpdf_check(path)
    # A long header is cut to four lines ending in an ellipsis, on every page the table is on.
    headers = [[ln for ln in text.splitlines() if "Z" in ln] for text in page_texts(path)]
    assert [len(h) for h in headers if h] in ([4], [4, 4])
    assert all(h[-1].rstrip().endswith("\u2026") for h in headers if h)
    assert "".join(page_texts(path)).count("Q") == 4000
    assert "".join(page_texts(path)).count("W") == 2500
    boxes = words_with_boxes(path)
    right = PAGE_WIDTH - MARGIN
    q_words = [b for b in boxes if set(b[5]) == {"Q"}]
    assert len(q_words) > 50
    assert all(x0 >= MARGIN - 0.5 and x1 <= right + 0.5 for _, x0, _, x1, _, _ in q_words)
    # Lines are filled: the widths are Helvetica's, not a cautious guess.
    assert max(x1 for _, _, _, x1, _, _ in q_words) > right - width(b"Q", Font.Regular, 10) - 0.5
    column = (MARGIN + USABLE_WIDTH / 4, MARGIN + USABLE_WIDTH)
    w_words = [b for b in boxes if set(b[5]) == {"W"}]
    assert w_words
    assert all(column[0] < x0 and x1 < column[1] for _, x0, _, x1, _, _ in w_words)
    # No body text runs into the footer band below BOTTOM.
    footer_top = PAGE_HEIGHT - BOTTOM + 1
    body = [b for b in boxes if "Page" not in b[5] and "generated" not in b[5]]
    assert all(y1 <= footer_top or y0 >= PAGE_HEIGHT - 50 for _, _, y0, _, y1, _ in body)


def test_a_row_taller_than_a_page_is_split_and_loses_nothing(tmp_path: Path) -> None:
    cell = " ".join(f"w{i:04d}" for i in range(2500))
    report = PdfReport("Tall row", generated="today")
    report.table(["Name", "Words"], [["first", "short"], ["tall", cell], ["last", "short"]])
    path = write(report.to_bytes(), tmp_path)
    qpdf_check(path)
    texts = page_texts(path)
    assert len(texts) >= 3
    assert all(re.search(r"Name\s+Words", t) for t in texts)
    found = re.findall(r"w\d{4}", "\n".join(texts))
    assert found == [f"w{i:04d}" for i in range(2500)]


def test_a_heading_never_ends_a_page_and_a_new_page_starts_at_the_top_margin(
    tmp_path: Path,
) -> None:
    tops = []
    for filler in range(44, 60):  # the page break falls before, at and after the heading
        report = PdfReport("Keep", generated="today")
        report.paragraph("\n".join(f"line {i}" for i in range(filler)))
        report.heading("Anchorheading")
        report.paragraph("Followingtext")
        report.table(["Col"], [[f"cell {i}"] for i in range(60)])
        path = write(report.to_bytes(), tmp_path)
        boxes = words_with_boxes(path)
        (heading,) = [b for b in boxes if b[5] == "Anchorheading"]
        (after,) = [b for b in boxes if b[5] == "Followingtext"]
        assert heading[0] == after[0], f"heading alone at the foot of page {heading[0]}"
        first_on_page = {}
        for box in boxes:
            first_on_page.setdefault(box[0], box)
        tops += [box for page, box in first_on_page.items() if page > 1]
    assert {b[5] for b in tops} >= {"Anchorheading", "Col", "line"}  # each kind of page start
    # Text boxes start just below the top margin: no paragraph gap carried over the break.
    assert all(MARGIN - 1 < y0 < MARGIN + 5.5 for _, _, y0, _, _, _ in tops), tops


def test_hostile_strings_render_as_text_and_inject_nothing(tmp_path: Path) -> None:
    nasty = [HOSTILE, "\\", "(((", ")))", "\\) Tj", "a\\", "endstream endobj %%EOF", "\r\n(x)\r",
             ">> /OpenAction << /S /JavaScript /JS (app.alert(1)) >>"]
    report = PdfReport(f"Review {HOSTILE}", generated=f"{HOSTILE}")
    report.fields([(HOSTILE, HOSTILE), ("k", "\\")])
    report.heading(HOSTILE)
    for s in nasty:
        report.paragraph(f"[{s}]")
    report.table([HOSTILE, "b"], [[s, s] for s in nasty])
    data = report.to_bytes()
    path = write(data, tmp_path)
    qpdf_check(path)
    meta = info(path)
    assert meta["JavaScript"] == "no"
    assert meta["Title"] == f"Review {HOSTILE}"
    text = "\n".join(page_texts(path))
    assert text.count(HOSTILE) >= 6
    assert "[a\\]" in text and "[)))]" in text and "app.alert(1)" in text
    shown = assert_only_our_operators(data)
    assert shown.count(HOSTILE) >= 5
    # Outside the compressed streams (the info title is hex) no name of the payload appears.
    assert b"/JavaScript" not in data and b"/OpenAction" not in data


def test_characters_outside_winansi_become_question_marks_and_controls_vanish(
    tmp_path: Path,
) -> None:
    report = PdfReport("Отчёт 報告", generated="now")
    report.paragraph("ru:Привет cjk:中文 emoji:😀 fr:café nfc:e\u0301t\u00e9")
    report.paragraph("bidi:\u202eevil\u202c iso:\u2066x\u2069 zw:a\u200bb")
    report.paragraph("ctl:a\x00\x07\x1bb soft:in\u00adline")
    report.table(["k"], [["tab:a\tb nbsp:a\u00a0b"]])
    path = write(report.to_bytes(), tmp_path)
    qpdf_check(path)
    assert info(path)["Title"] == "Отчёт 報告"  # document info keeps every character
    text = page_texts(path)[0]
    for expected in ("?????", "ru:??????", "cjk:??", "emoji:?", "fr:café", "nfc:été", "bidi:evil",
                     "iso:x", "zw:ab", "ctl:ab", "soft:inline", "tab:a b"):
        assert expected in text, expected
    assert "\u202e" not in text and "\x1b" not in text


def test_text_encoding_and_measuring_units() -> None:
    assert winansi_lines("a\nb\r\nc\u2028d") == [b"a", b"b", b"c", b"d"]
    assert winansi_lines("\u20ac \u2014 \u00ff Ж") == [b"\x80 \x97 \xff ?"]
    assert winansi_lines("\ud800x") == [b"?x"]  # a lone surrogate
    assert pdf_string(b"a(b)c\\d\x80\n") == b"(a\\(b\\)c\\\\d\\200\\012)"
    assert len(HELVETICA) == len(HELVETICA_BOLD) == 224
    # Adobe's AFM: H 722, e 556, l 222, o 556 (Bold: 722, 556, 278, 611).
    assert width(b"Hello", Font.Regular, 1000) == 2278
    assert width(b"Hello", Font.Bold, 1000) == 2445
    assert wrap("aaa bbb ccc", Font.Regular, 10, width(b"aaa bbb", Font.Regular, 10)) == [
        b"aaa bbb", b"ccc"]
    assert wrap("", Font.Regular, 10, 100) == [b""]


def test_the_same_calls_give_the_same_bytes_and_the_date_comes_from_generated() -> None:
    assert sample(40).to_bytes() == sample(40).to_bytes()
    assert b"/CreationDate (D:20250304050607Z)" in sample().to_bytes()
    local = PdfReport("t", generated="2025-03-04T05:06:07+05:30").to_bytes()
    assert b"/CreationDate (D:20250304050607+05'30')" in local
    assert b"/CreationDate" not in PdfReport("t", generated="last Tuesday").to_bytes()


def test_the_xref_table_points_at_every_object() -> None:
    data = sample(80).to_bytes()
    start = int(re.search(rb"startxref\n(\d+)\n%%EOF\n$", data).group(1))  # type: ignore[union-attr]
    assert data[start:].startswith(b"xref\n0 ")
    count = int(data[start:].split(b"\n")[1].split()[1])
    entries = data[start:].split(b"\n")[3: 2 + count]
    assert len(entries) == count - 1 and all(len(e) == 19 for e in entries)
    for number, entry in enumerate(entries, start=1):
        offset = int(entry.split()[0])
        assert data[offset:].startswith(b"%d 0 obj\n" % number)
    assert re.search(rb"/Size %d " % count, data)


def test_bad_table_shapes_are_refused() -> None:
    report = PdfReport("t", generated="now")
    with pytest.raises(ValueError, match="row 1 has 1 cells"):
        report.table(["a", "b"], [["1", "2"], ["3"]])
    with pytest.raises(ValueError, match="widths must be 2"):
        report.table(["a", "b"], [], widths=[1])
    with pytest.raises(ValueError, match="widths must be 2"):
        report.table(["a", "b"], [], widths=[1, 0])
    with pytest.raises(ValueError, match="at least one column"):
        report.table([], [])


def test_save_writes_the_bytes_owner_only_and_leaves_no_temp_file(tmp_path: Path) -> None:
    report = sample()
    target = tmp_path / "review.pdf"
    target.write_bytes(b"old")
    report.save(target)
    assert target.read_bytes() == report.to_bytes()
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["review.pdf"]
    with pytest.raises(StorageError):
        report.save(tmp_path / "missing" / "review.pdf")


NASTY = ["(", ")", "\\", "\n", "\r", "\t", "\x00", "\u202e", "\u200b", "\ud800", "😀", "é",
         "\u0301", " ", "  ", HOSTILE, "W" * 120]
# Any code point (surrogates, controls, unassigned too), mixed with pieces known to be trouble.
TEXT = st.lists(
    st.one_of(st.characters(exclude_categories=()), st.sampled_from(NASTY)), max_size=60
).map("".join)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    title=TEXT, generated=TEXT, paragraphs=st.lists(TEXT, max_size=3),
    pairs=st.lists(st.tuples(TEXT, TEXT), max_size=3),
    headers=st.lists(TEXT, min_size=3, max_size=3),
    rows=st.lists(st.lists(TEXT, min_size=3, max_size=3), max_size=12),
    widths=st.none() | st.lists(st.floats(0.05, 20), min_size=3, max_size=3),
)
def test_any_unicode_gives_a_valid_file(
    title: str, generated: str, paragraphs: list[str], pairs: list[tuple[str, str]],
    headers: list[str], rows: list[list[str]], widths: list[float] | None,
) -> None:
    report = PdfReport(title, generated=generated)
    report.fields(pairs)
    for text in paragraphs:
        report.heading(text[:40])
        report.paragraph(text)
    report.table(headers, rows, widths)
    data = report.to_bytes()
    assert_only_our_operators(data)
    with tempfile.TemporaryDirectory() as folder:
        path = write(data, Path(folder))
        qpdf_check(path)
        assert pages(path) >= 1
