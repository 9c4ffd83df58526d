"""Whole ceremonies through the runner on SoftHSM2 with five operators: the shipped root-CA script
makes a root that openssl accepts for an intermediate issued in a second ceremony; confirmations
need the role's quorum and the witness; exceptions, resume, and refusals."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from strongroom.app.access import access_changes, approvals, operator_admin, policy
from strongroom.app.ceremony import runner, script
from strongroom.app.ceremony.actions import StepContext
from strongroom.app.errors import AccessDenied, Refused
from strongroom.app.keys import certificates
from strongroom.app.keys import tokens as key_tokens
from strongroom.app.keys.ports import KeyType
from strongroom.app.keyslots import PassphraseUnlocker, normalize_passphrase
from strongroom.app.vault import Vault

from conftest import PASSPHRASE
from helpers.softhsm import softhsm  # noqa: F401 - session fixture

SCRIPTS = Path(__file__).resolve().parents[1] / "resources" / "ceremonies"
PEOPLE = {"carol": ("Witness",), "bob": ("Crypto Officer",), "dave": ("Crypto Officer",),
          "erin": ("Crypto Officer",)}
OFFLINE = [("lo", 0x9), ("eth0", 0x1002)]  # loopback up, eth0 down (real ones: test_preflight)


def secret_of(name: str) -> str:
    return PASSPHRASE if name == "alice" else f"{name} ceremony pass 1"


@pytest.fixture(scope="module")
def team(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ceremony") / "vault"
    with Vault.create(path, normalize_passphrase(PASSPHRASE), kdf_time_ms=10,
                      actor="alice") as v:
        access_changes.set_policy(v, policy.Policy(operations=()))  # roles, not approvals
        operator_admin.set_roles(v, "alice", ["Administrator", "Ceremony Administrator"])
        for name, roles in PEOPLE.items():
            operator_admin.add_operator(v, name, secret_of(name).encode(), roles=list(roles),
                                        kdf_time_ms=10)
    return path


@pytest.fixture
def vault(team: Path, tmp_path: Path) -> Vault:
    copy = Path(shutil.copytree(team, tmp_path / "vault"))
    v = Vault.open(copy)
    v.unlock(PassphraseUnlocker.from_text(PASSPHRASE))
    yield v
    v.lock()


@pytest.fixture
def token(softhsm):  # noqa: F811 - the imported session fixture
    info, store = key_tokens.open_store("pkcs11", token=softhsm.take_token(), pin=softhsm.pin)
    yield info, store
    store.close()


def offline_roots(tmp_path: Path) -> tuple[list, Path]:
    proc_root = tmp_path / "proc"
    (proc_root / "net").mkdir(parents=True)
    (proc_root / "net" / "route").write_text("Iface\tDestination\tGateway\n")
    return list(OFFLINE), proc_root


def load(name: str, token_label: str) -> script.Script:
    text = (SCRIPTS / name).read_text().replace('label = "root-hsm"', f'label = "{token_label}"')
    return script.parse(text, name)


def ok(vault: Vault, run: runner.CeremonyRun, step: script.Step, *names: str) -> list:
    return [approvals.approve(vault, runner.STEP_OPERATION, runner.target(run.row.id, step.id),
                              n, PassphraseUnlocker.from_text(secret_of(n))) for n in names]


def drive(vault: Vault, run: runner.CeremonyRun, token: tuple, *, officers=("bob", "dave")
          ):
    info, store = token
    while (step := run.next_step()) is not None:
        role = run.script.roles[step.role]
        people = list(officers) if role.kind == "crypto-officer" else [role.operators[0]]
        ctx = StepContext(run.out, vault.clock.now(), store, info)
        run.run_step(step, ok(vault, run, step, *people, "carol"), ctx)
    return run.finish()


def test_a_root_ca_then_an_intermediate_that_openssl_verifies(vault: Vault, token,
                                                              tmp_path: Path) -> None:
    info, store = token
    links, proc_root = offline_roots(tmp_path)
    root = runner.CeremonyRun.start(vault, load("root-ca.toml", info.label), tmp_path / "root")
    found = run_preflight(run=root, info=info, store=store, interfaces=lambda: links,
                          proc_root=proc_root)
    assert all(f.ok for f in found)
    drive(vault, root, token)
    records = root.records()
    assert [r["type"] for r in records][-1] == "end"
    cert = root.out / "root-ca.crt"
    assert subprocess.run(["openssl", "verify", "-CAfile", str(cert), str(cert)],
                          capture_output=True, check=False).returncode == 0
    key_step = next(r for r in records if r["step"] == "root-key")
    assert key_step["data"]["confirmed_by"] == {"role": ["bob", "dave"], "witness": "carol"}
    assert len(key_step["data"]["key"]["words"]) == 32  # SHA-256 fingerprint as PGP words

    # The intermediate's own key makes a request outside the ceremony; the ceremony signs it.
    inter_key = store.generate("intermediate", KeyType.EcP256)
    second = runner.CeremonyRun.start(vault, load("intermediate.toml", info.label),
                                      tmp_path / "inter")
    (second.out / "intermediate.csr").write_bytes(
        certificates.build_csr(store, inter_key, "CN=Example Intermediate CA,O=Example"))
    shutil.copy(cert, second.out / "root-ca.crt")
    run_preflight(run=second, info=info, store=store, interfaces=lambda: links,
                  proc_root=proc_root)
    drive(vault, second, token, officers=("dave", "erin"))
    issued = second.out / "intermediate.crt"
    check = subprocess.run(["openssl", "verify", "-CAfile", str(cert), str(issued)],
                           capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stdout + check.stderr
    text = subprocess.run(["openssl", "x509", "-in", str(issued), "-noout", "-text"],
                          capture_output=True, text=True, check=True).stdout
    assert "CA:TRUE, pathlen:0" in text and "Certificate Sign, CRL Sign" in text


def run_preflight(*, run: runner.CeremonyRun, info, store, interfaces, proc_root: Path,
                  **more):
    return run.preflight(check_results={"disk-encryption": "PASS", "screen-lock": "PASS"},
                         tokens=lambda: [info], interfaces=interfaces, proc_root=proc_root,
                         clock_confirmation=clock_ok(run), **more)


def clock_ok(run: runner.CeremonyRun):
    return approvals.approve(run.vault, runner.CLOCK_OPERATION, runner.target(run.row.id,
                                                                              "clock"),
                             "carol", PassphraseUnlocker.from_text(secret_of("carol")))


def test_confirmations_need_the_quorum_the_witness_and_this_step(vault: Vault, token,
                                                                 tmp_path: Path) -> None:
    info, store = token
    run = runner.CeremonyRun.start(vault, load("root-ca.toml", info.label), tmp_path / "r")
    welcome = run.next_step()
    ctx = StepContext(run.out, vault.clock.now(), store, info)
    with pytest.raises(Refused, match="the preflight has not passed"):
        run.run_step(welcome, ok(vault, run, welcome, "alice", "carol"), ctx)
    links, proc_root = offline_roots(tmp_path)
    run_preflight(run=run, info=info, store=store, interfaces=lambda: links,
                  proc_root=proc_root)
    with pytest.raises(AccessDenied, match="needs the witness"):
        run.run_step(welcome, ok(vault, run, welcome, "alice"), ctx)
    run.run_step(welcome, ok(vault, run, welcome, "alice", "carol"), ctx)
    approve = run.next_step()
    with pytest.raises(AccessDenied, match="needs 2 of bob, dave, erin"):
        run.run_step(approve, ok(vault, run, approve, "bob", "carol"), ctx)
    with pytest.raises(AccessDenied, match="may not confirm"):
        run.run_step(approve, ok(vault, run, approve, "bob", "alice", "carol"), ctx)
    stale = ok(vault, run, welcome, "bob", "dave", "carol")  # confirmations of another step
    with pytest.raises(AccessDenied, match="different operation"):
        run.run_step(approve, stale, ctx)
    run.run_step(approve, ok(vault, run, approve, "bob", "erin", "carol"), ctx)
    assert run.done_steps() == {"welcome", "approve-start"}


def test_a_failed_preflight_stops_unless_the_witness_records_an_exception(
        vault: Vault, token, tmp_path: Path) -> None:
    info, store = token
    run = runner.CeremonyRun.start(vault, load("root-ca.toml", info.label), tmp_path / "r")
    links, proc_root = offline_roots(tmp_path)
    links[1] = ("eth0", 0x1003)  # eth0 up
    with pytest.raises(Refused, match="not offline: interfaces up: eth0"):
        run_preflight(run=run, info=info, store=store, interfaces=lambda: links,
                      proc_root=proc_root)
    witness = approvals.approve(vault, runner.EXCEPTION_OPERATION,
                                runner.target(run.row.id, "ceremony"), "carol",
                                PassphraseUnlocker.from_text(secret_of("carol")))
    run_preflight(run=run, info=info, store=store, interfaces=lambda: links,
                  proc_root=proc_root,
                  exceptions={"offline": ("the switch port is disabled at the wall", witness)})
    kinds = [r["type"] for r in run.records()]
    assert kinds == ["clock", "preflight", "clock", "preflight", "exception"]
    assert run.preflight_passed()
    assert run.records()[-1]["data"]["text"].startswith("preflight offline: the switch port")


def test_a_run_resumes_at_its_first_unrecorded_step(vault: Vault, token, tmp_path: Path
                                                    ) -> None:
    info, store = token
    run = runner.CeremonyRun.start(vault, load("root-ca.toml", info.label), tmp_path / "r")
    links, proc_root = offline_roots(tmp_path)
    run_preflight(run=run, info=info, store=store, interfaces=lambda: links,
                  proc_root=proc_root)
    for _ in range(4):  # welcome, approve-start, root-key, root-fingerprint
        step = run.next_step()
        role = run.script.roles[step.role]
        people = ["bob", "dave"] if role.kind == "crypto-officer" else ["alice"]
        run.run_step(step, ok(vault, run, step, *people, "carol"),
                     StepContext(run.out, vault.clock.now(), store, info))
    path, run_id = vault.path, run.row.id
    (run.out / "root-ca.crt").write_bytes(b"half-written before the crash")
    vault.lock()
    again = Vault.open(path)
    again.unlock(PassphraseUnlocker.from_text(PASSPHRASE))
    with again:
        resumed = runner.CeremonyRun.resume(again, run_id)
        assert resumed.next_step().id == "root-cert"
        drive(again, resumed, token)
        assert b"BEGIN CERTIFICATE" in (resumed.out / "root-ca.crt").read_bytes()
        assert [r["type"] for r in resumed.records()].count("resume") == 1
        with pytest.raises(Refused, match="finished"):
            runner.CeremonyRun.resume(again, run_id)


def test_only_a_ceremony_administrator_starts_it_and_operators_must_hold_their_roles(
        vault: Vault, tmp_path: Path) -> None:
    text = (SCRIPTS / "root-ca.toml").read_text()
    swapped = text.replace('["carol"]', '["erin"]').replace('"bob", "dave", "erin"',
                                                            '"bob", "dave", "carol"')
    with pytest.raises(script.ScriptInvalid, match="erin does not hold the Witness role"):
        runner.CeremonyRun.start(vault, script.parse(swapped), tmp_path / "a")
    bob = Vault.open(vault.path)
    bob.unlock(PassphraseUnlocker.from_text(secret_of("bob")))
    with bob, pytest.raises(AccessDenied, match="bob may not run key ceremonies"):
        runner.CeremonyRun.start(bob, script.parse(text), tmp_path / "b")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_the_signed_transcript_verifies_offline_and_a_swapped_output_does_not(
        vault: Vault, token, tmp_path: Path) -> None:
    """alice and carol sign the head with their security keys (the software authenticator
    through the real client), the new root key signs it too; verify checks all of it and every
    output file."""
    from strongroom.app.ceremony import signing, verify
    from strongroom.app.unlock_methods import HardwareUnlocker
    from strongroom.backends.fido2 import Fido2Source

    from helpers.soft_ctap2 import SoftAuthenticator

    info, store = token
    keys = {"alice": SoftAuthenticator(), "carol": SoftAuthenticator()}
    for name, device in keys.items():
        person = Vault.open(vault.path)
        person.unlock(PassphraseUnlocker.from_text(secret_of(name)))
        with person:
            person.add_hardware_slot(Fido2Source(lambda d=device: [d]), label=f"{name}'s key")
    links, proc_root = offline_roots(tmp_path)
    run = runner.CeremonyRun.start(vault, load("root-ca.toml", info.label), tmp_path / "r")
    run_preflight(run=run, info=info, store=store, interfaces=lambda: links,
                  proc_root=proc_root)
    transcript = drive(vault, run, token)
    for name, role in (("alice", "admin"), ("carol", "witness")):
        signing.sign_head_with_fido2(vault, transcript, name, role, HardwareUnlocker(
            Fido2Source(lambda d=keys[name]: [d]), vault.vault_id))
    root_key = next(k for k in store.list_keys() if k.label == "root-ca")
    signing.sign_head_with_key(store, root_key, transcript)
    path = tmp_path / "r" / "transcript.json"
    transcript.save(path)
    report = verify.verify_file(path, run.out)
    assert report.ok, report.first_problem
    assert report.files_checked == 2 and report.signatures_checked == 3  # crt, pub.pem
    [end] = vault.audit_events(action="ceremony.end")
    assert end.details["head"] == transcript.head
    (run.out / "root-ca.pub.pem").write_bytes((run.out / "root-ca.pub.pem").read_bytes() + b"\n")
    bad = verify.verify_file(path, run.out)
    assert not bad.ok and "root-ca.pub.pem is not the one the ceremony wrote" in bad.first_problem


def test_the_recovery_quorum_ceremony_splits_a_key_that_any_two_custodians_open(
        vault: Vault, tmp_path: Path) -> None:
    from strongroom.app.ceremony.recovery import RecoveryUnlocker

    text = (SCRIPTS / "vault-recovery.toml").read_text()
    run = runner.CeremonyRun.start(vault, script.parse(text), tmp_path / "q")
    links, proc_root = offline_roots(tmp_path)
    run.preflight(check_results={"disk-encryption": "PASS", "screen-lock": "PASS"}, tokens=None,
                  interfaces=lambda: links, proc_root=proc_root, clock_confirmation=clock_ok(run))
    handed: dict[str, str] = {}

    def lost(issued) -> None:  # the run stops while the shares are on screen
        raise KeyboardInterrupt

    def show(issued) -> None:
        handed.update({s.custodian: s.mnemonic for s in issued})

    run.run_step(run.next_step(), ok(vault, run, run.next_step(), "alice", "carol"),
                 StepContext(run.out, vault.clock.now()))  # welcome
    step = run.next_step()
    with pytest.raises(KeyboardInterrupt):
        run.run_step(step, ok(vault, run, step, "bob", "dave", "carol"),
                     StepContext(run.out, vault.clock.now()), show_shares=lost)
    assert not [s for s in vault.header.slots if s.kind == "recovery"]  # unseen shares: gone

    while (step := run.next_step()) is not None:
        role = run.script.roles[step.role]
        people = ["bob", "dave"] if role.kind == "crypto-officer" else ["alice"]
        run.run_step(step, ok(vault, run, step, *people, "carol"),
                     StepContext(run.out, vault.clock.now()), show_shares=show,
                     ask_share=lambda custodian: handed[custodian])
    run.finish()
    assert set(handed) == {"bob", "dave", "erin"}
    records = run.records()
    made = next(r for r in records if r["step"] == "shares")["data"]
    assert made["threshold"] == 2 and len(made["commitments"]) == 3
    assert len([s for s in vault.header.slots if s.kind == "recovery"]) == 1
    flat = " ".join(str(records).split())
    for share in handed.values():  # no three words of a share in a row (single words may be
        words = share.split()      # hex or fingerprint words by chance)
        assert not any(" ".join(words[i:i + 3]) in flat for i in range(len(words) - 2))
    assert next(r for r in records if r["step"] == "check")["data"]["verified"] == [
        "bob", "dave", "erin"]
    # The custodians' possession is reviewed like access: drilled at the verify step, so kept;
    # a reviewer who revokes one gets the remediation (a new quorum), nothing is run.
    from strongroom.app.access import reviews

    operator_admin.set_roles(vault, "carol", ["Witness", "Reviewer"])
    campaign = reviews.create_campaign(vault, "shares Q1", scope={"drills": True},
                                       reviewers=["carol"], due="2099-01-01")
    items = reviews.show(vault, campaign.id)["items"]
    assert [(i["kind"], i["subject"]["custodian"], i["recommendation"]) for i in items] == [
        ("drill", "bob", "keep"), ("drill", "dave", "keep"), ("drill", "erin", "keep")]
    carol = Vault.open(vault.path)
    carol.unlock(PassphraseUnlocker.from_text(secret_of("carol")))
    with carol:
        reviews.decide(carol, campaign.id, items[2]["id"], "revoke",
                       justification="erin left the company")
    outcome = reviews.close(vault, campaign.id)
    assert [r["principal"] for r in outcome["remediation"]] == ["erin"]
    assert "recovery quorum ceremony again without erin's share" in (
        outcome["remediation"][0]["command"])
    path = vault.path
    vault.lock()
    again = Vault.open(path)
    again.unlock(RecoveryUnlocker([handed["erin"], handed["bob"]]))
    with again:
        assert again.actor == "alice"  # the recovery slot opens as the administrator who made it


def test_a_ceremony_killed_mid_step_resumes_there_and_finishes(team: Path, softhsm,  # noqa: F811
                                                               tmp_path: Path) -> None:
    """SIGKILL after the root certificate is written and before its record: the run resumes at
    that step, writes the certificate again (the old one was never recorded), and finishes."""
    import signal
    import sys

    path = Path(shutil.copytree(team, tmp_path / "vault"))
    label = softhsm.take_token()
    child = Path(__file__).parent / "helpers" / "ceremony_child.py"
    lines = [PASSPHRASE] + [f"{n}={secret_of(n)}" for n in ("alice", "bob", "dave", "carol")]
    done = subprocess.run(["unshare", "-n", sys.executable, str(child), str(path),
                           str(tmp_path / "run"), label, softhsm.pin, "root-cert"],
                          input="\n".join(lines) + "\n",
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == -signal.SIGKILL, done.stderr
    run_id = done.stdout.split()[0]
    first = (tmp_path / "run" / "root-ca" / "root-ca.crt").read_bytes()
    v = Vault.open(path)
    v.unlock(PassphraseUnlocker.from_text(PASSPHRASE))
    with v:
        resumed = runner.CeremonyRun.resume(v, run_id)
        assert resumed.next_step().id == "root-cert"
        assert "root-cert" not in resumed.done_steps()
        info, store = key_tokens.open_store("pkcs11", token=label, pin=softhsm.pin)
        try:
            transcript = drive(v, resumed, (info, store))
        finally:
            store.close()
        again = (resumed.out / "root-ca.crt").read_bytes()
        assert again != first  # a new certificate (new serial), and the one the record names
        [out] = [r for r in transcript.records if r.type.value == "output"
                 and r.data["file"] == "root-ca.crt"]
        import hashlib
        assert out.data["sha256"] == hashlib.sha256(again).hexdigest()
        assert transcript.chain.problem() is None


def test_a_token_removed_mid_step_fails_that_step_and_the_run_goes_on_when_it_is_back(
        vault: Vault, softhsm, tmp_path: Path) -> None:  # noqa: F811
    from strongroom.app.errors import HardwareError

    label = softhsm.take_token()
    info, store = key_tokens.open_store("pkcs11", token=label, pin=softhsm.pin)
    try:
        run = runner.CeremonyRun.start(vault, load("root-ca.toml", label), tmp_path / "r")
        links, proc_root = offline_roots(tmp_path)
        run_preflight(run=run, info=info, store=store, interfaces=lambda: links,
                      proc_root=proc_root)
        for _ in range(2):  # welcome, approve-start
            step = run.next_step()
            people = ["bob", "dave"] if step.role == "officers" else ["alice"]
            run.run_step(step, ok(vault, run, step, *people, "carol"),
                         StepContext(run.out, vault.clock.now(), store, info))
        before = run.records()
        token_dir = softhsm.token_path(label)
        away = token_dir.parent / f"removed-{label}"
        token_dir.rename(away)  # the HSM is unplugged as the key is made
        step = run.next_step()
        with pytest.raises(HardwareError):
            run.run_step(step, ok(vault, run, step, "bob", "dave", "carol"),
                         StepContext(run.out, vault.clock.now(), store, info))
        assert run.records() == before  # nothing recorded for the failed step
        assert run.next_step().id == "root-key"
    finally:
        store.close()
    away.rename(token_dir)  # plugged back in: a new process resumes at the same step
    from conftest import run_cli

    path, run_id = vault.path, run.row.id
    vault.lock()
    lines = [PASSPHRASE]
    for role in ("officers", "admin", "officers", "admin", "admin", "admin"):
        lines += ([secret_of("alice")] if role == "admin"
                  else [secret_of("bob"), secret_of("dave")])
        lines.append(secret_of("carol"))
    done = run_cli("--json", "ceremony", "run", "--resume", run_id, vault=path,
                   passphrases=lines, pins=[softhsm.pin])
    assert done.code == 0, done.err
    assert (run.out / "root-ca.crt").exists()
