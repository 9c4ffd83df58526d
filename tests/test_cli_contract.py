"""The ``strongroom`` command line, end to end: every command of the contract run as a real process.

Passphrases always travel on a pipe given as ``--passphrase-fd``; secret values on stdin. Vaults
that a test only needs as a starting point are made in-process (one Argon2id derivation) to keep
the suite fast; everything the test is about goes through the CLI.
"""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from strongroom.app.model import Classification
from strongroom.app.vault import NewSecret

from conftest import OTHER_PASSPHRASE, PASSPHRASE, Result, make_vault, run_cli
from helpers import cli_checks, leaks
from helpers.cli_checks import one_line_error, run_argv

# conftest's vault_dir, copied from an empty vault made once per module
empty_template = cli_checks.empty_template
vault_dir = cli_checks.vault_dir

SECRET_KEYS = {
    "name", "classification", "owner", "note", "tags", "created", "updated", "expires",
    "rotation_due", "version", "kind",
}
EVENT_KEYS = {"seq", "ts", "actor", "action", "target", "outcome", "details", "hash"}


def _ok(result: Result, *phrases: str) -> str:
    assert result.code == 0, f"exit {result.code}: {result.err!r}"
    assert result.err == "", result.err
    text = result.out.decode("utf-8", errors="replace")
    for phrase in phrases:
        assert phrase in text, f"{phrase!r} not in {text!r}"
    return text


def _json(result: Result) -> Any:
    assert result.code == 0, f"exit {result.code}: {result.err!r}"
    return json.loads(result.out)


def _populate(path: Path, secrets: dict[str, tuple[bytes, Classification]]) -> None:
    """A new vault at ``path`` holding ``secrets`` (name -> value, level), made in-process."""
    with make_vault(path) as vault:
        for name, (value, level) in secrets.items():
            vault.add_secret(NewSecret(name=name, value=value, classification=level))


# ----- init ------------------------------------------------------------------------------------


def test_init_reads_the_passphrase_from_the_fd_and_reports_the_keyslot(tmp_path: Path) -> None:
    path = tmp_path / "new-vault"
    created = _json(
        run_cli("--json", "init", "--kdf-time-ms", "10", vault=path, passphrases=[PASSPHRASE])
    )
    assert set(created) == {"vault", "vault_id", "keyslot"}
    assert created["vault"] == str(path)
    header = json.loads((path / "header.json").read_text())
    assert created["vault_id"] == header["vault_id"]
    assert created["keyslot"]["kind"] == "passphrase"
    assert created["keyslot"]["params"]["kdf"] == "argon2id"
    assert (path / "vault.db").is_file()
    assert path.stat().st_mode & 0o077 == 0, "the vault directory must be private"
    # The vault opens with that passphrase and is empty.
    _ok(run_cli("secret", "list", vault=path, passphrases=[PASSPHRASE]), "(no secrets)")

    # A weak passphrase is refused before anything is created.
    weak = tmp_path / "weak"
    one_line_error(run_cli("init", vault=weak, passphrases=["password1"]), 1, "passphrase")
    assert not weak.exists()


# ----- secrets ---------------------------------------------------------------------------------


def test_add_and_get_round_trip_exact_bytes(vault_dir: Path) -> None:
    binary = bytes(range(256)) + b"\r\n\x00tail\n"
    text = b"s3cr3t value with a trailing newline\n"

    added = _json(
        run_cli(
            "--json", "secret", "add", "blob", "--classification", "high", "--tag", "ops",
            "--tag", "db", "--note", "a binary key", "--expires", "2031-01-31",
            vault=vault_dir, passphrases=[PASSPHRASE], stdin=binary,
        )
    )
    assert set(added) == SECRET_KEYS
    assert (added["name"], added["classification"], added["version"]) == ("blob", "high", 1)
    assert added["tags"] == ["db", "ops"]
    assert (added["note"], added["expires"]) == ("a binary key", "2031-01-31")
    out = _ok(run_cli("secret", "add", "txt", vault=vault_dir, passphrases=[PASSPHRASE],
                      stdin=text), "Added txt (moderate, version 1).")
    assert "s3cr3t" not in out

    got = run_cli("secret", "get", "blob", vault=vault_dir, passphrases=[PASSPHRASE])
    assert got.code == 0 and got.err == ""
    assert got.out == binary
    got = run_cli("secret", "get", "txt", vault=vault_dir, passphrases=[PASSPHRASE])
    assert got.out == text, "the trailing newline must survive"

    as_json = _json(run_cli("--json", "secret", "get", "blob", vault=vault_dir,
                            passphrases=[PASSPHRASE]))
    assert as_json["name"] == "blob" and as_json["version"] == 1
    assert base64.b64decode(as_json["value_base64"]) == binary

    one_line_error(
        run_cli("secret", "add", "txt", vault=vault_dir, passphrases=[PASSPHRASE], stdin=b"x"),
        1, "already exists",
    )


def test_update_history_versions_and_rm(vault_dir: Path) -> None:
    old, new = b"old-value-1111\n", b"new-value-2222\n"
    _ok(run_cli("secret", "add", "db", vault=vault_dir, passphrases=[PASSPHRASE], stdin=old))
    _ok(run_cli("secret", "update", "db", vault=vault_dir, passphrases=[PASSPHRASE], stdin=new),
        "Updated db (now version 2).")

    history = run_cli("--json", "secret", "history", "db", vault=vault_dir,
                      passphrases=[PASSPHRASE])
    assert b"value-" not in history.out
    versions = _json(history)
    assert versions["name"] == "db"
    assert [v["version"] for v in versions["versions"]] == [1, 2]
    assert set(versions["versions"][0]) == {"version", "created", "actor", "classification", "meta"}

    current = run_cli("secret", "get", "db", vault=vault_dir, passphrases=[PASSPHRASE])
    first = run_cli("secret", "get", "db", "--version", "1", vault=vault_dir,
                    passphrases=[PASSPHRASE])
    assert (current.code, current.out) == (0, new)
    assert (first.code, first.out) == (0, old)
    one_line_error(
        run_cli("secret", "get", "db", "--version", "3", vault=vault_dir, passphrases=[PASSPHRASE]),
        1, "no version 3",
    )

    deleted = _json(run_cli("--json", "secret", "rm", "db", vault=vault_dir,
                            passphrases=[PASSPHRASE]))
    assert deleted == {"name": "db", "deleted": True}
    one_line_error(
        run_cli("secret", "get", "db", "--version", "1", vault=vault_dir,
                passphrases=[PASSPHRASE]),
        1, "no secret named",
    )


def test_list_filters_and_never_prints_values(tmp_path: Path) -> None:
    path = tmp_path / "vault"
    values = {
        "prod-db-password": (b"VALUE-prod-7f3a91", Classification.Critical),
        "staging-api-token": (b"VALUE-stage-c0ffee", Classification.Moderate),
        "public-banner": (b"VALUE-banner-d00d", Classification.Public),
    }
    with make_vault(path) as vault:
        for name, (value, level) in values.items():
            vault.add_secret(NewSecret(name=name, value=value, classification=level,
                                       note="primary cluster" if "prod" in name else ""))

    def listing(*args: str) -> Result:
        result = run_cli("secret", "list", *args, vault=path, passphrases=[PASSPHRASE])
        assert result.code == 0, result.err
        for value, _ in values.values():
            assert value not in result.out, f"list printed a value with {args}"
            assert value.decode() not in result.err
        return result

    text = listing().text
    assert text.splitlines()[0].split()[:3] == ["NAME", "CLASS", "VER"]
    assert all(name in text for name in values)
    by_search = listing("--search", "prod").text
    assert "prod-db-password" in by_search and "staging" not in by_search
    by_level = listing("--classification", "public").text
    assert "public-banner" in by_level and "prod-db" not in by_level
    as_json = json.loads(listing("--json").out)
    assert [s["name"] for s in as_json] == sorted(values)
    assert all(set(s) == SECRET_KEYS for s in as_json)


def test_passphrase_change_takes_old_then_new_line(vault_dir: Path) -> None:
    # A weak new passphrase is refused and nothing changes.
    one_line_error(
        run_cli("passphrase", "change", vault=vault_dir, passphrases=[PASSPHRASE, "abc123abc"]),
        1, "passphrase",
    )
    _ok(run_cli("passphrase", "change", vault=vault_dir,
                passphrases=[PASSPHRASE, OTHER_PASSPHRASE]), "Passphrase changed.")
    one_line_error(run_cli("secret", "list", vault=vault_dir, passphrases=[PASSPHRASE]),
                   4, "passphrase does not open")
    one_line_error(run_cli("passphrase", "change", vault=vault_dir,
                           passphrases=[OTHER_PASSPHRASE]), 2, "second passphrase")
    _ok(run_cli("secret", "list", vault=vault_dir, passphrases=[OTHER_PASSPHRASE]))


def test_rotate_keeps_values_readable_logs_events_and_backs_up_first(tmp_path: Path) -> None:
    path = tmp_path / "vault"
    secrets = {
        "crit": (b"critical-value\x00\xff", Classification.Critical),
        "mod": (b"moderate-value\n", Classification.Moderate),
    }
    _populate(path, secrets)
    wrapped_before = json.loads((path / "header.json").read_text())["slots"][0]["wrapped"]

    rotated = _json(run_cli("--json", "rotate", "--level", "critical", vault=path,
                            passphrases=[PASSPHRASE]))
    assert rotated == {"rotated": ["critical"], "reencrypted_versions": 1}
    _ok(run_cli("rotate", vault=path, passphrases=[PASSPHRASE]), "Rotated the master key")

    header = json.loads((path / "header.json").read_text())
    assert header["slots"][0]["wrapped"] != wrapped_before, "the master key was not replaced"
    assert "next_wrapped" not in header["slots"][0]
    for name, (value, _) in secrets.items():
        got = run_cli("secret", "get", name, vault=path, passphrases=[PASSPHRASE])
        assert (got.code, got.out) == (0, value)

    events = _json(run_cli("--json", "audit", "show", "--limit", "500", vault=path,
                           passphrases=[PASSPHRASE]))
    actions = [e["action"] for e in events]
    assert "vault.rekey" in actions
    dek_targets = {e["target"] for e in events if e["action"] == "dek.rotate"}
    assert dek_targets == {c.value for c in Classification}
    # Each rotation's automatic backup precedes (has a lower sequence than) the rotation.
    seq = {a: min(e["seq"] for e in events if e["action"] == a) for a in set(actions)}
    assert seq["backup.auto"] < seq["dek.rotate"]

    autos = sorted((path / "backups").glob("auto-*.srbk"))
    assert [p.name.split("-", 2)[-1] for p in autos] == ["dek-critical.srbk", "rotate.srbk"]


# ----- audit -----------------------------------------------------------------------------------


def test_audit_verify_and_show_with_limit(vault_dir: Path) -> None:
    _ok(run_cli("audit", "verify", vault=vault_dir, passphrases=[PASSPHRASE]),
        "Audit log intact")
    shown = _ok(run_cli("audit", "show", "--limit", "2", vault=vault_dir,
                        passphrases=[PASSPHRASE]))
    assert len(shown.splitlines()) == 2
    events = _json(run_cli("--json", "audit", "show", "--limit", "3", vault=vault_dir,
                           passphrases=[PASSPHRASE]))
    assert len(events) == 3
    assert all(set(e) == EVENT_KEYS for e in events)
    assert [e["seq"] for e in events] == sorted((e["seq"] for e in events), reverse=True)
    assert events[0]["action"] == "vault.unlock"  # this very call's unlock, newest first


# ----- backups ---------------------------------------------------------------------------------


def test_backup_create_verify_restore(tmp_path: Path) -> None:
    path = tmp_path / "vault"
    secrets = {
        "alpha": (b"alpha-value\n", Classification.High),
        "beta": (bytes(range(200)), Classification.Low),
    }
    _populate(path, secrets)
    file = tmp_path / "vault.srbk"

    made = _json(run_cli("--json", "backup", "create", str(file), vault=path,
                         passphrases=[PASSPHRASE]))
    assert {"file", "vault_id", "counts", "audit_head", "bytes", "ok"} <= set(made)
    assert made["counts"]["secrets"] == 2 and made["ok"] is True
    assert file.stat().st_size == made["bytes"]
    assert file.stat().st_mode & 0o077 == 0

    _ok(run_cli("backup", "verify", str(file), vault=path, passphrases=[PASSPHRASE]),
        "Verified vault.srbk", "2 secrets")

    restored = tmp_path / "restored"
    _ok(run_cli("backup", "restore", str(file), "--to", str(restored),
                passphrases=[PASSPHRASE]), "Restored vault.srbk", f"New vault at {restored}")
    original_id = json.loads((path / "header.json").read_text())["vault_id"]
    assert json.loads((restored / "header.json").read_text())["vault_id"] == original_id
    got = run_cli("secret", "get", "beta", vault=restored, passphrases=[PASSPHRASE])
    assert (got.code, got.out) == (0, secrets["beta"][0])
    listed = _json(run_cli("--json", "secret", "list", vault=restored, passphrases=[PASSPHRASE]))
    assert [(s["name"], s["classification"]) for s in listed] == [
        ("alpha", "high"), ("beta", "low")
    ]


# ----- invocation ------------------------------------------------------------------------------


def test_without_a_console_front_end_no_command_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import importlib.metadata

    from strongroom.app import cli

    # app.plugins imports importlib.metadata when it looks for an entry point, not before.
    monkeypatch.setattr(importlib.metadata, "entry_points", lambda group: [])
    assert cli.main([]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "console is not installed" in err


def test_version_is_the_same_through_the_script_and_the_module() -> None:
    script = Path(sys.executable).parent / "strongroom"
    assert script.exists(), "make test installs the strongroom script"
    version = run_argv(["--version"], python_m=False)
    assert version.code == 0 and version.out.startswith(b"strongroom ")
    assert run_argv(["--version"]).out == version.out


def test_global_options_are_accepted_after_the_subcommand(vault_dir: Path) -> None:
    added = _json(run_argv(
        ["secret", "add", "late", "--vault", str(vault_dir), "--passphrase-fd", "{fd}", "--json"],
        passphrases=[PASSPHRASE], stdin=b"late-value",
    ))
    assert added["name"] == "late"
    got = _json(run_argv(
        ["--json", "secret", "get", "late", "--passphrase-fd", "{fd}", "--vault", str(vault_dir)],
        passphrases=[PASSPHRASE],
    ))
    assert got["value"] == "late-value"


def test_strongroom_vault_env_is_honoured_and_vault_option_wins(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    _populate(a, {"only-in-a": (b"a", Classification.Low)})
    _populate(b, {"only-in-b": (b"b", Classification.Low)})
    from_env = _ok(run_cli("secret", "list", passphrases=[PASSPHRASE],
                           env={"STRONGROOM_VAULT": str(a)}))
    assert "only-in-a" in from_env and "only-in-b" not in from_env
    overridden = _ok(run_cli("secret", "list", vault=b, passphrases=[PASSPHRASE],
                             env={"STRONGROOM_VAULT": str(a)}))
    assert "only-in-b" in overridden and "only-in-a" not in overridden


# ----- no leaks --------------------------------------------------------------------------------

LEAK_PASSPHRASE = "Quixotic zephyr marmalade 7731 obelisk"
LEAK_NEW_PASSPHRASE = "Pellucid narwhal trombone 4408 quagmire"
LEAK_WRONG_PASSPHRASE = "Xylophone dromedary 2291 wrong guess"
LEAK_VALUE = b"sr-LEAK-VALUE-5f1c9e2a7b-first\n"
LEAK_VALUE_2 = b"sr-LEAK-VALUE-93d0aa41c8-second"


def test_secrets_never_leak_into_files_output_or_audit(tmp_path: Path) -> None:
    path, tmp = tmp_path / "vault", tmp_path / "tmpdir"
    tmp.mkdir()
    env = {"TMPDIR": str(tmp)}  # anything that uses a temporary file lands here
    outputs: list[bytes] = []

    def cli(
        *args: str, pp: list[str], stdin: bytes = b"", code: int = 0, keep: bool = True
    ) -> Result:
        result = run_cli(*args, vault=path, passphrases=pp, stdin=stdin, env=env)
        assert result.code == code, (args, result.err)
        if keep:
            outputs.append(result.out)
        outputs.append(result.err.encode())
        return result

    pp = [LEAK_PASSPHRASE]
    cli("init", "--kdf-time-ms", "10", pp=pp)
    cli("secret", "add", "api-key", "--classification", "critical", "--note", "quarterly",
        pp=pp, stdin=LEAK_VALUE)
    got = cli("secret", "get", "api-key", pp=pp, keep=False)  # the one output a value may be in
    assert got.out == LEAK_VALUE
    cli("secret", "update", "api-key", pp=pp, stdin=LEAK_VALUE_2)
    cli("secret", "list", pp=pp)
    cli("secret", "list", pp=[LEAK_WRONG_PASSPHRASE], code=4)
    backup = tmp_path / "leak.srbk"
    cli("backup", "create", str(backup), pp=pp)
    run = run_cli("backup", "restore", str(backup), "--to", str(tmp_path / "restored"),
                  passphrases=pp, env=env)
    assert run.code == 0, run.err
    outputs += [run.out, run.err.encode()]
    cli("rotate", pp=pp)
    cli("passphrase", "change", pp=[LEAK_PASSPHRASE, LEAK_NEW_PASSPHRASE])
    shown = cli("--json", "audit", "show", "--limit", "500", pp=[LEAK_NEW_PASSPHRASE])
    actions = {e["action"] for e in json.loads(shown.out)}
    assert {"secret.create", "secret.read", "secret.update", "passphrase.change"} <= actions
    report = json.loads(cli("--json", "audit", "verify", pp=[LEAK_NEW_PASSPHRASE]).out)
    assert report["ok"] is True and report["anchor"] == "match"
    assert set(report) >= {"ok", "events", "head_seq", "head_hash", "anchor", "reason"}

    secrets = [LEAK_VALUE, LEAK_VALUE_2] + [
        p.encode() for p in (LEAK_PASSPHRASE, LEAK_NEW_PASSPHRASE, LEAK_WRONG_PASSPHRASE)
    ]
    needles = [form for s in secrets for form in leaks.forms(s)]
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name == "vault.db" for p in files) and backup in files
    assert any(p.parent.name == "backups" for p in files), "rotate made no automatic backup"
    for file in files:
        data = file.read_bytes()
        for needle in needles:
            assert needle not in data, f"a secret is in {file.relative_to(tmp_path)}"
    for out in outputs:
        for needle in needles:
            assert needle not in out, f"a secret was printed: {out[:200]!r}"
    assert list(tmp.iterdir()) == [], "the run left temporary files behind"
