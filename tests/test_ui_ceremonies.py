"""The Ceremonies section over a real vault with five operators, driven through its widgets: the
library and Validate; a whole root-CA ceremony on SoftHSM2 with passphrase confirmations, the head
signed with software security keys and the saved transcript verified from Past ceremonies; a
failed preflight accepted with the witness's exception; the recovery-quorum ceremony's share
screens (each share shown to its custodian, then cleared) and typed shares; the share drills."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import datetime as dt
import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QWidget

from strongroom.app.access import access_changes, operator_admin, policy
from strongroom.app.ceremony import recovery
from strongroom.app.keyslots import PassphraseUnlocker, normalize_passphrase
from strongroom.app.vault import Vault
from strongroom.ui.ceremonies.drills import DrillDialog
from strongroom.ui.ceremonies.env import Environment
from strongroom.ui.ceremonies.exception_dialog import ExceptionDialog
from strongroom.ui.ceremonies.section import CeremoniesSection
from strongroom.ui.unlock.methods_model import COLUMNS, Column, SlotTableModel

from conftest import PASSPHRASE
from helpers.softhsm import softhsm  # noqa: F401 - session fixture
from helpers.ui_services import NoClipboard, SectionServices, make_services

WAIT_MS = 60_000
LEFT = Qt.MouseButton.LeftButton
SCRIPTS = Path(__file__).resolve().parents[1] / "resources" / "ceremonies"
PEOPLE = {"carol": ("Witness",), "bob": ("Crypto Officer",), "dave": ("Crypto Officer",),
          "erin": ("Crypto Officer",)}
OFFLINE = [("lo", 0x9), ("eth0", 0x1002)]  # loopback up, eth0 down
ONLINE = [("lo", 0x9), ("eth0", 0x1003)]


def secret_of(name: str) -> str:
    return PASSPHRASE if name == "alice" else f"{name} ceremony pass 1"


def passing_checks(vault: Vault) -> None:
    from strongroom.app.compliance import storage
    from strongroom.app.compliance.model import OS, CheckResult, Confidence, EvidenceBundle, Status

    results = [CheckResult(c, c, Status.Pass, "", "", "", "", Confidence.High, "test")
               for c in ("disk-encryption", "screen-lock")]
    storage.store_run(vault, EvidenceBundle(OS.Linux, vault._now(), {}), results, policy={},
                      source="test", exit_code=0)


@pytest.fixture(scope="module")
def team_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ceremonies") / "vault"
    with Vault.create(path, normalize_passphrase(PASSPHRASE), kdf_time_ms=10,
                      actor="alice") as v:
        access_changes.set_policy(v, policy.Policy(operations=()))
        operator_admin.set_roles(v, "alice", ["Administrator", "Ceremony Administrator"])
        for name, roles in PEOPLE.items():
            operator_admin.add_operator(v, name, secret_of(name).encode(), roles=list(roles),
                                        kdf_time_ms=10)
        passing_checks(v)
    return path


@pytest.fixture
def vault(team_dir: Path, tmp_path: Path) -> Iterator[Vault]:
    copy = Path(shutil.copytree(team_dir, tmp_path / "vault"))
    v = Vault.open(copy)
    v.unlock(PassphraseUnlocker.from_text(PASSPHRASE))
    yield v
    v.lock()


@pytest.fixture
def harness(qtbot) -> Iterator[SectionServices]:
    made = make_services(Path(os.environ["XDG_CONFIG_HOME"]) / "ceremonies.ini",
                         lambda _s: NoClipboard())
    yield made
    made.services.runner.cancel_all()
    made.services.runner.wait()


def fake_proc(tmp_path: Path) -> Path:
    root = tmp_path / "proc"
    (root / "net").mkdir(parents=True, exist_ok=True)
    (root / "net" / "route").write_text("Iface\tDestination\tGateway\n")
    return root


def open_section(qtbot, harness: SectionServices, vault: Vault, tmp_path: Path, *,
                 links=OFFLINE) -> CeremoniesSection:
    section = CeremoniesSection(harness.services)
    section.env = Environment(interfaces=lambda: list(links), proc_root=fake_proc(tmp_path))
    section.choose_folder = lambda _parent: tmp_path / "run"
    qtbot.addWidget(section)
    section.resize(1200, 820)
    section.show()
    section.vault_unlocked(vault)
    settle(qtbot, section)
    assert section.library.entries, harness.errors
    return section


def settle(qtbot, section: CeremoniesSection) -> None:
    qtbot.waitUntil(lambda: not section.services.runner.busy, timeout=WAIT_MS)
    qtbot.wait(20)


def click(qtbot, widget: QWidget) -> None:
    assert widget.isVisible() and widget.isEnabled(), widget.accessibleName()
    qtbot.mouseClick(widget, LEFT)


def problems(section: CeremoniesSection) -> list[str]:
    return [section.library.problems.item(i).text()
            for i in range(section.library.problems.count())]


def line_of(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if needle in line)


# ----- the library ---------------------------------------------------------------------------


def test_the_library_lists_the_shipped_scripts_and_validate_names_each_line(
        qtbot, harness, vault, tmp_path) -> None:
    section = open_section(qtbot, harness, vault, tmp_path)
    lib = section.library
    assert [lib.scripts.item(i).text() for i in range(lib.scripts.count())] == [
        "Sign an intermediate CA", "Offline root CA", "Vault recovery quorum"]
    from strongroom.ui.ceremonies.env import input_files

    inputs = {e.name: input_files(e.script) for e in lib.entries}
    assert inputs == {"intermediate.toml": ["intermediate.csr", "root-ca.crt"],
                      "root-ca.toml": [], "vault-recovery.toml": []}
    assert lib.select("root-ca.toml")
    assert lib.title.text() == "Offline root CA"
    assert "self-signed certificate" in lib.purpose.text()
    assert "officers — crypto-officer: 2 of bob, dave, erin" in lib.roles.text()
    assert "in this vault, Crypto Officer: bob, dave, erin" in lib.roles.text()
    assert "Token: pkcs11 root-hsm" in lib.preflight.text()
    assert "Generate the key root-ca (ec-p384)" in lib.steps.text()
    click(qtbot, lib.validate_button)
    settle(qtbot, section)
    assert lib.verdict.text().startswith("✓ Valid") and problems(section) == []

    # A script with a bad key type, and one naming an operator the vault does not have.
    text = (SCRIPTS / "root-ca.toml").read_text()
    broken = tmp_path / "broken.toml"
    broken.write_text(text.replace('type = "ec-p384"', 'type = "ec-p999"'))
    section.choose_script = lambda _parent: broken
    click(qtbot, lib.open_button)
    settle(qtbot, section)
    assert lib.current().name == "broken.toml" and "does not parse" in lib.purpose.text()
    assert not lib.start_button.isEnabled()
    click(qtbot, lib.validate_button)
    settle(qtbot, section)
    wanted = line_of(broken.read_text(), 'type = "ec-p999"')
    assert any(p.startswith(f"line {wanted}: ") and "ec-p999" in p for p in problems(section))
    assert lib.verdict.text().startswith("✗")

    stranger = tmp_path / "stranger.toml"
    stranger.write_text(text.replace('operators = ["carol"]', 'operators = ["mallory"]'))
    section.choose_script = lambda _parent: stranger
    click(qtbot, lib.open_button)
    settle(qtbot, section)
    click(qtbot, lib.validate_button)
    settle(qtbot, section)
    wanted = line_of(stranger.read_text(), '["mallory"]')
    assert problems(section) == [
        f"line {wanted}: role 'witness': no operator named 'mallory' in this vault"]
    assert lib.scripts.count() == 5  # both opened scripts stay in the list
    assert harness.errors == []


# ----- driving a run -------------------------------------------------------------------------


def confirm_step(qtbot, section: CeremoniesSection, officers=("bob", "dave")) -> None:
    """The role's people (officers: the two given) and the witness confirm; the step runs."""
    page = section.run_page.steps
    view = page.view
    assert view is not None
    names = list(officers) if view.role.kind == "crypto-officer" else [view.people[0]]
    names += list(view.witnesses)
    for name in names:
        row = next(r for r in page.rows if r.name == name)
        if row.done:
            continue
        row.passphrase.setText(secret_of(name))
        click(qtbot, row.button)
        qtbot.waitUntil(lambda r=row: r.done or "not" in r.status.text(), timeout=WAIT_MS)
        assert row.done, row.status.text()
    assert page.ready()
    assert all(r.passphrase.text() == "" for r in page.rows)
    click(qtbot, page.run_button)


def wait_result(qtbot, section: CeremoniesSection) -> None:
    page = section.run_page.steps
    qtbot.waitUntil(lambda: page.result_box.isVisible() or "not recorded" in
                    page.message.text(), timeout=WAIT_MS)
    assert page.result_box.isVisible(), page.message.text()


def start(qtbot, section: CeremoniesSection, name: str) -> None:
    assert section.library.select(name)
    click(qtbot, section.library.start_button)
    qtbot.waitUntil(lambda: section.pages.currentWidget() is section.run_page
                    and section.run_page.stack.currentWidget() is section.run_page.preflight
                    and bool(section.run_page.preflight.findings), timeout=WAIT_MS)
    settle(qtbot, section)


def confirm_clock(qtbot, section: CeremoniesSection) -> None:
    pre = section.run_page.preflight
    assert "The clock says" in pre.clock_now.text()
    [row] = pre.clock_rows
    assert row.name == "carol"
    row.passphrase.setText(secret_of("carol"))
    click(qtbot, row.button)
    qtbot.waitUntil(lambda: row.done or "not" in row.status.text(), timeout=WAIT_MS)
    assert row.done, row.status.text()


def verdicts(section: CeremoniesSection) -> dict[str, bool | None]:
    return {f.check: f.ok for f in section.run_page.preflight.findings}


def test_a_root_ca_ceremony_through_the_section_on_softhsm(qtbot, harness, vault, tmp_path,
                                                          softhsm) -> None:  # noqa: F811
    from strongroom.backends.fido2 import Fido2Source

    from helpers.soft_ctap2 import SoftAuthenticator

    keys = {"alice": SoftAuthenticator(), "carol": SoftAuthenticator()}
    for name, device in keys.items():
        person = Vault.open(vault.path)
        person.unlock(PassphraseUnlocker.from_text(secret_of(name)))
        with person:
            person.add_hardware_slot(Fido2Source(lambda d=device: [d]), label=f"{name}'s key")
    label = softhsm.take_token()
    script = tmp_path / "root.toml"
    script.write_text((SCRIPTS / "root-ca.toml").read_text().replace(
        'label = "root-hsm"', f'label = "{label}"'))
    section = open_section(qtbot, harness, vault, tmp_path)
    holder = {"device": keys["alice"]}
    section.env.sources = lambda kind: Fido2Source(lambda: [holder["device"]])
    section.choose_script = lambda _parent: script
    click(qtbot, section.library.open_button)
    settle(qtbot, section)

    start(qtbot, section, "root.toml")
    pre = section.run_page.preflight
    assert verdicts(section) == {"offline": True, "endpoint": True, "clock": True,
                                 "token": True, "output": True}
    assert "check run of" in pre.endpoint_note.text()
    assert pre.pin_row.isVisible() and not pre.continue_button.isEnabled()
    confirm_clock(qtbot, section)
    assert pre.continue_button.isEnabled()
    pre.pin.setText(softhsm.pin)
    click(qtbot, pre.continue_button)
    steps = section.run_page.steps
    qtbot.waitUntil(lambda: section.run_page.stack.currentWidget() is steps
                    or bool(pre.message.text()), timeout=WAIT_MS)
    assert pre.message.text() == ""
    settle(qtbot, section)

    # alice confirms the first step with her security key (an assertion over the approval).
    alice = next(r for r in steps.rows if r.name == "alice")
    assert alice.use_key.isVisible()
    alice.use_key.setChecked(True)
    assert not alice.passphrase.isVisible()
    click(qtbot, alice.button)
    qtbot.waitUntil(lambda: alice.done or alice.button.isEnabled(), timeout=WAIT_MS)
    assert alice.done and "with their security key" in alice.status.text()
    assert alice.approval.method == "fido2"
    seen_words = {}
    while steps.view is not None:
        view = steps.view
        assert steps.counter.text().startswith(f"Step {view.index} of 8")
        if view.role.kind == "crypto-officer":
            assert "2 of them confirm" in steps.who.text() and "carol" in steps.who.text()
            assert {r.name for r in steps.rows} == {"bob", "dave", "erin", "carol"}
        confirm_step(qtbot, section)
        wait_result(qtbot, section)
        seen_words[view.step.id] = [f.words_text for f in steps.result.fingerprints]
        click(qtbot, steps.next_button)
        settle(qtbot, section)
    assert len(seen_words["root-key"][0].split()) == 32  # the key's SHA-256 as PGP words
    assert len(seen_words["root-cert"]) == 2  # the key and the certificate file

    click(qtbot, steps.finish_button)
    finish = section.run_page.finish
    qtbot.waitUntil(lambda: section.run_page.stack.currentWidget() is finish, timeout=WAIT_MS)
    settle(qtbot, section)
    assert "root-ca signed the head on the token" in finish.key_note.text()
    assert set(finish.sign_buttons) == {"alice", "carol"}
    for name in ("alice", "carol"):
        holder["device"] = keys[name]
        click(qtbot, finish.sign_buttons[name])
        qtbot.waitUntil(lambda n=name: n not in finish.sign_buttons
                        or finish.sign_buttons[n].isEnabled(), timeout=WAIT_MS)
        settle(qtbot, section)
        assert f"{name} signed the head" in finish.message.text()
    assert not finish.unsigned.isVisible()
    click(qtbot, finish.save_button)
    settle(qtbot, section)
    assert "It verifies: " in finish.saved.text(), finish.saved.text()
    folder = tmp_path / "run"
    assert (folder / "transcript.json").exists() and (folder / "transcript.pdf").exists()
    saved = json.loads((folder / "transcript.json").read_text())
    assert {s.get("operator") or s.get("key") for s in saved["signatures"]} == {
        "alice", "carol", "root-ca"}

    click(qtbot, finish.back_button)
    settle(qtbot, section)
    past = section.past
    section.tabs.setCurrentWidget(past)
    assert past.table.column_texts(1) == ["finished"]
    assert past.table.select_key(past.runs[0].id)
    click(qtbot, past.verify_button)
    settle(qtbot, section)
    assert past.result.text().startswith("✓ OK"), past.result.text()
    assert "3 signatures, 2 output files" in past.result.text()
    (folder / "root-ca" / "root-ca.pub.pem").write_text("changed\n")
    click(qtbot, past.verify_button)
    settle(qtbot, section)
    assert "does not verify" in past.result.text()
    assert "root-ca.pub.pem" in past.result.text()
    assert harness.errors == []
    section.vault_locked()
    settle(qtbot, section)


NO_COUNTRY = "cabf.serverauth.ca.country_attribute_absent"


def test_a_lint_error_stops_the_step_until_the_witness_accepts_its_code(
        qtbot, harness, vault, tmp_path, softhsm) -> None:  # noqa: F811
    """The shipped root under the web PKI profile has no country: the step is refused, the
    witness records an exception naming the code, everyone confirms again and it issues."""
    label = softhsm.take_token()
    script = tmp_path / "root-web.toml"
    script.write_text((SCRIPTS / "root-ca.toml").read_text()
                      .replace('label = "root-hsm"', f'label = "{label}"')
                      .replace("days = 7300\n", "days = 7300\nweb_pki = true\n"))
    section = open_section(qtbot, harness, vault, tmp_path)
    section.choose_script = lambda _parent: script
    click(qtbot, section.library.open_button)
    settle(qtbot, section)
    start(qtbot, section, "root-web.toml")
    confirm_clock(qtbot, section)
    section.run_page.preflight.pin.setText(softhsm.pin)
    click(qtbot, section.run_page.preflight.continue_button)
    steps = section.run_page.steps
    qtbot.waitUntil(lambda: steps.view is not None, timeout=WAIT_MS)
    settle(qtbot, section)
    while steps.view.step.id != "root-cert":
        confirm_step(qtbot, section)
        wait_result(qtbot, section)
        click(qtbot, steps.next_button)
        settle(qtbot, section)
    confirm_step(qtbot, section)
    qtbot.waitUntil(lambda: "not recorded" in steps.message.text(), timeout=WAIT_MS)
    assert f"Lint errors: {NO_COUNTRY}" in steps.message.text()
    assert not any(r.done for r in steps.rows)  # the confirmations were spent
    click(qtbot, steps.exception_button)
    dialog = next(d for d in section.dialogs if isinstance(d, ExceptionDialog))
    dialog.text.setPlainText(f"Accept {NO_COUNTRY}: an internal root, no web PKI country.")
    dialog.rows[0].passphrase.setText(secret_of("carol"))
    click(qtbot, dialog.rows[0].button)
    qtbot.waitUntil(lambda: dialog not in section.dialogs, timeout=WAIT_MS)
    confirm_step(qtbot, section)
    wait_result(qtbot, section)
    texts = " ".join(w.text() for w in steps.result.findChildren(QLabel))
    assert f"accepted by the witness: {NO_COUNTRY}" in texts
    assert (tmp_path / "run" / "root-ca" / "root-ca.crt").exists()
    assert harness.errors == []


def test_a_failed_preflight_goes_on_with_the_witness_exception_and_shares_are_handed_out(
        qtbot, harness, vault, tmp_path) -> None:
    section = open_section(qtbot, harness, vault, tmp_path, links=ONLINE)
    start(qtbot, section, "vault-recovery.toml")
    pre = section.run_page.preflight
    assert verdicts(section)["offline"] is False and not pre.pin_row.isVisible()
    assert not pre.continue_button.isEnabled()
    click(qtbot, pre.accept_buttons["offline"])
    dialog = next(d for d in section.dialogs if isinstance(d, ExceptionDialog))
    [row] = dialog.rows
    row.passphrase.setText(secret_of("carol"))
    click(qtbot, row.button)  # no text yet: refused, nothing asked of the vault
    assert "writes what happened" in row.status.text()
    dialog.text.setPlainText("The switch port is disabled at the wall; checked by carol.")
    row.passphrase.setText(secret_of("dave"))  # not the witness's passphrase
    click(qtbot, row.button)
    qtbot.waitUntil(lambda: "not carol's" in row.status.text(), timeout=WAIT_MS)
    row.passphrase.setText(secret_of("carol"))
    click(qtbot, row.button)
    qtbot.waitUntil(lambda: dialog not in section.dialogs, timeout=WAIT_MS)
    assert "offline" in pre.exceptions and not pre.continue_button.isEnabled()
    confirm_clock(qtbot, section)
    assert pre.continue_button.isEnabled()

    # Full screen for the room, Escape leaves it.
    run = section.run_page
    run.full_screen.setChecked(True)
    assert section.window().isFullScreen()
    qtbot.keyClick(run.steps, Qt.Key.Key_Escape)
    assert not section.window().isFullScreen() and not run.full_screen.isChecked()

    click(qtbot, pre.continue_button)
    qtbot.waitUntil(lambda: run.stack.currentWidget() is run.steps, timeout=WAIT_MS)
    settle(qtbot, section)
    confirm_step(qtbot, section)  # welcome: alice and carol
    wait_result(qtbot, section)
    click(qtbot, run.steps.next_button)
    settle(qtbot, section)

    assert run.steps.view.step.kind == "create-shares"
    confirm_step(qtbot, section)
    handed: dict[str, str] = {}
    for _ in range(3):
        qtbot.waitUntil(lambda: run.stack.currentWidget() is run.share
                        and run.share.stack.currentWidget() is run.share.cover
                        and run.share.request is not None, timeout=WAIT_MS)
        custodian = run.share.cover_title.text().split(" for ")[1].removesuffix(" only")
        assert run.share.words.text() == ""
        click(qtbot, run.share.show_button)
        words = re.findall(r"<b>([a-z]+)</b>", run.share.words.text())
        assert len(words) in (20, 33) and custodian in run.share.sheet_title.text()
        handed[custodian] = " ".join(words)
        click(qtbot, run.share.hide_button)
        assert run.share.words.text() == ""  # cleared as soon as it is dismissed
    wait_result(qtbot, section)
    assert set(handed) == {"bob", "dave", "erin"}
    assert "Only commitments were kept" in " ".join(
        w.text() for w in run.steps.result.findChildren(QLabel))
    click(qtbot, run.steps.next_button)
    settle(qtbot, section)

    confirm_step(qtbot, section)  # check: each custodian types theirs
    for _ in range(3):
        qtbot.waitUntil(lambda: run.stack.currentWidget() is run.ask
                        and run.ask.request is not None, timeout=WAIT_MS)
        custodian = run.ask.request.custodian
        run.ask.field.setText(handed[custodian])
        click(qtbot, run.ask.check_button)
        assert run.ask.field.text() == ""
    wait_result(qtbot, section)
    click(qtbot, run.steps.next_button)
    settle(qtbot, section)
    click(qtbot, run.steps.finish_button)
    qtbot.waitUntil(lambda: run.stack.currentWidget() is run.finish, timeout=WAIT_MS)
    settle(qtbot, section)
    assert "alice and carol have no security key enrolled" in run.finish.unsigned.text()
    assert run.finish.save_button.text().startswith("Save the transcript unsigned")
    click(qtbot, run.finish.save_button)
    settle(qtbot, section)
    assert "It does not verify" in run.finish.saved.text()
    saved = json.loads((tmp_path / "run" / "transcript.json").read_text())
    kinds = [r["type"] for r in saved["records"]]
    assert kinds[:3] == ["clock", "preflight", "exception"] and kinds[-1] == "end"
    assert saved["records"][2]["data"]["text"].startswith("preflight offline: The switch port")
    flat = json.dumps(saved)
    for share in handed.values():  # no three words of a share in a row in the transcript
        words = share.split()
        assert not any(" ".join(words[i:i + 3]) in flat for i in range(len(words) - 2))
    assert harness.errors == []


def test_a_ceremony_left_half_way_resumes_from_past_ceremonies(qtbot, harness, vault,
                                                               tmp_path) -> None:
    section = open_section(qtbot, harness, vault, tmp_path)
    start(qtbot, section, "vault-recovery.toml")
    confirm_clock(qtbot, section)
    click(qtbot, section.run_page.preflight.continue_button)
    qtbot.waitUntil(lambda: section.run_page.stack.currentWidget() is section.run_page.steps,
                    timeout=WAIT_MS)
    settle(qtbot, section)
    confirm_step(qtbot, section)
    wait_result(qtbot, section)
    click(qtbot, section.run_page.steps.leave_button)
    settle(qtbot, section)
    assert section.pages.currentWidget() is section.home
    past = section.past
    section.tabs.setCurrentWidget(past)
    assert past.table.column_texts(1) == ["running"]
    past.table.select_key(past.runs[0].id)
    assert past.resume_button.text() == "Resume" and not past.verify_button.isEnabled()
    click(qtbot, past.resume_button)
    qtbot.waitUntil(lambda: section.run_page.steps.view is not None, timeout=WAIT_MS)
    settle(qtbot, section)
    assert section.run_page.steps.view.step.id == "shares"  # at the first unrecorded step
    assert section.run_page.steps.counter.text().startswith("Step 2 of 3")
    click(qtbot, section.run_page.steps.exception_button)
    dialog = next(d for d in section.dialogs if isinstance(d, ExceptionDialog))
    dialog.text.setPlainText("Erin arrived ten minutes late; identity checked again.")
    dialog.rows[0].passphrase.setText(secret_of("carol"))
    click(qtbot, dialog.rows[0].button)
    qtbot.waitUntil(lambda: dialog not in section.dialogs, timeout=WAIT_MS)
    assert "Exception recorded" in section.run_page.steps.message.text()
    [event] = vault.audit_events(action="ceremony.exception")
    assert event.details["step"] == "shares"
    assert harness.errors == []


def test_locking_while_a_share_is_shown_clears_it_and_records_no_step(qtbot, harness, vault,
                                                                     tmp_path) -> None:
    section = open_section(qtbot, harness, vault, tmp_path)
    start(qtbot, section, "vault-recovery.toml")
    confirm_clock(qtbot, section)
    run = section.run_page
    click(qtbot, run.preflight.continue_button)
    qtbot.waitUntil(lambda: run.steps.view is not None, timeout=WAIT_MS)
    settle(qtbot, section)
    confirm_step(qtbot, section)
    wait_result(qtbot, section)
    click(qtbot, run.steps.next_button)
    settle(qtbot, section)
    confirm_step(qtbot, section)
    qtbot.waitUntil(lambda: run.share.request is not None, timeout=WAIT_MS)
    click(qtbot, run.share.show_button)
    assert run.share.words.text()
    run_id = run.session.run.row.id
    section.services.runner.cancel_all()  # what the main window does when it locks
    section.vault_locked()
    assert run.share.words.text() == "" and run.share.request is None
    assert section.pages.currentWidget() is section.home
    settle(qtbot, section)
    from strongroom.app.ceremony import run_store

    assert "shares" not in {r["step"] for r in run_store.records(vault, run_id)}
    assert harness.errors == []


SHORT = """
[ceremony]
name = "Key handover"
purpose = "Record that the spare HSM changed hands"
version = 1

[roles.admin]
kind = "ceremony-administrator"
operators = ["alice"]

[roles.witness]
kind = "witness"
operators = ["carol"]

[roles.officers]
kind = "crypto-officer"
operators = ["bob", "dave"]
quorum = 1

[preflight]
offline = false
checks = []

[[steps]]
id = "hand-over"
kind = "instruction"
role = "admin"
text = "Hand the spare HSM to the witness."
"""


def test_a_finished_ceremony_whose_transcript_was_never_saved_is_signed_and_saved(
        qtbot, harness, vault, tmp_path) -> None:
    """The console closed after the end record: Past ceremonies offers to sign and save it."""
    from strongroom.app.access import approvals
    from strongroom.app.ceremony import runner, script
    from strongroom.app.ceremony.actions import StepContext

    def ok(operation: str, what: str, name: str):
        return approvals.approve(vault, operation, runner.target(run.row.id, what), name,
                                 PassphraseUnlocker.from_text(secret_of(name)))

    run = runner.CeremonyRun.start(vault, script.parse(SHORT), tmp_path / "run")
    run.preflight(check_results={}, tokens=None, proc_root=fake_proc(tmp_path),
                  interfaces=lambda: list(OFFLINE),
                  clock_confirmation=ok(runner.CLOCK_OPERATION, "clock", "carol"))
    step = run.next_step()
    run.run_step(step, [ok(runner.STEP_OPERATION, step.id, n) for n in ("alice", "carol")],
                 StepContext(run.out, vault.clock.now()))
    run.finish()
    section = open_section(qtbot, harness, vault, tmp_path)
    past = section.past
    section.tabs.setCurrentWidget(past)
    assert past.table.column_texts(6) == ["not saved"]
    past.table.select_key(run.row.id)
    assert past.resume_button.text() == "Sign and save…"
    click(qtbot, past.resume_button)
    finish = section.run_page.finish
    qtbot.waitUntil(lambda: section.run_page.stack.currentWidget() is finish, timeout=WAIT_MS)
    settle(qtbot, section)
    assert finish.finish.head == run.row.head
    click(qtbot, finish.save_button)
    settle(qtbot, section)
    assert (tmp_path / "run" / "transcript.json").exists()
    assert "did not sign the head" in finish.saved.text()
    click(qtbot, finish.back_button)
    settle(qtbot, section)
    assert past.table.column_texts(6) == ["saved"]
    past.table.select_key(run.row.id)
    assert not past.resume_button.isEnabled()
    click(qtbot, past.open_button)
    qtbot.waitUntil(lambda: any(d.isVisible() for d in section.dialogs), timeout=WAIT_MS)
    [dialog] = [d for d in section.dialogs if d.isVisible()]
    text = dialog.text.toPlainText()
    assert "hand-over" in text and "Signatures over the head:\n  none" in text
    assert harness.errors == []


# ----- share drills --------------------------------------------------------------------------


def test_the_drills_list_flags_overdue_holders_and_a_drill_checks_a_typed_share(
        qtbot, harness, vault, tmp_path) -> None:
    made = recovery.create_recovery_slot(vault, 2, ["bob", "dave", "erin"])
    mnemonic = {s.custodian: s.mnemonic for s in made.shares}
    section = open_section(qtbot, harness, vault, tmp_path)
    drills = section.drills
    section.tabs.setCurrentWidget(drills)
    assert drills.table.column_texts(2) == ["bob", "dave", "erin"]
    assert drills.table.column_texts(5) == ["ok"] * 3
    assert drills.summary.text() == "No drill is overdue."
    later = vault.clock.now() + dt.timedelta(days=400)
    section.env.now = lambda _v: later
    drills.refresh()
    settle(qtbot, section)
    assert drills.table.column_texts(5) == ["⚠ OVERDUE"] * 3
    assert drills.summary.text().startswith("⚠ 3 drills are overdue")
    assert drills.table.column_texts(3) == ["never"] * 3

    drills.table.select_key((made.share_set.id, 1))
    click(qtbot, drills.drill_button)
    dialog = next(d for d in section.dialogs if isinstance(d, DrillDialog))
    dialog.field.setText(mnemonic["dave"])  # another holder's share
    click(qtbot, dialog.ok_button)
    qtbot.waitUntil(lambda: "Try again" in dialog.message.text(), timeout=WAIT_MS)
    assert "not bob's" in dialog.message.text() and dialog.field.text() == ""
    dialog.field.setText(mnemonic["bob"])
    click(qtbot, dialog.ok_button)
    qtbot.waitUntil(lambda: dialog not in section.dialogs, timeout=WAIT_MS)
    settle(qtbot, section)
    assert "bob still holds share 1" in drills.result.text()
    assert drills.table.column_texts(3)[0] != "never"
    assert drills.table.column_texts(5)[0] == "⚠ OVERDUE"  # 400 days on, the drill was today
    assert harness.errors == []

    # Settings → Unlock methods says what the recovery slot is, and when it was last drilled.
    model = SlotTableModel()
    model.set_slots(vault.header.slots)
    row = next(i for i, s in enumerate(model.slots) if s.kind == "recovery")
    shown = model.data(model.index(row, COLUMNS.index(Column.Assurance)))
    today = vault.clock.now().date().isoformat()
    assert shown == f"possession: 2 of 3 SLIP-39 shares (last drill {today})"
    assert model.data(model.index(row, COLUMNS.index(Column.Kind))) == "Recovery shares"
