"""Hardware unlock in the console (offscreen Qt, real vaults, real backends): the lock screen's
methods, the PIN dialog and touch note, cancel, errors, and Settings → Unlock methods — on a file
keyring (keyrings.alt), swtpm and the software CTAP2 authenticator."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import shiboken6
from keyring.backends import fail
from keyrings.alt.file import PlaintextKeyring
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget

from strongroom.app.errors import BackendUnavailable
from strongroom.app.keyslots import PASSPHRASE as PASSPHRASE_KIND
from strongroom.app.keyslots import normalize_passphrase
from strongroom.app.unlock_methods import SlotSecretSource
from strongroom.app.vault import Vault
from strongroom.backends.fido2 import HINT, Fido2Source
from strongroom.backends.keyring import SERVICE, KeyringSource
from strongroom.backends.tpm import TpmSealSource
from strongroom.ui.unlock.hw_prompts import QtPrompts, hardware_message, run_with_prompts
from strongroom.ui.unlock.lock_screen import KEYRING_NOTE, LockScreen
from strongroom.ui.unlock.methods_model import COLUMNS, Column
from strongroom.ui.unlock.methods_view import UnlockMethodsPanel
from strongroom.ui.unlock.pin_dialog import PinDialog
from strongroom.ui.workers import Task, TaskRunner

from conftest import PASSPHRASE, make_vault
from helpers.soft_ctap2 import PIN_RETRIES_MAX, SoftAuthenticator
from helpers.swtpm import other_swtpm_fixture, swtpm_fixture  # noqa: F401 - session fixtures
from helpers.ui_services import NoClipboard, SectionServices, make_services

WAIT_MS = 60_000
LEFT = Qt.MouseButton.LeftButton
TPM_PIN = "4711-ui-test-pin"  # distinctive, to search the logs for
KEY_PIN = "90210"


@dataclass

@dataclass
class FixedPin:
    """Prompts for set-up outside the UI: always the same PIN; touches are only counted."""

    pin: str
    touches: int = 0

    def prompt_touch(self, device: str) -> None:
        self.touches += 1

    def request_pin(self, device: str, retries: int | None, *, new: bool = False) -> str | None:
        return self.pin


def sources_from(table: dict[str, SlotSecretSource]) -> Callable[[str], SlotSecretSource]:
    """The ``sources`` factory a view takes: the test's backends; other kinds are not installed."""

    def source(kind: str) -> SlotSecretSource:
        if kind not in table:
            raise BackendUnavailable(f"no {kind} backend in this test")
        return table[kind]

    return source


def click(qtbot, widget: QWidget) -> None:
    assert widget.isVisible() and widget.isEnabled(), widget.accessibleName()
    qtbot.mouseClick(widget, LEFT)


def finish(qtbot, task: Task | None) -> None:
    assert task is not None
    qtbot.waitUntil(lambda: task.done, timeout=WAIT_MS)


@pytest.fixture
def file_keyring(tmp_path: Path) -> PlaintextKeyring:
    kr = PlaintextKeyring()
    kr.file_path = str(tmp_path / "keyring" / "keyring_pass.cfg")
    return kr


@pytest.fixture
def runner(qtbot) -> Iterator[TaskRunner]:
    runner = TaskRunner()
    yield runner
    runner.cancel_all()
    runner.wait()


@pytest.fixture
def harness(qtbot, tmp_path: Path) -> Iterator[SectionServices]:
    harness = make_services(tmp_path / "s.ini", lambda _s: NoClipboard())
    yield harness
    harness.services.runner.cancel_all()
    harness.services.runner.wait()


def lock_screen_for(qtbot, runner: TaskRunner, path: Path,
                    sources: Callable[[str], SlotSecretSource]) -> tuple[LockScreen, Vault]:
    vault = Vault.open(path)
    screen = LockScreen(runner, sources=sources)
    qtbot.addWidget(screen)
    screen.show()
    screen.show_vault(vault)
    qtbot.waitUntil(lambda: screen._check is None and not runner.busy, timeout=WAIT_MS)
    return screen, vault


def unlock_with(qtbot, screen: LockScreen, kind: str) -> Vault:
    with qtbot.waitSignal(screen.unlocked, timeout=WAIT_MS) as signal:
        click(qtbot, screen.hw_buttons[kind])
    return signal.args[0]


def gone(dialog: QWidget) -> bool:
    return not shiboken6.isValid(dialog) or not dialog.isVisible()


def wait_for_pin_dialog(qtbot, prompts: QtPrompts) -> PinDialog:
    qtbot.waitUntil(lambda: prompts.pin_dialog is not None and prompts.pin_dialog.isVisible(),
                    timeout=WAIT_MS)
    dialog = prompts.pin_dialog
    assert dialog is not None
    return dialog


def answer_pin(qtbot, dialog: PinDialog, pin: str) -> None:
    qtbot.keyClicks(dialog.pin, pin)
    if dialog.new:
        qtbot.keyClicks(dialog.confirm, pin)
    click(qtbot, dialog.ok_button)


# ----- lock screen -------------------------------------------------------------------------------


def test_lock_screen_lists_the_methods_and_unlocks_with_the_keyring(
    qtbot, runner: TaskRunner, tmp_path: Path, file_keyring, swtpm
) -> None:
    keyring, tpm = KeyringSource(file_keyring), TpmSealSource(swtpm.tcti)
    with make_vault(tmp_path / "v") as vault:
        vault.add_hardware_slot(keyring, label="laptop")
        vault.add_hardware_slot(tpm, label="board TPM", options={"pcrs": []})
    screen, locked = lock_screen_for(
        qtbot, runner, tmp_path / "v", sources_from({"keyring": keyring, "tpm": tpm}))

    items = [screen.methods.item(i).text() for i in range(screen.methods.count())]
    assert items == ["Passphrase", "OS keyring — laptop", "TPM — board TPM"]
    assert set(screen.hw_buttons) == {"keyring", "tpm"}  # no security key enrolled: no button
    assert screen.hw_buttons["keyring"].text() == "Unlock with this device's keyring"
    assert screen.hw_notes["keyring"].text() == KEYRING_NOTE
    assert "Lower assurance" in KEYRING_NOTE
    assert all(b.isEnabled() for b in screen.hw_buttons.values())

    vault = unlock_with(qtbot, screen, "keyring")
    assert vault is locked and vault.unlocked
    assert vault.audit_events(action="vault.unlock")[0].details["kind"] == "keyring"
    assert not screen.cancel_button.isVisible() and not screen.progress.isVisible()
    vault.lock()


def test_unavailable_methods_are_disabled_with_their_reason(
    qtbot, runner: TaskRunner, harness: SectionServices, tmp_path: Path, file_keyring
) -> None:
    with make_vault(tmp_path / "v") as vault:
        vault.add_hardware_slot(KeyringSource(file_keyring), label="laptop")
    table: dict[str, SlotSecretSource] = {"keyring": KeyringSource(fail.Keyring())}
    no_store = sources_from(table)
    screen, _locked = lock_screen_for(qtbot, runner, tmp_path / "v", no_store)
    button, note = screen.hw_buttons["keyring"], screen.hw_notes["keyring"]
    assert not button.isEnabled()
    assert "no OS credential store is available" in button.toolTip()
    assert note.isVisible() and "no OS credential store is available" in note.text()
    assert screen.start_hardware("keyring") is None  # refused without a click too
    assert screen.unlock_button.isEnabled() and screen.passphrase.isEnabled()

    # The store appears (a device plugged in, a service started): "Check again" finds it.
    table["keyring"] = KeyringSource(file_keyring)
    click(qtbot, screen.recheck_button)
    qtbot.waitUntil(lambda: button.isEnabled(), timeout=WAIT_MS)
    assert note.text() == KEYRING_NOTE and not screen.recheck_button.isVisible()
    table["keyring"] = KeyringSource(fail.Keyring())

    panel = UnlockMethodsPanel(harness.services, sources=no_store)
    qtbot.addWidget(panel)
    panel.show()
    with Vault.open(tmp_path / "v") as vault:
        vault.unlock(unlocker_for())
        panel.vault_unlocked(vault)
        qtbot.waitUntil(lambda: bool(panel.available), timeout=WAIT_MS)
        assert not panel.add_keyring_button.isEnabled()
        assert "no OS credential store" in panel.add_keyring_button.toolTip()
        assert not panel.add_key_button.isEnabled() and not panel.add_tpm_button.isEnabled()
        assert "no fido2 backend in this test" in panel.add_key_button.toolTip()
        shown = panel.not_here.text()
        assert "OS keyring: no OS credential store" in shown and "TPM: no tpm backend" in shown
        panel.vault_locked()


def unlocker_for(passphrase: str = PASSPHRASE):
    from strongroom.app.keyslots import PassphraseUnlocker

    return PassphraseUnlocker.from_text(passphrase)


def test_tpm_pin_dialog_wrong_then_right(
    qtbot, qtlog, caplog, runner: TaskRunner, tmp_path: Path, swtpm
) -> None:
    caplog.set_level(logging.DEBUG)
    tpm = TpmSealSource(swtpm.tcti)
    screen = LockScreen(runner, sources=sources_from({"tpm": tpm}))
    qtbot.addWidget(screen)
    screen.show()
    # Enrolment through QtPrompts too: a new PIN, typed twice in the dialog.
    vault = make_vault(tmp_path / "v")
    task = run_with_prompts(
        runner, screen.prompts, "enrol",
        lambda c, p: vault.add_hardware_slot(tpm, label="pinned", options={"pcrs": [], "pin": True},
                                             prompts=screen.prompts, cancel=c, on_status=p))
    dialog = wait_for_pin_dialog(qtbot, screen.prompts)
    assert dialog.new and dialog.confirm.isVisible()
    assert dialog.pin.echoMode() == dialog.pin.EchoMode.Password
    qtbot.keyClicks(dialog.pin, TPM_PIN)
    qtbot.keyClicks(dialog.confirm, TPM_PIN + "x")
    click(qtbot, dialog.ok_button)
    assert dialog.isVisible() and "differ" in dialog.error.text()
    dialog.confirm.setText(TPM_PIN)
    click(qtbot, dialog.ok_button)
    finish(qtbot, task)
    vault.lock()

    screen.show_vault(vault)
    qtbot.waitUntil(lambda: screen.hw_buttons["tpm"].isEnabled(), timeout=WAIT_MS)
    click(qtbot, screen.hw_buttons["tpm"])
    dialog = wait_for_pin_dialog(qtbot, screen.prompts)
    assert not dialog.new and not dialog.confirm.isVisible()
    assert dialog.attempts.isVisible() and "attempts left" in dialog.attempts.text()
    assert not screen.hw_buttons["tpm"].isEnabled() and screen.cancel_button.isVisible()
    answer_pin(qtbot, dialog, "not-the-pin")
    qtbot.waitUntil(lambda: "Wrong PIN" in screen.status.text(), timeout=WAIT_MS)
    assert "attempts left" in screen.status.text() and screen.status.text().endswith(".")
    assert not vault.unlocked and screen.hw_buttons["tpm"].isEnabled()

    with qtbot.waitSignal(screen.unlocked, timeout=WAIT_MS):
        click(qtbot, screen.hw_buttons["tpm"])
        answer_pin(qtbot, wait_for_pin_dialog(qtbot, screen.prompts), TPM_PIN)
    assert vault.unlocked and screen.prompts.pin_dialog is None
    vault.lock()
    for text in [caplog.text, *(r.message for r in qtlog.records)]:
        assert TPM_PIN not in text


def test_cancel_while_the_pin_is_asked_leaves_the_vault_locked(
    qtbot, runner: TaskRunner, tmp_path: Path, swtpm
) -> None:
    tpm = TpmSealSource(swtpm.tcti)
    with make_vault(tmp_path / "v") as vault:
        vault.add_hardware_slot(tpm, label="pinned", options={"pcrs": [], "pin": True},
                                prompts=FixedPin(TPM_PIN))
    screen, vault = lock_screen_for(qtbot, runner, tmp_path / "v", sources_from({"tpm": tpm}))
    click(qtbot, screen.hw_buttons["tpm"])
    dialog = wait_for_pin_dialog(qtbot, screen.prompts)
    click(qtbot, screen.cancel_button)  # the lock screen's Cancel, not the dialog's
    qtbot.waitUntil(lambda: screen.status.text() == "Unlock cancelled.", timeout=WAIT_MS)
    assert gone(dialog) and screen.prompts.pin_dialog is None
    assert not vault.unlocked and not runner.busy
    assert screen.hw_buttons["tpm"].isEnabled() and screen.passphrase.isEnabled()

    # The dialog's own Cancel is the same: nothing unlocked, nothing shown as an error.
    click(qtbot, screen.hw_buttons["tpm"])
    click(qtbot, wait_for_pin_dialog(qtbot, screen.prompts).cancel_button)
    qtbot.waitUntil(lambda: screen.status.text() == "Unlock cancelled.", timeout=WAIT_MS)
    assert not vault.unlocked

    # The screen is still usable: the passphrase opens the vault.
    with qtbot.waitSignal(screen.unlocked, timeout=WAIT_MS):
        qtbot.keyClicks(screen.passphrase, PASSPHRASE)
        click(qtbot, screen.unlock_button)
    assert vault.unlocked
    vault.lock()


def test_closing_the_window_during_a_pin_prompt_cancels_it(
    qtbot, tmp_path: Path, swtpm
) -> None:
    from PySide6.QtCore import QSettings

    from strongroom.ui.main_window import MainWindow
    from strongroom.ui.settings.store import ConsoleSettings

    tpm = TpmSealSource(swtpm.tcti)
    with make_vault(tmp_path / "v") as vault:
        vault.add_hardware_slot(tpm, label="pinned", options={"pcrs": [], "pin": True},
                                prompts=FixedPin(TPM_PIN))
    settings = ConsoleSettings(QSettings(str(tmp_path / "c.ini"), QSettings.Format.IniFormat))
    window = MainWindow(tmp_path / "v", settings=settings, sections=[])
    qtbot.addWidget(window)
    window.show()
    screen = window.lock_screen
    qtbot.waitUntil(lambda: screen._check is None, timeout=WAIT_MS)  # the installed backends'
    screen.sources = sources_from({"tpm": tpm})
    screen.show_vault(window.vault)
    qtbot.waitUntil(lambda: screen.hw_buttons["tpm"].isEnabled(), timeout=WAIT_MS)
    click(qtbot, screen.hw_buttons["tpm"])
    wait_for_pin_dialog(qtbot, screen.prompts)
    try:
        window.quit()  # cancels the job: the worker stops waiting for the PIN
        assert window.runner.wait(1_000), "the worker still waits for a PIN nobody is asked"
    finally:
        window.runner.cancel_all()
    assert not window.vault.unlocked and not window.is_unlocked


def test_another_tpm_is_refused_in_one_sentence(
    qtbot, runner: TaskRunner, tmp_path: Path, swtpm, other_swtpm
) -> None:
    with make_vault(tmp_path / "v") as vault:
        vault.add_hardware_slot(TpmSealSource(swtpm.tcti), label="board", options={"pcrs": []})
    screen, vault = lock_screen_for(qtbot, runner, tmp_path / "v",
                                    sources_from({"tpm": TpmSealSource(other_swtpm.tcti)}))
    click(qtbot, screen.hw_buttons["tpm"])
    qtbot.waitUntil(lambda: screen.status.property("role") == "error", timeout=WAIT_MS)
    text = screen.status.text()
    assert text.startswith("TPM keyslot board was sealed to another TPM") and text.endswith(".")
    assert "\n" not in text and not vault.unlocked


def test_a_changed_pcr_says_what_to_do(qtbot, runner: TaskRunner, tmp_path: Path, swtpm) -> None:
    from helpers.swtpm import extend_pcr

    debug_pcr = 16  # resettable; each test enrols against its current value
    tpm = TpmSealSource(swtpm.tcti)
    with make_vault(tmp_path / "v") as vault:
        vault.add_hardware_slot(tpm, label="sealed", options={"pcrs": [debug_pcr]})
    extend_pcr(swtpm.tcti, debug_pcr)
    screen, vault = lock_screen_for(qtbot, runner, tmp_path / "v", sources_from({"tpm": tpm}))
    click(qtbot, screen.hw_buttons["tpm"])
    qtbot.waitUntil(lambda: screen.status.property("role") == "error", timeout=WAIT_MS)
    assert screen.status.text() == (
        "The TPM's PCR 16 state changed since this slot was enrolled (e.g. Secure Boot "
        "settings); unlock with another method and re-enrol.")
    assert not vault.unlocked and screen.passphrase.isEnabled()


def test_a_two_factor_slot_needs_the_passphrase_typed_first(
    qtbot, runner: TaskRunner, tmp_path: Path, swtpm
) -> None:
    tpm = TpmSealSource(swtpm.tcti)
    with make_vault(tmp_path / "v") as vault:
        vault.add_hardware_slot(tpm, label="2fa", options={"pcrs": []},
                                passphrase=normalize_passphrase(PASSPHRASE))
    screen, vault = lock_screen_for(qtbot, runner, tmp_path / "v", sources_from({"tpm": tpm}))
    assert "passphrase" in screen.hw_notes["tpm"].text()
    assert "(+ passphrase)" in screen.methods.item(1).text()
    assert screen.start_hardware("tpm") is None
    assert "also needs the vault's passphrase" in screen.status.text()
    qtbot.keyClicks(screen.passphrase, PASSPHRASE)
    vault = unlock_with(qtbot, screen, "tpm")
    assert vault.unlocked and screen.passphrase.text() == ""
    assert vault.audit_events(action="vault.unlock")[0].details["kind"] == "tpm"
    vault.lock()


def test_an_emptied_keyring_entry_is_one_sentence(
    qtbot, runner: TaskRunner, tmp_path: Path, file_keyring
) -> None:
    keyring = KeyringSource(file_keyring)
    with make_vault(tmp_path / "v") as vault:
        slot = vault.add_hardware_slot(keyring, label="laptop")
    file_keyring.delete_password(SERVICE, slot.params["entry"])
    screen, vault = lock_screen_for(qtbot, runner, tmp_path / "v",
                                    sources_from({"keyring": keyring}))
    click(qtbot, screen.hw_buttons["keyring"])
    qtbot.waitUntil(lambda: screen.status.property("role") == "error", timeout=WAIT_MS)
    assert screen.status.text() == (
        "This device's credential store holds no key for this vault (forgotten, or another "
        "device or user).")
    assert not vault.unlocked


# ----- security keys (the software CTAP2 authenticator through python-fido2's client) -----------


def key_vault(path: Path, key: SoftAuthenticator, *, uv: str = "discouraged") -> Fido2Source:
    """A locked vault at ``path`` with ``key`` enrolled; returns that key's source."""
    fido = Fido2Source(lambda: [key])
    with make_vault(path) as vault:
        vault.add_hardware_slot(fido, label=key.product_name, options={"uv": uv},
                                prompts=FixedPin(KEY_PIN))
    key.touches_requested = key.touches = 0
    return fido


def test_security_key_with_the_pin_dialog_wrong_then_right(
    qtbot, runner: TaskRunner, tmp_path: Path, key_a: SoftAuthenticator
) -> None:
    fido = key_vault(tmp_path / "v", key_a, uv="required")
    screen, vault = lock_screen_for(qtbot, runner, tmp_path / "v", sources_from({"fido2": fido}))
    assert screen.hw_buttons["fido2"].text() == "Use security key"
    assert screen.hw_buttons["fido2"].isEnabled()

    click(qtbot, screen.hw_buttons["fido2"])
    dialog = wait_for_pin_dialog(qtbot, screen.prompts)
    assert dialog.windowTitle() == "PIN for Soft key A"
    assert dialog.attempts.text() == f"{PIN_RETRIES_MAX} attempts left"
    answer_pin(qtbot, dialog, "0000")
    qtbot.waitUntil(lambda: screen.status.property("role") == "error", timeout=WAIT_MS)
    text = screen.status.text()
    assert text == f"Wrong PIN for Soft key A; {PIN_RETRIES_MAX - 1} tries left before it blocks."
    assert not vault.unlocked and key_a.touches_requested == 0  # the PIN comes first

    click(qtbot, screen.hw_buttons["fido2"])
    dialog = wait_for_pin_dialog(qtbot, screen.prompts)
    assert dialog.attempts.text() == f"{PIN_RETRIES_MAX - 1} attempts left"
    with qtbot.waitSignal(screen.unlocked, timeout=WAIT_MS):
        answer_pin(qtbot, dialog, KEY_PIN)
    assert vault.unlocked and key_a.touches == 1
    assert vault.audit_events(action="vault.unlock")[0].details["kind"] == "fido2"
    vault.lock()


def test_touch_note_hidden_for_a_quick_touch_and_shown_for_a_slow_one(
    qtbot, runner: TaskRunner, tmp_path: Path, key_a: SoftAuthenticator
) -> None:
    fido = key_vault(tmp_path / "v", key_a)
    screen, vault = lock_screen_for(qtbot, runner, tmp_path / "v", sources_from({"fido2": fido}))
    shown: list[str] = []
    screen.prompts.touch_changed.connect(shown.append)

    unlock_with(qtbot, screen, "fido2")  # touched at once
    assert key_a.touches_requested == 1  # the key did ask for the touch…
    qtbot.wait(700)
    assert shown == [] and not screen.touch_note.isVisible()  # …but too briefly to say so

    vault.lock()
    screen.show_vault(vault)
    qtbot.waitUntil(lambda: screen.hw_buttons["fido2"].isEnabled(), timeout=WAIT_MS)
    key_a.touch_after = 1.5  # the user takes a while to find the key
    opened: list[Vault] = []
    screen.unlocked.connect(opened.append)
    click(qtbot, screen.hw_buttons["fido2"])
    qtbot.waitUntil(lambda: screen.touch_note.isVisible(), timeout=WAIT_MS)
    assert screen.touch_note.text() == "Touch your security key (Soft key A)"
    qtbot.waitUntil(lambda: bool(opened), timeout=WAIT_MS)
    assert not screen.touch_note.isVisible()
    assert shown == ["Touch your security key (Soft key A)", ""]
    vault.lock()


def test_cancel_while_waiting_for_the_touch_then_unlock_after_all(
    qtbot, runner: TaskRunner, tmp_path: Path, key_a: SoftAuthenticator
) -> None:
    fido = key_vault(tmp_path / "v", key_a)
    screen, vault = lock_screen_for(qtbot, runner, tmp_path / "v", sources_from({"fido2": fido}))
    key_a.touch_after, key_a.touch_timeout = None, None  # nobody touches it
    click(qtbot, screen.hw_buttons["fido2"])
    qtbot.waitUntil(lambda: screen.touch_note.isVisible(), timeout=WAIT_MS)
    assert screen.status.text() == "Looking for an enrolled security key…"  # said once, above
    assert screen.cancel_button.isVisible() and not screen.unlock_button.isEnabled()
    click(qtbot, screen.cancel_button)
    qtbot.waitUntil(lambda: screen.status.text() == "Unlock cancelled.", timeout=WAIT_MS)
    assert not vault.unlocked and not screen.touch_note.isVisible()
    assert not screen.cancel_button.isVisible() and screen.hw_buttons["fido2"].isEnabled()

    key_a.touch_after, key_a.touch_timeout = 0.0, 0.3
    assert unlock_with(qtbot, screen, "fido2").unlocked
    vault.lock()


def test_an_untouched_key_times_out_in_one_sentence(
    qtbot, runner: TaskRunner, tmp_path: Path, key_a: SoftAuthenticator
) -> None:
    fido = key_vault(tmp_path / "v", key_a)
    screen, vault = lock_screen_for(qtbot, runner, tmp_path / "v", sources_from({"fido2": fido}))
    key_a.touch_after, key_a.touch_timeout = None, 0.05
    click(qtbot, screen.hw_buttons["fido2"])
    qtbot.waitUntil(lambda: screen.status.property("role") == "error", timeout=WAIT_MS)
    assert screen.status.text() == "Soft key A was not touched in time."
    assert not vault.unlocked


def test_the_wrong_key_is_refused_without_a_touch(
    qtbot, runner: TaskRunner, tmp_path: Path, key_a: SoftAuthenticator
) -> None:
    key_vault(tmp_path / "v", key_a)
    stranger = SoftAuthenticator(product_name="Stranger key")
    screen, vault = lock_screen_for(qtbot, runner, tmp_path / "v",
                                    sources_from({"fido2": Fido2Source(lambda: [stranger])}))
    click(qtbot, screen.hw_buttons["fido2"])
    qtbot.waitUntil(lambda: screen.status.property("role") == "error", timeout=WAIT_MS)
    assert screen.status.text() == (
        "No security key plugged in (Stranger key) is enrolled in this vault.")
    assert stranger.touches_requested == 0 and not vault.unlocked
    assert screen.hw_buttons["fido2"].isEnabled() and screen.passphrase.isEnabled()


def test_no_key_plugged_in_disables_the_button_with_the_udev_hint(
    qtbot, runner: TaskRunner, tmp_path: Path, key_a: SoftAuthenticator
) -> None:
    key_vault(tmp_path / "v", key_a)
    plugged: list[SoftAuthenticator] = []
    screen, _vault = lock_screen_for(qtbot, runner, tmp_path / "v",
                                     sources_from({"fido2": Fido2Source(lambda: plugged)}))
    button, note = screen.hw_buttons["fido2"], screen.hw_notes["fido2"]
    assert not button.isEnabled()
    assert note.text() == f"Not available here: no FIDO2 security key is visible; {HINT}"
    assert button.toolTip() == note.text()
    assert "udev" in note.text() and screen.recheck_button.isVisible()
    plugged.append(key_a)
    click(qtbot, screen.recheck_button)
    qtbot.waitUntil(lambda: button.isEnabled(), timeout=WAIT_MS)


# ----- the prompts on their own ------------------------------------------------------------------


def test_request_pin_refuses_the_gui_thread(qtbot) -> None:
    host = QWidget()
    qtbot.addWidget(host)
    prompts = QtPrompts(host)
    prompts.begin()
    with pytest.raises(RuntimeError, match="worker"):
        prompts.request_pin("key", 3)


def test_touch_note_only_when_the_wait_outlasts_the_delay(qtbot, runner: TaskRunner) -> None:
    import threading

    host = QWidget()
    qtbot.addWidget(host)
    prompts = QtPrompts(host)
    shown: list[str] = []
    prompts.touch_changed.connect(shown.append)

    def quick(_c, _p) -> None:
        prompts.prompt_touch("Quick Key")  # touched at once: the job ends right after

    finish(qtbot, run_with_prompts(runner, prompts, "quick", quick))
    qtbot.wait(700)  # past the delay: a timer left running would show the note now
    assert shown == [] and prompts.touch_text == ""

    touched = threading.Event()

    def slow(cancel, _p) -> None:
        prompts.prompt_touch("Slow Key")
        while not touched.wait(0.01) and not cancel.is_set():
            pass

    task = run_with_prompts(runner, prompts, "slow", slow)
    qtbot.waitUntil(lambda: prompts.touch_text != "", timeout=WAIT_MS)
    assert shown == ["Touch your security key (Slow Key)"]
    touched.set()
    finish(qtbot, task)
    assert shown == ["Touch your security key (Slow Key)", ""]


def test_hardware_messages_add_what_the_error_carries() -> None:
    from strongroom.app.errors import DeviceNotFound, PinBlocked, UserCancelled, WrongPin

    assert hardware_message(UserCancelled()) == ""
    assert hardware_message(WrongPin("wrong PIN for the key", 2)) == (
        "Wrong PIN for the key; 2 attempts left.")
    assert hardware_message(WrongPin("wrong PIN; 1 attempts left", 1)).count("left") == 1
    assert "must be reset" in hardware_message(PinBlocked("the key blocked its PIN"))
    found = hardware_message(DeviceNotFound("no security key found", hint="add the udev rule"))
    assert found == "No security key found; add the udev rule."


# ----- Settings → Unlock methods ---------------------------------------------------------------


def rows(panel: UnlockMethodsPanel, column: Column) -> list[str]:
    c = COLUMNS.index(column)
    return [panel.model.index(r, c).data() for r in range(panel.model.rowCount())]


@pytest.fixture
def key_a() -> SoftAuthenticator:
    return SoftAuthenticator(pin=KEY_PIN, product_name="Soft key A")


@pytest.fixture
def backends(file_keyring, swtpm, key_a) -> dict[str, SlotSecretSource]:
    """The test's backends by kind (a test may swap one: another key plugged in)."""
    return {"keyring": KeyringSource(file_keyring), "tpm": TpmSealSource(swtpm.tcti),
            "fido2": Fido2Source(lambda: [key_a])}


@pytest.fixture
def panel_on(qtbot, harness: SectionServices, tmp_path: Path, backends):
    panel = UnlockMethodsPanel(harness.services, sources=sources_from(backends))
    qtbot.addWidget(panel)
    panel.show()
    vault = make_vault(tmp_path / "v")
    panel.vault_unlocked(vault)
    qtbot.waitUntil(lambda: panel.model.rowCount() == 1 and bool(panel.available),
                    timeout=WAIT_MS)
    yield panel, vault
    panel.vault_locked()
    harness.services.runner.wait()
    vault.lock()


def test_settings_add_test_rename_remove_round_trip(
    qtbot, panel_on, harness: SectionServices, file_keyring
) -> None:
    panel, vault = panel_on
    assert rows(panel, Column.Kind) == ["Passphrase"]
    assert panel.add_keyring_button.isEnabled() and panel.add_tpm_button.isEnabled()
    assert "lower assurance" in panel.add_keyring_button.text()
    assert not panel.test_button.isEnabled()  # nothing selected

    task = panel.remember_device("laptop")
    assert not panel.add_tpm_button.isEnabled() and panel.cancel_button.isVisible()
    finish(qtbot, task)
    assert rows(panel, Column.Label) == [vault.header.slots[0].label, "laptop"]
    assert rows(panel, Column.Kind)[1] == "OS keyring"
    assert rows(panel, Column.Assurance)[1].startswith("lower assurance")
    assert rows(panel, Column.LastTested) == ["never", "never"]
    assert "OS keyring slot opens the vault" in panel.warnings.text()
    keyring_slot = vault.header.slots[1]
    entry = keyring_slot.params["entry"]
    assert file_keyring.get_password(SERVICE, entry) is not None

    finish(qtbot, panel.add_tpm(" board TPM ", pcrs=[]))
    assert rows(panel, Column.Label)[2] == "board TPM"
    tpm_id = vault.header.slots[2].id

    panel.table.selectRow(1)
    assert panel.selected() == keyring_slot and panel.test_button.isEnabled()
    finish(qtbot, panel.test_slot(keyring_slot.id))
    assert harness.statuses[-1] == "“laptop” opens the vault."
    assert rows(panel, Column.LastTested)[1] != "never"
    assert vault.audit_events(action="keyslot.test")[0].target == keyring_slot.id

    finish(qtbot, panel.rename_slot(tpm_id, "desk TPM"))
    assert rows(panel, Column.Label)[2] == "desk TPM"
    assert vault.header.slot(tpm_id).label == "desk TPM"

    finish(qtbot, panel.remove_slot(keyring_slot.id))
    assert rows(panel, Column.Label) == [vault.header.slots[0].label, "desk TPM"]
    assert file_keyring.get_password(SERVICE, entry) is None  # forgotten in the keyring
    assert "OS keyring" not in panel.warnings.text()
    assert harness.errors == []
    actions = [e.action for e in vault.audit_events() if e.action.startswith("keyslot.")]
    assert sorted(actions) == sorted(["keyslot.add", "keyslot.add", "keyslot.test",
                                      "keyslot.rename", "keyslot.remove"])


def test_removing_the_last_slot_is_refused_with_the_vaults_message(
    qtbot, panel_on, harness: SectionServices
) -> None:
    panel, vault = panel_on
    only = vault.header.slots[0]
    assert only.kind == PASSPHRASE_KIND
    finish(qtbot, panel.remove_slot(only.id))
    message = "This is the vault's only keyslot; add another before removing it."
    assert harness.errors == [message]
    assert panel.result.text() == message
    assert rows(panel, Column.Kind) == ["Passphrase"] and vault.header.slots == (only,)


def test_testing_a_passphrase_slot_with_the_wrong_one_fails_in_words(
    qtbot, panel_on, harness: SectionServices
) -> None:
    panel, vault = panel_on
    finish(qtbot, panel.test_slot(vault.header.slots[0].id, "not it at all"))
    assert len(harness.errors) == 1 and "did not open" in harness.errors[0]
    finish(qtbot, panel.test_slot(vault.header.slots[0].id, PASSPHRASE))
    assert harness.statuses[-1].endswith("opens the vault.")


def test_tpm_enrolment_with_a_pin_asks_in_the_dialog_and_can_be_cancelled(
    qtbot, panel_on, harness: SectionServices
) -> None:
    panel, vault = panel_on
    task = panel.add_tpm("pinned", pcrs=[], pin=True)
    dialog = wait_for_pin_dialog(qtbot, panel.prompts)
    assert dialog.new
    click(qtbot, panel.cancel_button)
    finish(qtbot, task)
    assert gone(dialog)
    assert harness.statuses[-1] == "Sealing a key to the TPM was cancelled."
    assert len(vault.header.slots) == 1 and harness.errors == []

    task = panel.add_tpm("pinned", pcrs=[], pin=True)
    answer_pin(qtbot, wait_for_pin_dialog(qtbot, panel.prompts), TPM_PIN)
    finish(qtbot, task)
    assert rows(panel, Column.Label)[1] == "pinned"
    assert vault.header.slots[1].params["pin"] is True


def test_settings_security_keys_pin_two_factor_and_the_inventory_warning(
    qtbot, panel_on, harness: SectionServices, backends, key_a: SoftAuthenticator
) -> None:
    panel, vault = panel_on
    assert panel.add_key_button.isEnabled()
    task = panel.add_security_key("blue key", uv="required")
    dialog = wait_for_pin_dialog(qtbot, panel.prompts)
    assert dialog.windowTitle() == "PIN for Soft key A"
    answer_pin(qtbot, dialog, KEY_PIN)
    finish(qtbot, task)
    assert harness.statuses[-1] == "Added security key “blue key”."
    assert rows(panel, Column.Kind)[1] == "Security key"
    assert rows(panel, Column.Assurance)[1] == "high"
    assert "Only one security key is enrolled" in panel.warnings.text()
    blue = vault.header.slots[1]
    assert blue.params["uv"] == "required"

    # Test: the PIN again, then the table shows when.
    task = panel.test_slot(blue.id)
    answer_pin(qtbot, wait_for_pin_dialog(qtbot, panel.prompts), KEY_PIN)
    finish(qtbot, task)
    assert harness.statuses[-1] == "“blue key” opens the vault."
    assert rows(panel, Column.LastTested)[1] != "never"

    # A second key (another one plugged in), two-factor: the warning goes.
    second = SoftAuthenticator(product_name="Soft key B")
    backends["fido2"] = Fido2Source(lambda: [second])
    finish(qtbot, panel.add_security_key("spare key", passphrase=PASSPHRASE))
    assert rows(panel, Column.TwoFactor) == ["no", "no", "yes"]
    assert "security key" not in panel.warnings.text()
    assert harness.errors == []

    # A two-factor slot tested with the wrong passphrase fails in words, nothing recorded as ok.
    spare = vault.header.slots[2]
    finish(qtbot, panel.test_slot(spare.id, "not the passphrase"))
    assert len(harness.errors) == 1 and "did not open" in harness.errors[0]
    assert vault.header.slot(spare.id).last_tested is None
    finish(qtbot, panel.test_slot(spare.id, PASSPHRASE))
    assert vault.header.slot(spare.id).last_tested is not None


def test_settings_enrolment_cancelled_while_waiting_for_the_touch(
    qtbot, panel_on, harness: SectionServices, key_a: SoftAuthenticator
) -> None:
    panel, vault = panel_on
    key_a.touch_after, key_a.touch_timeout = None, None
    task = panel.add_security_key("never touched")
    qtbot.waitUntil(lambda: panel.touch_note.isVisible(), timeout=WAIT_MS)
    assert panel.touch_note.text() == "Touch your security key (Soft key A)"
    assert not panel.add_tpm_button.isEnabled()
    click(qtbot, panel.cancel_button)
    finish(qtbot, task)
    assert not panel.touch_note.isVisible() and not panel.cancel_button.isVisible()
    assert harness.statuses[-1] == "Touch the security key when it blinks was cancelled."
    assert harness.errors == [] and len(vault.header.slots) == 1
    assert panel.add_tpm_button.isEnabled()


def answer_modal(qtbot, fill: Callable[[QWidget], None]) -> list[str]:
    """Answer the next modal dialog (opened by a click, with exec()) with ``fill``."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    seen: list[str] = []

    def poll() -> None:
        modal = QApplication.activeModalWidget()
        if modal is None:
            QTimer.singleShot(20, poll)
            return
        seen.append(modal.windowTitle())
        fill(modal)

    QTimer.singleShot(0, poll)
    return seen


def test_the_add_buttons_ask_then_enrol(
    qtbot, panel_on, harness: SectionServices, file_keyring
) -> None:
    from PySide6.QtWidgets import QMessageBox

    from strongroom.ui.unlock.enrol_dialog import TpmDialog

    panel, vault = panel_on

    def tpm_answers(dialog: QWidget) -> None:
        assert isinstance(dialog, TpmDialog)
        dialog.label.setText("clicked TPM")
        dialog.pcrs.setText("none")
        click(qtbot, dialog.ok_button)

    seen = answer_modal(qtbot, tpm_answers)
    click(qtbot, panel.add_tpm_button)
    qtbot.waitUntil(lambda: panel.model.rowCount() == 2 and not panel.busy, timeout=WAIT_MS)
    assert seen == ["Add TPM"]
    added = vault.header.slots[1]
    assert added.label == "clicked TPM" and added.params["pcrs"] == []

    def say_yes(box: QWidget) -> None:
        assert isinstance(box, QMessageBox) and "lower assurance" in box.text()
        click(qtbot, box.button(QMessageBox.StandardButton.Yes))

    seen = answer_modal(qtbot, say_yes)
    click(qtbot, panel.add_keyring_button)
    qtbot.waitUntil(lambda: panel.model.rowCount() == 3 and not panel.busy, timeout=WAIT_MS)
    assert seen == ["Remember on this device"]
    assert vault.header.slots[2].kind == "keyring" and harness.errors == []


def test_lock_empties_the_panel(qtbot, panel_on) -> None:
    panel, _vault = panel_on
    panel.vault_locked()
    assert panel.model.rowCount() == 0 and panel.vault is None
    assert not any(b.isEnabled() for b in (panel.add_keyring_button, panel.test_button))
    assert panel.remember_device() is None


def test_enrol_dialogs_check_their_answers_and_keep_no_passphrase(qtbot) -> None:
    from PySide6.QtWidgets import QAbstractButton, QComboBox, QLineEdit

    from strongroom.ui.unlock.enrol_dialog import SecurityKeyDialog, TpmDialog, parse_pcrs

    key = SecurityKeyDialog()
    qtbot.addWidget(key)
    key.show()
    assert [key.uv.itemText(i) for i in range(key.uv.count())] == ["PIN required", "Touch only"]
    assert not key.passphrase.isEnabled()
    key.two_factor.setChecked(True)
    assert key.passphrase.isEnabled()
    click(qtbot, key.ok_button)
    assert key.isVisible() and "passphrase" in key.error.text()
    qtbot.keyClicks(key.passphrase, PASSPHRASE)
    click(qtbot, key.ok_button)
    assert not key.isVisible() and key.passphrase.text() == ""
    assert key.take_passphrase() == PASSPHRASE and key.take_passphrase() is None

    tpm = TpmDialog()
    qtbot.addWidget(tpm)
    tpm.show()
    assert tpm.pcrs.text() == "7" and tpm.chosen_pcrs() == [7]
    tpm.pcrs.setText("0, 7, 99")
    click(qtbot, tpm.ok_button)
    assert tpm.isVisible() and "0 to 23" in tpm.error.text()
    assert parse_pcrs("none") == [] and parse_pcrs("7,0,7") == [0, 7] and parse_pcrs("x") is None

    pin = PinDialog("YubiKey 5", 1)
    qtbot.addWidget(pin)
    assert pin.attempts.text() == "1 attempt left"
    for dialog in (key, tpm, pin):
        for widget in dialog.findChildren(QWidget):
            if isinstance(widget, QAbstractButton | QComboBox | QLineEdit) and widget.isVisibleTo(
                    dialog) and not isinstance(widget.parentWidget(), QComboBox):
                assert widget.accessibleName(), type(widget).__name__
