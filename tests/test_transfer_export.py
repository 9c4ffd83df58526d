"""Export: a KDBX 4 file the real keepassxc-cli opens with every field, the encrypted archive read
back as an import reads it, no file replaced without --force, one approval for a whole export of
Critical secrets (spent once), and audit events with counts and hashes but never a value."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from xml.etree import ElementTree

import pytest

from strongroom.app import entries, totp
from strongroom.app.access import approvals, operator_admin
from strongroom.app.audit_export import export_jsonl
from strongroom.app.entries import Attachment, Field
from strongroom.app.errors import AccessDenied, BadImportFile, UsageError, WrongFilePassword
from strongroom.app.keyslots import PassphraseUnlocker, normalize_passphrase
from strongroom.app.model import Classification
from strongroom.app.transfer import apply, archive, exporting, kdbx_export
from strongroom.app.transfer import kdbx as kdbx_import
from strongroom.app.transfer.archive import ArchiveInvalid, ArchiveTampered
from strongroom.app.vault import NewSecret, Vault

from conftest import PASSPHRASE, make_vault, snapshot

KDBX_PASSWORD = "orange tiger quartz violin 42"
ARCHIVE_PASSPHRASE = "saffron glacier tandem wombat 17"
CAROL = "carol pass phrase 88"
GITHUB = "otpauth://totp/GitHub:alice?secret=JBSWY3DPEHPK3PXPJBSWY3DP&issuer=GitHub"
ENTRY = entries.Entry(
    password="hunter2 ✓", username="alice@example.org", url="https://db.example.org:8443/",
    notes="first line\r\nsecond line\n",
    fields=(Field("PIN", "0451", protected=True), Field("Region", "eu-west-1"),
            Field("Recovery codes", "RC-1 RC-2\nRC-3", protected=True)),
    attachments=(Attachment("id_ed25519", bytes(range(256)) * 3),
                 Attachment("readme.txt", "héllo\n".encode())),
    totp=totp.parse("otpauth://totp/Example:alice?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
                    "&issuer=Example&algorithm=SHA256&digits=8&period=30").uri())
SECRETS = (
    NewSecret("plain", "pässword with a newline\n".encode(), Classification.Moderate,
              tags=("db", "team a"), note="the old one", owner="ops"),
    NewSecret("prod/keys/blob", b"\x00\xffbinary\x80", Classification.High, tags=("keys",)),
    NewSecret("prod/2fa/github", GITHUB.encode(), Classification.Moderate, kind="totp"),
    NewSecret("web/app/login", ENTRY.encode(), Classification.Low, tags=("web",),
              expires=dt.date(2027, 6, 30), rotation_due=dt.date(2027, 1, 31), kind="entry"),
)
VALUE_STRINGS = ("pässword", "hunter2", "0451", "RC-1", "JBSWY3DP", "GEZDGNBV", "binary",
                 base64.b64encode(b"\x00\xffbinary\x80").decode(), "héllo")


def cli(*args: str, vault: Path, password: str | None = None, approver: str | None = None
        ) -> tuple[int, dict | None, str]:
    """``strongroom --json ARGS`` with the vault passphrase, the file's password and the
    approver's passphrase each on a pipe of its own."""
    cmd = [sys.executable, "-m", "strongroom", "--vault", str(vault), "--json", *args]
    fds: list[int] = []
    for option, text in (("--passphrase-fd", PASSPHRASE), ("--password-fd", password),
                         ("--approver-passphrase-fd", approver)):
        if text is not None:
            r, w = os.pipe()
            os.write(w, (text + "\n").encode())
            os.close(w)
            fds.append(r)
            cmd += [option, str(r)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("STRONGROOM_")}
    try:
        proc = subprocess.run(cmd, capture_output=True, pass_fds=tuple(fds),
                              env=env, timeout=120, check=False)
    finally:
        for fd in fds:
            os.close(fd)
    out = proc.stdout.decode().strip()
    return proc.returncode, json.loads(out) if out else None, proc.stderr.decode()


def kpx(*args: str | Path) -> bytes:
    """The real keepassxc-cli, the password on stdin."""
    proc = subprocess.run(["keepassxc-cli", *map(str, args)], input=KDBX_PASSWORD.encode() + b"\n",
                          capture_output=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr.decode()
    return proc.stdout


def show(db: Path, entry: str, attribute: str) -> str:
    out = kpx("show", "-q", "-s", "-a", attribute, db, entry).decode()
    assert out.endswith("\n")
    return out[:-1]


def attachment(db: Path, entry: str, name: str) -> bytes:
    """An attachment as keepassxc-cli exports it to a file (its --stdout is text, not bytes)."""
    out = db.parent / "attachment.out"
    try:
        kpx("attachment-export", "-q", db, entry, name, out)
        return out.read_bytes()
    finally:
        out.unlink(missing_ok=True)


def kdbx_time(text: str) -> dt.datetime:
    """A KDBX 4 time: base64 of little-endian seconds since 0001-01-01 UTC."""
    seconds = int.from_bytes(base64.b64decode(text), "little")
    return dt.datetime(1, 1, 1, tzinfo=dt.UTC) + dt.timedelta(seconds=seconds)


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("export") / "v"
    with make_vault(path) as v:
        for secret in SECRETS:
            v.add_secret(secret)
    return path


@pytest.fixture(scope="module")
def kdbx(filled: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """The filled vault exported once through the command line."""
    out = tmp_path_factory.mktemp("kdbx") / "all.kdbx"
    code, result, err = cli("export", "kdbx", str(out), "--kdf-time-ms", "10", vault=filled,
                            password=KDBX_PASSWORD)
    assert code == 0, err
    return out, result


def test_the_kdbx_is_kdbx_4_with_argon2id_mode_0600_and_says_what_it_holds(
        kdbx: tuple[Path, dict]) -> None:
    path, result = kdbx
    data = path.read_bytes()
    assert data[:8] == bytes.fromhex("03d9a29a67fb4bb5")  # KDBX signature
    assert int.from_bytes(data[10:12], "little") == 4  # major version
    assert path.stat().st_mode & 0o777 == 0o600
    assert result["count"] == 4 and result["format"] == "kdbx"
    assert result["sha256"] == hashlib.sha256(data).hexdigest()
    info = kpx("db-info", "-q", path).decode()
    assert "Cipher: AES 256-bit" in info and "KDF: Argon2id" in info
    assert "Name: Strongroom export" in info
    assert [p.name for p in path.parent.iterdir()] == ["all.kdbx"]  # no temp file left


def test_keepassxc_lists_every_secret_under_its_group_path(kdbx: tuple[Path, dict]) -> None:
    listing = set(kpx("ls", "-q", "-R", "-f", kdbx[0]).decode().split("\n")) - {""}
    assert listing == {"plain", "prod/", "prod/keys/", "prod/keys/blob", "prod/2fa/",
                       "prod/2fa/github", "web/", "web/app/", "web/app/login"}


def test_keepassxc_shows_every_field_of_an_entry(kdbx: tuple[Path, dict]) -> None:
    db = kdbx[0]
    expected = {"Title": "login", "UserName": ENTRY.username, "Password": ENTRY.password,
                "URL": ENTRY.url, "Notes": ENTRY.notes, "otp": ENTRY.totp,
                **{f.name: f.value for f in ENTRY.fields},
                "Strongroom classification": "low", "Strongroom kind": "entry"}
    for attribute, value in expected.items():
        assert show(db, "web/app/login", attribute) == value, attribute
    for a in ENTRY.attachments:
        assert attachment(db, "web/app/login", a.name) == a.data


def test_keepassxc_shows_a_value_a_binary_value_and_the_metadata(kdbx: tuple[Path, dict]
                                                                  ) -> None:
    db = kdbx[0]
    assert show(db, "plain", "Password") == "pässword with a newline\n"
    assert show(db, "plain", "Strongroom owner") == "ops"
    assert show(db, "plain", "Strongroom note") == "the old one"
    assert show(db, "plain", "Strongroom kind") == "value"
    assert show(db, "prod/keys/blob", "Password") == ""
    assert show(db, "prod/keys/blob", "Notes") == kdbx_export.BINARY_NOTE
    assert show(db, "prod/keys/blob", "Strongroom classification") == "high"
    assert attachment(db, "prod/keys/blob", "value.bin") == b"\x00\xffbinary\x80"
    assert show(db, "prod/2fa/github", "otp") == totp.parse(GITHUB).uri()


@pytest.mark.parametrize("entry, uri", [("prod/2fa/github", GITHUB),
                                        ("web/app/login", ENTRY.totp)])
def test_keepassxc_computes_the_same_totp_code(kdbx: tuple[Path, dict], entry: str, uri: str
                                               ) -> None:
    spec = totp.parse(uri)
    for _ in range(3):  # retry when a window edge falls between the two readings
        before = time.time()
        code = kpx("show", "-q", "--totp", kdbx[0], entry).decode().strip()
        after = time.time()
        if int(before) // spec.period == int(after) // spec.period:
            assert code == spec.code(before)
            return
    pytest.fail("no TOTP code read inside one period")


def test_tags_expiry_and_protected_flags_survive_in_keepassxc(kdbx: tuple[Path, dict]) -> None:
    xml = kpx("export", "-q", "-f", "xml", kdbx[0])
    root = ElementTree.fromstring(xml)  # noqa: S314 - keepassxc-cli on our own test file
    found = {}
    for entry in root.iter("Entry"):
        strings = {s.findtext("Key"): s.find("Value") for s in entry.findall("String")}
        found[strings["Title"].text] = (entry, strings)
    login, strings = found["login"]
    assert login.findtext("Times/Expires") == "True"
    assert kdbx_time(login.findtext("Times/ExpiryTime")) == dt.datetime(
        2027, 6, 30, 23, 59, 59, tzinfo=dt.UTC)
    assert login.findtext("Tags") == "web"
    protected = {k for k, v in strings.items() if v.get("ProtectInMemory") == "True"}
    assert {"Password", "PIN", "Recovery codes", "otp"} <= protected
    assert "Region" not in protected and "Strongroom classification" not in protected
    assert strings["Strongroom rotation due"].text == "2027-01-31"
    plain, _ = found["plain"]
    assert plain.findtext("Times/Expires") == "False"
    assert sorted(plain.findtext("Tags").replace(";", ",").split(",")) == ["db", "team a"]


# ----- the archive ------------------------------------------------------------------------------


@pytest.fixture
def sealed(vault: Vault, tmp_path: Path) -> tuple[Vault, Path]:
    for secret in SECRETS:
        vault.add_secret(secret)
    path = tmp_path / "all.srarchive"
    archive.export_archive(vault, exporting.plan(vault, "archive"), path, ARCHIVE_PASSPHRASE,
                           kdf_time_ms=10)
    return vault, path


def test_an_archive_reads_back_as_the_same_items_with_their_classification(
        sealed: tuple[Vault, Path]) -> None:
    vault, path = sealed
    parsed = archive.read_archive_file(path, ARCHIVE_PASSPHRASE)
    assert (parsed.format, parsed.size) == ("archive", path.stat().st_size)
    assert parsed.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    by_name = {i.name: i for i in parsed.items}
    assert sorted(by_name) == sorted(s.name for s in SECRETS)
    for s in SECRETS:
        item, stored = by_name[s.name], vault.get_secret(s.name)
        assert (item.kind, item.value, item.classification, item.tags, item.note,
                item.expires) == (s.kind, stored, s.classification.value, s.tags, s.note,
                                  s.expires)
    assert parsed.warnings == ()
    assert by_name["web/app/login"].rotation_due == dt.date(2027, 1, 31)
    opened = archive.open_archive(path.read_bytes(), ARCHIVE_PASSPHRASE)
    assert opened.header["vault"] == vault.vault_id and opened.header["count"] == 4
    assert opened.header["kdf"]["memory_kib"] >= 64 * 1024
    assert {s.owner for s in opened.secrets} == {"ops", vault.actor}
    assert path.stat().st_mode & 0o777 == 0o600


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1:]


def test_a_wrong_passphrase_or_a_changed_archive_is_refused_in_one_sentence(
        sealed: tuple[Vault, Path]) -> None:
    data = sealed[1].read_bytes()
    with pytest.raises(WrongFilePassword, match="does not open this archive") as wrong:
        archive.read_archive(data, "not the archive passphrase 99")
    assert wrong.value.exit_code == 4
    created = data.index(b'"created":"') + len(b'"created":"') + 2
    for changed in (_flip(data, len(data) - 20), _flip(data, created)):
        with pytest.raises(ArchiveTampered, match="changed after it was written") as bad:
            archive.read_archive(changed, ARCHIVE_PASSPHRASE)
        assert bad.value.exit_code == 3
    for cut in (5, 30, len(data) - 1):
        with pytest.raises(ArchiveInvalid, match="truncated") as short:
            archive.read_archive(data[:cut], ARCHIVE_PASSPHRASE)
        assert short.value.exit_code == 2
    with pytest.raises(ArchiveInvalid, match="bytes after its end"):
        archive.read_archive(data + b"\0", ARCHIVE_PASSPHRASE)
    with pytest.raises(ArchiveInvalid, match="not a Strongroom archive"):
        archive.read_archive(b"PK\x03\x04" + data, ARCHIVE_PASSPHRASE)


def test_hostile_kdf_costs_and_oversized_files_are_refused_before_any_work(
        sealed: tuple[Vault, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = sealed[1].read_bytes()
    length = int.from_bytes(data[23:27], "big")
    header = json.loads(data[27:27 + length])
    header["kdf"]["memory_kib"] = 2**40
    text = json.dumps(header).encode()
    hostile = data[:23] + len(text).to_bytes(4, "big") + text + data[27 + length:]
    started = time.monotonic()
    with pytest.raises(ArchiveInvalid, match="KDF costs outside"):
        archive.read_archive(hostile, ARCHIVE_PASSPHRASE)
    assert time.monotonic() - started < 0.5
    monkeypatch.setattr(archive, "MAX_ARCHIVE_BYTES", 2 * 1024 * 1024)
    big = tmp_path / "big.srarchive"
    big.write_bytes(data + bytes(3 * 1024 * 1024))
    with pytest.raises(BadImportFile, match="larger than 2 MiB"):
        archive.read_archive_file(big, ARCHIVE_PASSPHRASE)
    with pytest.raises(ArchiveInvalid, match="larger than the 2 MiB"):
        archive.read_archive(big.read_bytes(), ARCHIVE_PASSPHRASE)


# ----- files, the two-person rule, the audit log -------------------------------------------------


def test_an_existing_file_is_kept_unless_force(filled: Path, tmp_path: Path) -> None:
    vault = tmp_path / "v"
    shutil.copytree(filled, vault)
    out = tmp_path / "out" / "x.srarchive"
    out.parent.mkdir()
    out.write_bytes(b"keep me")
    before = snapshot(vault)
    code, result, err = cli("export", "archive", str(out), "--kdf-time-ms", "10", vault=vault,
                            password=ARCHIVE_PASSPHRASE)
    assert code == 1 and result["error"] == "AlreadyExists" and "--force" in err
    assert out.read_bytes() == b"keep me" and snapshot(vault) == before  # refused first
    code, result, err = cli("export", "archive", str(out), "--kdf-time-ms", "10", "--force",
                            "--tag", "web", vault=vault, password=ARCHIVE_PASSPHRASE)
    assert code == 0 and result["count"] == 1, err
    assert [i.name for i in archive.read_archive_file(out, ARCHIVE_PASSPHRASE).items] == [
        "web/app/login"]
    assert out.stat().st_mode & 0o777 == 0o600 and [p.name for p in out.parent.iterdir()] == [
        "x.srarchive"]
    code, result, err = cli("export", "kdbx", str(tmp_path / "weak.kdbx"), vault=vault,
                            password="password")
    assert code == 1 and "shorter than 10" in err and not (tmp_path / "weak.kdbx").exists()


@pytest.fixture(scope="module")
def team(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """alice with a Critical and a Moderate secret, and carol who may approve."""
    path = tmp_path_factory.mktemp("team") / "v"
    with Vault.create(path, normalize_passphrase(PASSPHRASE), kdf_time_ms=10,
                      actor="alice") as v:
        v.add_secret(NewSecret("pki/root-ca-key", b"critical value 1", Classification.Critical))
        v.add_secret(NewSecret("pki/ocsp", b"moderate value 2", Classification.Moderate))
        operator_admin.add_operator(v, "carol", CAROL.encode(),
                                    roles=["Administrator", "Custodian"], kdf_time_ms=10)
    return path


@pytest.fixture
def shared(team: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(team, tmp_path / "v"))


def test_a_critical_export_needs_an_approver_and_writes_nothing_without(shared: Path,
                                                                        tmp_path: Path) -> None:
    out = tmp_path / "out" / "pki.kdbx"
    out.parent.mkdir()
    code, result, err = cli("export", "kdbx", str(out), "--kdf-time-ms", "10", vault=shared,
                            password=KDBX_PASSWORD)
    assert code == 6 and result["error"] == "AccessDenied", err
    assert "Exporting pki/root-ca-key (1 secret(s)) is a two-person operation" in err
    assert "carol" in err and err.count("\n") == 1
    assert list(out.parent.iterdir()) == []
    code, result, err = cli("--approver", "carol", "export", "kdbx", str(out), "--kdf-time-ms",
                            "10", vault=shared, password=KDBX_PASSWORD, approver=CAROL)
    assert code == 0 and result["count"] == 2, err
    assert show(out, "pki/root-ca-key", "Password") == "critical value 1"
    with Vault.open(shared) as v:
        v.unlock(PassphraseUnlocker.from_text(PASSPHRASE))
        events = v.audit_events()
    [denied] = [e for e in events if e.action == "access.denied"]
    assert denied.target.startswith("export:kdbx:") and denied.details["why"] == "missing"
    reads = {e.target: e for e in events if e.action == "secret.export"}
    assert reads["pki/root-ca-key"].details["approval"]["approver"] == "carol"
    assert "approval" not in reads["pki/ocsp"].details
    [written] = [e for e in events if e.action == "secret.export.file"]
    assert written.details["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert (written.details["count"], written.details["approver"]) == (2, "carol")


def test_one_approval_covers_one_export_once(shared: Path, tmp_path: Path) -> None:
    with Vault.open(shared) as v:
        v.unlock(PassphraseUnlocker.from_text(PASSPHRASE))
        plan = exporting.plan(v, "archive")
        assert plan.two_person == ("pki/root-ca-key",)
        ok = approvals.approve(v, plan.operation, plan.target, "carol",
                               PassphraseUnlocker.from_text(CAROL))
        archive.export_archive(v, plan, tmp_path / "a.srarchive", ARCHIVE_PASSPHRASE,
                               approval=ok, kdf_time_ms=10)
        with pytest.raises(AccessDenied, match="already used"):
            archive.export_archive(v, plan, tmp_path / "b.srarchive", ARCHIVE_PASSPHRASE,
                                   approval=ok, kdf_time_ms=10)
        kdbx_plan = exporting.plan(v, "kdbx")
        other = approvals.approve(v, plan.operation, plan.target, "carol",
                                  PassphraseUnlocker.from_text(CAROL))
        with pytest.raises(AccessDenied, match="different operation"):
            kdbx_export.export_kdbx(v, kdbx_plan, tmp_path / "c.kdbx", KDBX_PASSWORD,
                                    approval=other, kdf_time_ms=10)
        files = [e for e in v.audit_events() if e.action == "secret.export.file"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.srarchive", "v"]
    assert len(files) == 1
    items = archive.read_archive_file(tmp_path / "a.srarchive", ARCHIVE_PASSPHRASE).items
    assert [(i.name, i.classification) for i in items] == [("pki/ocsp", "moderate"),
                                                           ("pki/root-ca-key", "critical")]


def test_the_audit_log_has_counts_and_hashes_but_no_value(filled: Path, tmp_path: Path,
                                                          kdbx: tuple[Path, dict]) -> None:
    with Vault.open(filled) as v:
        v.unlock(PassphraseUnlocker.from_text(PASSPHRASE))
        events = v.audit_events()
        export_jsonl(events, tmp_path / "audit.jsonl")
    text = (tmp_path / "audit.jsonl").read_text()
    for value in VALUE_STRINGS:
        assert value not in text, value
    assert KDBX_PASSWORD not in text
    reads = [e.target for e in events if e.action == "secret.export"]
    assert sorted(reads) == sorted(s.name for s in SECRETS)
    [written] = [e for e in events if e.action == "secret.export.file"]
    assert written.target == str(kdbx[0])
    assert written.details["sha256"] == kdbx[1]["sha256"]
    assert (written.details["format"], written.details["count"]) == ("kdbx", 4)


def test_what_a_kdbx_cannot_hold_is_renamed_with_a_warning_or_refused(vault: Vault,
                                                                      tmp_path: Path) -> None:
    odd = entries.Entry(password="p", fields=(Field("Password", "shadow"), Field("otp", "x")),
                        attachments=(Attachment("a.txt", b"1"), Attachment("a.txt", b"2")))
    vault.add_secret(NewSecret("odd", odd.encode(), tags=("eu;west",), kind="entry"))
    vault.add_secret(NewSecret("ctl", b"tab\tok but \x01 not"))
    out = tmp_path / "odd.kdbx"
    result = kdbx_export.export_kdbx(vault, exporting.plan(vault, "kdbx"), out, KDBX_PASSWORD,
                                     kdf_time_ms=10)
    assert len(result.warnings) == 4
    assert "'Password' of 'odd' is written as 'Password (field)'" in result.warnings[0]
    db = kpx("show", "-q", "-s", "--all", "--show-attachments", out, "odd").decode()
    assert "Password (field): shadow" in db and "otp (field): x" in db
    assert "a.txt (2)" in db and "Tags: eu_west" in db
    assert attachment(out, "ctl", "value.bin") == b"tab\tok but \x01 not"  # not XML text
    bad = entries.Entry(username="nul \x00 inside")
    vault.add_secret(NewSecret("bad", bad.encode(), kind="entry"))
    with pytest.raises(UsageError, match="username of 'bad' holds control characters"):
        kdbx_export.export_kdbx(vault, exporting.plan(vault, "kdbx", exporting.Filters(
            search="bad")), tmp_path / "bad.kdbx", KDBX_PASSWORD, kdf_time_ms=10)
    assert not (tmp_path / "bad.kdbx").exists()
    outcomes = {e.outcome: e for e in vault.audit_events(action="secret.export.file")}
    assert set(outcomes) == {"ok", "failed"}
    assert "control characters" in outcomes["failed"].details["reason"]


def test_an_archive_imports_into_another_vault_with_every_level_and_date(
        sealed: tuple[Vault, Path], tmp_path: Path) -> None:
    source, path = sealed
    with make_vault(tmp_path / "b") as target:
        parsed = archive.read_archive_file(path, ARCHIVE_PASSPHRASE)
        result = apply.apply(target, apply.plan(target, parsed, Classification.Public))
        assert result.added == len(SECRETS)
        for s in SECRETS:
            info = target.secret_info(s.name)
            assert target.get_secret(s.name) == source.get_secret(s.name)
            assert (info.kind, info.classification, info.tags, info.note, info.expires,
                    info.rotation_due) == (
                s.kind, s.classification, s.tags, s.note,
                s.expires.isoformat() if s.expires else None,
                s.rotation_due.isoformat() if s.rotation_due else None)


def test_the_kdbx_import_takes_back_what_the_export_wrote(kdbx: tuple[Path, dict]) -> None:
    items = {i.name: i for i in kdbx_import.read_kdbx(kdbx[0], KDBX_PASSWORD).items}
    assert sorted(items) == sorted(s.name for s in SECRETS)
    for s in SECRETS:
        item = items[s.name]
        assert item.kind == s.kind and item.note == s.note and item.expires == s.expires
        if s.kind == "totp":
            assert item.value == totp.parse(GITHUB).uri().encode()
        elif s.kind == "value":
            assert item.value == s.value
    login = entries.decode(items["web/app/login"].value)
    assert (login.password, login.username, login.url, login.notes, login.totp) == (
        ENTRY.password, ENTRY.username, ENTRY.url, ENTRY.notes, ENTRY.totp)
    assert set(login.fields) == set(ENTRY.fields)
    assert set(login.attachments) == set(ENTRY.attachments)
    assert items["web/app/login"].rotation_due == dt.date(2027, 1, 31)


def test_import_archive_from_the_command_line(filled: Path, tmp_path: Path) -> None:
    source = tmp_path / "a"
    shutil.copytree(filled, source)
    out = tmp_path / "all.srarchive"
    code, result, err = cli("export", "archive", str(out), "--kdf-time-ms", "10",
                            vault=source, password=ARCHIVE_PASSPHRASE)
    assert code == 0, err
    target = tmp_path / "b"
    make_vault(target).lock()
    before = snapshot(target)
    data = out.read_bytes()
    for content, wrong, exit_code, message in (
            (data, "not the archive passphrase 99", 4, "does not open this archive"),
            (_flip(data, len(data) - 5), ARCHIVE_PASSPHRASE, 3, "changed after it was written"),
            (data[:-7], ARCHIVE_PASSPHRASE, 2, "truncated")):
        out.write_bytes(content)
        code, result, err = cli("import", "archive", str(out), vault=target, password=wrong)
        assert (code, err.count("\n")) == (exit_code, 1) and message in err, err
    assert snapshot(target) == before
    out.write_bytes(data)
    code, result, err = cli("import", "archive", str(out), vault=target,
                            password=ARCHIVE_PASSPHRASE)
    assert code == 0 and result["result"]["added"] == len(SECRETS), err
    code, listed, err = cli("secret", "list", vault=target)
    assert {(s["name"], s["classification"]) for s in listed} == {
        (s.name, s.classification.value) for s in SECRETS}
