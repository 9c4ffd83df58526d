"""``strongroom unlock-method`` and ``--unlock`` with real devices' stand-ins: the TPM method
through the real CLI process on swtpm, the FIDO2 method through ``cli.main`` in this process on
software CTAP2 authenticators (a subprocess cannot reach them)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from strongroom.app import cli, unlock_methods
from strongroom.app.cli import unlock as cli_unlock
from strongroom.backends.fido2 import Fido2Source
from strongroom.backends.tpm import ENV_TCTI

from conftest import PASSPHRASE, Result, run_cli, secret_pipes, snapshot
from helpers.soft_ctap2 import SoftAuthenticator
from helpers.softhsm import USER_PIN, softhsm  # noqa: F401 - session fixture
from helpers.swtpm import swtpm_fixture  # noqa: F401 - session fixture

KEY_PIN = "4321"

# ----- TPM: the CLI as a process ------------------------------------------------------------------


def test_tpm_method_from_the_cli(swtpm, tmp_path: Path) -> None:
    vault = tmp_path / "v"
    env = {ENV_TCTI: swtpm.tcti}
    assert run_cli("init", "--kdf-time-ms", "10", vault=vault, passphrases=[PASSPHRASE]).code == 0
    added = run_cli("--json", "unlock-method", "add", "tpm", "--label", "Workstation TPM",
                    vault=vault, passphrases=[PASSPHRASE], env=env)
    assert added.code == 0, added.err
    slot = json.loads(added.out)["slot"]
    assert slot["kind"] == "tpm" and slot["label"] == "Workstation TPM"

    listed = run_cli("unlock-method", "list", vault=vault, env=env)
    assert listed.code == 0 and "Workstation TPM" in listed.text
    opened = run_cli("--unlock", "tpm", "--json", "secret", "list", vault=vault, env=env)
    assert opened.code == 0, opened.err
    tested = run_cli("--unlock", "tpm", "--json", "unlock-method", "test", slot["id"],
                     vault=vault, env=env)
    assert tested.code == 0 and json.loads(tested.out)["last_tested"]

    # Another TPM (here: none reachable at that TCTI) opens nothing and changes nothing.
    before = snapshot(vault)
    gone = run_cli("--unlock", "tpm", "secret", "list", vault=vault,
                   env={ENV_TCTI: f"swtpm:path={tmp_path / 'no-such-socket'}"})
    assert gone.code in (1, 4) and gone.err.count("\n") == 1, gone.err
    assert snapshot(vault) == before

    renamed = run_cli("unlock-method", "rename", slot["id"], "Desk TPM", vault=vault,
                      passphrases=[PASSPHRASE], env=env)
    assert renamed.code == 0, renamed.err
    removed = run_cli("unlock-method", "remove", slot["id"], vault=vault,
                      passphrases=[PASSPHRASE], env=env)
    assert removed.code == 0, removed.err
    after = run_cli("--unlock", "tpm", "secret", "list", vault=vault, env=env)
    assert after.code == 4 and after.err.count("\n") == 1


def test_tpm_method_with_a_pin_from_the_pin_fd(swtpm, tmp_path: Path) -> None:
    vault = tmp_path / "v"
    env = {ENV_TCTI: swtpm.tcti}
    assert run_cli("init", "--kdf-time-ms", "10", vault=vault, passphrases=[PASSPHRASE]).code == 0
    added = run_cli("--json", "unlock-method", "add", "tpm", "--tpm-pin", "--pcrs", "none",
                    vault=vault, passphrases=[PASSPHRASE], pins=["tpm-pin-7788"], env=env)
    assert added.code == 0, added.err
    opened = run_cli("--unlock", "tpm", "secret", "list", vault=vault, pins=["tpm-pin-7788"],
                     env=env)
    assert opened.code == 0, opened.err
    before = snapshot(vault)
    wrong = run_cli("--unlock", "tpm", "secret", "list", vault=vault, pins=["tpm-pin-0000"],
                    env=env)
    assert wrong.code == 4 and wrong.err.count("\n") == 1, wrong.err
    assert "tpm-pin-0000" not in wrong.err
    no_pin = run_cli("--unlock", "tpm", "secret", "list", vault=vault, env=env)
    assert no_pin.code == 2 and "--pin-fd" in no_pin.err
    assert snapshot(vault) == before


# ----- FIDO2: cli.main in this process ------------------------------------------------------------


@pytest.fixture
def keys(monkeypatch) -> list[SoftAuthenticator]:
    """The security keys 'plugged in' for the CLI: the FIDO2 method lists these instead of HID."""
    plugged: list[SoftAuthenticator] = []

    def load_source(kind: str):
        if kind == "fido2":
            return Fido2Source(lambda: list(plugged))
        return real(kind)

    real = unlock_methods.load_source
    monkeypatch.setattr(cli_unlock, "load_source", load_source)
    monkeypatch.setattr(unlock_methods, "load_source", load_source)
    return plugged


def run_main(capsys, *args: str, vault: Path, passphrases: list[str] | None = None,
             pins: list[str] | None = None) -> Result:
    options, fds = secret_pipes(passphrases, pins)
    argv = ["--vault", str(vault), *options]
    capsys.readouterr()
    try:
        code = cli.main(argv + list(args))
    finally:
        for fd in fds:
            os.close(fd)
    out, err = capsys.readouterr()
    return Result(code, out.encode(), err)


def test_fido2_method_from_the_cli(keys, capsys, tmp_path: Path) -> None:
    vault = tmp_path / "v"
    assert run_main(capsys, "init", "--kdf-time-ms", "10", vault=vault,
                    passphrases=[PASSPHRASE]).code == 0
    first, second, stranger = SoftAuthenticator(), SoftAuthenticator(pin=KEY_PIN), \
        SoftAuthenticator()

    keys[:] = [first]
    one = run_main(capsys, "--json", "unlock-method", "add", "fido2", "--label", "Blue key",
                   vault=vault, passphrases=[PASSPHRASE])
    assert one.code == 0, one.err
    assert "Touch your security key" in one.err
    assert any("one security key" in w or "second" in w for w in json.loads(one.out)["warnings"])

    keys[:] = [second]
    two = run_main(capsys, "--json", "unlock-method", "add", "fido2", "--label", "Backup key",
                   "--uv", "required", vault=vault, passphrases=[PASSPHRASE], pins=[KEY_PIN])
    assert two.code == 0, two.err
    assert json.loads(two.out)["warnings"] == []

    listed = run_main(capsys, "unlock-method", "list", vault=vault)
    assert "Blue key" in listed.text and "Backup key" in listed.text

    # Either key opens the vault; no passphrase is given.
    keys[:] = [first]
    assert run_main(capsys, "--unlock", "fido2", "secret", "list", vault=vault).code == 0
    keys[:] = [stranger, second]
    opened = run_main(capsys, "--unlock", "fido2", "secret", "list", vault=vault, pins=[KEY_PIN])
    assert opened.code == 0, opened.err
    assert stranger.touches_requested == 0  # the silent probe skipped the key holding nothing

    before = snapshot(vault)
    wrong_pin = run_main(capsys, "--unlock", "fido2", "secret", "list", vault=vault,
                         pins=["9999"])
    assert wrong_pin.code == 4 and "PIN" in wrong_pin.err, wrong_pin.err
    assert "9999" not in wrong_pin.err
    keys[:] = [stranger]
    wrong_key = run_main(capsys, "--unlock", "fido2", "secret", "list", vault=vault)
    assert wrong_key.code == 4 and wrong_key.err.strip().count("\n") == 0, wrong_key.err
    keys[:] = []
    none = run_main(capsys, "--unlock", "fido2", "secret", "list", vault=vault)
    assert none.code in (1, 4) and "security key" in none.err.lower(), none.err
    assert snapshot(vault) == before

    # Test, then remove the first key: the one-key warning comes back.
    slot_id = json.loads(one.out)["slot"]["id"]
    keys[:] = [first]
    tested = run_main(capsys, "--json", "--unlock", "fido2", "unlock-method", "test", slot_id,
                      vault=vault)
    assert tested.code == 0 and json.loads(tested.out)["ok"] is True, tested.err
    removed = run_main(capsys, "unlock-method", "remove", slot_id, vault=vault,
                       passphrases=[PASSPHRASE])
    assert removed.code == 0, removed.err
    left = json.loads(run_main(capsys, "--json", "unlock-method", "list", vault=vault).out)
    assert [s["label"] for s in left["slots"] if s["kind"] == "fido2"] == ["Backup key"]
    assert left["warnings"]


def test_fido2_two_factor_needs_the_passphrase_too(keys, capsys, tmp_path: Path) -> None:
    vault = tmp_path / "v"
    assert run_main(capsys, "init", "--kdf-time-ms", "10", vault=vault,
                    passphrases=[PASSPHRASE]).code == 0
    keys[:] = [SoftAuthenticator()]
    added = run_main(capsys, "--json", "unlock-method", "add", "fido2", "--two-factor",
                     vault=vault, passphrases=[PASSPHRASE])
    assert added.code == 0, added.err
    assert json.loads(added.out)["slot"]["two_factor"] is True
    both = run_main(capsys, "--unlock", "fido2", "secret", "list", vault=vault,
                    passphrases=[PASSPHRASE])
    assert both.code == 0, both.err
    before = snapshot(vault)
    key_only = run_main(capsys, "--unlock", "fido2", "secret", "list", vault=vault,
                        passphrases=["not the passphrase at all 12"])
    assert key_only.code == 4 and key_only.err.count("strongroom:") == 1, key_only.err
    assert "passphrase" in key_only.err.splitlines()[-1]
    after = snapshot(vault)
    assert "unlock-backoff.json" in after  # a failed unlock counts towards the back-off
    del after["unlock-backoff.json"]
    assert after == before


def test_pins_on_the_pin_fd_are_taken_in_the_order_asked(keys, capsys, softhsm,  # noqa: F811
                                                         tmp_path: Path) -> None:
    """--unlock with a key that needs its PIN, then a token login: line 1 is the security key's
    PIN, line 2 the token's."""
    token = softhsm.take_token()
    vault = tmp_path / "v"
    assert run_main(capsys, "init", "--kdf-time-ms", "10", vault=vault,
                    passphrases=[PASSPHRASE]).code == 0
    keys[:] = [SoftAuthenticator(pin=KEY_PIN)]
    assert run_main(capsys, "unlock-method", "add", "fido2", "--uv", "required", vault=vault,
                    passphrases=[PASSPHRASE], pins=[KEY_PIN]).code == 0
    made = run_main(capsys, "--json", "--unlock", "fido2", "keys", "generate", "--module",
                    softhsm.module, "--token", token, "--label", "k1", "--type", "ec-p256",
                    vault=vault, pins=[KEY_PIN, USER_PIN])
    assert made.code == 0, made.err
    assert json.loads(made.out)["label"] == "k1"
    swapped = run_main(capsys, "--unlock", "fido2", "keys", "generate", "--module",
                       softhsm.module, "--token", token, "--label", "k2", "--type", "ec-p256",
                       vault=vault, pins=[USER_PIN, KEY_PIN])
    assert swapped.code == 4 and "PIN" in swapped.err, swapped.err
    one = run_main(capsys, "--unlock", "fido2", "keys", "generate", "--module", softhsm.module,
                   "--token", token, "--label", "k3", "--type", "ec-p256", vault=vault,
                   pins=[KEY_PIN])
    assert one.code == 2 and "line 2" in one.err, one.err
