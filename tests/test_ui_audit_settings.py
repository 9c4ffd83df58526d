"""Audit Log and Settings sections over a real vault, driven through their widgets and methods."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import csv
import datetime as dt
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest
from PySide6.QtCore import QDate, QSettings, Qt

from strongroom.app.audit import Outcome
from strongroom.app.audit_export import ExportFormat
from strongroom.app.errors import WrongPassphrase
from strongroom.app.vault import NewSecret, Vault
from strongroom.app.vault.backup import create_backup
from strongroom.ui.audit.model import COLUMNS, AuditFilter, AuditTableModel, Column
from strongroom.ui.audit.section import AuditSection
from strongroom.ui.settings.section import SettingsSection
from strongroom.ui.settings.store import ConsoleSettings
from strongroom.ui.workers import Task

from conftest import OTHER_PASSPHRASE, PASSPHRASE, make_vault, unlocker
from helpers.ui_services import SectionServices, make_services

WAIT_MS = 60_000


@dataclass
class FakeClipboard:
    copied: list[bytes] = field(default_factory=list)

    def copy_secret(self, value: bytes) -> None:
        self.copied.append(value)

    def clear_if_ours(self) -> None:
        self.copied.clear()


Harness = SectionServices


@pytest.fixture
def harness(qtbot, tmp_path: Path) -> Iterator[Harness]:
    harness = make_services(tmp_path / "s.ini", lambda _settings: FakeClipboard())
    yield harness
    harness.services.runner.cancel_all()
    harness.services.runner.wait()


@pytest.fixture
def vault(tmp_path: Path) -> Iterator[Vault]:
    v = make_vault(tmp_path / "v")
    v.record("test.alpha", "one")
    v.record("test.beta", "two", Outcome.Failed)
    v.record("test.alpha", "three")
    yield v
    v.lock()


def finish(qtbot, task: Task | None) -> None:
    assert task is not None
    qtbot.waitUntil(lambda: task.done, timeout=WAIT_MS)


def settle(qtbot, section: AuditSection) -> None:
    qtbot.waitUntil(lambda: not section.model.loading, timeout=WAIT_MS)


def column(section: AuditSection, col: Column) -> list[str]:
    proxy, c = section.proxy, COLUMNS.index(col)
    return [proxy.index(r, c).data() for r in range(proxy.rowCount())]


@pytest.fixture
def audit(qtbot, harness: Harness, vault: Vault) -> AuditSection:
    section = AuditSection(harness.services)
    qtbot.addWidget(section)
    section.vault_unlocked(vault)
    settle(qtbot, section)
    return section


@pytest.fixture
def settings_section(qtbot, harness: Harness) -> SettingsSection:
    section = SettingsSection(harness.services)
    qtbot.addWidget(section)
    return section


# ----- Audit Log ---------------------------------------------------------------------------------


def test_table_shows_every_event_newest_first(audit: AuditSection, vault: Vault) -> None:
    seqs = [int(s) for s in column(audit, Column.Seq)]
    assert seqs == [e.seq for e in vault.audit_events()]
    assert seqs == sorted(seqs, reverse=True)
    assert column(audit, Column.Action)[:3] == ["test.alpha", "test.beta", "test.alpha"]
    assert audit.count_label.text() == f"{len(seqs)} events."


def test_filters_narrow_the_table(qtbot, audit: AuditSection) -> None:
    audit.action.setCurrentText("test.alpha")
    qtbot.mouseClick(audit.apply_button, Qt.MouseButton.LeftButton)
    settle(qtbot, audit)
    assert column(audit, Column.Target) == ["three", "one"]

    audit.target.setText("one")
    audit.apply_filters()
    settle(qtbot, audit)
    assert column(audit, Column.Target) == ["one"]

    audit.clear_filters()
    audit.outcome.setCurrentIndex(audit.outcome.findData("failed"))
    audit.apply_filters()
    settle(qtbot, audit)
    assert column(audit, Column.Target) == ["two"]
    assert column(audit, Column.Outcome) == ["failed"]


def test_date_filters_are_whole_local_days(qtbot, audit: AuditSection) -> None:
    today = QDate.currentDate()
    everything = audit.proxy.rowCount()
    for frm, to, expected in ((today.addDays(1), None, 0), (None, today.addDays(-1), 0),
                              (today, today, everything)):
        audit.clear_filters()
        if frm is not None:
            audit.date_from.setDate(frm)
        if to is not None:
            audit.date_to.setDate(to)
        audit.apply_filters()
        settle(qtbot, audit)
        assert audit.proxy.rowCount() == expected


def test_the_model_pages_backwards_without_gaps(qtbot, harness: Harness, vault: Vault) -> None:
    for i in range(8):
        vault.record("test.page", f"p{i}")
    expected = [e.seq for e in vault.audit_events()]
    model = AuditTableModel(harness.services.runner, page_size=3)
    model.start(vault)
    qtbot.waitUntil(lambda: not model.loading, timeout=WAIT_MS)
    assert model.rowCount() == 3 and model.canFetchMore()
    while model.canFetchMore():
        model.fetchMore()
        qtbot.waitUntil(lambda: not model.loading, timeout=WAIT_MS)
    assert [model.event_at(r).seq for r in range(model.rowCount())] == expected

    model.start(vault, AuditFilter(action="test.page"))
    model.clear()  # the page in flight belongs to a query that is gone
    harness.services.runner.wait()
    qtbot.wait(50)
    assert model.rowCount() == 0 and not model.canFetchMore()


def test_scrolling_to_the_end_loads_older_events(
    qtbot, harness: Harness, vault: Vault, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(AuditSection, "page_size", 10)
    vault.add_secrets(NewSecret(f"s{i:02}", b"v") for i in range(30))
    total = len(vault.audit_events())
    section = AuditSection(harness.services)
    qtbot.addWidget(section)
    section.resize(900, 400)
    section.show()
    qtbot.waitExposed(section)
    section.vault_unlocked(vault)
    settle(qtbot, section)
    assert 10 <= section.proxy.rowCount() < total
    bar = section.table.verticalScrollBar()
    while section.proxy.rowCount() < total:
        shown = section.proxy.rowCount()
        bar.setValue(bar.maximum())
        qtbot.waitUntil(lambda n=shown: section.proxy.rowCount() > n, timeout=WAIT_MS)
        settle(qtbot, section)
    seqs = [int(s) for s in column(section, Column.Seq)]
    assert seqs == [e.seq for e in vault.audit_events()]
    assert section.count_label.text() == f"{total} events."


def test_verify_shows_intact_in_colour_and_words(qtbot, audit: AuditSection) -> None:
    task = audit.verify_chain()
    assert not audit.verify_button.isEnabled()
    finish(qtbot, task)
    assert audit.verify_button.isEnabled()
    assert "intact" in audit.verify_label.text()
    assert audit.verify_label.property("role") == "ok"
    assert "color:" in audit.verify_label.styleSheet()


def test_verify_names_the_first_tampered_event(
    qtbot, harness: Harness, audit: AuditSection, vault: Vault
) -> None:
    vault._conn.execute("UPDATE audit SET target='x' WHERE seq=2")
    finish(qtbot, audit.verify_chain())
    text = audit.verify_label.text()
    assert "broken" in text and "event 2" in text and "modified" in text
    assert audit.verify_label.property("role") == "error"
    assert any("event 2" in s for s in harness.statuses)


def test_export_jsonl_round_trips_and_is_recorded(
    qtbot, audit: AuditSection, vault: Vault, tmp_path: Path
) -> None:
    before = [e.to_json() for e in vault.audit_events()]
    out = tmp_path / "audit.jsonl"
    task = audit.export_to(out, ExportFormat.Jsonl)
    assert not audit.export_button.isEnabled()
    finish(qtbot, task)
    assert audit.export_button.isEnabled()
    assert [json.loads(line) for line in out.read_text("utf-8").splitlines()] == before
    recorded = vault.audit_events(action="audit.export")
    assert len(recorded) == 1
    assert recorded[0].target == "audit.jsonl"
    assert recorded[0].details["events"] == len(before)
    assert recorded[0].details["format"] == "jsonl"
    settle(qtbot, audit)
    assert column(audit, Column.Action)[0] == "audit.export"


def test_export_csv_follows_the_filter_and_defuses_formulas(
    qtbot, audit: AuditSection, vault: Vault, tmp_path: Path
) -> None:
    vault.record("test.alpha", "=HYPERLINK(\"http://evil\")")
    audit.action.setCurrentText("test.alpha")
    audit.apply_filters()
    settle(qtbot, audit)
    out = tmp_path / "audit.csv"
    finish(qtbot, audit.export_to(out, ExportFormat.Csv))
    rows = list(csv.DictReader(io.StringIO(out.read_text("utf-8"), newline="")))
    assert [r["target"] for r in rows] == ["'=HYPERLINK(\"http://evil\")", "three", "one"]
    assert {r["action"] for r in rows} == {"test.alpha"}
    expected = {e.seq: e for e in vault.audit_events(action="test.alpha")}
    for row in rows:
        event = expected[int(row["seq"])]
        assert row["hash"] == event.hash.hex()
        assert json.loads(row["details"]) == event.details
    recorded = vault.audit_events(action="audit.export")[0]
    assert recorded.details["filters"] == {"action": "test.alpha"}


def test_export_into_a_missing_folder_is_one_sentence(
    qtbot, harness: Harness, audit: AuditSection, vault: Vault, tmp_path: Path
) -> None:
    finish(qtbot, audit.export_to(tmp_path / "nope" / "a.csv", ExportFormat.Csv))
    assert len(harness.errors) == 1
    assert "a.csv" in harness.errors[0] and "\n" not in harness.errors[0]
    assert vault.audit_events(action="audit.export") == []


def test_vault_locked_clears_the_model(qtbot, harness: Harness, audit: AuditSection) -> None:
    assert audit.proxy.rowCount() > 0
    audit.apply_filters()  # a page in flight when the lock comes
    audit.vault_locked()
    harness.services.runner.wait()
    qtbot.wait(50)
    assert audit.vault is None
    assert audit.model.rowCount() == 0 and audit.proxy.rowCount() == 0
    assert not audit.verify_button.isEnabled() and not audit.export_button.isEnabled()
    assert audit.verify_chain() is None
    assert harness.errors == []


# ----- Settings ----------------------------------------------------------------------------------


def test_settings_widgets_write_and_read_back(
    qtbot, harness: Harness, settings_section: SettingsSection
) -> None:
    s, section = harness.services.settings, settings_section
    assert section.auto_lock.value() == 5
    assert section.lock_on_session.isChecked()
    assert section.theme.currentData() == "system"
    section.auto_lock.setValue(12)
    section.clipboard_clear.setValue(45)
    section.lock_on_session.setChecked(False)
    section.tray.setChecked(True)
    section.theme.setCurrentIndex(section.theme.findData("dark"))
    assert (s.auto_lock_minutes, s.clipboard_clear_seconds) == (12, 45)
    assert (s.lock_on_session_lock, s.minimize_to_tray, s.theme) == (False, True, "dark")

    again = ConsoleSettings(QSettings(str(harness.ini), QSettings.Format.IniFormat))
    assert (again.auto_lock_minutes, again.theme, again.minimize_to_tray) == (12, "dark", True)
    fresh = SettingsSection(replace(harness.services, settings=again))
    qtbot.addWidget(fresh)
    assert fresh.auto_lock.value() == 12 and fresh.theme.currentData() == "dark"
    assert not fresh.lock_on_session.isChecked() and fresh.tray.isChecked()

    s.set("reveal_seconds", 20)  # changed elsewhere: the widget follows
    assert section.reveal.value() == 20


def test_vault_buttons_follow_the_lock(settings_section: SettingsSection, vault: Vault) -> None:
    buttons = settings_section.ops.buttons
    assert not any(b.isEnabled() for b in buttons)
    settings_section.vault_unlocked(vault)
    assert all(b.isEnabled() for b in buttons)
    settings_section.vault_locked()
    assert not any(b.isEnabled() for b in buttons)
    assert settings_section.backup_to("/tmp/never.srbk") is None


def test_change_passphrase_refuses_weak_then_changes(
    qtbot, settings_section: SettingsSection, harness: Harness, vault: Vault
) -> None:
    settings_section.vault_unlocked(vault)
    dialog = settings_section.open_change_passphrase()
    assert dialog is not None and dialog.isVisible()
    assert not dialog.ok_button.isEnabled()
    dialog.current.setText(PASSPHRASE)
    dialog.new.setText("password123")
    dialog.repeat.setText("password123")
    qtbot.waitUntil(lambda: "weak" in dialog.verdict.text(), timeout=5_000)
    assert dialog.meter.value() <= 1
    assert dialog.submit() is None
    assert "too weak" in dialog.error.text()

    dialog.new.setText(OTHER_PASSPHRASE)
    dialog.repeat.setText(OTHER_PASSPHRASE + "x")
    assert dialog.submit() is None
    assert "differ" in dialog.error.text()

    dialog.repeat.setText(OTHER_PASSPHRASE)
    dialog.update_strength()
    assert dialog.meter.value() >= 3 and dialog.verdict.text() == "Strong enough."
    left_behind: list[list[str]] = []
    dialog.finished.connect(
        lambda _r: left_behind.append([f.text() for f in (dialog.current, dialog.new,
                                                          dialog.repeat)]))
    with qtbot.waitSignal(dialog.finished, timeout=WAIT_MS):
        qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
        assert not dialog.ok_button.isEnabled() and dialog.busy_bar.isVisibleTo(dialog)
    assert left_behind == [["", "", ""]]
    assert "The passphrase was changed." in harness.statuses
    assert settings_section.dialog is None

    vault.lock()
    with Vault.open(vault.path) as reopened:
        reopened.unlock(unlocker(OTHER_PASSPHRASE))
        assert reopened.audit_events(action="passphrase.change")
    with pytest.raises(WrongPassphrase):
        Vault.open(vault.path).unlock(unlocker(PASSPHRASE))


def test_change_passphrase_with_the_wrong_current_one(
    qtbot, settings_section: SettingsSection, vault: Vault
) -> None:
    settings_section.vault_unlocked(vault)
    dialog = settings_section.open_change_passphrase()
    assert dialog is not None
    dialog.current.setText("not the passphrase at all")
    dialog.new.setText(OTHER_PASSPHRASE)
    dialog.repeat.setText(OTHER_PASSPHRASE)
    finish(qtbot, dialog.submit())
    assert dialog.isVisible()
    assert dialog.error.text() == "The current passphrase is wrong; nothing was changed"
    assert dialog.current.text() == ""


def test_lock_closes_the_dialog_and_empties_it(
    settings_section: SettingsSection, vault: Vault
) -> None:
    settings_section.vault_unlocked(vault)
    dialog = settings_section.open_change_passphrase()
    assert dialog is not None
    dialog.current.setText(PASSPHRASE)
    dialog.new.setText(OTHER_PASSPHRASE)
    settings_section.vault_locked()
    assert not dialog.isVisible()
    assert dialog.current.text() == "" and dialog.new.text() == ""
    assert settings_section.dialog is None


def test_backup_verify_and_restore(
    qtbot, settings_section: SettingsSection, harness: Harness, vault: Vault, tmp_path: Path
) -> None:
    section = settings_section
    section.vault_unlocked(vault)
    backup = tmp_path / "b.srbk"
    task = section.backup_to(backup)
    assert not section.backup_button.isEnabled() and section.verify_button.isEnabled()
    assert section.busy.bar.isVisibleTo(section)
    finish(qtbot, task)
    assert section.backup_button.isEnabled() and not section.busy.bar.isVisibleTo(section)
    assert backup.exists()
    assert harness.statuses[-1].startswith("Backup written to b.srbk")

    finish(qtbot, section.verify_backup_file(backup, PASSPHRASE))
    assert "checks out" in harness.statuses[-1]
    assert harness.errors == []

    finish(qtbot, section.backup_to(backup))  # an existing file is refused, in words
    finish(qtbot, section.verify_backup_file(backup, OTHER_PASSPHRASE))
    assert len(harness.errors) == 2
    assert "already exists" in harness.errors[0]
    assert harness.errors[1] == "The passphrase does not open this backup"

    restored = tmp_path / "restored"
    finish(qtbot, section.restore_to(backup, restored, PASSPHRASE))
    assert "new vault" in harness.statuses[-1] and "unchanged" in harness.statuses[-1]
    with Vault.open(restored) as copy:
        copy.unlock(unlocker(PASSPHRASE))
        assert copy.vault_id == vault.vault_id
        assert copy.audit_events(action="backup.restore")
    assert vault.unlocked and not vault.audit_events(action="backup.restore")


def test_a_foreign_backup_is_reported_in_one_sentence(
    qtbot, settings_section: SettingsSection, harness: Harness, vault: Vault, tmp_path: Path
) -> None:
    with make_vault(tmp_path / "other") as other:
        create_backup(other, tmp_path / "other.srbk")
    settings_section.vault_unlocked(vault)
    finish(qtbot, settings_section.verify_backup_file(tmp_path / "other.srbk", PASSPHRASE))
    assert len(harness.errors) == 1
    message = harness.errors[0]
    assert "backup of another vault" in message and vault.vault_id[:8] in message
    assert "\n" not in message and "Traceback" not in message


def test_rotate_keys_keeps_the_vault_usable(
    qtbot, settings_section: SettingsSection, harness: Harness, vault: Vault
) -> None:
    settings_section.vault_unlocked(vault)
    task = settings_section.rotate_keys()
    assert not settings_section.rotate_button.isEnabled()
    finish(qtbot, task)
    assert harness.errors == []
    assert harness.statuses[-1].startswith("Rotated the master key")
    assert vault.audit_verify().ok
    vault.lock()
    with Vault.open(vault.path) as again:
        again.unlock(unlocker(PASSPHRASE))
        assert again.audit_events(action="vault.rekey")


def test_every_control_has_an_accessible_name(
    audit: AuditSection, settings_section: SettingsSection, vault: Vault
) -> None:
    from PySide6.QtWidgets import (
        QAbstractButton,
        QAbstractItemView,
        QAbstractSpinBox,
        QComboBox,
        QLineEdit,
        QWidget,
    )

    def inside_a_compound(widget: QWidget, top: QWidget) -> bool:
        parent = widget.parentWidget()
        while parent is not None and parent is not top:
            if isinstance(parent, QComboBox | QAbstractSpinBox | QAbstractItemView | QLineEdit):
                return True  # a combo box's editor, a line edit's clear button
            parent = parent.parentWidget()
        return False

    settings_section.vault_unlocked(vault)
    dialog = settings_section.open_change_passphrase()
    assert dialog is not None
    controls = (QAbstractButton, QAbstractSpinBox, QComboBox, QLineEdit, QAbstractItemView)
    for top in (audit, settings_section, dialog):
        for widget in top.findChildren(QWidget):
            if isinstance(widget, controls) and not inside_a_compound(widget, top):
                label = widget.text() if isinstance(widget, QAbstractButton) else ""
                assert widget.accessibleName(), f"{type(widget).__name__} {label!r}"
    dialog.reject()


def test_utc_day_boundaries_are_local_midnights() -> None:
    from strongroom.ui.audit.section import day_start_utc

    text = day_start_utc(QDate(2025, 6, 1))
    moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    assert moment.astimezone().replace(tzinfo=None) == dt.datetime(2025, 6, 1)
