"""Secret kinds: entries with fields and TOTP seeds, in the vault and through the CLI."""

from __future__ import annotations

import base64
import datetime as dt
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from strongroom.app import entries, totp
from strongroom.app.entries import Attachment, Entry, Field
from strongroom.app.errors import UsageError
from strongroom.app.model import Classification
from strongroom.app.vault import NewSecret, Vault

from conftest import PASSPHRASE, make_vault, run_cli
from helpers.cli_checks import one_line_error

SEED = base64.b32encode(b"12345678901234567890").decode()
LOGIN = Entry(
    password="hunter2-entry", username="alice", url="https://example.com", notes="line 1\nline 2",
    fields=(Field("PIN", "4321", protected=True), Field("Account", "A-77")),
    attachments=(Attachment("key.bin", bytes(range(256))),),
    totp=totp.make(SEED).uri(),
)


def test_an_entry_round_trips_through_its_encoding() -> None:
    assert entries.decode(LOGIN.encode()) == LOGIN
    assert LOGIN.get("username") == "alice"
    assert LOGIN.get("PIN") == "4321"
    assert LOGIN.field_names() == ["password", "username", "url", "notes", "totp", "PIN",
                                   "Account"]
    with pytest.raises(UsageError, match="no field 'pin'"):
        LOGIN.get("pin")


@pytest.mark.parametrize("bad,message", [
    (Entry(type="wallet", password="x"), "unknown entry type"),
    (Entry(), "empty"),
    (Entry(password="x", fields=(Field("a", "1"), Field("a", "2"))), "distinct"),
    (Entry(password="x", totp="otpauth://totp/x?secret=!!"), "not base32"),
])
def test_entries_that_cannot_be_stored_are_refused(bad: Entry, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        entries.checked(bad)


@given(st.binary(max_size=400))
def test_any_bytes_decode_or_are_refused_cleanly(data: bytes) -> None:
    try:
        entries.decode(data)
    except UsageError as e:
        assert "entry document" in str(e)


def test_the_vault_keeps_each_kind_and_a_version_may_change_kind(vault: Vault) -> None:
    vault.add_secret(NewSecret("web/login", LOGIN.encode(), kind="entry"))
    vault.add_secret(NewSecret("otp", SEED.encode(), kind="totp"))
    assert {s.name: s.kind for s in vault.list_secrets()} == {"otp": "totp",
                                                             "web/login": "entry"}
    # a TOTP seed is stored as its canonical URI, whatever form it came in
    assert vault.get_secret("otp") == totp.make(SEED).uri().encode()
    assert entries.decode(vault.get_secret("web/login")) == LOGIN
    vault.update_secret("otp", b"plain now", kind="value")
    assert vault.secret_info("otp").kind == "value"
    assert [v.meta["kind"] for v in vault.history("otp")] == ["totp", "value"]
    assert vault.get_secret("otp", 1) == totp.make(SEED).uri().encode()
    with pytest.raises(UsageError, match="only with a new value"):
        vault.update_secret("otp", kind="totp")
    with pytest.raises(UsageError, match="not base32"):
        vault.add_secret(NewSecret("bad", b"not a seed!", kind="totp"))
    with pytest.raises(UsageError, match="entry document"):
        vault.add_secret(NewSecret("bad", b"{}", kind="entry"))
    with pytest.raises(UsageError, match="unknown secret kind"):
        vault.add_secret(NewSecret("bad", b"x", kind="file"))
    assert vault.audit_events(action="secret.create")[-1].details["kind"] == "entry"


@pytest.fixture
def cli_vault(tmp_path: Path) -> Path:
    path = tmp_path / "v"
    with make_vault(path) as v:
        v.add_secret(NewSecret("web/login", LOGIN.encode(), kind="entry"))
        v.add_secret(NewSecret("crit", b"x", Classification.Critical))
    return path


def test_cli_totp_prints_the_current_code_and_audits_the_read(cli_vault: Path) -> None:
    added = run_cli("secret", "add", "otp", "--kind", "totp", vault=cli_vault,
                    passphrases=[PASSPHRASE], stdin=f"otpauth://totp/ACME:al?secret={SEED}"
                                                     f"&digits=8&algorithm=SHA256".encode())
    assert added.code == 0, added.err
    spec = totp.parse(f"otpauth://totp/x?secret={SEED}&digits=8&algorithm=SHA256")
    for _ in range(2):  # a code straddling a 30 s boundary is read again
        before = dt.datetime.now(dt.UTC).timestamp()
        result = run_cli("secret", "totp", "otp", vault=cli_vault, passphrases=[PASSPHRASE])
        after = dt.datetime.now(dt.UTC).timestamp()
        if spec.code(before) == spec.code(after):
            break
    assert result.code == 0, result.err
    assert result.text.strip() == spec.code(after)
    assert "valid for" in result.err
    shown = json.loads(run_cli("--json", "secret", "totp", "web/login", vault=cli_vault,
                               passphrases=[PASSPHRASE]).text)
    assert shown["digits"] == 6 and shown["code"].isdigit() and SEED not in json.dumps(shown)
    events = json.loads(run_cli("--json", "audit", "show", "--action", "secret.totp",
                                vault=cli_vault, passphrases=[PASSPHRASE]).text)
    assert sorted(e["target"] for e in events) == ["otp", "web/login"]
    one_line_error(run_cli("secret", "totp", "crit", vault=cli_vault, passphrases=[PASSPHRASE]),
                   2, "plain value, not a TOTP")


def test_cli_get_prints_an_entrys_password_or_a_field(cli_vault: Path) -> None:
    def get(*extra: str) -> bytes:
        result = run_cli("secret", "get", "web/login", *extra, vault=cli_vault,
                         passphrases=[PASSPHRASE])
        assert result.code == 0, result.err
        return result.out

    assert get() == b"hunter2-entry"
    assert get("--field", "username") == b"alice"
    assert get("--field", "PIN") == b"4321"
    whole = json.loads(run_cli("--json", "secret", "get", "web/login", vault=cli_vault,
                               passphrases=[PASSPHRASE]).text)
    assert whole["kind"] == "entry"
    assert whole["entry"]["attachments"][0]["size"] == 256
    one_line_error(run_cli("secret", "get", "web/login", "--field", "nope", vault=cli_vault,
                           passphrases=[PASSPHRASE]), 2, "no field 'nope'")
    one_line_error(run_cli("secret", "get", "crit", "--field", "username", vault=cli_vault,
                           passphrases=[PASSPHRASE]), 2, "not an entry")
