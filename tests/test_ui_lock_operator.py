"""The lock screen on a vault shared by operators: it asks who is unlocking first (suspended ones
greyed and not choosable), then shows and tries only that operator's unlock methods, and
remembers the choice for next time; with one operator there is no extra step."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from collections.abc import Iterator
from pathlib import Path

import pytest
from keyrings.alt.file import PlaintextKeyring
from PySide6.QtCore import Qt

from strongroom.app.access import operator_admin
from strongroom.app.errors import BackendUnavailable
from strongroom.app.keyslots import normalize_passphrase
from strongroom.app.vault import Vault
from strongroom.backends.keyring import KeyringSource
from strongroom.ui.unlock.lock_screen import LockScreen
from strongroom.ui.workers import TaskRunner

from conftest import PASSPHRASE, make_vault

WAIT_MS = 60_000
LEFT = Qt.MouseButton.LeftButton
BOB, CAROL = "bob's violet kangaroo 5813", "carol's amber walrus 2290"


@pytest.fixture
def runner(qtbot) -> Iterator[TaskRunner]:
    runner = TaskRunner()
    yield runner
    runner.cancel_all()
    runner.wait()


@pytest.fixture
def keyring(tmp_path: Path) -> PlaintextKeyring:
    kr = PlaintextKeyring()
    kr.file_path = str(tmp_path / "keyring" / "keyring_pass.cfg")
    return kr


@pytest.fixture
def shared(tmp_path: Path, keyring: PlaintextKeyring) -> Path:
    """alice (the creator: a passphrase and this device's keyring), bob (a passphrase), carol
    (suspended)."""
    path = tmp_path / "shared"
    with Vault.create(path, normalize_passphrase(PASSPHRASE), kdf_time_ms=10,
                      actor="alice") as v:
        v.add_hardware_slot(KeyringSource(keyring), label="alice laptop")
        for name, passphrase in (("bob", BOB), ("carol", CAROL)):
            operator_admin.add_operator(v, name, normalize_passphrase(passphrase),
                                        roles=["Custodian"], kdf_time_ms=10)
        operator_admin.set_status(v, "carol", "suspended")
    return path


def screen_for(qtbot, runner: TaskRunner, path: Path, keyring: PlaintextKeyring | None = None
               ) -> tuple[LockScreen, Vault]:
    def sources(kind: str) -> KeyringSource:
        if kind != "keyring" or keyring is None:
            raise BackendUnavailable(f"no {kind} backend in this test")
        return KeyringSource(keyring)

    vault = Vault.open(path)
    screen = LockScreen(runner, sources=sources)  # type: ignore[arg-type]
    qtbot.addWidget(screen)
    screen.resize(900, 700)
    screen.show()
    screen.show_vault(vault)
    qtbot.waitUntil(lambda: screen._check is None and not runner.busy, timeout=WAIT_MS)
    return screen, vault


def listed(screen: LockScreen) -> list[tuple[str, bool]]:
    """(text, choosable) of each operator the picker lists."""
    items = [screen.picker.list.item(i) for i in range(screen.picker.list.count())]
    return [(i.text(), bool(i.flags() & Qt.ItemFlag.ItemIsEnabled)) for i in items]


def methods(screen: LockScreen) -> list[str]:
    return [screen.methods.item(i).text() for i in range(screen.methods.count())]


def test_two_operators_are_asked_who_is_unlocking_and_bob_sees_only_his_methods(
        qtbot, runner, shared, keyring) -> None:
    screen, vault = screen_for(qtbot, runner, shared, keyring)
    assert screen.picker.isVisible() and not screen.unlock_page.isVisible()
    assert listed(screen) == [("alice", True), ("bob", True), ("carol — suspended", False)]
    assert not screen.unlock_button.isEnabled() and screen.hw_buttons == {}
    screen.picker.choose("carol")  # suspended: cannot be chosen
    assert screen.operator is None and screen.picker.isVisible()

    screen.picker.list.setCurrentRow(1)
    qtbot.mouseClick(screen.picker.continue_button, LEFT)
    assert screen.operator == "bob"
    assert not screen.picker.isVisible() and screen.unlock_page.isVisible()
    assert "bob" in screen.as_label.text()
    assert methods(screen) == ["Passphrase"]  # his own: no "bob: " before it
    assert screen.hw_buttons == {}  # the keyring slot is alice's

    # alice's passphrase is not bob's: only bob's keyslots are tried.
    screen.passphrase.setText(PASSPHRASE)
    screen.start_unlock()
    qtbot.waitUntil(lambda: screen._task is None, timeout=WAIT_MS)
    assert not vault.unlocked and "passphrase" in screen.status.text().lower()
    qtbot.waitUntil(lambda: screen.unlock_button.isEnabled(), timeout=WAIT_MS)

    screen.passphrase.setText(BOB)
    with qtbot.waitSignal(screen.unlocked, timeout=WAIT_MS) as signal:
        qtbot.mouseClick(screen.unlock_button, LEFT)
    unlocked: Vault = signal.args[0]
    try:
        assert unlocked is vault and vault.actor == "bob"
    finally:
        vault.lock()

    # Next time bob is preselected; choosing another operator goes back to the list.
    again, other = screen_for(qtbot, runner, shared, keyring)
    assert again.picker.current() == "bob"
    again.picker.choose("alice")
    assert methods(again)[0].startswith("Passphrase") and len(methods(again)) == 2
    qtbot.waitUntil(lambda: again._check is None and not runner.busy, timeout=WAIT_MS)
    assert list(again.hw_buttons) == ["keyring"] and again.hw_buttons["keyring"].isEnabled()
    qtbot.mouseClick(again.switch_button, LEFT)
    assert again.picker.isVisible() and again.operator is None and again.hw_buttons == {}
    other.lock()


def test_one_operator_unlocks_as_before_with_no_picker(qtbot, runner, tmp_path) -> None:
    make_vault(tmp_path / "solo").lock()
    screen, vault = screen_for(qtbot, runner, tmp_path / "solo")
    assert not screen.picker.isVisible() and screen.unlock_page.isVisible()
    assert not screen.as_label.isVisible() and not screen.switch_button.isVisible()
    assert len(methods(screen)) == 1 and screen.unlock_button.isEnabled()
    screen.passphrase.setText(PASSPHRASE)
    with qtbot.waitSignal(screen.unlocked, timeout=WAIT_MS):
        screen.start_unlock()
    try:
        assert vault.unlocked
    finally:
        vault.lock()


def test_a_removed_operator_is_not_listed_and_one_left_means_no_picker(qtbot, runner,
                                                                       tmp_path) -> None:
    path = tmp_path / "pair"
    with Vault.create(path, normalize_passphrase(PASSPHRASE), kdf_time_ms=10,
                      actor="alice") as v:
        operator_admin.add_operator(v, "bob", normalize_passphrase(BOB), roles=["Custodian"],
                                    kdf_time_ms=10)
        operator_admin.remove_operator(v, "bob")
    screen, vault = screen_for(qtbot, runner, path)
    assert not screen.picker.isVisible() and screen.operator is None
    assert methods(screen) == ["Passphrase"]
    vault.lock()
