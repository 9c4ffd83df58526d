"""Hostile and careless input at the command line: each is one clear sentence with its documented
exit code (never "internal error"), and a failure leaves files as the README says."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from strongroom.app.vault import BACKUP_DIR, NewSecret, Vault
from strongroom.app.vault.layout import remove_stale_work

from conftest import PASSPHRASE, run_cli, secret_pipes, snapshot, unlocker
from helpers.cli_checks import one_line_error


def _run_bytes(argv: list[bytes], vault: Path, stdin: bytes = b"") -> tuple[int, bytes, str]:
    """Run the CLI with raw argv bytes (run_cli only takes text)."""
    options, fds = secret_pipes([PASSPHRASE], None)
    env = {k: v for k, v in os.environ.items() if not k.startswith("STRONGROOM_")}
    try:
        proc = subprocess.run(
            [sys.executable.encode(), b"-m", b"strongroom", b"--vault", bytes(vault),
             *[o.encode() for o in options], *argv],
            input=stdin, capture_output=True, pass_fds=tuple(fds), env=env, timeout=120,
            check=False,
        )
    finally:
        for fd in fds:
            os.close(fd)
    return proc.returncode, proc.stdout, proc.stderr.decode(errors="replace")


@pytest.mark.parametrize("argv", [
    [b"secret", b"add", b"bad-\xff-name"],
    [b"secret", b"list", b"--search", b"\xfe\xff"],
    [b"secret", b"add", b"ok-name", b"--owner", b"\xff"],
    [b"secret", b"add", b"ok-name", b"--note", b"caf\xe9"],
    [b"secret", b"add", b"ok-name", b"--tag", b"\xc3"],
])
def test_arguments_that_are_not_utf8_are_refused(vault_dir: Path, argv: list[bytes]) -> None:
    before = snapshot(vault_dir)
    code, out, err = _run_bytes(argv, vault_dir, stdin=b"value")
    assert code == 2 and out == b"", err
    assert err.count("\n") == 1 and "not valid UTF-8" in err and "internal error" not in err
    assert snapshot(vault_dir) == before


@pytest.mark.parametrize(("argv", "phrase"), [
    (("audit", "show", "--limit", "99999999999999999999"), "--limit must be"),
    (("secret", "get", "x", "--version", "99999999999999999999"), "not between"),
    (("--passphrase-fd", "99999999999999999999", "secret", "list"), "not between"),
])
def test_huge_numbers_are_a_usage_error(vault_dir: Path, argv: tuple[str, ...],
                                        phrase: str) -> None:
    before = snapshot(vault_dir)
    one_line_error(run_cli(*argv, vault=vault_dir, passphrases=[PASSPHRASE]), 2, phrase)
    assert snapshot(vault_dir) == before


@pytest.mark.parametrize("name", ["/", "../../etc/passwd", "a//b", "./x", "x/..",
                                  "evil\u202egpj.exe", "zero\u200bwidth", "line\u2028sep",
                                  "tab\there"])
def test_misleading_names_are_refused(vault_dir: Path, name: str) -> None:
    before = snapshot(vault_dir)
    result = run_cli("secret", "add", name, vault=vault_dir, passphrases=[PASSPHRASE],
                     stdin=b"value")
    line = one_line_error(result, 2, "secret name")
    assert "\u202e" not in line and "\u200b" not in line  # never echoed raw
    # The refusal came before the unlock: nothing was written.
    assert snapshot(vault_dir) == before


def test_a_bidi_tag_or_owner_is_refused_and_shown_escaped(vault_dir: Path) -> None:
    for option in ("--tag", "--owner"):
        result = run_cli("secret", "add", "fine", option, "a\u202eb", vault=vault_dir,
                         passphrases=[PASSPHRASE], stdin=b"value")
        assert result.code == 2 and "\u202e" not in result.err, result
        assert "\\u202e" in result.err  # shown escaped


def test_json_failures_are_one_object_on_stdout(vault_dir: Path) -> None:
    for argv, code, error in (
        (("--json", "secret", "get", "missing"), 1, "NotFound"),
        (("--json", "secret", "nonsense"), 2, "UsageError"),
        (("--json", "audit", "show", "--limit", "0"), 2, "UsageError"),
    ):
        result = run_cli(*argv, vault=vault_dir, passphrases=[PASSPHRASE])
        assert result.code == code, result
        obj = json.loads(result.out)
        assert obj["error"] == error and obj["exit_code"] == code and obj["message"]
        assert result.err.strip() == f"strongroom: {obj['message']}"
    wrong = run_cli("--json", "secret", "list", vault=vault_dir, passphrases=["wrong one 1234"])
    assert wrong.code == 4 and json.loads(wrong.out)["error"] == "WrongPassphrase"


def test_an_unavailable_unlock_method_is_exit_1(vault_dir: Path) -> None:
    result = run_cli("unlock-method", "add", "tpm", vault=vault_dir, passphrases=[PASSPHRASE],
                     env={"STRONGROOM_TPM_TCTI": "swtpm:host=127.0.0.1,port=1"})
    one_line_error(result, 1, "cannot be used here")


def test_update_from_empty_stdin_points_to_keep_value(vault_dir: Path) -> None:
    assert run_cli("secret", "add", "k", vault=vault_dir, passphrases=[PASSPHRASE],
                   stdin=b"v").code == 0
    one_line_error(run_cli("secret", "update", "k", "--note", "n", vault=vault_dir,
                           passphrases=[PASSPHRASE]), 2, "--keep-value")


def test_a_past_expiry_is_noted_and_listed_as_expired(vault_dir: Path) -> None:
    added = run_cli("secret", "add", "old", "--expires", "2001-01-01", vault=vault_dir,
                    passphrases=[PASSPHRASE], stdin=b"v")
    assert added.code == 0 and "already past" in added.err
    listed = run_cli("secret", "list", vault=vault_dir, passphrases=[PASSPHRASE])
    assert "2001-01-01 (expired)" in listed.text
    assert run_cli("secret", "add", "new", "--expires", "2999-01-01", vault=vault_dir,
                   passphrases=[PASSPHRASE], stdin=b"v").err == ""
    listed = run_cli("secret", "list", vault=vault_dir, passphrases=[PASSPHRASE])
    rows = {line.split()[0]: line for line in listed.text.splitlines()[1:]}
    assert "(expired)" in rows["old"] and "(expired)" not in rows["new"]


def test_a_failure_after_unlock_changes_only_the_audit_log(vault_dir: Path) -> None:
    """The README's promise as stated: secrets, keyslots and other files unchanged; the audit
    log (vault.db, header.json) holds the unlock."""
    with Vault.open(vault_dir) as vault:
        vault.unlock(unlocker())
        vault.add_secret(NewSecret(name="kept", value=b"kept value"))
        before_events = vault._log.head().seq
        slots = vault.header.slots
    before = snapshot(vault_dir)
    one_line_error(run_cli("secret", "get", "missing", vault=vault_dir,
                           passphrases=[PASSPHRASE]), 1, "no secret named")
    after = snapshot(vault_dir)
    changed = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
    assert changed <= {"vault.db", "vault.db-wal", "vault.db-shm", "header.json"}, changed
    with Vault.open(vault_dir) as vault:
        vault.unlock(unlocker())
        assert vault.get_secret("kept") == b"kept value"
        assert [s.id for s in vault.header.slots] == [s.id for s in slots]
        actions = [e.action for e in vault.audit_events() if e.seq > before_events]
        assert actions[-1] == "vault.unlock"  # the failed command's unlock, then ours


def test_existing_output_files_are_not_replaced_without_force(tmp_path: Path) -> None:
    from conftest import make_vault

    path = tmp_path / "v"
    make_vault(path).lock()
    target = tmp_path / "exists.pem"
    target.write_text("mine")
    for argv in (("keys", "export-pub", "--key", "x", "--out", str(target)),
                 ("keys", "sign", "--key", "x", "--in", str(path / "header.json"), "--out",
                  str(target)),
                 ("keys", "csr", "--key", "x", "--subject", "CN=x", "--out", str(target))):
        one_line_error(run_cli(*argv, vault=path, passphrases=[PASSPHRASE]), 1,
                       "already exists", "--force")
        assert target.read_text() == "mine"


def test_backup_work_left_by_a_killed_process_is_removed(vault_dir: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    stale = vault_dir / f".backup-{dead.stdout.strip()}-abcd"
    stale.mkdir()
    (stale / "vault.db").write_bytes(b"half a copy")
    live = vault_dir / f".backup-{os.getpid()}-efgh"
    live.mkdir()
    remove_stale_work(vault_dir)
    assert not stale.exists() and live.exists()
    live.rmdir()
    stale.mkdir()
    assert run_cli("backup", "create", str(vault_dir.parent / "b.srbk"), vault=vault_dir,
                   passphrases=[PASSPHRASE]).code == 0
    assert not stale.exists() and not (vault_dir / BACKUP_DIR).exists()
