"""The Vault section over a real vault (real SQLCipher), driven by clicking its widgets."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import pytest
import shiboken6
from PySide6.QtCore import QMimeData, Qt
from PySide6.QtWidgets import QApplication, QLineEdit, QMessageBox, QWidget

from strongroom.app.model import Classification, SecretInfo
from strongroom.app.vault import NewSecret, Vault
from strongroom.ui.clipboard import CONCEAL_HINTS, ClipboardGuard
from strongroom.ui.settings.store import ConsoleSettings
from strongroom.ui.vault.history_dialog import HistoryDialog, meta_diff
from strongroom.ui.vault.model import FETCH_BATCH, SecretsModel
from strongroom.ui.vault.rows import Column, Due, Loaded, due_state
from strongroom.ui.vault.secret_dialog import SecretDialog
from strongroom.ui.vault.section import VaultSection
from strongroom.ui.workers import TaskRunner

from conftest import make_vault, unlocker
from helpers.ui_services import make_services

WAIT_MS = 60_000
LEFT = Qt.MouseButton.LeftButton


@dataclass
class Harness:
    section: VaultSection
    vault: Vault
    settings: ConsoleSettings
    guard: ClipboardGuard
    runner: TaskRunner
    statuses: list[str]
    errors: list[str]


@pytest.fixture
def harness(qtbot, tmp_path: Path) -> Iterator[Harness]:
    vault = make_vault(tmp_path / "v")
    vault.add_secrets([
        NewSecret("db/prod", b"prod-password", Classification.Critical, ("prod", "db"),
                  "primary database", rotation_due=dt.date(2000, 1, 1)),
        NewSecret("api/stripe", b"sk_live_123", Classification.High, ("payments",), "stripe key"),
        NewSecret("wiki/admin", b"wiki-pass", Classification.Low, ("internal",)),
    ])
    made = make_services(tmp_path / "s.ini", ClipboardGuard)
    services, statuses, errors = made.services, made.statuses, made.errors
    settings, runner = services.settings, services.runner
    guard = cast(ClipboardGuard, services.clipboard)
    section = VaultSection(services)
    qtbot.addWidget(section)
    section.resize(1100, 600)
    section.show()
    section.vault_unlocked(vault)
    qtbot.waitUntil(lambda: not section.loading and section.model.total == 3, timeout=WAIT_MS)
    yield Harness(section, vault, settings, guard, runner, statuses, errors)
    section.vault_locked()
    runner.wait()
    guard.clear_if_ours()
    vault.lock()


def button(section: VaultSection, key: str) -> QWidget:
    return section.toolbar.widgetForAction(section.actions_[key])


def click(qtbot, widget: QWidget) -> None:
    assert widget.isEnabled(), widget.accessibleName()
    qtbot.mouseClick(widget, LEFT)


def select(qtbot, h: Harness, name: str) -> None:
    h.section.select(name)
    qtbot.waitUntil(lambda: getattr(h.section.selected(), "name", None) == name, timeout=WAIT_MS)


def names(model: SecretsModel) -> list[str]:
    return [model.info(r).name for r in range(model.rowCount())]


def open_dialog(qtbot, section: VaultSection, kind: type) -> object:
    qtbot.waitUntil(lambda: any(isinstance(d, kind) and d.isVisible() for d in section.dialogs),
                    timeout=WAIT_MS)
    return next(d for d in section.dialogs if isinstance(d, kind))


# ----- table, filter, keyboard -----------------------------------------------------------------


def test_table_shows_metadata_and_overdue_in_colour_and_text(qtbot, harness: Harness) -> None:
    model = harness.section.model
    assert names(model) == ["api/stripe", "db/prod", "wiki/admin"]
    row = names(model).index("db/prod")
    due = model.index(row, Column.RotationDue.value)
    assert due.data() == "2000-01-01 · overdue"
    assert due.data(Qt.ItemDataRole.ForegroundRole) is not None
    assert model.index(row, Column.Classification.value).data() == "critical"
    assert model.index(row, Column.Tags.value).data() == "db, prod"
    assert harness.section.count.text() == "3 secrets"


def test_filter_as_you_type_and_sort(qtbot, harness: Harness) -> None:
    section = harness.section
    qtbot.keyClicks(section.search, "STRIPE")
    qtbot.waitUntil(lambda: not section.model.scanning, timeout=WAIT_MS)
    assert names(section.model) == ["api/stripe"]
    assert section.count.text() == "1 of 3 secrets"
    section.search.setText("internal")  # a tag
    assert names(section.model) == ["wiki/admin"]
    section.search.setText("primary prod")  # note and name, every word must match
    assert names(section.model) == ["db/prod"]
    section.search.clear()
    section.view.sortByColumn(Column.Classification.value, Qt.SortOrder.AscendingOrder)
    assert names(section.model) == ["db/prod", "api/stripe", "wiki/admin"]
    section.view.sortByColumn(Column.Name.value, Qt.SortOrder.DescendingOrder)
    assert names(section.model) == ["wiki/admin", "db/prod", "api/stripe"]


def test_ctrl_f_focuses_search_and_controls_have_accessible_names(qtbot, harness) -> None:
    section = harness.section
    section.activateWindow()
    section.focus_search()
    qtbot.waitUntil(lambda: section.search.hasFocus(), timeout=5000)
    for key in section.actions_:
        assert button(section, key).accessibleName()
    for widget in (section.search, section.view, section.value.label, section.count):
        assert widget.accessibleName()


def test_ctrl_b_copies_the_name(qtbot, harness: Harness) -> None:
    select(qtbot, harness, "db/prod")
    qtbot.keyClick(harness.section.view, Qt.Key.Key_B, Qt.KeyboardModifier.ControlModifier)
    assert QApplication.clipboard().text() == "db/prod"


# ----- add, edit, history, delete --------------------------------------------------------------


def test_add_a_secret_through_the_dialog_with_a_generated_value(qtbot, harness: Harness) -> None:
    section = harness.section
    click(qtbot, button(section, "add"))
    dialog = open_dialog(qtbot, section, SecretDialog)
    qtbot.keyClicks(dialog.name, "ssh/deploy")
    dialog.classification.setCurrentIndex(list(Classification).index(Classification.High))
    qtbot.keyClicks(dialog.tags, "ops, ssh")
    dialog.rotation_on.setChecked(True)
    click(qtbot, dialog.generator.button)
    assert "bits" in dialog.generator.entropy.text()
    generated = dialog.value.text()
    assert len(generated) == 24
    assert dialog.value.echoMode() == QLineEdit.EchoMode.Password
    click(qtbot, dialog.save_button)
    qtbot.waitUntil(lambda: section.model.total == 4, timeout=WAIT_MS)
    assert not shiboken6.isValid(dialog) or not dialog.isVisible()  # closed, then deleted
    assert harness.vault.get_secret("ssh/deploy") == generated.encode()
    info = harness.vault.secret_info("ssh/deploy")
    assert info.classification is Classification.High and info.tags == ("ops", "ssh")
    assert info.rotation_due is not None
    assert section.selected() is not None and section.selected().name == "ssh/deploy"
    assert any("ssh/deploy" in s for s in harness.statuses)


def test_adding_a_duplicate_keeps_the_dialog_open_with_one_sentence(qtbot, harness) -> None:
    section = harness.section
    click(qtbot, button(section, "add"))
    dialog = open_dialog(qtbot, section, SecretDialog)
    qtbot.keyClicks(dialog.name, "db/prod")
    qtbot.keyClicks(dialog.value, "x")
    click(qtbot, dialog.save_button)
    qtbot.waitUntil(lambda: bool(harness.errors), timeout=WAIT_MS)
    assert harness.errors == ["A secret named 'db/prod' already exists"]
    assert dialog.isVisible() and dialog.message.text() == harness.errors[0]
    assert "Traceback" not in dialog.message.text()
    dialog.reject()
    assert dialog.value.text() == ""


def test_generator_words_mode_and_impossible_settings(qtbot) -> None:
    dialog = SecretDialog()
    qtbot.addWidget(dialog)
    dialog.show()
    panel = dialog.generator
    for box in (panel.lower, panel.upper, panel.digits, panel.symbols):
        box.setChecked(False)
    click(qtbot, panel.button)
    assert panel.entropy.text() == "Choose at least one kind of character for the password."
    assert dialog.value.text() == ""
    panel.mode.setCurrentIndex(1)
    panel.words.setValue(5)
    click(qtbot, panel.button)
    assert len(dialog.value.text().split("-")) == 5
    assert "bits" in panel.entropy.text()
    click(qtbot, dialog.show_value)
    assert dialog.value.echoMode() == QLineEdit.EchoMode.Normal
    dialog.reject()
    assert dialog.value.text() == "" and dialog.value.echoMode() == QLineEdit.EchoMode.Password


PEM = ("-----BEGIN PRIVATE KEY-----\n"
       "MC4CAQAwBQYDK2VwBCIEIBbZ2sDXyUtDSEg8Xm0lP0kNzsSYUS1V6nN3ZmPc0bZq\n"
       "-----END PRIVATE KEY-----\n")


def test_a_multi_line_value_round_trips_byte_exact(qtbot, harness: Harness) -> None:
    section = harness.section
    click(qtbot, button(section, "add"))
    dialog = open_dialog(qtbot, section, SecretDialog)
    field = dialog.value_field
    qtbot.keyClicks(dialog.name, "tls/key")
    qtbot.keyClicks(dialog.value, "first line")  # typed in the single line, then moved
    click(qtbot, field.multiline)
    assert not dialog.value.isVisible() and not field.block.isVisible()  # masked: a summary
    assert "1 line," in field.summary.text() and "first" not in field.summary.text()
    click(qtbot, dialog.show_value)
    assert field.block.isVisible() and field.block_text() == "first line"
    field.block.selectAll()
    qtbot.keyClicks(field.block, "line one A\u00a0B")  # a no-break space stays one
    qtbot.keyClick(field.block, Qt.Key.Key_Return)
    QApplication.clipboard().setText("\t" + PEM)  # Tab moves the focus; a pasted tab stays
    qtbot.keyClick(field.block, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    entered = "line one A\u00a0B\n\t" + PEM
    click(qtbot, field.multiline)  # several lines cannot go back to the single line
    assert field.is_multiline and "several lines" in dialog.message.text()
    click(qtbot, dialog.show_value)
    assert field.summary.isVisible() and "4 lines" in field.summary.text()
    assert "PRIVATE" not in field.summary.text()
    wiped: list[tuple[str, ...]] = []
    dialog.finished.connect(lambda _: wiped.append((
        dialog.value.text(), field.block.toPlainText(), field.summary.text(), dialog.name.text(),
        dialog.note.toPlainText(),
    )))
    click(qtbot, dialog.save_button)
    qtbot.waitUntil(lambda: section.model.total == 4, timeout=WAIT_MS)
    assert harness.vault.get_secret("tls/key") == entered.encode()
    assert wiped == [("", "", "", "", "")]
    QApplication.clipboard().clear()


def test_load_a_value_from_a_file_keeps_its_bytes(qtbot, harness: Harness, tmp_path) -> None:
    from PySide6.QtWidgets import QFileDialog

    from strongroom.ui.vault.value_field import MAX_FILE_BYTES

    cert = tmp_path / "cert.pem"
    exact = PEM.replace("\n", "\r\n").encode() + b"\xc2\xa0\n"  # CRLF, a no-break space
    cert.write_bytes(exact)
    der = tmp_path / "cert.der"
    der.write_bytes(b"\x30\x82\x01\x0a\xff\x00")
    big = tmp_path / "big.pem"
    big.write_bytes(b"a" * (MAX_FILE_BYTES + 1))
    section = harness.section
    click(qtbot, button(section, "add"))
    dialog = open_dialog(qtbot, section, SecretDialog)
    field = dialog.value_field
    qtbot.keyClicks(dialog.name, "tls/cert")

    field.load_file(big)
    qtbot.waitUntil(lambda: "larger than" in dialog.message.text(), timeout=WAIT_MS)
    assert field.value() is None and field.load_button.isEnabled()
    click(qtbot, field.load_button)  # the real file chooser
    chooser = dialog.findChild(QFileDialog)
    chooser.selectFile(str(der))
    chooser.accept()
    qtbot.waitUntil(lambda: "binary" in field.summary.text(), timeout=WAIT_MS)
    assert field.is_multiline and field.value() == der.read_bytes()
    click(qtbot, dialog.show_value)  # binary data is never put in the text field
    assert not field.block.isVisible() and field.summary.isVisible()
    click(qtbot, dialog.show_value)
    field.load_file(cert)
    qtbot.waitUntil(lambda: field.summary.text().startswith("cert.pem: 4 lines"),
                    timeout=WAIT_MS)
    assert "BEGIN" not in field.summary.text() and not field.block.isVisible()
    click(qtbot, dialog.save_button)
    qtbot.waitUntil(lambda: section.model.total == 4, timeout=WAIT_MS)
    assert harness.vault.get_secret("tls/cert") == exact


def edit(qtbot, h: Harness, name: str, value: str | None, owner: str | None = None) -> None:
    select(qtbot, h, name)
    click(qtbot, button(h.section, "edit"))
    dialog = open_dialog(qtbot, h.section, SecretDialog)
    assert dialog.name.isReadOnly() and dialog.value.text() == ""
    if value is not None:
        qtbot.keyClicks(dialog.value, value)
    if owner is not None:
        dialog.owner.setText(owner)
    statuses = len(h.statuses)
    click(qtbot, dialog.save_button)
    qtbot.waitUntil(lambda: len(h.statuses) > statuses, timeout=WAIT_MS)


def test_edit_makes_a_version_only_when_the_value_changes(qtbot, harness: Harness) -> None:
    edit(qtbot, harness, "api/stripe", None, owner="carol")
    info = harness.vault.secret_info("api/stripe")
    assert (info.version, info.owner) == (1, "carol")
    edit(qtbot, harness, "api/stripe", "sk_live_123")  # the same value again
    assert harness.vault.secret_info("api/stripe").version == 1
    edit(qtbot, harness, "api/stripe", "sk_live_456")
    assert harness.vault.secret_info("api/stripe").version == 2
    assert harness.vault.get_secret("api/stripe") == b"sk_live_456"


def test_history_shows_versions_diff_and_reveals_an_old_value(qtbot, harness: Harness) -> None:
    harness.vault.update_secret(
        "api/stripe", b"sk_live_456", owner="carol", tags=["payments", "v2"]
    )
    harness.section.reload()
    qtbot.waitUntil(lambda: harness.section.model.info(0).version == 2, timeout=WAIT_MS)
    select(qtbot, harness, "api/stripe")
    click(qtbot, button(harness.section, "history"))
    dialog = open_dialog(qtbot, harness.section, HistoryDialog)
    qtbot.waitUntil(lambda: dialog.table.rowCount() == 2, timeout=WAIT_MS)
    assert "tags: payments → payments, v2" in dialog.changes.toPlainText()
    assert "owner:" in dialog.changes.toPlainText()
    dialog.table.selectRow(0)
    assert "first version" in dialog.changes.toPlainText()
    assert not dialog.value.revealed
    click(qtbot, dialog.reveal_button)
    qtbot.waitUntil(lambda: dialog.value.revealed, timeout=WAIT_MS)
    assert dialog.value.label.text() == "sk_live_123"
    events = harness.vault.audit_events(action="secret.reveal")
    assert any(e.details.get("version") == 1 for e in events)
    dialog.reject()
    assert dialog.value.label.text() == dialog.value.MASK


def test_meta_diff_lists_changed_fields_only() -> None:
    old = {"owner": "alice", "tags": ["a"], "expires": None, "note": "x"}
    new = {"owner": "bob", "tags": ["a"], "expires": "2030-01-01", "note": "x"}
    assert meta_diff(old, new) == ["owner: alice → bob", "expires: none → 2030-01-01"]


def test_delete_asks_first(qtbot, harness: Harness) -> None:
    section = harness.section
    select(qtbot, harness, "wiki/admin")
    click(qtbot, button(section, "delete"))
    box = open_dialog(qtbot, section, QMessageBox)
    click(qtbot, box.button(QMessageBox.StandardButton.Cancel))
    assert harness.vault.count_secrets() == 3
    click(qtbot, button(section, "delete"))
    box = open_dialog(qtbot, section, QMessageBox)
    click(qtbot, box.button(QMessageBox.StandardButton.Yes))
    qtbot.waitUntil(lambda: section.model.total == 2, timeout=WAIT_MS)
    assert harness.vault.count_secrets() == 2
    assert "wiki/admin" not in names(section.model)


# ----- reveal and copy -------------------------------------------------------------------------


def test_reveal_shows_the_value_then_hides_it(qtbot, harness: Harness) -> None:
    harness.settings.set("reveal_seconds", 1)
    section = harness.section
    select(qtbot, harness, "db/prod")
    assert section.value.label.text() == section.value.MASK
    click(qtbot, button(section, "reveal"))
    qtbot.waitUntil(lambda: section.value.revealed, timeout=WAIT_MS)
    assert section.value.label.text() == "prod-password"
    qtbot.waitUntil(lambda: not section.value.revealed, timeout=5000)
    assert section.value.label.text() == section.value.MASK
    events = harness.vault.audit_events(action="secret.reveal")
    assert [e.target for e in events] == ["db/prod"]


def test_selecting_another_row_hides_a_revealed_value(qtbot, harness: Harness) -> None:
    section = harness.section
    select(qtbot, harness, "db/prod")
    click(qtbot, button(section, "reveal"))
    qtbot.waitUntil(lambda: section.value.revealed, timeout=WAIT_MS)
    select(qtbot, harness, "wiki/admin")
    assert not section.value.revealed and section.value.label.text() == section.value.MASK


def test_copy_puts_a_concealed_value_and_clears_it(qtbot, harness: Harness) -> None:
    harness.settings.set("clipboard_clear_seconds", 1)
    clipboard = QApplication.clipboard()
    select(qtbot, harness, "api/stripe")
    click(qtbot, button(harness.section, "copy_value"))
    qtbot.waitUntil(lambda: clipboard.text() == "sk_live_123", timeout=WAIT_MS)
    mime = clipboard.mimeData()
    assert bytes(mime.data("x-kde-passwordManagerHint")) == b"secret"
    for fmt, _ in CONCEAL_HINTS:
        assert mime.hasFormat(fmt), fmt
    assert harness.guard.holding
    with qtbot.waitSignal(harness.guard.cleared, timeout=5000):
        pass
    assert clipboard.text() == ""
    assert [e.target for e in harness.vault.audit_events(action="secret.copy")] == ["api/stripe"]


def test_ctrl_c_copies_the_value_not_the_cell(qtbot, harness: Harness) -> None:
    select(qtbot, harness, "wiki/admin")
    harness.section.view.setFocus()
    qtbot.keyClick(harness.section.view, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: QApplication.clipboard().text() == "wiki-pass", timeout=WAIT_MS)


def test_copy_does_not_clear_what_someone_else_copied(qtbot, harness: Harness) -> None:
    harness.settings.set("clipboard_clear_seconds", 1)
    clipboard = QApplication.clipboard()
    select(qtbot, harness, "db/prod")
    click(qtbot, button(harness.section, "copy_value"))
    qtbot.waitUntil(lambda: clipboard.text() == "prod-password", timeout=WAIT_MS)
    mine = QMimeData()
    mine.setText("the user's own text")
    clipboard.setMimeData(mine)
    assert not harness.guard.holding  # it stopped tracking at once
    qtbot.wait(1500)
    assert clipboard.text() == "the user's own text"


def test_guard_clears_only_its_own_value(qtbot) -> None:
    guard = ClipboardGuard()
    clipboard = QApplication.clipboard()
    guard.copy_secret(b"s3cret")
    assert clipboard.text() == "s3cret" and guard.remaining_ms() > 20_000
    assert b"s3cret" not in repr(vars(guard)).encode()
    with qtbot.waitSignal(guard.cleared, timeout=1000):
        guard.clear_if_ours()
    assert clipboard.text() == "" and not guard.holding
    clipboard.setText("other")
    guard.clear_if_ours()
    assert clipboard.text() == "other"


# ----- lock ------------------------------------------------------------------------------------


def test_lock_clears_the_model_closes_dialogs_and_hides_values(qtbot, harness: Harness) -> None:
    section = harness.section
    select(qtbot, harness, "db/prod")
    click(qtbot, button(section, "reveal"))
    qtbot.waitUntil(lambda: section.value.revealed, timeout=WAIT_MS)
    click(qtbot, button(section, "history"))
    history = open_dialog(qtbot, section, HistoryDialog)
    qtbot.waitUntil(lambda: history.table.rowCount() == 1, timeout=WAIT_MS)
    click(qtbot, button(section, "edit"))
    editor = open_dialog(qtbot, section, SecretDialog)
    qtbot.keyClicks(editor.value, "half-typed")

    section.vault_locked()
    assert section.vault is None and history.vault is None
    assert section.model.total == 0 and section.model.rowCount() == 0
    assert not history.isVisible() and not editor.isVisible()
    assert editor.value.text() == ""
    assert not section.value.revealed and section.value.label.text() == section.value.MASK
    assert not section.dialogs
    assert not any(a.isEnabled() for a in section.actions_.values())


def test_results_arriving_after_a_lock_are_dropped(qtbot, harness: Harness) -> None:
    section = harness.section
    select(qtbot, harness, "db/prod")
    click(qtbot, button(section, "reveal"))
    section.vault_locked()  # before the reveal comes back
    harness.runner.wait()
    qtbot.wait(50)
    assert not section.value.revealed and section.model.total == 0
    assert harness.errors == []


def test_unlocking_again_reloads_with_the_filter_kept(qtbot, harness: Harness) -> None:
    section = harness.section
    section.search.setText("wiki")
    section.vault_locked()
    harness.runner.wait()
    harness.vault.lock()
    harness.vault.unlock(unlocker())
    section.vault_unlocked(harness.vault)
    qtbot.waitUntil(lambda: not section.loading and section.model.total == 3, timeout=WAIT_MS)
    assert names(section.model) == ["wiki/admin"]
    assert section.actions_["add"].isEnabled()


# ----- the model alone -------------------------------------------------------------------------


def info(n: int, **kw: object) -> SecretInfo:
    base = dict(id=n, name=f"svc-{n:06d}", classification=Classification.Moderate,
                owner="ops", note="", tags=(), created="2024-01-01T00:00:00.000000Z",
                updated="2024-01-01T00:00:00.000000Z", expires=None, rotation_due=None,
                version=1)
    base.update(kw)
    return SecretInfo(**base)  # type: ignore[arg-type]


def test_model_fetches_lazily_and_filters_large_sets(qtbot) -> None:
    model = SecretsModel(today=lambda: dt.date(2025, 1, 1))
    rows = [info(n, note="needle" if n % 1000 == 7 else "") for n in range(20_000)]
    model.set_rows(Loaded.build(rows))
    assert model.total == 20_000 and model.rowCount() == FETCH_BATCH
    assert model.canFetchMore()
    model.fetchMore()
    assert model.rowCount() == 2 * FETCH_BATCH
    model.set_filter("NEEDLE")
    qtbot.waitUntil(lambda: not model.scanning, timeout=WAIT_MS)
    assert model.matches == 20 and model.rowCount() == 20
    model.set_filter("needle svc-0010")  # narrows the previous matches
    assert [model.info(r).name for r in range(model.rowCount())] == ["svc-001007"]
    assert model.row_of("svc-001007") == 0 and model.row_of("svc-000001") is None


def test_due_states() -> None:
    today = dt.date(2025, 1, 10)
    assert due_state(None, today) == (Due.Unset, 0)
    assert due_state("2025-01-09", today) == (Due.Overdue, -1)
    assert due_state("2025-01-20", today)[0] is Due.Soon
    assert due_state("2026-01-01", today)[0] is Due.Later


def test_model_upsert_and_remove_keep_the_order(qtbot) -> None:
    model = SecretsModel()
    model.set_rows(Loaded.build([info(n) for n in (1, 3, 5)]))
    model.upsert(info(4, owner="new"))
    model.upsert(info(3, owner="edited"))
    assert names(model) == ["svc-000001", "svc-000003", "svc-000004", "svc-000005"]
    assert model.info(1).owner == "edited"
    model.remove("svc-000003")
    assert names(model) == ["svc-000001", "svc-000004", "svc-000005"]
    assert model.row_of("svc-000005") == 2
    model.sort(Column.Name.value, Qt.SortOrder.DescendingOrder)
    assert names(model) == ["svc-000005", "svc-000004", "svc-000001"]


def test_sorting_keeps_the_selected_secret_selected(qtbot, harness: Harness) -> None:
    select(qtbot, harness, "wiki/admin")
    harness.section.view.sortByColumn(Column.Name.value, Qt.SortOrder.DescendingOrder)
    assert harness.section.selected().name == "wiki/admin"
    assert harness.section.view.selectionModel().selectedRows()[0].row() == 0
