"""The Vault section says what to do when its table is empty, and its selection-bound actions
(Edit, Delete, History, Reveal, Copy) are off until a row is selected."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from collections.abc import Iterator
from pathlib import Path

import pytest

from strongroom.app.model import Classification
from strongroom.app.vault import NewSecret, Vault
from strongroom.ui.vault.section import VaultSection
from strongroom.ui.vault.table import EMPTY_VAULT

from conftest import make_vault
from helpers.ui_services import NoClipboard, make_services

WAIT_MS = 30_000
SELECTION_BOUND = ("edit", "delete", "history", "reveal", "copy_value", "copy_name")


@pytest.fixture
def vault(tmp_path: Path) -> Iterator[Vault]:
    v = make_vault(tmp_path / "v")
    yield v
    v.lock()


@pytest.fixture
def section(qtbot, tmp_path: Path, vault: Vault) -> Iterator[VaultSection]:
    made = make_services(tmp_path / "s.ini", lambda _settings: NoClipboard())
    section = VaultSection(made.services)
    qtbot.addWidget(section)
    section.resize(900, 500)
    section.show()
    section.vault_unlocked(vault)
    qtbot.waitUntil(lambda: not section.loading, timeout=WAIT_MS)
    yield section
    section.vault_locked()
    made.services.runner.wait()


def enabled(section: VaultSection) -> dict[str, bool]:
    return {key: section.actions_[key].isEnabled() for key in ("add", *SELECTION_BOUND)}


def test_an_empty_vault_says_how_to_add_the_first_secret(section: VaultSection) -> None:
    assert section.model.rowCount() == 0
    assert section.view.placeholder == EMPTY_VAULT
    assert "Add a secret" in EMPTY_VAULT and "File > Import" in EMPTY_VAULT
    assert enabled(section) == {"add": True, **dict.fromkeys(SELECTION_BOUND, False)}


def test_the_placeholder_goes_with_the_first_secret_and_a_filter_says_no_match(
        qtbot, section: VaultSection, vault: Vault) -> None:
    vault.add_secret(NewSecret("db/prod", b"x", Classification.High))
    section.reload()
    qtbot.waitUntil(lambda: not section.loading and section.model.total == 1, timeout=WAIT_MS)
    assert section.view.placeholder == ""
    section.search.setText("zzz")
    qtbot.waitUntil(lambda: not section.model.scanning, timeout=WAIT_MS)
    assert section.view.placeholder == "No secrets match “zzz” — clear the filter to see all 1."
    section.search.clear()
    assert section.view.placeholder == ""


def test_nothing_is_said_while_loading_or_locked(qtbot, section: VaultSection) -> None:
    section.vault_locked()
    assert section.view.placeholder == ""


def test_selection_bound_actions_wait_for_a_selected_row(qtbot, section: VaultSection,
                                                        vault: Vault) -> None:
    vault.add_secret(NewSecret("db/prod", b"x", Classification.High))
    section.reload()
    qtbot.waitUntil(lambda: not section.loading and section.model.total == 1, timeout=WAIT_MS)
    assert enabled(section) == {"add": True, **dict.fromkeys(SELECTION_BOUND, False)}
    for key in SELECTION_BOUND:  # the toolbar buttons themselves, not only the actions
        assert not section.toolbar.widgetForAction(section.actions_[key]).isEnabled()
    section.select("db/prod")
    qtbot.waitUntil(lambda: section.selected() is not None, timeout=WAIT_MS)
    assert all(enabled(section).values())
    section.view.clearSelection()
    assert enabled(section) == {"add": True, **dict.fromkeys(SELECTION_BOUND, False)}
