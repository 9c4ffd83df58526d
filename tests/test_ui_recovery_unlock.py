"""The lock screen's "Recover with shares…" (offscreen Qt, real vault): M custodians' SLIP-39
shares, typed into hidden fields, open the vault in the task runner as the recovery slot's
creator; a mistyped word or another set's share is refused in the dialog, naming the share, with
the fields kept; the fields are emptied once the dialog closes, however it closes; with an operator
picker, the action is offered only under the operator who made the slot."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from strongroom.app.access import operator_admin
from strongroom.app.ceremony.recovery import RecoverySetup, create_recovery_slot
from strongroom.app.errors import BackendUnavailable
from strongroom.app.keyslots import normalize_passphrase
from strongroom.app.vault import Vault
from strongroom.ui.unlock.lock_screen import LockScreen
from strongroom.ui.unlock.recovery_dialog import RecoveryDialog, creator_name
from strongroom.ui.unlock.recovery_entry import RECOVER_ACTION
from strongroom.ui.unlock.share_field import MASK, ShareField
from strongroom.ui.workers import TaskRunner

from conftest import PASSPHRASE, make_vault

WAIT_MS = 60_000
LEFT = Qt.MouseButton.LeftButton
CUSTODIANS = ["bob", "dave", "erin"]
BOB = "bob's violet kangaroo 5813"


@pytest.fixture
def runner(qtbot) -> Iterator[TaskRunner]:
    runner = TaskRunner()
    yield runner
    runner.cancel_all()
    runner.wait()


@pytest.fixture
def solo(tmp_path: Path) -> tuple[Path, RecoverySetup]:
    """One operator (no picker) and a 2-of-3 recovery slot."""
    path = tmp_path / "solo"
    with make_vault(path) as v:
        setup = create_recovery_slot(v, 2, CUSTODIANS, iteration_exponent=0)
    return path, setup


@pytest.fixture
def other_set(tmp_path: Path) -> RecoverySetup:
    with make_vault(tmp_path / "other") as v:
        return create_recovery_slot(v, 2, CUSTODIANS, iteration_exponent=0)


def screen_for(qtbot, runner: TaskRunner, path: Path) -> tuple[LockScreen, Vault]:
    def sources(kind: str):  # type: ignore[no-untyped-def]
        raise BackendUnavailable(f"no {kind} backend in this test")

    vault = Vault.open(path)
    screen = LockScreen(runner, sources=sources)
    qtbot.addWidget(screen)
    screen.resize(900, 700)
    screen.show()
    screen.show_vault(vault)
    qtbot.waitUntil(lambda: screen._check is None and not runner.busy, timeout=WAIT_MS)
    return screen, vault


def open_dialog(qtbot, screen: LockScreen) -> RecoveryDialog:
    button = screen.recover_button
    assert button.text() == RECOVER_ACTION and button.isVisible() and button.isEnabled()
    qtbot.mouseClick(button, LEFT)
    dialog = screen.recovery
    assert isinstance(dialog, RecoveryDialog)
    qtbot.waitUntil(dialog.isVisible, timeout=WAIT_MS)
    return dialog


def type_share(qtbot, field: ShareField, share: str) -> None:
    """The first few words key by key (the hidden field's own editing), the rest pasted in."""
    words = share.split()
    field.edit.setFocus()
    qtbot.keyClicks(field.edit, " ".join(words[:4]) + " ")
    field.edit.insertPlainText(" ".join(words[4:]))


def unlock(qtbot, dialog: RecoveryDialog) -> None:
    """Click Unlock and wait for the runner's answer (success or refusal)."""
    qtbot.mouseClick(dialog.unlock_button, LEFT)
    assert dialog._task is not None and dialog.busy_bar.isVisible()  # in the runner, not here
    qtbot.waitUntil(lambda: dialog._task is None, timeout=WAIT_MS)


def test_two_shares_typed_hidden_open_the_vault_as_the_slots_creator(qtbot, runner, solo
                                                                     ) -> None:
    path, setup = solo
    screen, vault = screen_for(qtbot, runner, path)
    assert not screen.picker.isVisible()
    listed = [screen.methods.item(i).text() for i in range(screen.methods.count())]
    assert "Recovery shares — any 2 of 3 custodians" in listed

    dialog = open_dialog(qtbot, screen)
    assert dialog.windowTitle() == "Recover with shares"
    assert dialog.intro.text() == "Any 2 of the 3 custodians' shares open this vault."
    creator = creator_name(vault.header, setup.slot)
    assert creator and f"opens as {creator}" in dialog.how.text()
    assert len(dialog.fields) == 2
    first, second = dialog.fields
    assert not first.show_box.isChecked() and not second.show_box.isChecked()
    assert first.counter.text() == "0 words (a share has 20 or 33)"

    share1, share3 = setup.shares[0].mnemonic, setup.shares[2].mnemonic
    type_share(qtbot, first, share1.upper())  # any case, any spacing
    assert first.text().split() == share1.upper().split()
    assert set(first.edit.toPlainText()) == {MASK}  # hidden: dots only, spaces too
    assert first.counter.text() == "33 words" and first.counter.property("role") == ""
    qtbot.mouseClick(first.show_box, LEFT)  # checking what was typed
    assert first.edit.toPlainText().split() == share1.upper().split()
    qtbot.mouseClick(first.show_box, LEFT)
    assert set(first.edit.toPlainText()) == {MASK}

    type_share(qtbot, second, share3)
    with qtbot.waitSignal(screen.unlocked, timeout=WAIT_MS) as signal:
        qtbot.mouseClick(dialog.unlock_button, LEFT)
        assert dialog._task is not None and dialog.busy_bar.isVisible()
    try:
        assert signal.args[0] is vault and vault.unlocked
        assert vault.actor == creator
        assert vault._unlocked_keys.slot_id == setup.slot.id
        # Emptied and closed: nothing typed is left in the fields.
        assert not dialog.isVisible() and screen.recovery is None
        assert first.text() == "" and second.text() == ""
    finally:
        vault.lock()


def test_a_mistyped_word_is_refused_naming_the_share_and_the_fields_are_kept(
        qtbot, runner, solo) -> None:
    path, setup = solo
    screen, vault = screen_for(qtbot, runner, path)
    dialog = open_dialog(qtbot, screen)
    share1, share2 = setup.shares[0].mnemonic, setup.shares[1].mnemonic
    words = share2.split()
    mistyped = " ".join([*words[:6], "warmx", *words[7:]])
    type_share(qtbot, dialog.fields[0], share1)
    field = dialog.fields[1]
    field.edit.setFocus()
    qtbot.keyClicks(field.edit, " ".join(words[:6]) + " warm")  # still a word's start
    assert field.counter.text() == "7 words (a share has 20 or 33)"
    qtbot.keyClicks(field.edit, "x ")  # no SLIP-39 word starts so: its place is shown
    assert field.counter.text() == "7 words · word 7 is not a SLIP-39 word"
    assert field.counter.property("role") == "warning"
    field.edit.insertPlainText(" ".join(words[7:]))
    assert field.counter.text() == "33 words · word 7 is not a SLIP-39 word"
    assert field.text() == mistyped
    unlock(qtbot, dialog)
    try:
        assert not vault.unlocked and dialog.isVisible()
        text = dialog.status.text()
        assert text.startswith("Share 2: word 7 of the share is not a SLIP-39 word")
        assert "warmx" not in text and dialog.status.property("role") == "error"
        assert [f.text() for f in dialog.fields] == [share1, mistyped]  # kept, to fix one word
        assert dialog.focusWidget() is dialog.fields[1].edit

        # The one share named is fixed (shown, corrected): the vault opens.
        qtbot.mouseClick(field.show_box, LEFT)
        field.edit.selectAll()
        field.edit.insertPlainText(share2)
        with qtbot.waitSignal(screen.unlocked, timeout=WAIT_MS):
            qtbot.mouseClick(dialog.unlock_button, LEFT)
        assert vault.unlocked
    finally:
        vault.lock()


def test_a_share_of_another_set_or_too_few_words_is_refused(qtbot, runner, solo, other_set
                                                            ) -> None:
    path, setup = solo
    screen, vault = screen_for(qtbot, runner, path)
    dialog = open_dialog(qtbot, screen)
    try:
        qtbot.mouseClick(dialog.unlock_button, LEFT)  # nothing typed: asked here, not tried
        assert dialog._task is None and dialog.status.text() == "Type share 1: it is empty."

        type_share(qtbot, dialog.fields[0], setup.shares[1].mnemonic)
        type_share(qtbot, dialog.fields[1], other_set.shares[0].mnemonic)
        unlock(qtbot, dialog)
        assert not vault.unlocked and dialog.isVisible()
        assert dialog.status.text() == "Share 2 is of another share set than share 1."

        dialog.fields[1].clear()
        type_share(qtbot, dialog.fields[1], " ".join(setup.shares[0].mnemonic.split()[:12]))
        assert dialog.fields[1].counter.text() == "12 words (a share has 20 or 33)"
        unlock(qtbot, dialog)
        assert not vault.unlocked
        assert dialog.status.text().startswith("Share 2: a share has 20 to 59 words")

        # A whole other set combines, but its key is not this vault's: a failed guess, which
        # counts towards the backoff; the third one waits 2 s before Unlock is offered again.
        for field, issued in zip(dialog.fields, other_set.shares, strict=False):
            field.clear()
            type_share(qtbot, field, issued.mnemonic)
        for _attempt in range(3):
            unlock(qtbot, dialog)
            assert not vault.unlocked
            assert dialog.status.text().startswith("The recovery key does not open this vault")
        assert "wait 2 s" in dialog.status.text() and not dialog.unlock_button.isEnabled()
        qtbot.waitUntil(dialog.unlock_button.isEnabled, timeout=WAIT_MS)
        assert dialog.status.text().endswith("You can try again now.")
    finally:
        vault.lock()


def test_cancel_or_close_empties_the_fields(qtbot, runner, solo) -> None:
    path, setup = solo
    screen, vault = screen_for(qtbot, runner, path)
    for close in ("cancel", "escape"):
        dialog = open_dialog(qtbot, screen)
        fields = dialog.fields
        for field, issued in zip(fields, setup.shares, strict=False):
            type_share(qtbot, field, issued.mnemonic)
        qtbot.mouseClick(fields[0].show_box, LEFT)
        if close == "cancel":
            qtbot.mouseClick(dialog.cancel_button, LEFT)
        else:
            qtbot.keyClick(dialog, Qt.Key.Key_Escape)
        assert not dialog.isVisible() and screen.recovery is None
        for field in fields:
            assert field.text() == "" and field.edit.toPlainText() == ""
            assert not field.show_box.isChecked()
        assert not vault.unlocked
        qtbot.waitUntil(lambda d=dialog: screen.recovery is None and not d.isVisible(),
                        timeout=WAIT_MS)
    vault.lock()


@pytest.fixture
def shared(tmp_path: Path) -> tuple[Path, RecoverySetup]:
    """alice (the creator, who makes the recovery slot) and bob (a passphrase): a picker."""
    path = tmp_path / "shared"
    with Vault.create(path, normalize_passphrase(PASSPHRASE), kdf_time_ms=10,
                      actor="alice") as v:
        operator_admin.add_operator(v, "bob", normalize_passphrase(BOB), roles=["Custodian"],
                                    kdf_time_ms=10)
        setup = create_recovery_slot(v, 2, CUSTODIANS, iteration_exponent=0)
    return path, setup


def test_with_a_picker_it_is_offered_only_under_the_operator_who_made_the_slot(
        qtbot, runner, shared) -> None:
    path, setup = shared
    screen, vault = screen_for(qtbot, runner, path)
    assert screen.picker.isVisible() and not screen.recover_button.isVisible()
    assert screen.start_recovery() is None  # nobody chosen yet: not offered

    screen.picker.choose("bob")
    assert screen.operator == "bob" and not screen.recover_button.isVisible()
    assert screen.start_recovery() is None

    qtbot.mouseClick(screen.switch_button, LEFT)
    screen.picker.choose("alice")
    assert screen.operator == "alice"
    dialog = open_dialog(qtbot, screen)
    assert "opens as alice" in dialog.how.text()
    type_share(qtbot, dialog.fields[0], setup.shares[2].mnemonic)
    type_share(qtbot, dialog.fields[1], setup.shares[1].mnemonic)
    with qtbot.waitSignal(screen.unlocked, timeout=WAIT_MS):
        qtbot.mouseClick(dialog.unlock_button, LEFT)
    try:
        assert vault.actor == "alice"
    finally:
        vault.lock()
