"""The Audit Log follows the log while it shows (no Refresh), and its Details read as words."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from strongroom.app.model import Classification
from strongroom.app.vault import NewSecret, Vault
from strongroom.ui.audit.details import readable
from strongroom.ui.audit.model import COLUMNS, Column
from strongroom.ui.audit.section import AuditSection
from strongroom.ui.workers import TaskRunner

from conftest import make_vault
from helpers.ui_services import NoClipboard, SectionServices, make_services

WAIT_MS = 30_000
FOLLOW_MS = 50  # the tests look often; the console every FOLLOW_MS in ui/audit/model.py


@pytest.fixture
def harness(qtbot, tmp_path: Path) -> Iterator[SectionServices]:
    harness = make_services(tmp_path / "s.ini", lambda _settings: NoClipboard())
    yield harness
    harness.services.runner.cancel_all()
    harness.services.runner.wait()


@pytest.fixture
def vault(tmp_path: Path) -> Iterator[Vault]:
    v = make_vault(tmp_path / "v")
    v.add_secret(NewSecret("db/prod", b"hunter2", Classification.High, ("db",)))
    yield v
    v.lock()


@pytest.fixture
def audit(qtbot, harness: SectionServices, vault: Vault) -> AuditSection:
    section = AuditSection(harness.services)
    section.model.follow_timer.setInterval(FOLLOW_MS)
    qtbot.addWidget(section)
    section.show()
    section.vault_unlocked(vault)
    qtbot.waitUntil(lambda: not section.model.loading and section.model.rowCount() > 0,
                    timeout=WAIT_MS)
    return section


def actions(section: AuditSection) -> list[str]:
    c = COLUMNS.index(Column.Action)
    return [section.proxy.index(r, c).data() for r in range(section.proxy.rowCount())]


def test_a_reveal_appears_without_refresh(qtbot, audit: AuditSection, vault: Vault) -> None:
    before = audit.model.rowCount()
    assert audit.model.follow_timer.isActive()
    vault.get_secret("db/prod", purpose="reveal")  # as the Vault section (or the CLI) would
    qtbot.waitUntil(lambda: audit.model.rowCount() == before + 1, timeout=WAIT_MS)
    assert actions(audit)[0] == "secret.reveal"  # at the top, newest first
    assert audit.count_label.text() == f"{before + 1} events."


def test_a_filtered_table_follows_only_what_matches(qtbot, audit: AuditSection,
                                                   vault: Vault) -> None:
    audit.action.setCurrentText("secret.copy")
    audit.apply_filters()
    qtbot.waitUntil(lambda: not audit.model.loading, timeout=WAIT_MS)
    assert audit.model.rowCount() == 0
    vault.get_secret("db/prod", purpose="reveal")
    vault.get_secret("db/prod", purpose="copy")
    qtbot.waitUntil(lambda: audit.model.rowCount() == 1, timeout=WAIT_MS)
    qtbot.wait(4 * FOLLOW_MS)
    assert actions(audit) == ["secret.copy"]


def test_following_stops_when_hidden_or_locked(qtbot, audit: AuditSection,
                                               vault: Vault) -> None:
    audit.hide()
    assert not audit.model.follow_timer.isActive()
    before = audit.model.rowCount()
    vault.record("test.while-hidden", "x")
    qtbot.wait(4 * FOLLOW_MS)
    assert audit.model.rowCount() == before
    audit.show()  # showing looks at once
    qtbot.waitUntil(lambda: audit.model.rowCount() == before + 1, timeout=WAIT_MS)
    audit.vault_locked()
    assert not audit.model.follow_timer.isActive() and audit.model.rowCount() == 0


def test_following_is_not_busy(qtbot, audit: AuditSection, harness: SectionServices) -> None:
    """The poll runs quietly: the status bar's busy bar does not blink every two seconds."""
    runner: TaskRunner = harness.services.runner
    seen: list[bool] = []
    runner.busy_changed.connect(seen.append)
    assert audit.model.follow()
    assert not runner.busy
    qtbot.waitUntil(lambda: not audit.model._polling, timeout=WAIT_MS)
    assert seen == []


def test_details_read_as_words_with_the_json_in_the_tooltip(audit: AuditSection,
                                                          vault: Vault) -> None:
    c = COLUMNS.index(Column.Details)
    row = next(r for r in range(audit.proxy.rowCount())
               if audit.proxy.index(r, COLUMNS.index(Column.Action)).data() == "secret.create")
    cell = audit.proxy.index(row, c)
    assert cell.data().startswith("version 1 · classification high")
    event = next(e for e in vault.audit_events() if e.action == "secret.create")
    assert json.loads(cell.data(0x03)) == event.details  # Qt.ToolTipRole: the full JSON


@pytest.mark.parametrize(("details", "text"), [
    ({"version": 3, "classification": "high",
      "approval": {"approver": "alice", "method": "passphrase", "digest": "ab" * 32}},
     "version 3 · classification high · approved by alice"),
    ({"kind": "passphrase", "slot": "7f5faa9c"}, "kind passphrase · slot 7f5faa9c"),
    ({"fingerprint": "ede0ddc111505a626e1c698dc3a79ee5"}, "fingerprint ede0ddc11150…"),
    ({"from": 2, "to": 3}, "from 2 to 3"),
    ({"two_factor": True, "label": "YubiKey"}, "label YubiKey · two factor"),
    ({"automatic": False}, "automatic no"),
    ({"slots": ["a", "b", "c", "d", "e", "f"]}, "slots a, b, c, d and 2 more"),
    ({}, ""),
])
def test_readable_details(details: dict, text: str) -> None:
    assert readable(details) == text
