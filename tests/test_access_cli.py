"""The access commands as scripts use them: operator, grant, policy, --operator, --approver; exit
codes and one-sentence errors; nothing written on a refusal; no secret in argv or output."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from strongroom.app.access import access_changes, operator_admin
from strongroom.app.keyslots import PassphraseUnlocker
from strongroom.app.vault import Vault

from conftest import PASSPHRASE, run_cli, snapshot

BOB = "bob pass phrase 77"
CAROL = "carol pass phrase 88"


def cli(*args: str, vault: Path, passphrases: list[str], approver: str | None = None,
        stdin: bytes = b"") -> tuple[int, dict | None, str]:
    """Run strongroom --json with passphrases on one fd and the approver's on another."""
    fds: list[int] = []
    cmd = [sys.executable, "-m", "strongroom", "--vault", str(vault), "--json"]
    for text, option in ((passphrases, "--passphrase-fd"), ([approver] if approver else None,
                                                            "--approver-passphrase-fd")):
        if text is None:
            continue
        r, w = os.pipe()
        os.write(w, ("\n".join(text) + "\n").encode())
        os.close(w)
        fds.append(r)
        cmd += [option, str(r)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("STRONGROOM_")}
    try:
        proc = subprocess.run(cmd + list(args), input=stdin, capture_output=True,
                              pass_fds=tuple(fds), env=env, timeout=120, check=False)
    finally:
        for fd in fds:
            os.close(fd)
    out = proc.stdout.decode().strip()
    return proc.returncode, json.loads(out) if out else None, proc.stderr.decode()


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Made once through the CLI; each test gets a copy (another folder: its own witness)."""
    path = tmp_path_factory.mktemp("access-cli") / "v"
    assert run_cli("init", "--kdf-time-ms", "10", vault=path,
                   passphrases=[PASSPHRASE, PASSPHRASE]).code == 0
    for name, level in (("db/prod", "critical"), ("web/token", "high")):
        code, _, err = cli("secret", "add", name, "--classification", level, vault=path,
                           passphrases=[PASSPHRASE], stdin=f"value of {name}".encode())
        assert code == 0, err
    code, _, err = cli("operator", "add", "bob", "--role", "Custodian", "--kdf-time-ms", "10",
                       vault=path, passphrases=[PASSPHRASE, BOB])
    assert code == 0, err
    code, grant, err = cli("grant", "add", "bob", "read", "level:high", "--justification",
                           "on call", vault=path, passphrases=[PASSPHRASE])
    assert code == 0 and grant["scope"] == "level:high", err
    return path


@pytest.fixture
def shared(template: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(template, tmp_path / "v"))


def test_an_operator_acts_as_themselves_and_a_refusal_is_exit_6(shared: Path) -> None:
    code, out, err = cli("--operator", "bob", "secret", "get", "web/token", vault=shared,
                         passphrases=[BOB])
    assert (code, out["value"]) == (0, "value of web/token"), err
    before = snapshot(shared)
    code, out, err = cli("--operator", "bob", "secret", "get", "db/prod", vault=shared,
                         passphrases=[BOB])
    assert code == 6 and out["error"] == "AccessDenied"
    assert err.count("\n") == 1 and "no list grant on secret 'db/prod'" in err
    assert "value of" not in err
    assert snapshot(shared) != before  # the refusal itself is an audit event
    code, out, _ = cli("audit", "show", "--action", "access.denied", vault=shared,
                       passphrases=[PASSPHRASE])
    assert code == 0 and [e["actor"] for e in out] == ["bob"]


def test_bobs_passphrase_does_not_open_alices_slots(shared: Path) -> None:
    code, out, _ = cli("--operator", "bob", "secret", "list", vault=shared,
                       passphrases=[PASSPHRASE])
    assert code == 4 and out["error"] == "WrongPassphrase"


def test_the_two_person_rule_from_the_command_line(shared: Path) -> None:
    code, _, err = cli("operator", "add", "carol", "--role", "Administrator", "--role",
                       "Custodian", "--kdf-time-ms", "10", vault=shared,
                       passphrases=[PASSPHRASE, CAROL])
    assert code == 0, err
    before = snapshot(shared)
    code, out, err = cli("secret", "get", "db/prod", vault=shared, passphrases=[PASSPHRASE])
    assert code == 6 and "two-person operation" in err and "bob, carol" in err
    code, out, err = cli("--approver", "carol", "secret", "get", "db/prod", vault=shared,
                         passphrases=[PASSPHRASE], approver=CAROL)
    assert (code, out["value"]) == (0, "value of db/prod"), err
    code, out, err = cli("--approver", "carol", "secret", "get", "db/prod", vault=shared,
                         passphrases=[PASSPHRASE], approver=BOB)
    assert code == 4 and "not carol's" in err
    code, out, err = cli("--approver", "nobody", "secret", "get", "db/prod", vault=shared,
                         passphrases=[PASSPHRASE], approver=BOB)
    assert code == 1 and "no operator named 'nobody'" in err
    code, out, _ = cli("audit", "show", "--action", "secret.read", vault=shared,
                       passphrases=[PASSPHRASE])
    [read] = [e for e in out if e["target"] == "db/prod"]
    assert read["details"]["approval"]["approver"] == "carol"
    assert CAROL not in json.dumps(out) and PASSPHRASE not in json.dumps(out)
    del before


@pytest.mark.parametrize("args, code, message", [
    (("grant", "add", "nobody", "read", "level:high", "--justification", "x"), 1,
     "no operator named 'nobody'"),
    (("grant", "add", "bob", "read", "secret:missing", "--justification", "x"), 1,
     "no secret named 'missing'"),
    (("grant", "add", "bob", "read", "shelf:a", "--justification", "x"), 2, "invalid scope"),
    (("grant", "add", "bob", "fly", "level:high", "--justification", "x"), 2, "invalid choice"),
    (("grant", "revoke", "999", "--reason", "x"), 1, "no grant 999"),
    (("operator", "add", "bob", "--role", "Custodian"), 2, "already exists"),
    (("operator", "add", "eve", "--role", "Wizard"), 2, "unknown role 'Wizard'"),
    (("operator", "suspend", "ghost"), 1, "no operator named 'ghost'"),
])
def test_bad_input_is_one_sentence_with_its_exit_code_and_changes_nothing(
        shared: Path, args: tuple[str, ...], code: int, message: str) -> None:
    def state() -> tuple[object, object]:
        v = Vault.open(shared)
        v.unlock(PassphraseUnlocker.from_text(PASSPHRASE))
        with v:
            return ([o.to_json() for o in operator_admin.list_operators(v)],
                    [g.to_json() for g, _ in access_changes.list_grants(v, include_revoked=True)])

    before = state()
    got, _out, err = cli(*args, vault=shared, passphrases=[PASSPHRASE, "eve pass phrase 11"])
    assert got == code and message in err, err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert state() == before


def test_operator_list_shows_roles_methods_and_factor_warnings(shared: Path) -> None:
    code, out, err = cli("operator", "list", vault=shared, passphrases=[PASSPHRASE])
    assert code == 0, err
    bob = next(o for o in out["operators"] if o["name"] == "bob")
    assert bob["roles"] == ["Custodian"] and len(bob["unlock_methods"]) == 1
    assert any("bob has a single unlock method" in w["message"] for w in out["warnings"])
    code, out, _ = cli("--operator", "bob", "operator", "list", vault=shared, passphrases=[BOB])
    assert {w["operator"] for w in out["warnings"]} == {"bob"}  # only his own


def test_policy_set_refuses_a_bad_file_and_takes_a_good_one(shared: Path, tmp_path: Path
                                                            ) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"reveal_levels": ["secret"]}))
    code, _, err = cli("policy", "set", str(bad), vault=shared, passphrases=[PASSPHRASE])
    assert code == 2 and "unknown classification 'secret'" in err
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"reveal_levels": [], "health_levels": ["critical"]}))
    code, out, err = cli("policy", "set", str(good), vault=shared, passphrases=[PASSPHRASE])
    assert code == 0, err
    code, out, _ = cli("policy", "show", vault=shared, passphrases=[PASSPHRASE])
    assert out["reveal_levels"] == [] and out["health_levels"] == ["critical"]
    code, out, err = cli("secret", "get", "db/prod", vault=shared, passphrases=[PASSPHRASE])
    assert code == 6 and "device-health gate" in err
