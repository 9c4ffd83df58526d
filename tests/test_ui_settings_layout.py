"""Settings lays out cleanly: no empty rows drawn as grey bars, help text whole (never cut off),
and the Unlock-methods table keeps its column widths when the vault locks and unlocks."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication, QLabel

from strongroom.app.errors import BackendUnavailable
from strongroom.app.unlock_methods import SlotSecretSource
from strongroom.app.vault import Vault
from strongroom.ui.settings.section import SettingsSection

from conftest import make_vault, unlocker
from helpers.ui_services import NoClipboard, SectionServices, make_services

WAIT_MS = 60_000
LONG_REASON = ("no FIDO2 security key is visible; plug one in — on Linux your user needs access "
               "to /dev/hidraw* (install the udev rules, e.g. Debian's libfido2-1 / 70-u2f.rules)")


def no_hardware(kind: str) -> SlotSecretSource:
    raise BackendUnavailable(LONG_REASON if kind == "fido2" else f"no {kind} here (a test)")


@pytest.fixture
def harness(qtbot, tmp_path: Path) -> Iterator[SectionServices]:
    harness = make_services(tmp_path / "s.ini", lambda _settings: NoClipboard())
    yield harness
    harness.services.runner.cancel_all()
    harness.services.runner.wait()


@pytest.fixture
def vault(tmp_path: Path) -> Iterator[Vault]:
    v = make_vault(tmp_path / "v")
    yield v
    v.lock()


@pytest.fixture
def settings(qtbot, harness: SectionServices, vault: Vault) -> SettingsSection:
    section = SettingsSection(harness.services, sources=no_hardware)
    qtbot.addWidget(section)
    section.resize(1000, 900)
    section.show()
    section.vault_unlocked(vault)
    panel = section.unlock_methods
    qtbot.waitUntil(lambda: panel.model.rowCount() == 1 and bool(panel.available),
                    timeout=WAIT_MS)
    return section


def widths(section: SettingsSection) -> list[int]:
    table = section.unlock_methods.table
    return [table.columnWidth(c) for c in range(table.model().columnCount())]


def test_column_widths_stay_put_across_lock_and_unlock(qtbot, settings: SettingsSection,
                                                      vault: Vault,
                                                      harness: SectionServices) -> None:
    panel = settings.unlock_methods
    before = widths(settings)
    assert panel.model.slots[0].last_used is None  # "never" now, a date after the next unlock
    settings.vault_locked()
    harness.services.runner.wait()
    assert widths(settings) == before
    vault.lock()
    vault.unlock(unlocker())
    settings.vault_unlocked(vault)
    qtbot.waitUntil(lambda: panel.model.rowCount() == 1
                    and panel.model.slots[0].last_used is not None, timeout=WAIT_MS)
    assert widths(settings) == before
    header = panel.table.horizontalHeader()
    assert header.stretchLastSection()
    assert sum(before[:-1]) < panel.table.viewport().width()  # room left for the last column


def test_no_empty_rows_under_restore_or_the_unlock_methods(qtbot, settings: SettingsSection,
                                                          tmp_path: Path) -> None:
    panel = settings.unlock_methods
    quiet = [settings.busy, settings.result, panel.result, panel.busy_label, panel.touch_note,
             panel.warnings]
    assert all(w.isHidden() for w in quiet), [w.accessibleName() for w in quiet
                                              if not w.isHidden()]
    task = settings.backup_to(tmp_path / "b.srbk")
    assert task is not None and not settings.busy.isHidden()  # shown while it runs
    qtbot.waitUntil(lambda: task.done, timeout=WAIT_MS)
    assert settings.busy.isHidden()
    assert not settings.result.isHidden() and settings.result.text().startswith("Backup written")
    settings.vault_locked()
    assert settings.result.isHidden()


def test_help_text_is_whole_sentences_and_never_cut_off(qtbot, settings: SettingsSection) -> None:
    lines = settings.unlock_methods.not_here.text().splitlines()
    assert lines[0] == "Not available here:"
    assert all(line.startswith("• ") and line.endswith(".") for line in lines[1:]), lines
    assert any("70-u2f.rules)." in line for line in lines)
    for width in (1000, 760, 620):
        settings.resize(width, 700)
        QApplication.processEvents()
        for label in settings.findChildren(QLabel):
            if label.isVisible() and label.wordWrap() and label.text():
                needed = label.heightForWidth(label.width())
                assert label.height() >= needed, (width, label.text()[:40])
