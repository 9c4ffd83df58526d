"""Import from KeePass KDBX, Bitwarden JSON and CSV: files written by the real keepassxc-cli and by
pykeepass, every Bitwarden item type, the CSV presets and a custom mapping; the preview and the
three choices on conflicts; one transaction (cancel keeps nothing); the audit events.

Vaults start as a copy of one made per module (helpers.cli_checks); what a test is about goes
through the CLI as a real process where the CLI is what is tested.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from pykeepass import PyKeePass

from strongroom.app import entries
from strongroom.app.access import access_changes, approvals, operator_admin
from strongroom.app.access.grants import Scope
from strongroom.app.errors import AccessDenied, Refused, UserCancelled
from strongroom.app.keyslots import PassphraseUnlocker
from strongroom.app.model import Classification
from strongroom.app.transfer import apply, bitwarden, csv_import, kdbx
from strongroom.app.transfer.model import OnConflict
from strongroom.app.vault import NewSecret, Vault

from conftest import PASSPHRASE, snapshot
from helpers import cli_checks
from helpers import kdbx_files as kf
from helpers.kdbx_files import KDBX_PASSWORD, cli

empty_template = cli_checks.empty_template
vault_dir = cli_checks.vault_dir

CAROL = "carol pass phrase 2"
SECRETS = ("site-password-1", "root-password-2", "attached-secret-3", "pin-4242",
           "s3cret-bw", "4111111111111111", "123-45-6789", "csv-pass-9")


def opened(path: Path) -> Vault:
    v = Vault.open(path)
    v.unlock(PassphraseUnlocker.from_text(PASSPHRASE))
    return v


def entry_of(vault: Vault, name: str) -> entries.Entry:
    assert vault.secret_info(name).kind == "entry"
    return entries.decode(vault.get_secret(name))


def audit_rows(vault: Vault) -> list[Any]:
    """The whole audit log, oldest first."""
    return vault.audit_events()[::-1]


# ----- KeePass files -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def keepassxc_31(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A KDBX 3.1 written by keepassxc-cli: groups, entries, an attachment."""
    if kf.KEEPASSXC is None:
        pytest.skip("keepassxc-cli is not installed")
    tmp = tmp_path_factory.mktemp("kx31")
    path = kf.kdbx31(tmp / "db.kdbx", KDBX_PASSWORD)
    pw = KDBX_PASSWORD + "\n"
    kf.keepassxc("mkdir", "-q", str(path), "Web", stdin=pw)
    kf.keepassxc("mkdir", "-q", str(path), "Web/Internal", stdin=pw)
    kf.keepassxc("add", "-q", "-u", "alice", "--url", "https://intra.example", "--notes",
                "first line\nsecond line", "-p", str(path), "Web/Internal/Wiki",
                stdin=pw + SECRETS[0] + "\n")
    kf.keepassxc("add", "-q", "-u", "root", "-p", str(path), "Router", stdin=pw + SECRETS[1] + "\n")
    (tmp / "key.pem").write_text(SECRETS[2])
    kf.keepassxc("attachment-import", "-q", str(path), "Router", "key.pem", str(tmp / "key.pem"),
                stdin=pw)
    assert kf.version(path) == (3, 1)
    return path


@kf.needs_keepassxc
def test_kdbx31_written_by_keepassxc_comes_in_through_the_cli(keepassxc_31: Path,
                                                              vault_dir: Path) -> None:
    result = cli(vault_dir, "--json", "import", "kdbx", str(keepassxc_31), password=KDBX_PASSWORD)
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert report["format"] == "kdbx" and report["counts"]["entry"] == 2
    assert report["result"] == {"added": 2, "versioned": 0, "renamed": 0, "skipped": 0,
                                "audit_seq": report["result"]["audit_seq"]}
    assert any("history" in w for w in report["warnings"])  # attachment-import kept one
    assert "strongroom: warning: entries with a history" in result.err
    with opened(vault_dir) as v:
        assert [s.name for s in v.list_secrets()] == ["Router", "Web/Internal/Wiki"]
        wiki = v.secret_info("Web/Internal/Wiki")
        assert wiki.tags == ("Web/Internal",) and wiki.classification == Classification.Moderate
        e = entry_of(v, "Web/Internal/Wiki")
        assert (e.username, e.password, e.url) == ("alice", SECRETS[0], "https://intra.example")
        assert e.notes == "first line\nsecond line"
        router = entry_of(v, "Router")
        assert router.password == SECRETS[1]
        assert [(a.name, a.data) for a in router.attachments] == [("key.pem",
                                                                    SECRETS[2].encode())]


@kf.needs_keepassxc
def test_the_recycle_bin_is_left_out_of_a_kdbx41_from_keepassxc(keepassxc_31: Path,
                                                                tmp_path: Path) -> None:
    """Moving an entry to the Recycle Bin makes KeePassXC write KDBX 4.1 (it records the
    entry's previous group), still with AES-KDF."""
    path = tmp_path / "bin.kdbx"
    path.write_bytes(keepassxc_31.read_bytes())
    pw = KDBX_PASSWORD + "\n"
    kf.keepassxc("add", "-q", "-u", "old", "-p", str(path), "Gone", stdin=pw + "gone-pw\n")
    kf.keepassxc("rm", "-q", str(path), "Gone", stdin=pw)
    assert kf.version(path) == (4, 1)
    parsed = kdbx.read_kdbx(path, KDBX_PASSWORD)
    assert [i.name for i in parsed.items] == ["Router", "Web/Internal/Wiki"]
    assert "entries in the Recycle Bin left out (1)" in parsed.warnings


@kf.needs_keepassxc
def test_kdbx4_written_by_keepassxc(tmp_path: Path) -> None:
    path = kf.kdbx4(tmp_path / "db4.kdbx", KDBX_PASSWORD)
    pw = KDBX_PASSWORD + "\n"
    kf.keepassxc("mkdir", "-q", str(path), "Servers", stdin=pw)
    kf.keepassxc("add", "-q", "-u", "admin", "--url", "ssh://db", "-p", str(path), "Servers/db",
                stdin=pw + SECRETS[1] + "\n")
    kf.keepassxc("attachment-import", "-q", str(path), "Servers/db", "id_ed25519",
                "/etc/hostname", stdin=pw)
    assert kf.version(path) == (4, 0)  # KeePassXC kept the file's version
    parsed = kdbx.read_kdbx(path, KDBX_PASSWORD)
    [item] = parsed.items
    assert (item.name, item.tags) == ("Servers/db", ("Servers",))
    e = entries.decode(item.value)
    assert (e.username, e.password, e.url) == ("admin", SECRETS[1], "ssh://db")
    assert e.attachments[0].data == Path("/etc/hostname").read_bytes()


@pytest.mark.parametrize("major", [3, 4])
def test_kdbx_custom_fields_totp_expiry_and_tags(tmp_path: Path, major: int) -> None:
    """pykeepass writes what keepassxc-cli cannot: custom fields, TOTP, expiry, tags."""
    path = tmp_path / f"v{major}.kdbx"
    if major == 3:
        if kf.KEEPASSXC is None:
            pytest.skip("keepassxc-cli is not installed")
        kf.kdbx31(path, KDBX_PASSWORD)
    else:
        kf.kdbx4(path, KDBX_PASSWORD)
    kp, tk = kf.opened(path, KDBX_PASSWORD)
    web = kp.add_group(kp.root_group, "Web")
    e = kp.add_entry(web, "Portal", "alice", SECRETS[0], url="https://p.example", notes="n",
                     tags=["prod", "team,a"])
    e.set_custom_property("PIN", SECRETS[3], protect=True)
    e.set_custom_property("Account", "acct-9")
    e.otp = "otpauth://totp/ACME:alice?secret=JBSWY3DPEHPK3PXP&digits=8&period=60&issuer=ACME"
    e.expires = True
    e.expiry_time = dt.datetime(2027, 5, 1, 12, 0, tzinfo=dt.UTC)
    legacy = kp.add_entry(kp.root_group, "Legacy", "bob", "pw")
    legacy.set_custom_property("TOTP Seed", "JBSWY3DPEHPK3PXP", protect=True)
    legacy.set_custom_property("TOTP Settings", "30;7")
    keepass2 = kp.add_entry(kp.root_group, "KeePass2", "carol", "pw")
    for key, value in {"TimeOtp-Secret-Base32": "JBSWY3DPEHPK3PXP",
                       "TimeOtp-Algorithm": "HMAC-SHA-256", "TimeOtp-Length": "8"}.items():
        keepass2.set_custom_property(key, value)
    steam = kp.add_entry(kp.root_group, "Steam", "dave", "pw")
    steam.otp = "otpauth://totp/Steam:dave?secret=JBSWY3DPEHPK3PXP&encoder=steam"
    kf.save(kp, tk)
    assert kf.version(path)[0] == major

    parsed = kdbx.read_kdbx(path, KDBX_PASSWORD)
    items = {i.name: i for i in parsed.items}
    portal = items["Web/Portal"]
    assert portal.expires == dt.date(2027, 5, 1)
    assert portal.tags == ("Web", "prod", "team", "a")  # KeePass splits tags at ';' and ','
    e2 = entries.decode(portal.value)
    assert [(f.name, f.value, f.protected) for f in e2.fields] == [
        ("PIN", SECRETS[3], True), ("Account", "acct-9", False)]
    spec = e2.totp_spec()
    assert spec is not None and (spec.digits, spec.period, spec.issuer) == (8, 60, "ACME")
    legacy_spec = entries.decode(items["Legacy"].value).totp_spec()
    assert legacy_spec is not None and legacy_spec.digits == 7
    assert entries.decode(items["Legacy"].value).fields == ()  # the TOTP fields were consumed
    kp2 = entries.decode(items["KeePass2"].value).totp_spec()
    assert kp2 is not None and (kp2.algorithm, kp2.digits) == ("SHA256", 8)
    steam_entry = entries.decode(items["Steam"].value)
    assert steam_entry.totp == "" and steam_entry.fields[0].protected  # kept, not a TOTP
    assert any("Steam" in w for w in parsed.warnings)


@kf.needs_keepassxc
def test_kdbx_with_a_key_file(tmp_path: Path) -> None:
    key = tmp_path / "db.keyx"
    path = kf.kdbx31(tmp_path / "k.kdbx", KDBX_PASSWORD, key_file=key)
    kf.keepassxc("add", "-q", "-k", str(key), "-p", str(path), "Entry",
                stdin=f"{KDBX_PASSWORD}\n{SECRETS[0]}\n")
    [item] = kdbx.read_kdbx(path, KDBX_PASSWORD, key).items
    assert entries.decode(item.value).password == SECRETS[0]


def test_titles_with_slashes_and_repeated_names_become_distinct_valid_names(tmp_path: Path
                                                                            ) -> None:
    path = kf.kdbx4(tmp_path / "names.kdbx", KDBX_PASSWORD)
    kp = PyKeePass(str(path), KDBX_PASSWORD)
    g = kp.add_group(kp.root_group, "a" * 70)
    kp.add_entry(g, "deep", "u", "p1")
    kp.add_entry(kp.root_group, "example.com/admin\u202e", "u", "p1")
    kp.add_entry(kp.root_group, "Dup", "u1", "p")
    kp.add_entry(kp.root_group, "Dup ", "u2", "p")  # the same name once spaces are stripped
    kp.add_entry(kp.root_group, "Dup (2)", "u3", "p")  # and the name a rename would pick
    kp.save()
    parsed = kdbx.read_kdbx(path, KDBX_PASSWORD)
    names = [i.name for i in parsed.items]
    assert names == ["example.com-admin", "Dup", "Dup (3)", "Dup (2)", "a" * 70 + "/deep"]
    assert parsed.items[4].tags == ("…" + "a" * 63,)
    text = " ".join(parsed.warnings)
    assert "\\u202e" in text and "\u202e" not in text  # shown escaped, never raw
    assert "'Dup' → 'Dup (3)'" in text


# ----- Bitwarden and CSV -------------------------------------------------------------------------


BITWARDEN = {
    "encrypted": False,
    "folders": [{"id": "f1", "name": "Work/Servers"}],
    "collections": [{"id": "c1", "organizationId": "o", "name": "Ops", "externalId": None}],
    "items": [
        {"id": "1", "folderId": "f1", "type": 1, "name": "db1", "notes": "primary",
         "favorite": False, "reprompt": 0, "collectionIds": ["c1"],
         "fields": [{"name": "pin", "value": SECRETS[3], "type": 1, "linkedId": None},
                    {"name": "region", "value": "eu", "type": 0, "linkedId": None},
                    {"name": "admin", "value": "true", "type": 2, "linkedId": None},
                    {"name": "user", "value": None, "type": 3, "linkedId": 100}],
         "login": {"uris": [{"match": None, "uri": "https://db1.example"},
                            {"match": 3, "uri": "https://db1b.example"}],
                   "username": "root", "password": SECRETS[4], "totp": "JBSWY3DPEHPK3PXP",
                   "fido2Credentials": []},
         "passwordHistory": [{"lastUsedDate": "2024-01-01T00:00:00.000Z", "password": "old"}]},
        {"id": "2", "folderId": None, "type": 2, "name": "runbook", "notes": "restart it",
         "secureNote": {"type": 0}},
        {"id": "3", "folderId": None, "type": 3, "name": "corporate card",
         "card": {"cardholderName": "A Admin", "brand": "Visa", "number": SECRETS[5],
                  "expMonth": "3", "expYear": "2027", "code": "123"}},
        {"id": "4", "folderId": None, "type": 4, "name": "me",
         "identity": {"title": "Dr", "firstName": "Ada", "middleName": None, "lastName": "L",
                      "address1": "1 Road", "city": "Town", "postalCode": "12345",
                      "country": "UK", "email": "ada@example.com", "phone": "123",
                      "ssn": SECRETS[6], "username": "ada", "passportNumber": "P1",
                      "licenseNumber": "L1"}},
        {"id": "5", "folderId": None, "type": 5, "name": "deploy key",
         "sshKey": {"privateKey": "-----BEGIN OPENSSH PRIVATE KEY-----\nx\n",
                    "publicKey": "ssh-ed25519 AAAA", "keyFingerprint": "SHA256:abc"}},
    ],
}


def test_bitwarden_json_every_item_type(tmp_path: Path) -> None:
    path = tmp_path / "bw.json"
    path.write_text(json.dumps(BITWARDEN))
    parsed = bitwarden.read_bitwarden(path)
    items = {i.name: i for i in parsed.items}
    assert sorted(items) == ["Work/Servers/db1", "corporate card", "deploy key", "me", "runbook"]
    assert items["Work/Servers/db1"].tags == ("Work/Servers", "Ops")
    login = entries.decode(items["Work/Servers/db1"].value)
    assert (login.type, login.username, login.password, login.url, login.notes) == (
        "login", "root", SECRETS[4], "https://db1.example", "primary")
    assert [(f.name, f.value, f.protected) for f in login.fields] == [
        ("uri 2", "https://db1b.example", False), ("pin", SECRETS[3], True),
        ("region", "eu", False), ("admin", "true", False)]
    spec = login.totp_spec()
    assert spec is not None and (spec.issuer, spec.account) == ("db1", "root")
    note = entries.decode(items["runbook"].value)
    assert (note.type, note.notes) == ("note", "restart it")
    card = entries.decode(items["corporate card"].value)
    assert card.type == "card" and items["corporate card"].expires == dt.date(2027, 3, 31)
    assert {f.name: (f.value, f.protected) for f in card.fields} == {
        "cardholder": ("A Admin", False), "brand": ("Visa", False),
        "number": (SECRETS[5], True), "expiry": ("03/2027", False), "code": ("123", True)}
    me = entries.decode(items["me"].value)
    assert me.type == "identity" and me.username == "ada"
    fields = {f.name: (f.value, f.protected) for f in me.fields}
    assert fields["ssn"] == (SECRETS[6], True) and fields["first name"] == ("Ada", False)
    assert fields["passport number"] == ("P1", True) and "middle name" not in fields
    key = entries.decode(items["deploy key"].value)
    assert key.type == "note" and key.fields[0].name == "private key" and key.fields[0].protected
    assert any("linked" in w for w in parsed.warnings)
    assert any("password histor" in w for w in parsed.warnings)


KEEPASSXC_CSV = ('"Group","Title","Username","Password","URL","Notes","TOTP","Icon",'
                 '"Last Modified","Created"\n'
                 '"Passwords/Web","Site","alice","' + SECRETS[7] + '","https://s.example",'
                 '"multi\nline","otpauth://totp/S:alice?secret=JBSWY3DPEHPK3PXP","0",'
                 '"2026-01-01T00:00:00Z","2026-01-01T00:00:00Z"\n'
                 '"Passwords/Recycle Bin","Old","x","y","","","","0","",""\n'
                 '"Passwords","=cmd|\' /C calc\'!A0","u","p","","","","0","",""\n')
BITWARDEN_CSV = ("folder,favorite,type,name,notes,fields,reprompt,login_uri,login_username,"
                 "login_password,login_totp\n"
                 'Work,1,login,db1,,"pin: 1234\nregion: eu",0,https://db1.example,root,'
                 + SECRETS[7] + ",JBSWY3DPEHPK3PXP\n"
                 ",,note,a note,secret note text,,0,,,,\n")


def test_csv_presets_are_detected_from_the_header(tmp_path: Path) -> None:
    kx = csv_import.parse_csv(KEEPASSXC_CSV.encode())
    assert [i.name for i in kx.items] == ["Web/Site", "=cmd|' -C calc'!A0"]
    site = entries.decode(kx.items[0].value)
    assert (site.password, site.notes, kx.items[0].tags) == (SECRETS[7], "multi\nline", ("Web",))
    assert site.totp.startswith("otpauth://totp/") and site.fields == ()  # Icon etc. ignored
    assert any("Recycle Bin" in w for w in kx.warnings)
    bw = csv_import.parse_csv(BITWARDEN_CSV.encode())
    db1, note = (entries.decode(i.value) for i in bw.items)
    assert bw.items[0].name == "Work/db1" and db1.password == SECRETS[7]
    assert [(f.name, f.value) for f in db1.fields] == [("pin", "1234"), ("region", "eu")]
    assert (note.type, note.notes) == ("note", "secret note text")


def test_csv_custom_mapping_through_the_cli(tmp_path: Path, vault_dir: Path) -> None:
    path = tmp_path / "custom.csv"
    path.write_text("Konto;Benutzer;Kennwort;Ordner;Kommentar\n"
                    f"mail;alice;{SECRETS[7]};Team/Mail;=1+1\n"
                    "vpn;bob;pw2;;\n", encoding="utf-8-sig")
    assert csv_import.header(path.read_bytes()) == ("Konto", "Benutzer", "Kennwort", "Ordner",
                                                    "Kommentar")
    result = cli(vault_dir, "import", "csv", str(path), "--map", "Konto=name", "--map",
                 "Benutzer=username", "--map", "Kennwort=password", "--map", "Ordner=folder",
                 "--classification", "high")
    assert result.code == 0, result.err
    assert "2 item(s) (2 entry) at level high" in result.text
    with opened(vault_dir) as v:
        mail = entry_of(v, "Team/Mail/mail")
        assert (mail.username, mail.password) == ("alice", SECRETS[7])
        assert [(f.name, f.value) for f in mail.fields] == [("Kommentar", "=1+1")]  # as text
        assert v.secret_info("vpn").classification == Classification.High


# ----- conflicts, the preview, one transaction ---------------------------------------------------


def _bitwarden_file(tmp_path: Path) -> Path:
    path = tmp_path / "bw.json"
    path.write_text(json.dumps(BITWARDEN))
    return path


@pytest.mark.parametrize("choice", list(OnConflict))
def test_conflicts_skip_rename_or_version(tmp_path: Path, vault_dir: Path,
                                          choice: OnConflict) -> None:
    parsed = bitwarden.read_bitwarden(_bitwarden_file(tmp_path))
    with opened(vault_dir) as v:
        v.add_secret(NewSecret("runbook", b"the vault's own", Classification.Low, tags=("keep",)))
        v.add_secret(NewSecret("runbook (2)", b"taken too"))
        preview = apply.plan(v, parsed, Classification.High, choice)
        assert [(c.name, c.renamed) for c in preview.conflicts] == [("runbook", "runbook (3)")]
        assert preview.summary() == {"add": 4, "version": 0, "rename": 0, "skip": 0,
                                     choice.value: 1}
        result = apply.apply(v, preview)
        runbook = v.secret_info("runbook")
        if choice is OnConflict.skip:
            assert result.skipped == 1 and v.get_secret("runbook") == b"the vault's own"
        elif choice is OnConflict.rename:
            assert result.renamed == 1 and entry_of(v, "runbook (3)").notes == "restart it"
            assert v.get_secret("runbook") == b"the vault's own"
        else:
            assert result.versioned == 1 and runbook.version == 2 and runbook.kind == "entry"
            assert entry_of(v, "runbook").notes == "restart it"
            assert v.get_secret("runbook", version=1) == b"the vault's own"
            # the secret keeps its own level and tags
            assert (runbook.classification, runbook.tags) == (Classification.Low, ("keep",))
        assert result.added == 4
        assert v.secret_info("me").classification == Classification.High


def test_a_dry_run_writes_nothing_but_the_audited_unlock(tmp_path: Path,
                                                         vault_dir: Path) -> None:
    with opened(vault_dir) as v:
        v.add_secret(NewSecret("runbook", b"x"))
        before_rows = len(audit_rows(v))
    before = snapshot(vault_dir)
    result = cli(vault_dir, "--json", "import", "bitwarden", str(_bitwarden_file(tmp_path)),
                 "--dry-run", "--on-conflict", "rename")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert report["dry_run"] is True and "result" not in report
    assert report["conflicts"] == [{"name": "runbook", "renamed": "runbook (2)",
                                    "action": "rename"}]
    assert report["summary"] == {"add": 4, "version": 0, "rename": 1, "skip": 0}
    assert snapshot(vault_dir) != before  # the unlock itself is audited, as every unlock
    with opened(vault_dir) as v:
        rows = audit_rows(v)
        assert [e.action for e in rows[before_rows:]] == ["vault.unlock", "vault.unlock"]
        assert [s.name for s in v.list_secrets()] == ["runbook"]


def test_cancelling_mid_import_keeps_nothing(tmp_path: Path, vault_dir: Path) -> None:
    parsed = bitwarden.read_bitwarden(_bitwarden_file(tmp_path))
    with opened(vault_dir) as v:
        counts, rows = v.counts(), len(audit_rows(v))
        seen: list[tuple[int, int]] = []

        def progress(done: int, total: int) -> bool:
            seen.append((done, total))
            return done < 3

        with pytest.raises(UserCancelled):
            apply.apply(v, apply.plan(v, parsed), progress=progress)
        assert seen == [(1, 5), (2, 5), (3, 5)]
        assert v.counts() == counts and len(audit_rows(v)) == rows
        assert v.list_secrets() == []


def test_the_vault_changing_after_the_preview_refuses_the_import(tmp_path: Path,
                                                                 vault_dir: Path) -> None:
    parsed = bitwarden.read_bitwarden(_bitwarden_file(tmp_path))
    with opened(vault_dir) as v:
        preview = apply.plan(v, parsed, on_conflict=OnConflict.rename)
        v.add_secret(NewSecret("me", b"added since"))
        with pytest.raises(Refused, match="preview it again"):
            apply.apply(v, preview)
        assert [s.name for s in v.list_secrets()] == ["me"]


def test_the_import_event_has_the_hash_and_counts_and_no_value(tmp_path: Path,
                                                               vault_dir: Path) -> None:
    path = _bitwarden_file(tmp_path)
    parsed = bitwarden.read_bitwarden(path)
    with opened(vault_dir) as v:
        v.add_secret(NewSecret("me", b"x"))
        result = apply.apply(v, apply.plan(v, parsed, "critical", "skip"))
        [event] = v.audit_events(action="secret.import")
        assert event.seq == result.audit_seq and event.target == f"import:{parsed.sha256}"
        assert event.details == {
            "format": "bitwarden", "sha256": parsed.sha256, "size": path.stat().st_size,
            "items": 5, "added": 4, "versioned": 0, "renamed": 0, "skipped": 1,
            "classification": "critical", "on_conflict": "skip", "warnings": 2}
        creates = [e for e in v.audit_events(action="secret.create") if "import" in e.details]
        assert {e.target for e in creates} == {"Work/Servers/db1", "runbook",
                                               "corporate card", "deploy key"}
        assert all(e.details["import"] == parsed.sha256 for e in creates)
        everything = json.dumps([[e.target, e.details] for e in v.audit_events()])
    for secret in [*SECRETS, "ssh-ed25519", "restart it", "Ada", "old"]:
        assert secret not in everything


# ----- access: grants and the second holder -----------------------------------------------------


@pytest.fixture
def dual(vault_dir: Path) -> Path:
    """alice (creator) and carol (Custodian) both hold Critical: its key is split (dual control).
    bob may manage Low secrets only."""
    with opened(vault_dir) as v:
        operator_admin.add_operator(v, "carol", CAROL.encode(), roles=["Custodian"],
                                    kdf_time_ms=10)
        access_changes.add_grant(v, "carol", Scope.parse("level:critical"), "read",
                                 justification="second holder")
        operator_admin.add_operator(v, "bob", b"bob pass phrase 1", roles=["Custodian"],
                                    kdf_time_ms=10)
        access_changes.add_grant(v, "bob", Scope.parse("level:low"), "manage",
                                 justification="low only")
    return vault_dir


def test_dual_control_needs_the_second_holder_once_for_the_whole_import(tmp_path: Path,
                                                                        dual: Path) -> None:
    parsed = bitwarden.read_bitwarden(_bitwarden_file(tmp_path))
    with opened(dual) as v:
        preview = apply.plan(v, parsed, Classification.Critical)
        with pytest.raises(AccessDenied, match="dual control"):
            apply.apply(v, preview)
        assert v.list_secrets() == []
        ok = approvals.approve(v, "secret.write", apply.approval_target(parsed), "carol",
                               PassphraseUnlocker.from_text(CAROL))
        result = apply.apply(v, preview, approval=ok)
        assert result.added == 5 and len(v.list_secrets()) == 5
        [event] = v.audit_events(action="secret.import")
        assert event.details["approval"]["approver"] == "carol"
    bob = Vault.open(dual)
    bob.unlock(PassphraseUnlocker.from_text("bob pass phrase 1"), operator="bob")
    with bob:
        with pytest.raises(AccessDenied, match="no manage grant"):
            apply.apply(bob, apply.plan(bob, parsed, Classification.Moderate, "rename"))
        low = apply.apply(bob, apply.plan(bob, parsed, Classification.Low, "rename"))
        assert low.renamed == 5


def test_a_refused_file_leaves_the_vault_byte_identical(tmp_path: Path, vault_dir: Path) -> None:
    before = snapshot(vault_dir)
    bad = tmp_path / "bad.json"
    bad.write_text('{"encrypted": true, "passwordProtected": true, "data": "x"}')
    result = cli(vault_dir, "import", "bitwarden", str(bad), "--dry-run")
    cli_checks.one_line_error(result, 2, "encrypted", ".json")
    assert snapshot(vault_dir) == before


def test_a_strongroom_kdbx_export_comes_back_with_kinds_and_metadata(tmp_path: Path,
                                                                      vault_dir: Path) -> None:
    """kdbx_export.py's "Strongroom …" fields: a plain value (text or binary) and a TOTP
    secret come back as those kinds, the entry type, note and dates too; not the level."""
    from strongroom.app.transfer import exporting, kdbx_export

    card = entries.Entry(type="card", fields=(entries.Field("number", SECRETS[5], True),))
    uri = "otpauth://totp/ACME:a?secret=JBSWY3DPEHPK3PXP&digits=6"
    with opened(vault_dir) as v:
        v.add_secret(NewSecret("ops/db", SECRETS[1].encode(), Classification.High,
                               tags=("db",), note="primary", expires=dt.date(2027, 1, 31),
                               rotation_due=dt.date(2026, 12, 31)))
        v.add_secret(NewSecret("ops/blob", b"\x00\xffbinary", kind="value"))
        v.add_secret(NewSecret("ops/otp", uri.encode(), kind="totp"))
        v.add_secret(NewSecret("cards/corp", card.encode(), kind="entry"))
        out = tmp_path / "out.kdbx"
        kdbx_export.export_kdbx(v, exporting.plan(v, "kdbx"), out, KDBX_PASSWORD,
                                kdf_time_ms=10)
    parsed = kdbx.read_kdbx(out, KDBX_PASSWORD)
    items = {i.name: i for i in parsed.items}
    assert (items["ops/db"].kind, items["ops/db"].value) == ("value", SECRETS[1].encode())
    assert (items["ops/db"].note, items["ops/db"].expires, items["ops/db"].rotation_due) == (
        "primary", dt.date(2027, 1, 31), dt.date(2026, 12, 31))
    assert items["ops/db"].tags == ("ops", "db")
    assert (items["ops/blob"].kind, items["ops/blob"].value) == ("value", b"\x00\xffbinary")
    assert items["ops/otp"].kind == "totp" and b"JBSWY3DPEHPK3PXP" in items["ops/otp"].value
    corp = entries.decode(items["cards/corp"].value)
    assert corp.type == "card" and corp.fields == card.fields
    assert any("classification" in w for w in parsed.warnings)


def test_a_name_cut_to_the_vault_limit_stays_a_valid_name() -> None:
    from strongroom.app.transfer.common import Record, Warnings, parsed_file
    from strongroom.app.vault.secret_fields import check_name

    records = [Record(("a" * 254,), ".x", entries.Entry(password="p"), "one"),
               Record(("a" * 254,), ".y", entries.Entry(password="p"), "two")]
    warnings = Warnings()
    parsed = parsed_file("csv", b"", records, warnings)
    names = [i.name for i in parsed.items]
    assert names == ["a" * 254 + "/_", "a" * 252 + " (2)"]  # the number takes the end
    assert all(check_name(n) == n for n in names)
    assert any("cut" in w for w in parsed.warnings)
