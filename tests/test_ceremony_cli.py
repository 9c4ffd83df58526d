"""``strongroom ceremony`` as a process: validate names lines (exit 2), run walks the shipped
root-CA script on SoftHSM2 with each person's passphrase on the fd, list shows it, and verify
refuses the unsigned transcript (exit 3) until the administrator and witness sign it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from strongroom.app.access import access_changes, operator_admin, policy
from strongroom.app.keyslots import normalize_passphrase
from strongroom.app.vault import Vault

from conftest import PASSPHRASE, run_cli
from helpers.softhsm import softhsm  # noqa: F401 - session fixture
from helpers.swtpm import swtpm_fixture  # noqa: F401 - session fixture

SCRIPTS = Path(__file__).resolve().parents[1] / "resources" / "ceremonies"
PEOPLE = {"carol": "Witness", "bob": "Crypto Officer", "dave": "Crypto Officer",
          "erin": "Crypto Officer"}


def secret(name: str) -> str:
    return PASSPHRASE if name == "alice" else f"{name} cli ceremony 7"


def test_validate_names_the_line_and_exits_2(tmp_path: Path) -> None:
    good = run_cli("--json", "ceremony", "validate", str(SCRIPTS / "root-ca.toml"))
    assert good.code == 0 and json.loads(good.out)["valid"] is True
    bad = tmp_path / "bad.toml"
    bad.write_text((SCRIPTS / "root-ca.toml").read_text().replace('type = "ec-p384"',
                                                                  'type = "ec-p999"'))
    result = run_cli("ceremony", "validate", str(bad))
    assert result.code == 2
    line = next(i for i, t in enumerate(bad.read_text().splitlines(), 1) if "ec-p999" in t)
    assert result.out.decode().strip() == (f"bad.toml line {line}: step 'root-key': unknown "
                                           "key type 'ec-p999'")


def test_a_root_ca_ceremony_from_the_command_line(softhsm, tmp_path: Path) -> None:  # noqa: F811
    label = softhsm.take_token()
    path = tmp_path / "vault"
    with Vault.create(path, normalize_passphrase(PASSPHRASE), kdf_time_ms=10,
                      actor="alice") as v:
        access_changes.set_policy(v, policy.Policy(operations=()))
        operator_admin.set_roles(v, "alice", ["Administrator", "Ceremony Administrator"])
        for name, role in PEOPLE.items():
            operator_admin.add_operator(v, name, secret(name).encode(), roles=[role],
                                        kdf_time_ms=10)
    script = tmp_path / "root-ca.toml"
    script.write_text((SCRIPTS / "root-ca.toml").read_text()
                      .replace('label = "root-hsm"', f'label = "{label}"')
                      .replace("offline = true", "offline = false"))  # CI has a network
    # Each step: its role's people until the quorum (bob, dave; alice for hers), then carol.
    lines = [PASSPHRASE, secret("carol")]  # the administrator, then the witness for the clock
    for role in ("admin", "officers", "officers", "admin", "officers", "admin", "admin",
                 "admin"):
        lines += ([secret("alice")] if role == "admin" else [secret("bob"), secret("dave")])
        lines.append(secret("carol"))
    folder = tmp_path / "run"
    store_checks(path)
    result = run_cli("--json", "ceremony", "run", str(script), "--folder", str(folder),
                     vault=path, passphrases=lines, pins=[softhsm.pin])
    assert result.code == 0, result.err
    done = json.loads(result.out)
    assert (folder / "root-ca" / "root-ca.crt").exists()
    assert (folder / "transcript.pdf").read_bytes().startswith(b"%PDF-")
    listed = json.loads(run_cli("--json", "ceremony", "list", vault=path,
                                passphrases=[PASSPHRASE]).out)
    [row] = listed["ceremonies"]
    assert row["status"] == "finished" and row["head"] == done["head"]
    check = run_cli("ceremony", "verify", done["transcript"], "--files",
                    str(folder / "root-ca"))
    assert check.code == 3 and "did not sign the head" in check.err
    assert check.err.count("\n") == 1
    signed = run_cli("--json", "ceremony", "sign", done["ceremony"], "--key", "root-ca",
                     vault=path, passphrases=[PASSPHRASE], pins=[softhsm.pin])
    assert signed.code == 0, signed.err
    assert json.loads(signed.out)["signatures"] == 1
    still = run_cli("ceremony", "verify", done["transcript"])
    assert still.code == 3 and "Ceremony Administrator alice" in still.err  # FIDO2 still due


def store_checks(path: Path) -> None:
    """A passing check run in the vault (the preflight's endpoint checks read the newest)."""
    from strongroom.app.compliance import storage
    from strongroom.app.compliance.model import (
        OS,
        CheckResult,
        Confidence,
        EvidenceBundle,
        Status,
    )
    from strongroom.app.keyslots import PassphraseUnlocker

    v = Vault.open(path)
    v.unlock(PassphraseUnlocker.from_text(PASSPHRASE))
    with v:
        results = [CheckResult(c, c, Status.Pass, "", "", "", "", Confidence.High, "test")
                   for c in ("disk-encryption", "screen-lock")]
        storage.store_run(v, EvidenceBundle(OS.Linux, v._now(), {}), results, policy={},
                          source="test", exit_code=0)


@pytest.fixture(autouse=True)
def _no_leftover(tmp_path: Path):
    yield
    shutil.rmtree(tmp_path, ignore_errors=True)


def test_a_lint_error_is_accepted_only_with_the_witness(softhsm, tmp_path: Path) -> None:  # noqa: F811
    """The shipped root under the web PKI profile lacks a country: refused (exit 2, nothing
    signed) until --accept-lint names the code and the witness confirms; then it issues and the
    record keeps the accepted code."""
    label = softhsm.take_token()
    path = tmp_path / "vault"
    with Vault.create(path, normalize_passphrase(PASSPHRASE), kdf_time_ms=10,
                      actor="alice") as v:
        access_changes.set_policy(v, policy.Policy(operations=()))
        operator_admin.set_roles(v, "alice", ["Administrator", "Ceremony Administrator"])
        for name, role in PEOPLE.items():
            operator_admin.add_operator(v, name, secret(name).encode(), roles=[role],
                                        kdf_time_ms=10)
    store_checks(path)
    def script_for(token: str) -> Path:
        made = tmp_path / f"root-ca-{token}.toml"
        made.write_text((SCRIPTS / "root-ca.toml").read_text()
                        .replace('label = "root-hsm"', f'label = "{token}"')
                        .replace("offline = true", "offline = false")
                        .replace("days = 7300\n", "days = 7300\nweb_pki = true\n"))
        return made

    script = script_for(label)
    officers = [secret("bob"), secret("dave"), secret("carol")]
    admin = [secret("alice"), secret("carol")]
    before_cert = [PASSPHRASE, secret("carol"), *admin, *officers, *officers, *admin]
    refused = run_cli("ceremony", "run", str(script), "--folder", str(tmp_path / "a"),
                      vault=path, passphrases=[*before_cert, *officers], pins=[softhsm.pin])
    assert refused.code == 2 and NO_COUNTRY in refused.err
    assert not (tmp_path / "a" / "root-ca" / "root-ca.crt").exists()
    rest = [*admin, *admin, *admin]
    second = softhsm.take_token()  # the first token keeps the key made before the refusal
    done = run_cli("--json", "ceremony", "run", str(script_for(second)), "--folder",
                   str(tmp_path / "b"),
                   "--accept-lint", f"{NO_COUNTRY}=an internal root, no web PKI country",
                   vault=path, pins=[softhsm.pin],
                   passphrases=[*before_cert, *officers, secret("carol"), *officers, *rest])
    assert done.code == 0, done.err
    cert = tmp_path / "b" / "root-ca" / "root-ca.crt"
    assert cert.exists()
    v = Vault.open(path)
    from strongroom.app.ceremony import run_store
    from strongroom.app.keyslots import PassphraseUnlocker
    v.unlock(PassphraseUnlocker.from_text(PASSPHRASE))
    with v:
        ceremony = json.loads(done.out)["ceremony"]
        records = run_store.records(v, ceremony)
    step = next(r for r in records if r["step"] == "root-cert" and r["type"] == "step")
    assert [a["code"] for a in step["data"]["lint"]["accepted"]] == [NO_COUNTRY]
    assert any(r["type"] == "exception" and NO_COUNTRY in r["data"]["text"] for r in records)


NO_COUNTRY = "cabf.serverauth.ca.country_attribute_absent"


TPM_SCRIPT = """
[ceremony]
name = "A signing root in the TPM"
purpose = "Generate a key in this machine's TPM and its self-signed certificate"

[roles.admin]
kind = "ceremony-administrator"
operators = ["alice"]

[roles.witness]
kind = "witness"
operators = ["carol"]

[roles.officers]
kind = "crypto-officer"
operators = ["bob", "dave"]
quorum = 2

[preflight]
offline = false
token = { store = "tpm" }
output = "tpm"

[[steps]]
id = "key"
kind = "generate-key"
role = "officers"
label = "tpm-root"
type = "ec-p256"

[[steps]]
id = "cert"
kind = "self-signed-root"
role = "officers"
key = "tpm-root"
subject = "CN=TPM Root,O=Example"
days = 365
output = "tpm-root.crt"
"""


def test_a_ceremony_key_in_the_tpm(swtpm, tmp_path: Path) -> None:
    """The key is made in swtpm (its blob kept in the vault) and certifies itself; openssl
    accepts the certificate."""
    import subprocess

    path = tmp_path / "vault"
    with Vault.create(path, normalize_passphrase(PASSPHRASE), kdf_time_ms=10,
                      actor="alice") as v:
        access_changes.set_policy(v, policy.Policy(operations=()))
        operator_admin.set_roles(v, "alice", ["Administrator", "Ceremony Administrator"])
        for name, role in PEOPLE.items():
            operator_admin.add_operator(v, name, secret(name).encode(), roles=[role],
                                        kdf_time_ms=10)
    store_checks(path)
    script = tmp_path / "tpm.toml"
    script.write_text(TPM_SCRIPT)
    officers = [secret("bob"), secret("dave"), secret("carol")]
    done = run_cli("--json", "ceremony", "run", str(script), "--folder", str(tmp_path / "r"),
                   vault=path, passphrases=[PASSPHRASE, secret("carol"), *officers, *officers],
                   env={"STRONGROOM_TPM_TCTI": swtpm.tcti})
    assert done.code == 0, done.err
    cert = tmp_path / "r" / "tpm" / "tpm-root.crt"
    checked = subprocess.run(["openssl", "verify", "-CAfile", str(cert), str(cert)],
                             capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr
