"""The issue's end-to-end flow on the real main window with its default sections (offscreen Qt,
real vault): first run, add, reveal, copy, idle lock, unlock, audit log; and neither the
passphrase nor the value is left in a file or in the log."""

from __future__ import annotations

import logging
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pathlib import Path

import shiboken6
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QApplication, QDialog, QTableView, QWidget

from strongroom.ui.main_window import MainWindow
from strongroom.ui.settings.store import ConsoleSettings
from strongroom.ui.vault.secret_dialog import SecretDialog
from strongroom.ui.vault.section import VaultSection

from conftest import PASSPHRASE

WAIT_MS = 60_000  # Argon2id on a loaded machine
LEFT = Qt.MouseButton.LeftButton
NAME = "db/prod"
VALUE = "Qx7-flow-test-value-9zK"  # distinctive, to search for byte by byte
# Vault.create leaves the new vault open and records vault.create only (no vault.unlock), so
# the one unlock is the one after the idle lock.
EXPECTED = ["vault.create", "secret.create", "secret.reveal", "secret.copy", "vault.unlock"]


def click(qtbot, widget: QWidget) -> None:
    assert widget.isVisible() and widget.isEnabled(), widget.accessibleName()
    qtbot.mouseClick(widget, LEFT)


def toolbar_button(section: VaultSection, key: str) -> QWidget:
    return section.toolbar.widgetForAction(section.actions_[key])


def open_secret_dialog(qtbot, section: VaultSection) -> SecretDialog:
    qtbot.waitUntil(lambda: any(isinstance(d, SecretDialog) and d.isVisible()
                                for d in section.dialogs), timeout=WAIT_MS)
    return next(d for d in section.dialogs if isinstance(d, SecretDialog))


def open_dialogs() -> list[QWidget]:
    return [w for w in QApplication.topLevelWidgets() if isinstance(w, QDialog) and w.isVisible()]


def column(model, title: str) -> int:
    titles = [model.headerData(c, Qt.Orientation.Horizontal) for c in range(model.columnCount())]
    return titles.index(title)


def audit_rows(view: QTableView) -> list[tuple[str, str]]:
    """(action, target) of every row the Audit Log table shows, oldest first."""
    model = view.model()
    seq, action, target = (column(model, t) for t in ("#", "Action", "Target"))
    rows = [(int(model.index(r, seq).data()), model.index(r, action).data(),
             model.index(r, target).data()) for r in range(model.rowCount())]
    return [(a, t) for _, a, t in sorted(rows)]


def leaks(root: Path, needles: dict[str, str]) -> list[str]:
    """Files under ``root`` holding a needle in UTF-8 or UTF-16 (either byte order)."""
    found = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        data = path.read_bytes()
        for what, text in needles.items():
            for encoding in ("utf-8", "utf-16-le", "utf-16-be"):
                if text.encode(encoding) in data:
                    found.append(f"{what} in {path.relative_to(root)} ({encoding})")
    return found


def test_first_run_to_audit_log(qtbot, qtlog, caplog, tmp_path: Path) -> None:
    caplog.set_level(logging.DEBUG)
    settings = ConsoleSettings(QSettings(str(tmp_path / "c.ini"), QSettings.Format.IniFormat))
    settings.set("reveal_seconds", 1)  # the settings hold whole seconds; 1 is the least
    settings.set("clipboard_clear_seconds", 1)
    path = tmp_path / "vault"
    window = MainWindow(path, settings=settings)
    qtbot.addWidget(window)
    window.show()
    clipboard = QApplication.clipboard()

    # First run: a strong passphrase twice, the shortest unlock time, create.
    wizard = window.wizard
    assert wizard is not None and window.pages.currentWidget() is wizard
    click(qtbot, wizard.next)
    qtbot.keyClicks(wizard.pass1, PASSPHRASE)
    qtbot.keyClicks(wizard.pass2, PASSPHRASE)
    click(qtbot, wizard.next)
    wizard.time_slider.setFocus()
    qtbot.keyClick(wizard.time_slider, Qt.Key.Key_Home)
    assert wizard.time_slider.value() == wizard.time_slider.minimum()
    assert wizard.kdf_time_ms == 250
    click(qtbot, wizard.next)
    assert wizard.next.text() == "Create vault"
    click(qtbot, wizard.next)
    qtbot.waitUntil(lambda: window.is_unlocked, timeout=WAIT_MS)

    # The workspace opens on the Vault section.
    section = window.stack.currentWidget()
    assert isinstance(section, VaultSection) and section.isVisible()
    assert window.sidebar.currentItem().text() == "Vault"
    qtbot.waitUntil(lambda: not section.loading, timeout=WAIT_MS)
    assert section.model.total == 0

    # Add a secret through the Add dialog.
    click(qtbot, toolbar_button(section, "add"))
    dialog = open_secret_dialog(qtbot, section)
    qtbot.keyClicks(dialog.name, NAME)
    qtbot.keyClicks(dialog.value, VALUE)
    assert dialog.value.echoMode() == dialog.value.EchoMode.Password
    click(qtbot, dialog.save_button)
    qtbot.waitUntil(lambda: section.model.total == 1 and not section.dialogs, timeout=WAIT_MS)
    assert section.selected() is not None and section.selected().name == NAME

    # Reveal: shown, then masked again after reveal_seconds.
    click(qtbot, toolbar_button(section, "reveal"))
    qtbot.waitUntil(lambda: section.value.revealed, timeout=WAIT_MS)
    assert section.value.label.text() == VALUE
    qtbot.waitUntil(lambda: not section.value.revealed, timeout=10_000)
    assert section.value.label.text() == section.value.MASK

    # Copy: on the clipboard, then cleared after clipboard_clear_seconds.
    click(qtbot, toolbar_button(section, "copy_value"))
    qtbot.waitUntil(lambda: clipboard.text() == VALUE, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: clipboard.text() == "", timeout=10_000)

    # Idle auto-lock with a half-typed value in an open dialog.
    click(qtbot, toolbar_button(section, "add"))
    editor = open_secret_dialog(qtbot, section)
    qtbot.keyClicks(editor.value, "half-type")
    window.idle_override_ms = 500
    qtbot.keyClicks(editor.value, "d")  # the last activity; the timer now runs 0.5 s
    qtbot.waitUntil(lambda: not window.is_unlocked, timeout=10_000)
    assert window.pages.currentWidget() is window.lock_screen
    assert "idle" in window.state_label.text()
    assert section.model.total == 0 and section.model.rowCount() == 0
    assert not section.dialogs and not open_dialogs()
    assert not shiboken6.isValid(editor) or editor.value.text() == ""
    assert not section.value.revealed
    qtbot.waitUntil(lambda: not window.runner.busy, timeout=WAIT_MS)
    assert not window.vault.unlocked

    # Unlock again on the lock screen.
    window.idle_override_ms = 0  # back to the setting (minutes) for the rest of the test
    qtbot.keyClicks(window.lock_screen.passphrase, PASSPHRASE)
    click(qtbot, window.lock_screen.unlock_button)
    qtbot.waitUntil(lambda: window.is_unlocked, timeout=WAIT_MS)

    # The Audit Log section shows the session's events in order.
    audit = next(s for s in window.sections if s.title == "Audit Log")
    item = window.sidebar.item(window.sections.index(audit))
    qtbot.mouseClick(window.sidebar.viewport(), LEFT,
                     pos=window.sidebar.visualItemRect(item).center())
    assert window.stack.currentWidget() is audit and audit.isVisible()
    view = audit.findChild(QTableView)
    qtbot.waitUntil(lambda: view.model().rowCount() >= len(EXPECTED), timeout=WAIT_MS)
    rows = audit_rows(view)
    assert [action for action, _ in rows] == EXPECTED
    assert [target for action, target in rows if action.startswith("secret.")] == [NAME] * 3
    window.runner.wait()
    vault = window.vault
    assert [e.action for e in reversed(vault.audit_events())] == EXPECTED
    assert vault.audit_verify().ok

    # Nothing written or logged holds the passphrase or the value: every file is searched, the
    # encrypted database and its WAL too, while the vault is open and again after closing.
    needles = {"passphrase": PASSPHRASE, "value": VALUE}
    assert (path / "header.json").exists() and (tmp_path / "c.ini").exists()
    assert leaks(tmp_path, needles) == []
    window.quit()
    assert not vault.unlocked
    assert leaks(tmp_path, needles) == []
    for text in [caplog.text, *(r.getMessage() for r in caplog.records),
                 *(r.message for r in qtlog.records)]:
        assert PASSPHRASE not in text and VALUE not in text
