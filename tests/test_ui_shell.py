"""The console shell on real Qt (offscreen) over a real vault: wizard, lock screen, lock/unlock,
idle auto-lock, and an event loop that keeps turning while Argon2id runs."""

from __future__ import annotations

import os
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest
from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtWidgets import QWidget

from strongroom.ui.base import Section
from strongroom.ui.keys.section import KeysSection
from strongroom.ui.main_window import MainWindow
from strongroom.ui.settings.store import ConsoleSettings

from conftest import PASSPHRASE, make_vault

WAIT_MS = 30_000


class Recorder(Section):
    title = "Recorder"

    def __init__(self, services, parent: QWidget | None = None) -> None:
        super().__init__(services, parent)
        self.events: list[str] = []

    def vault_unlocked(self, vault) -> None:
        super().vault_unlocked(vault)
        self.events.append("unlocked")

    def vault_locked(self) -> None:
        super().vault_locked()
        self.events.append("locked")


@pytest.fixture
def settings(tmp_path) -> ConsoleSettings:
    return ConsoleSettings(QSettings(str(tmp_path / "console.ini"), QSettings.Format.IniFormat))


def window_for(qtbot, path, settings) -> MainWindow:
    window = MainWindow(path, settings=settings, sections=[Recorder, KeysSection])
    qtbot.addWidget(window)
    window.show()
    return window


def unlock(qtbot, window: MainWindow, passphrase: str = PASSPHRASE) -> None:
    qtbot.keyClicks(window.lock_screen.passphrase, passphrase)
    qtbot.mouseClick(window.lock_screen.unlock_button, Qt.MouseButton.LeftButton)


def test_first_run_wizard_refuses_weak_and_creates_the_vault(qtbot, tmp_path, settings) -> None:
    path = tmp_path / "new-vault"
    window = window_for(qtbot, path, settings)
    wizard = window.wizard
    assert wizard is not None and window.pages.currentWidget() is wizard
    qtbot.mouseClick(wizard.next, Qt.MouseButton.LeftButton)  # welcome -> passphrase
    qtbot.keyClicks(wizard.pass1, "password1")
    qtbot.keyClicks(wizard.pass2, "password1")
    assert not wizard.next.isEnabled()
    assert "weak" in wizard.feedback.text().lower() or "short" in wizard.feedback.text().lower()
    wizard.pass1.clear()
    wizard.pass2.clear()
    qtbot.keyClicks(wizard.pass1, PASSPHRASE)
    qtbot.keyClicks(wizard.pass2, PASSPHRASE + "x")
    assert not wizard.next.isEnabled() and "differ" in wizard.feedback.text()
    wizard.pass2.clear()
    qtbot.keyClicks(wizard.pass2, PASSPHRASE)
    assert wizard.next.isEnabled()
    qtbot.mouseClick(wizard.next, Qt.MouseButton.LeftButton)  # -> unlock time
    wizard.time_slider.setValue(0)  # 250 ms keeps the test quick
    qtbot.mouseClick(wizard.next, Qt.MouseButton.LeftButton)  # -> second method
    assert wizard.next.text() == "Create vault"
    qtbot.mouseClick(wizard.next, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.is_unlocked, timeout=WAIT_MS)
    assert (path / "header.json").exists()
    assert window.wizard is None  # the wizard and its passphrase fields are gone
    recorder = window.sections[0]
    assert recorder.events == ["unlocked"] and recorder.vault is window.vault
    window.lock()
    window.runner.wait()
    assert not window.vault.unlocked


def test_lock_screen_wrong_then_right_then_lock(qtbot, tmp_path, settings) -> None:
    path = tmp_path / "v"
    make_vault(path).lock()
    window = window_for(qtbot, path, settings)
    screen = window.lock_screen
    assert window.pages.currentWidget() is screen
    assert screen.methods.count() == 1 and "Passphrase" in screen.methods.item(0).text()
    unlock(qtbot, window, "not the passphrase")
    assert screen.passphrase.text() == ""  # cleared as soon as it was submitted
    qtbot.waitUntil(lambda: "does not open" in screen.status.text(), timeout=WAIT_MS)
    assert not window.is_unlocked
    unlock(qtbot, window)
    qtbot.waitUntil(lambda: window.is_unlocked, timeout=WAIT_MS)
    recorder = window.sections[0]
    qtbot.keyClick(window, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)
    assert not window.is_unlocked and recorder.events == ["unlocked", "locked"]
    assert recorder.vault is None
    window.runner.wait()
    assert not window.vault.unlocked
    events = {e.action for e in make_events(path)}
    assert "vault.unlock" in events


def make_events(path):
    from strongroom.app.vault import Vault

    from conftest import unlocker

    with Vault.open(path) as v:
        v.unlock(unlocker())
        return v.audit_events()


def test_backoff_disables_unlock_with_a_countdown(qtbot, tmp_path, settings) -> None:
    path = tmp_path / "v"
    make_vault(path).lock()
    window = window_for(qtbot, path, settings)
    screen = window.lock_screen
    for _ in range(3):
        unlock(qtbot, window, "wrong passphrase")
        qtbot.waitUntil(lambda: window.runner.busy is False and screen._task is None,
                        timeout=WAIT_MS)
    assert "Wait" in screen.status.text()
    assert not screen.unlock_button.isEnabled()
    qtbot.waitUntil(lambda: screen.unlock_button.isEnabled(), timeout=10_000)
    assert "try again" in screen.status.text()


def test_idle_auto_lock(qtbot, tmp_path, settings) -> None:
    path = tmp_path / "v"
    make_vault(path).lock()
    window = window_for(qtbot, path, settings)
    window.idle_override_ms = 400
    unlock(qtbot, window)
    qtbot.waitUntil(lambda: window.is_unlocked, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: not window.is_unlocked, timeout=5_000)
    assert "idle" in window.state_label.text()


def test_event_loop_never_stalls_during_unlock(qtbot, tmp_path, settings) -> None:
    path = tmp_path / "v"
    vault = make_vault(path)
    vault.lock()
    window = window_for(qtbot, path, settings)
    gaps: list[float] = []
    last = [time.perf_counter()]

    def tick() -> None:
        now = time.perf_counter()
        gaps.append(now - last[0])
        last[0] = now

    timer = QTimer()
    timer.timeout.connect(tick)
    timer.start(10)
    unlock(qtbot, window)
    last[0] = time.perf_counter()
    qtbot.waitUntil(lambda: window.is_unlocked, timeout=WAIT_MS)
    timer.stop()
    assert len(gaps) >= 5  # the KDF took a while and the loop kept turning through it
    assert max(gaps) < 0.2, f"event loop stalled for {max(gaps) * 1000:.0f} ms"


def test_broken_header_is_one_sentence_on_the_lock_screen(qtbot, tmp_path, settings) -> None:
    path = tmp_path / "v"
    make_vault(path).lock()
    (path / "header.json").write_text("{not json")
    window = window_for(qtbot, path, settings)
    assert "corrupt" in window.lock_screen.status.text()
    assert not window.lock_screen.unlock_button.isEnabled()


def test_session_lock_locks_only_when_the_setting_says_so(qtbot, tmp_path, settings) -> None:
    path = tmp_path / "v"
    make_vault(path).lock()
    window = window_for(qtbot, path, settings)
    unlock(qtbot, window)
    qtbot.waitUntil(lambda: window.is_unlocked, timeout=WAIT_MS)
    settings.set("lock_on_session_lock", False)
    window.session_watch.session_locked.emit("screen saver active")
    assert window.is_unlocked
    settings.set("lock_on_session_lock", True)
    window.session_watch.session_locked.emit("screen saver active")
    assert not window.is_unlocked and "screen saver" in window.state_label.text()


def test_session_watcher_says_why_when_it_cannot_listen(qtbot) -> None:
    from strongroom.ui.session_watch import SessionWatcher

    watcher = SessionWatcher()
    # On this machine D-Bus may or may not be reachable; either way the answer is explicit.
    assert watcher.available or watcher.reason


def test_closing_locks_and_clears_our_clipboard_value(qtbot, tmp_path, settings) -> None:
    from PySide6.QtWidgets import QApplication

    path = tmp_path / "v"
    make_vault(path).lock()
    window = window_for(qtbot, path, settings)
    unlock(qtbot, window)
    qtbot.waitUntil(lambda: window.is_unlocked, timeout=WAIT_MS)
    window.clipboard.copy_secret(b"clipboard-marker-value")
    assert QApplication.clipboard().text() == "clipboard-marker-value"
    window.close()
    assert QApplication.clipboard().text() == ""
    assert not window.vault.unlocked


def test_the_file_menu_imports_and_exports_only_while_unlocked(qtbot, tmp_path, settings
                                                              ) -> None:
    from strongroom.ui.transfer.import_dialog import ImportDialog
    from strongroom.ui.vault.section import VaultSection

    path = tmp_path / "v"
    make_vault(path).lock()
    window = MainWindow(path, settings=settings, sections=[KeysSection, VaultSection])
    qtbot.addWidget(window)
    window.show()
    menu = window.menu_actions
    assert [a.text().split("\t")[0] for a in window.menuBar().actions()] == ["&File", "&Help"]
    assert not menu["import"].isEnabled() and not menu["export"].isEnabled()
    unlock(qtbot, window)
    qtbot.waitUntil(lambda: window.is_unlocked, timeout=WAIT_MS)
    assert menu["import"].isEnabled() and menu["export"].isEnabled()
    menu["import"].trigger()
    vault_section = window.sections[1]
    assert window.sidebar.currentRow() == 1  # the Vault section is shown for the import
    assert any(isinstance(d, ImportDialog) for d in vault_section.dialogs)
    window.lock("test")
    assert not menu["import"].isEnabled() and vault_section.dialogs == []
    window.runner.wait()


def test_a_damaged_page_no_query_reads_is_reported_after_the_unlock(qtbot, tmp_path, settings
                                                                   ) -> None:
    """Unlock reads only what it needs; the console checks every page in the background and
    says so when one is damaged (a free page here, which nothing else reads)."""
    import os

    from PySide6.QtWidgets import QMessageBox

    from strongroom.app.vault import NewSecret

    path = tmp_path / "v"
    with make_vault(path) as vault:
        vault.add_secret(NewSecret("scratch/big", os.urandom(64 * 1024)))
        vault.delete_secret("scratch/big")
    db = path / "vault.db"
    data = bytearray(db.read_bytes())
    data[len(data) - 3 * 4096 + 2000] ^= 0x08
    db.write_bytes(bytes(data))
    window = window_for(qtbot, path, settings)
    unlock(qtbot, window)
    qtbot.waitUntil(lambda: window.is_unlocked, timeout=WAIT_MS)

    def warned() -> bool:
        return any(isinstance(w, QMessageBox) and "full integrity check" in w.text()
                   for w in window.findChildren(QMessageBox))

    qtbot.waitUntil(warned, timeout=WAIT_MS)
    assert "strongroom vault check" in window.statusBar().currentMessage()
    window.lock("test")
    window.runner.wait()


def test_a_sound_vault_raises_no_integrity_warning(qtbot, tmp_path, settings) -> None:
    from PySide6.QtWidgets import QMessageBox

    path = tmp_path / "v"
    make_vault(path).lock()
    window = window_for(qtbot, path, settings)
    unlock(qtbot, window)
    qtbot.waitUntil(lambda: window.is_unlocked, timeout=WAIT_MS)
    window.runner.wait()
    qtbot.wait(50)
    assert not window.findChildren(QMessageBox)
    window.lock("test")
    window.runner.wait()
