"""docs/threat-model.md cites the test behind each defence: those citations must stay true.

Every ``tests/FILE.py::test_name`` in the page must name a file that exists and defines that test
(at any indentation, so methods of test classes count); a test file named without ``::`` must
exist unless it is followed by "(planned)" (a suite being written, e.g. the import's
hostile-file tests); every module path the page names must exist; and README must link the page and
SECURITY.md. A renamed or deleted test therefore fails here until the page is mended.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
THREAT_MODEL = ROOT / "docs" / "threat-model.md"
SECURITY = ROOT / "SECURITY.md"
README = ROOT / "README.md"

# A cited test file, optionally with a test: tests/test_x.py or tests/test_x.py::test_name. The
# page's own placeholder for the form ("tests/FILE.py::test_name") is upper case and not matched.
TEST_REF = re.compile(r"tests/[a-z0-9_/]+\.py(?:::[A-Za-z0-9_]+(?:\[[^\]`]*\])?)?")
PLANNED = re.compile(r"`? \(planned\)")  # right after a reference: a suite not written yet
# A module or folder of this repository named in backticks: `app/vault/witness.py`, `backends/tpm/`.
MODULE_REF = re.compile(r"`((?:app|backends|ui|packaging|resources)/[A-Za-z0-9_./-]*)`")
MARKDOWN_LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
ATTACKERS = "abcdefg"  # the sections "### (a) ..." to "### (g) ..."


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def _references(lines: list[str]) -> list[tuple[int, str, str | None, bool]]:
    """(line number, file, test name or None, planned) for every test reference."""
    found = []
    for number, line in enumerate(lines, 1):
        for match in TEST_REF.finditer(line):
            file, _, name = match.group(0).partition("::")
            planned = PLANNED.match(line, match.end()) is not None
            found.append((number, file, name.split("[")[0] or None, planned))
    return found


def _defines(file: Path, name: str) -> bool:
    pattern = re.compile(rf"^\s*(?:async\s+)?def {re.escape(name)}\(", re.MULTILINE)
    return bool(pattern.search(file.read_text(encoding="utf-8")))


def test_every_cited_test_exists() -> None:
    references = _references(_lines(THREAT_MODEL))
    cited = [r for r in references if r[2] is not None]
    assert len(cited) >= 100, f"only {len(cited)} test references found: is the parser broken?"
    problems = []
    for number, file, name, _planned in cited:
        path = ROOT / file
        if not path.is_file():
            problems.append(f"line {number}: {file} does not exist (cited with ::{name})")
        elif not _defines(path, name or ""):
            problems.append(f"line {number}: {file} defines no test {name}")
    assert problems == [], "\n".join(problems)


def test_test_files_named_alone_exist_unless_planned() -> None:
    problems = [f"line {number}: {file} does not exist and is not marked (planned)"
                for number, file, name, planned in _references(_lines(THREAT_MODEL))
                if name is None and not planned and not (ROOT / file).is_file()]
    assert problems == [], "\n".join(problems)


def test_the_import_suite_is_named() -> None:
    """Attacker (e), the hostile import file, names the suite that shows (or will show) it."""
    files = {file for _n, file, _name, _planned in _references(_lines(THREAT_MODEL))}
    assert "tests/test_transfer_hostile.py" in files


def test_every_attacker_has_a_cited_test() -> None:
    text = THREAT_MODEL.read_text(encoding="utf-8")
    for letter in ATTACKERS:
        match = re.search(rf"^### \({letter}\) .*?(?=^##)", text, re.MULTILINE | re.DOTALL)
        assert match is not None, f"no section ({letter})"
        section = match.group(0).splitlines()
        assert any(name for _n, _f, name, _p in _references(section)), \
            f"section ({letter}) cites no test"


def test_every_named_module_and_link_exists() -> None:
    problems = []
    for doc in (THREAT_MODEL, SECURITY):
        for number, line in enumerate(_lines(doc), 1):
            for match in MODULE_REF.finditer(line):
                if not (ROOT / match.group(1)).exists():
                    problems.append(f"{doc.name} line {number}: {match.group(1)} does not exist")
            for match in MARKDOWN_LINK.finditer(line):
                target = match.group(1)
                if "://" in target or target.startswith("mailto:"):
                    continue
                if not (doc.parent / target).exists():
                    problems.append(f"{doc.name} line {number}: link {target} leads nowhere")
    assert problems == [], "\n".join(problems)


def test_readme_links_both_documents() -> None:
    links = set(MARKDOWN_LINK.findall(README.read_text(encoding="utf-8")))
    assert {"SECURITY.md", "docs/threat-model.md"} <= links


def test_security_md_keeps_its_commitments() -> None:
    text = SECURITY.read_text(encoding="utf-8")
    for phrase in ("security@strongroom.invalid", "private vulnerability reporting",
                   "strongroom --version", "3 working days", "90 days", "Safe harbour",
                   "| 0.1.x | yes |", "docs/threat-model.md"):
        assert phrase in text, phrase
