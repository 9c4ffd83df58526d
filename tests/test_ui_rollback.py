"""The console's lock screen on a vault refused as rolled back: it says why, and offers to open it
as it is (the console's `vault accept-rollback`), which needs the passphrase and is audited."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from strongroom.app.vault import DB_FILE, HEADER_FILE, NewSecret, Vault
from strongroom.ui.unlock.lock_screen import LockScreen
from strongroom.ui.workers import TaskRunner

from conftest import PASSPHRASE, make_vault, unlocker

WAIT_MS = 30_000


@pytest.fixture
def runner(qtbot) -> Iterator[TaskRunner]:
    runner = TaskRunner()
    yield runner
    runner.cancel_all()
    runner.wait()


@pytest.fixture
def rolled_back(tmp_path: Path) -> Path:
    path, old = tmp_path / "v", tmp_path / "old"
    make_vault(path).lock()
    old.mkdir()
    for name in (DB_FILE, HEADER_FILE):
        shutil.copy2(path / name, old / name)
    with Vault.open(path) as vault:
        vault.unlock(unlocker())
        vault.add_secret(NewSecret(name="newer", value=b"v"))
    for name in (DB_FILE, HEADER_FILE):
        shutil.copy2(old / name, path / name)
    return path


def _screen(qtbot, runner: TaskRunner, path: Path) -> LockScreen:
    screen = LockScreen(runner, sources=lambda kind: None)  # type: ignore[arg-type,return-value]
    qtbot.addWidget(screen)
    screen.show()
    screen.show_vault(Vault.open(path))
    qtbot.waitUntil(lambda: screen._check is None and not runner.busy, timeout=WAIT_MS)
    return screen


def test_a_refused_rollback_is_explained_and_can_be_accepted(qtbot, runner, rolled_back):
    screen = _screen(qtbot, runner, rolled_back)
    assert not screen.accept_button.isVisible()
    screen.passphrase.setText(PASSPHRASE)
    screen.start_unlock()
    qtbot.waitUntil(lambda: screen.accept_button.isVisible(), timeout=WAIT_MS)
    assert "behind the state last seen here" in screen.status.text()
    assert screen.passphrase.text() == ""  # never kept
    # Accepting needs the passphrase again, then unlocks and records why.
    assert screen.start_accept_rollback() is None
    assert "Type the vault's passphrase" in screen.status.text()
    screen.passphrase.setText(PASSPHRASE)
    with qtbot.waitSignal(screen.unlocked, timeout=WAIT_MS) as signal:
        screen.start_accept_rollback()
    vault: Vault = signal.args[0]
    try:
        assert vault.unlocked and not screen.accept_button.isVisible()
        [event] = vault.audit_events(action="vault.rollback.accept")
        assert event.details["behind"] == "vault folder"
    finally:
        vault.lock()


def test_a_wrong_passphrase_is_no_rollback_and_offers_nothing(qtbot, runner, tmp_path):
    path = tmp_path / "v"
    make_vault(path).lock()
    screen = _screen(qtbot, runner, path)
    screen.passphrase.setText("not the passphrase 123")
    screen.start_unlock()
    qtbot.waitUntil(lambda: "does not open" in screen.status.text(), timeout=WAIT_MS)
    assert not screen.accept_button.isVisible()
