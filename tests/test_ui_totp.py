"""The console with TOTP seeds and imported entries: a live code, the fields, copy, the editor."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import base64
import time
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import pytest
from PySide6.QtWidgets import QApplication
from test_ui_vault import Harness, button, click, open_dialog, select

from strongroom.app import totp
from strongroom.app.entries import Entry, Field
from strongroom.app.vault import NewSecret, Vault
from strongroom.ui.clipboard import ClipboardGuard
from strongroom.ui.vault.secret_dialog import SecretDialog
from strongroom.ui.vault.section import VaultSection

from conftest import make_vault
from helpers.ui_services import make_services

WAIT_MS = 60_000
SEED = base64.b32encode(b"12345678901234567890").decode()
SPEC = totp.make(SEED)
ENTRY = Entry(password="entry-pass", username="alice", url="https://example.com",
              fields=(Field("PIN", "4321", protected=True),), totp=SPEC.uri())


@pytest.fixture
def harness(qtbot, tmp_path: Path) -> Iterator[Harness]:
    vault = make_vault(tmp_path / "v")
    vault.add_secrets([NewSecret("otp", SEED.encode(), kind="totp"),
                       NewSecret("web/login", ENTRY.encode(), kind="entry")])
    made = make_services(tmp_path / "s.ini", ClipboardGuard)
    guard = cast(ClipboardGuard, made.services.clipboard)
    section = VaultSection(made.services)
    qtbot.addWidget(section)
    section.resize(1100, 600)
    section.show()
    section.vault_unlocked(vault)
    qtbot.waitUntil(lambda: not section.loading and section.model.total == 2, timeout=WAIT_MS)
    yield Harness(section, vault, made.services.settings, guard, made.services.runner,
                  made.statuses, made.errors)
    section.vault_locked()
    made.services.runner.wait()
    guard.clear_if_ours()
    vault.lock()


def shown_code(text: str) -> str:
    return text.split("(")[0].replace(" ", "").replace("TOTP:", "").strip()


def test_reveal_shows_the_live_code_and_its_countdown(qtbot, harness: Harness) -> None:
    section = harness.section
    select(qtbot, harness, "otp")
    click(qtbot, button(section, "reveal"))
    qtbot.waitUntil(lambda: section.value.revealed, timeout=WAIT_MS)
    text = section.value.label.text()
    assert shown_code(text) in (SPEC.code(time.time() - 2), SPEC.code())
    assert "next code in" in text and SEED not in text
    before = section.value.label.text()
    qtbot.waitUntil(lambda: section.value.label.text() != before, timeout=3000)  # it ticks
    section.value.hide_value()
    assert section.value._render is None  # the seed is not kept once hidden


def test_an_entry_shows_its_fields_and_copy_takes_its_password(qtbot, harness: Harness) -> None:
    section = harness.section
    select(qtbot, harness, "web/login")
    click(qtbot, button(section, "reveal"))
    qtbot.waitUntil(lambda: section.value.revealed, timeout=WAIT_MS)
    text = section.value.label.text()
    for line in ("Username: alice", "URL: https://example.com", "Password: entry-pass",
                 "PIN: 4321", "TOTP: "):
        assert line in text
    click(qtbot, button(section, "copy_value"))
    qtbot.waitUntil(lambda: QApplication.clipboard().text() == "entry-pass", timeout=WAIT_MS)


def test_copy_on_a_totp_secret_copies_the_current_code(qtbot, harness: Harness) -> None:
    select(qtbot, harness, "otp")
    click(qtbot, button(harness.section, "copy_value"))
    qtbot.waitUntil(lambda: QApplication.clipboard().text().isdigit(), timeout=WAIT_MS)
    assert QApplication.clipboard().text() in (SPEC.code(time.time() - 2), SPEC.code())
    assert any("current code of otp" in s for s in harness.statuses)


def test_the_editor_adds_a_totp_seed_and_keeps_an_entrys_fields(qtbot, harness: Harness,
                                                                ) -> None:
    section = harness.section
    section.add_secret()
    dialog = cast(SecretDialog, open_dialog(qtbot, section, SecretDialog))
    dialog.name.setText("new-otp")
    dialog.kind.setCurrentIndex(dialog.kind.findData("totp"))
    dialog.value_field.set_text(f"otpauth://totp/ACME:bob?secret={SEED}&digits=8")
    click(qtbot, dialog.save_button)
    qtbot.waitUntil(lambda: section.model.total == 3, timeout=WAIT_MS)
    vault: Vault = harness.vault
    assert vault.secret_info("new-otp").kind == "totp"
    assert totp.parse(vault.get_secret("new-otp").decode()).digits == 8

    select(qtbot, harness, "web/login")
    section.edit_secret()
    editor = cast(SecretDialog, open_dialog(qtbot, section, SecretDialog))
    assert not editor.kind.isEnabled() and not editor.value_field.isEnabled()
    editor.tags.setText("imported")
    click(qtbot, editor.save_button)
    qtbot.waitUntil(lambda: vault.secret_info("web/login").tags == ("imported",),
                    timeout=WAIT_MS)
    info = vault.secret_info("web/login")
    assert (info.kind, info.version, info.tags) == ("entry", 1, ("imported",))


def test_a_bad_seed_keeps_the_editor_open_with_one_sentence(qtbot, harness: Harness) -> None:
    section = harness.section
    section.add_secret()
    dialog = cast(SecretDialog, open_dialog(qtbot, section, SecretDialog))
    dialog.name.setText("bad-otp")
    dialog.kind.setCurrentIndex(dialog.kind.findData("totp"))
    dialog.value_field.set_text("not base32!")
    click(qtbot, dialog.save_button)
    qtbot.waitUntil(lambda: "base32" in dialog.message.text(), timeout=WAIT_MS)
    assert dialog.isVisible()
