"""Hostile and broken files given to ``strongroom import``: each is one sentence on stderr, the
documented exit code (2 for a bad file, 4 for a wrong KDBX password), and a vault left
byte-identical (the file is read before the vault is unlocked). Then fuzzing: whatever bytes
the Bitwarden and CSV readers get, they give a ParsedFile or a UsageError, nothing else.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from construct import GreedyBytes
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pykeepass import PyKeePass

from strongroom.app.errors import BadImportFile, UsageError, WrongFilePassword
from strongroom.app.transfer import bitwarden, csv_import, kdbx, kdbx_container
from strongroom.app.transfer.model import ParsedFile

from conftest import snapshot
from helpers import cli_checks
from helpers import kdbx_files as kf
from helpers.kdbx_files import KDBX_PASSWORD, cli

empty_template = cli_checks.empty_template
vault_dir = cli_checks.vault_dir

FUZZ = settings(max_examples=150, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow])
LAUGHS = b"".join(b'<!ENTITY l%d "%s">' % (n + 1, b"&l%d;" % n * 10) for n in range(9))
BILLION_LAUGHS = (b'<?xml version="1.0"?><!DOCTYPE KeePassFile [<!ENTITY l0 "lol">' + LAUGHS
                  + b']><KeePassFile><Meta/><Root><Group><Name>&l9;</Name></Group></Root>'
                  b'</KeePassFile>')
EXTERNAL = (b'<?xml version="1.0"?><!DOCTYPE KeePassFile [<!ENTITY x SYSTEM '
            b'"file:///etc/passwd">]><KeePassFile><Meta/><Root><Group><Name>&x;</Name>'
            b'</Group></Root></KeePassFile>')
HARMLESS = (b'<?xml version="1.0"?><!DOCTYPE KeePassFile [<!ENTITY x "only text">]>'
            b'<KeePassFile><Meta/><Root><Group><Name>&x;</Name></Group></Root></KeePassFile>')


@pytest.fixture(scope="module")
def small_kdbx(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A KDBX 4 with one entry: the bytes the damaged files are made from."""
    path = kf.kdbx4(tmp_path_factory.mktemp("k") / "small.kdbx", KDBX_PASSWORD)
    kp = PyKeePass(str(path), KDBX_PASSWORD)
    kp.add_entry(kp.root_group, "Entry", "user", "password-1", notes="n" * 2000)
    kp.save()
    return path.read_bytes()


def refused(vault: Path, fmt: str, path: Path, code: int, *phrases: str,
            password: str | None = None) -> str:
    """Run the import; assert one sentence, the code, and the vault files as they were."""
    before = snapshot(vault)
    result = cli(vault, "import", fmt, str(path), password=password)
    line = cli_checks.one_line_error(result, code, *phrases)
    assert snapshot(vault) == before
    return line


# ----- KDBX ---------------------------------------------------------------------------------------


def test_a_wrong_password_is_exit_4(tmp_path: Path, vault_dir: Path, small_kdbx: bytes) -> None:
    path = tmp_path / "db.kdbx"
    path.write_bytes(small_kdbx)
    refused(vault_dir, "kdbx", path, 4, "password", password="not the password")


@pytest.mark.parametrize("cut", [4, 40, 200, -600, -1])
def test_a_truncated_kdbx(tmp_path: Path, small_kdbx: bytes, cut: int) -> None:
    with pytest.raises(BadImportFile, match=r"truncated|damaged|not a KeePass"):
        kdbx.parse_kdbx(small_kdbx[:cut], KDBX_PASSWORD)


def test_a_truncated_kdbx_through_the_cli(tmp_path: Path, vault_dir: Path,
                                          small_kdbx: bytes) -> None:
    path = tmp_path / "cut.kdbx"
    path.write_bytes(small_kdbx[: len(small_kdbx) // 2])
    refused(vault_dir, "kdbx", path, 2, "damaged or truncated", password=KDBX_PASSWORD)


@pytest.mark.parametrize("content, phrase", [
    (b"", "not a KeePass KDBX"),
    (b"Title,Username\nx,y\n", "not a KeePass KDBX"),
    (os.urandom(4096), "not a KeePass KDBX"),
    (b"\x03\xd9\xa2\x9a\x65\xfb\x4b\xb5" + bytes(120), "KeePass 1"),
    (b"\x03\xd9\xa2\x9a\x67\xfb\x4b\xb5\x00\x00\x02\x00" + bytes(64), "version 2"),
])
def test_not_a_kdbx(tmp_path: Path, vault_dir: Path, content: bytes, phrase: str) -> None:
    path = tmp_path / "not.kdbx"
    path.write_bytes(content)
    refused(vault_dir, "kdbx", path, 2, phrase, password=KDBX_PASSWORD)


@pytest.mark.parametrize("xml", [BILLION_LAUGHS, EXTERNAL, HARMLESS],
                         ids=["billion-laughs", "external-entity", "internal-entity"])
def test_a_dtd_inside_a_kdbx_is_refused(tmp_path: Path, vault_dir: Path,
                                        monkeypatch: pytest.MonkeyPatch, xml: bytes) -> None:
    path = kf.with_inner_xml(tmp_path / "dtd.kdbx", KDBX_PASSWORD, xml, monkeypatch)
    assert b"<!DOCTYPE" not in path.read_bytes()  # it is inside, encrypted and compressed
    refused(vault_dir, "kdbx", path, 2, "DTD", password=KDBX_PASSWORD)


def test_the_inner_xml_parser_itself_refuses_a_dtd_and_resolves_nothing() -> None:
    """The same check one level down, had the byte scan missed a declaration."""
    xml = kdbx_container._SafeXML(GreedyBytes)
    for doc in (BILLION_LAUGHS, EXTERNAL, HARMLESS):
        with pytest.raises(BadImportFile, match="DTD"):
            xml._decode(doc, None, None)
    spaced = HARMLESS.replace(b"<!DOCTYPE", b"<!DOCTYPE   ")
    with pytest.raises(BadImportFile, match="DTD"):
        xml._decode(spaced, None, None)


def test_a_decompression_bomb_stops_at_the_limit(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    path = kf.kdbx4(tmp_path / "bomb.kdbx", KDBX_PASSWORD)
    kp = PyKeePass(str(path), KDBX_PASSWORD)
    kp.add_entry(kp.root_group, "Big", "u", "p", notes="x" * (3 * 1024 * 1024))
    kp.save()
    assert path.stat().st_size < 64 * 1024  # 3 MiB of notes, compressed
    monkeypatch.setattr(kdbx_container, "MAX_XML_BYTES", 1024 * 1024)
    with pytest.raises(BadImportFile, match="more than 1 MiB"):
        kdbx.read_kdbx(path, KDBX_PASSWORD)


def test_ruinous_key_derivation_settings_are_refused_before_any_work(tmp_path: Path) -> None:
    path = kf.kdbx4(tmp_path / "argon.kdbx", KDBX_PASSWORD)
    kp = PyKeePass(str(path), KDBX_PASSWORD)
    params = kp.kdbx.header.value.dynamic_header.kdf_parameters.data.dict
    params["M"].value = 4 * 1024 ** 3
    kp.save(transformed_key=bytes(32))  # the header says 4 GiB; nothing derived here
    started = time.monotonic()
    with pytest.raises(BadImportFile, match="4096 MiB"):
        kdbx.read_kdbx(path, KDBX_PASSWORD)
    assert time.monotonic() - started < 5


@kf.needs_keepassxc
def test_too_many_aes_rounds_are_refused(tmp_path: Path) -> None:
    path = kf.kdbx31(tmp_path / "aes.kdbx", KDBX_PASSWORD)
    kp, tk = kf.opened(path, KDBX_PASSWORD)
    kp.kdbx.header.value.dynamic_header.transform_rounds.data = 10**12
    kp.save(transformed_key=tk)
    with pytest.raises(BadImportFile, match="rounds"):
        kdbx.read_kdbx(path, KDBX_PASSWORD)


def test_a_key_file_with_a_dtd_is_refused(tmp_path: Path, small_kdbx: bytes) -> None:
    key = tmp_path / "k.keyx"
    key.write_bytes(b'<?xml version="1.0"?><!DOCTYPE KeyFile [<!ENTITY a "b">]><KeyFile/>')
    path = tmp_path / "db.kdbx"
    path.write_bytes(small_kdbx)
    with pytest.raises(BadImportFile, match="key file"):
        kdbx.read_kdbx(path, KDBX_PASSWORD, key)


def test_a_wrong_key_file_is_a_wrong_password(tmp_path: Path, small_kdbx: bytes) -> None:
    key = tmp_path / "other.key"
    key.write_bytes(os.urandom(64))
    path = tmp_path / "db.kdbx"
    path.write_bytes(small_kdbx)
    with pytest.raises(WrongFilePassword):
        kdbx.read_kdbx(path, KDBX_PASSWORD, key)


# ----- size, encoding, shape ---------------------------------------------------------------------


@pytest.mark.parametrize("fmt, size_mib, limit", [("kdbx", 300, 256), ("bitwarden", 65, 64),
                                                  ("csv", 65, 64)])
def test_a_huge_file_is_refused_before_it_is_read(tmp_path: Path, vault_dir: Path, fmt: str,
                                                  size_mib: int, limit: int) -> None:
    path = tmp_path / f"huge.{fmt}"
    with path.open("wb") as f:
        f.truncate(size_mib * 1024 * 1024)  # sparse: nothing is written to the disk
    refused(vault_dir, fmt, path, 2, f"larger than {limit} MiB",
            password=KDBX_PASSWORD if fmt == "kdbx" else None)


def _latin1_csv(path: Path) -> None:
    path.write_bytes("name,password\nok,pw\ncaf\u00e9,pw\n".encode("latin-1"))


def _latin1_json(path: Path) -> None:
    path.write_bytes('{"encrypted": false,\n"items": [{"name": "caf\u00e9"}]}'.encode("cp1252"))


def _ragged_csv(path: Path) -> None:
    path.write_text("name,username,password\na,b,c\nd,e,f,with, an unquoted comma\n")


def _truncated_json(path: Path) -> None:
    path.write_text(json.dumps({"encrypted": False, "items": [{"type": 1, "name": "a"}]})[:-9])


def _nested_json(path: Path) -> None:
    path.write_text('{"items": ' + "[" * 100_000 + "]" * 100_000 + "}")


def _encrypted_json(path: Path) -> None:
    path.write_text(json.dumps({"encrypted": True, "encKeyValidation_DO_NOT_EDIT": "2.x|y",
                                "folders": [], "items": []}))


def _wrong_shapes(path: Path) -> None:
    path.write_text(json.dumps({"encrypted": False, "items": [{"type": 1, "name": "a",
                                                               "login": "not an object"}]}))


def _no_items(path: Path) -> None:
    path.write_text(json.dumps([{"type": 1}]))


HOSTILE: dict[str, tuple[str, Callable[[Path], None], str]] = {
    "non-utf8-csv": ("csv", _latin1_csv, "line 3 of the CSV file is not UTF-8"),
    "non-utf8-json": ("bitwarden", _latin1_json, "line 2 of the Bitwarden export is not UTF-8"),
    "ragged-csv": ("csv", _ragged_csv, "line 3 of the CSV file has 5 cells"),
    "truncated-json": ("bitwarden", _truncated_json, "not valid JSON (line 1"),
    "nested-json": ("bitwarden", _nested_json, "nested too deeply"),
    "encrypted-json": ("bitwarden", _encrypted_json, "encrypted Bitwarden export"),
    "wrong-shapes": ("bitwarden", _wrong_shapes, "item 1 of the Bitwarden export: 'login'"),
    "no-items": ("bitwarden", _no_items, "not a Bitwarden export"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_broken_bitwarden_and_csv_files(tmp_path: Path, vault_dir: Path, case: str) -> None:
    fmt, make, phrase = HOSTILE[case]
    path = tmp_path / f"{case}.file"
    make(path)
    refused(vault_dir, fmt, path, 2, phrase)


def test_duplicate_names_become_distinct_with_a_warning(tmp_path: Path, vault_dir: Path) -> None:
    csv_path = tmp_path / "dup.csv"
    csv_path.write_text("name,password\nsame,a\nsame,b\nsame (2),c\n")
    result = cli(vault_dir, "--json", "import", "csv", str(csv_path))
    assert result.code == 0, result.err
    assert "names that repeat in the file renamed (1: 'same' → 'same (3)' (line 3))" in result.err
    json_path = tmp_path / "dup.json"
    json_path.write_text(json.dumps({"encrypted": False, "items": [
        {"type": 2, "name": "note", "notes": "1"}, {"type": 2, "name": "note", "notes": "2"}]}))
    result = cli(vault_dir, "--json", "import", "bitwarden", str(json_path))
    assert result.code == 0, result.err
    assert json.loads(result.out)["result"]["added"] == 2
    assert "'note' → 'note (2)' (item 2)" in result.err


def test_a_csv_without_a_name_column_asks_for_a_mapping(tmp_path: Path, vault_dir: Path) -> None:
    path = tmp_path / "anon.csv"
    path.write_text("a,b\n1,2\n")
    refused(vault_dir, "csv", path, 2, "--map COLUMN=name")


# ----- fuzzing ------------------------------------------------------------------------------------


def _accepts_or_refuses(parse: Callable[[bytes], ParsedFile], data: bytes) -> None:
    with contextlib.suppress(UsageError):
        assert isinstance(parse(data), ParsedFile)


JSON_LEAF = st.none() | st.booleans() | st.integers(-3, 6) | st.text(max_size=20)
JSON = st.recursive(JSON_LEAF, lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=20)
KEYS = st.sampled_from(["type", "name", "notes", "folderId", "login", "card", "identity",
                        "sshKey", "fields", "uris", "username", "password", "totp",
                        "collectionIds", "passwordHistory", "expMonth", "expYear", "value",
                        "deletedDate", "fido2Credentials"])
ITEM = st.recursive(st.dictionaries(KEYS, JSON, max_size=6),
                    lambda inner: st.dictionaries(KEYS, inner | JSON, max_size=6), max_leaves=12)
EXPORT = st.fixed_dictionaries({"encrypted": st.sampled_from([False, None, 0]),
                                "items": st.lists(ITEM, max_size=5)},
                               optional={"folders": JSON, "collections": JSON})


@FUZZ
@given(EXPORT)
def test_fuzz_bitwarden_shaped_json(doc: object) -> None:
    _accepts_or_refuses(bitwarden.parse_bitwarden, json.dumps(doc).encode())


@FUZZ
@given(st.binary(max_size=300) | JSON.map(lambda v: json.dumps(v).encode()))
def test_fuzz_bitwarden_any_bytes(data: bytes) -> None:
    _accepts_or_refuses(bitwarden.parse_bitwarden, data)


CSV_TOKENS = [*'ab,;\t"\n\r =+@/\\\x00é\u202e', "name", "password", "totp", "Group", "Title",
              "Username", "Password", "URL", "login_username", "login_password", "folder"]
CSV_TEXT = st.lists(st.sampled_from(CSV_TOKENS), max_size=80).map("".join)


@FUZZ
@given(CSV_TEXT.map(lambda t: t.encode()) | st.binary(max_size=200),
       st.sampled_from([None, "keepassxc", "bitwarden"]))
def test_fuzz_csv(data: bytes, preset: str | None) -> None:
    _accepts_or_refuses(lambda d: csv_import.parse_csv(d, preset=preset), data)


@FUZZ
@given(st.lists(st.lists(st.text(max_size=12), min_size=1, max_size=5), min_size=1,
                max_size=6))
def test_fuzz_csv_rows_with_a_name_column(rows: list[list[str]]) -> None:
    lines = [["name", "password", "totp", "extra"], *rows]
    text = "\n".join(",".join('"' + c.replace('"', '""') + '"' for c in r) for r in lines)
    _accepts_or_refuses(csv_import.parse_csv, text.encode())


KEYS_XML = st.sampled_from(["Title", "UserName", "Password", "URL", "Notes", "otp", "TOTP Seed",
                            "TOTP Settings", "TimeOtp-Secret-Base32", "TimeOtp-Secret-Hex",
                            "TimeOtp-Length", "TimeOtp-Algorithm", "Strongroom kind",
                            "Strongroom entry type", "Strongroom rotation due", "Custom", ""])
XML_TEXT = st.sampled_from(["", "True", "value", "totp", "card", "0", "1", "-1", "x", "AAAA",
                            "AAAAAAAAAAA=", "JBSWY3DPEHPK3PXP", "30;S", "30;8", "HMAC-SHA-9",
                            "2027-01-01T00:00:00Z", "2027-02-30", "a/b\u202e", "value.bin",
                            "otpauth://totp/a?secret=JBSWY3DPEHPK3PXP&encoder=steam",
                            "otpauth://totp/a?secret=JBSWY3DPEHPK3PXP"]) | st.text(
    st.characters(exclude_categories=("Cs", "Cc", "Cn")), max_size=6)  # what XML can hold


@st.composite
def kdbx_entry(draw: st.DrawFn) -> Any:
    from lxml import etree

    entry = etree.Element("Entry")
    for _ in range(draw(st.integers(0, 6))):
        string = etree.SubElement(entry, "String")
        etree.SubElement(string, "Key").text = draw(KEYS_XML)
        value = etree.SubElement(string, "Value")
        value.text = draw(XML_TEXT)
        if draw(st.booleans()):
            value.set("Protected", "True")
    for _ in range(draw(st.integers(0, 2))):
        binary = etree.SubElement(entry, "Binary")
        etree.SubElement(binary, "Key").text = draw(XML_TEXT)
        etree.SubElement(binary, "Value").set("Ref", draw(XML_TEXT))
    if draw(st.booleans()):
        times = etree.SubElement(entry, "Times")
        etree.SubElement(times, "Expires").text = draw(st.sampled_from(["True", "False"]))
        etree.SubElement(times, "ExpiryTime").text = draw(XML_TEXT)
    etree.SubElement(entry, "Tags").text = draw(XML_TEXT)
    if draw(st.booleans()):
        etree.SubElement(entry, "History").append(etree.Element("Entry"))
    return entry


@st.composite
def keepass_xml(draw: st.DrawFn) -> Any:
    from lxml import etree

    root = etree.Element("KeePassFile")
    meta = etree.SubElement(root, "Meta")
    etree.SubElement(meta, "RecycleBinUUID").text = "bin"
    binaries = etree.SubElement(meta, "Binaries")
    for _ in range(draw(st.integers(0, 2))):
        b = etree.SubElement(binaries, "Binary", ID=draw(XML_TEXT))
        b.text = draw(st.sampled_from(["", "AAAA", "H4sIAAAAAAAAA0sEAL0yMEQBAAAA", "!!"]))
        if draw(st.booleans()):
            b.set("Compressed", "True")
    group = etree.SubElement(etree.SubElement(root, "Root"), "Group")
    for _ in range(draw(st.integers(0, 3))):
        sub = etree.SubElement(group, "Group")
        etree.SubElement(sub, "Name").text = draw(XML_TEXT)
        etree.SubElement(sub, "UUID").text = draw(st.sampled_from(["bin", "other"]))
        sub.extend(draw(st.lists(kdbx_entry(), max_size=2)))
    group.extend(draw(st.lists(kdbx_entry(), max_size=3)))
    return etree.ElementTree(root)


@FUZZ
@given(keepass_xml(), st.sampled_from([(3, 1), (4, 0)]), st.lists(st.binary(max_size=8),
                                                                   max_size=2))
def test_fuzz_kdbx_contents(tree: Any, version: tuple[int, int], pool: list[bytes]) -> None:
    """Whatever a decrypted KDBX holds, the entries reader gives items or one sentence."""
    opened = kdbx_container.Opened(version, tree, tuple(pool))
    _accepts_or_refuses(lambda data: kdbx.from_opened(opened, data), b"file")
