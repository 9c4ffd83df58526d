"""File > Import and Export in the console, over a real vault: preview, import, cancel, export."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import json
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import pytest
from pykeepass import PyKeePass
from test_ui_vault import Harness, button, click, open_dialog

from strongroom.app.model import Classification
from strongroom.app.transfer.model import OnConflict
from strongroom.app.vault import NewSecret
from strongroom.ui.clipboard import ClipboardGuard
from strongroom.ui.transfer.export_dialog import ExportDialog
from strongroom.ui.transfer.import_dialog import ImportDialog
from strongroom.ui.vault.section import VaultSection

from conftest import make_vault
from helpers.ui_services import make_services

WAIT_MS = 60_000
FILE_PASSWORD = "correct horse battery staple export"


@pytest.fixture
def harness(qtbot, tmp_path: Path) -> Iterator[Harness]:
    vault = make_vault(tmp_path / "v")
    vault.add_secrets([NewSecret("GitHub", b"old-github", Classification.High),
                       NewSecret("db/prod", b"prod-pass", Classification.Moderate, ("db",))])
    made = make_services(tmp_path / "s.ini", ClipboardGuard)
    section = VaultSection(made.services)
    qtbot.addWidget(section)
    section.resize(1100, 600)
    section.show()
    section.vault_unlocked(vault)
    qtbot.waitUntil(lambda: not section.loading and section.model.total == 2, timeout=WAIT_MS)
    yield Harness(section, vault, made.services.settings,
                  cast(ClipboardGuard, made.services.clipboard), made.services.runner,
                  made.statuses, made.errors)
    section.vault_locked()
    made.services.runner.wait()
    vault.lock()


def bitwarden(path: Path, count: int = 2) -> Path:
    items = [{"type": 1, "name": "GitHub", "folderId": None, "notes": None,
              "login": {"username": "alice", "password": "new-github", "totp": None,
                        "uris": [{"uri": "https://github.com"}]}}]
    items += [{"type": 2, "name": f"note {n}", "folderId": None, "notes": f"text {n}",
               "secureNote": {"type": 0}} for n in range(count - 1)]
    path.write_text(json.dumps({"encrypted": False, "folders": [], "items": items}))
    return path


def open_import(qtbot, h: Harness, path: Path) -> ImportDialog:
    click(qtbot, button(h.section, "import"))
    dialog = cast(ImportDialog, open_dialog(qtbot, h.section, ImportDialog))
    dialog.set_path(path)
    return dialog


def preview(qtbot, dialog: ImportDialog) -> None:
    click(qtbot, dialog.preview_button)
    qtbot.waitUntil(lambda: dialog.preview_button.isEnabled(), timeout=WAIT_MS)


def test_import_previews_conflicts_then_writes_with_the_chosen_rule(qtbot, harness: Harness,
                                                                   tmp_path: Path) -> None:
    dialog = open_import(qtbot, harness, bitwarden(tmp_path / "bw.json", 3))
    assert dialog.format.currentData() == "bitwarden"  # from the file name
    assert not dialog.password.isVisible() and not dialog.import_button.isEnabled()
    dialog.conflict.setCurrentIndex(dialog.conflict.findData(OnConflict.rename))
    preview(qtbot, dialog)
    assert "3 secret(s) in the file" in dialog.summary.text(), dialog.summary.text()
    assert "2 new, 1 renamed" in dialog.summary.text()
    assert dialog.conflicts.rowCount() == 1
    assert dialog.conflicts.item(0, 1).text() == "GitHub (2)"
    assert harness.section.model.total == 2  # nothing written by a preview
    dialog.level.setCurrentIndex(list(Classification).index(Classification.Low))
    assert not dialog.import_button.isEnabled()  # a changed choice needs a new preview
    preview(qtbot, dialog)
    click(qtbot, dialog.import_button)
    qtbot.waitUntil(lambda: harness.section.model.total == 5, timeout=WAIT_MS)
    vault = harness.vault
    assert vault.get_secret("GitHub") == b"old-github"
    assert vault.secret_info("GitHub (2)").classification is Classification.Low
    [event] = vault.audit_events(action="secret.import")
    assert event.details["renamed"] == 1 and event.details["added"] == 2
    assert any("Imported 3 new secret(s)" in s for s in harness.statuses)


def test_a_file_that_cannot_be_read_is_one_sentence_and_nothing_else(qtbot, harness: Harness,
                                                                    tmp_path: Path) -> None:
    bad = tmp_path / "broken.json"
    bad.write_bytes(b'{"encrypted": false, "items": [')
    dialog = open_import(qtbot, harness, bad)
    preview(qtbot, dialog)
    text = dialog.summary.text()
    assert text and "\n" not in text and "Traceback" not in text
    assert not dialog.import_button.isEnabled()
    assert harness.vault.audit_events(action="secret.import") == []


def test_cancelling_an_import_writes_nothing(qtbot, harness: Harness, tmp_path: Path) -> None:
    lines = ["Title,Username,Password"] + [f"site{n},user{n},pw{n}" for n in range(4000)]
    source = tmp_path / "big.csv"
    source.write_text("\n".join(lines) + "\n")
    dialog = open_import(qtbot, harness, source)
    assert dialog.format.currentData() == "csv"
    preview(qtbot, dialog)
    assert "4000 secret(s)" in dialog.summary.text(), dialog.summary.text()
    seq = harness.vault.audit_events(limit=1)[0].seq
    click(qtbot, dialog.import_button)
    assert dialog.cancel_button.isVisible()
    click(qtbot, dialog.cancel_button)
    qtbot.waitUntil(lambda: "nothing was imported" in dialog.summary.text(), timeout=WAIT_MS)
    assert harness.vault.count_secrets() == 2
    assert [e.action for e in harness.vault.audit_events() if e.seq > seq] == []
    assert dialog.import_button.isEnabled()  # the same preview can be imported after all


def test_export_writes_a_kdbx_that_opens_with_its_password(qtbot, harness: Harness,
                                                          tmp_path: Path) -> None:
    click(qtbot, button(harness.section, "export"))
    dialog = cast(ExportDialog, open_dialog(qtbot, harness.section, ExportDialog))
    target = tmp_path / "out.kdbx"
    dialog.path.setText(str(target))
    dialog.password.setText(FILE_PASSWORD)
    dialog.repeat.setText(FILE_PASSWORD + "x")
    click(qtbot, dialog.export_button)
    assert "differ" in dialog.message.text() and not target.exists()
    dialog.repeat.setText(FILE_PASSWORD)
    dialog.tag.setText("db")
    click(qtbot, dialog.export_button)
    wiped: list[bool] = []
    dialog.finished.connect(
        lambda _r: wiped.append(dialog.password.text() == dialog.repeat.text() == ""))
    qtbot.waitUntil(lambda: target.exists() and wiped == [True], timeout=WAIT_MS)
    kp = PyKeePass(str(target), password=FILE_PASSWORD)
    assert [(e.title, e.password) for e in kp.entries] == [("prod", "prod-pass")]
    assert oct(target.stat().st_mode & 0o777) == "0o600"
    [event] = harness.vault.audit_events(action="secret.export.file")
    assert event.details["count"] == 1


def test_a_csv_is_mapped_column_by_column_before_the_preview(qtbot, harness: Harness,
                                                              tmp_path: Path) -> None:
    from strongroom.app import entries

    source = tmp_path / "own.csv"
    source.write_text("Account,Secret,Site,Branch\nmail,pw-mail,https://mail.example,HQ\n")
    dialog = open_import(qtbot, harness, source)
    qtbot.waitUntil(lambda: dialog.columns.columns == ("Account", "Secret", "Site", "Branch"),
                    timeout=WAIT_MS)
    assert dialog.columns.isVisible() and not dialog.password.isVisible()
    assert set(dialog.columns.mapping().values()) == {"field"}  # no preset, no known names
    preview(qtbot, dialog)
    assert "name" in dialog.summary.text().lower()  # a CSV with no name column is refused
    for column, target in (("Account", "name"), ("Secret", "password"), ("Site", "url")):
        combo = dialog.columns.combo(column)
        combo.setCurrentIndex(combo.findData(target))
    preview(qtbot, dialog)
    assert "1 secret(s) in the file" in dialog.summary.text(), dialog.summary.text()
    click(qtbot, dialog.import_button)
    qtbot.waitUntil(lambda: harness.section.model.total == 3, timeout=WAIT_MS)
    entry = entries.decode(harness.vault.get_secret("mail"))
    assert (entry.password, entry.url) == ("pw-mail", "https://mail.example")
    assert entry.get("Branch") == "HQ"


def test_a_keepassxc_csv_is_recognised_by_its_header(qtbot, harness: Harness,
                                                     tmp_path: Path) -> None:
    source = tmp_path / "kp.csv"
    source.write_text('"Group","Title","Username","Password","URL","Notes","TOTP","Icon",'
                      '"Last Modified","Created"\n"Root/Web","Site","u","p","","","","0","",""\n')
    dialog = open_import(qtbot, harness, source)
    qtbot.waitUntil(lambda: bool(dialog.columns.columns), timeout=WAIT_MS)
    mapping = dialog.columns.mapping()
    assert (mapping["Title"], mapping["Group"], mapping["Icon"]) == ("name", "group", "ignore")
