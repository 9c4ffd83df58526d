"""The two-person rule in the Vault and Keys sections, over real vaults with several operators,
driven through the widgets offscreen: the approver dialog on reveal, copy, history, delete, add
and signing with a high-value key; a wrong approver passphrase, a cancel, a security-key approval
through a software CTAP2 authenticator (python-fido2's real client), and dual control."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QMessageBox,
    QStyle,
    QStyleOptionButton,
    QWidget,
)

from strongroom.app.access import access_changes, approvals, operator_admin
from strongroom.app.access.grants import Scope
from strongroom.app.access.policy import Policy
from strongroom.app.errors import BackendUnavailable
from strongroom.app.keys import tokens as key_tokens
from strongroom.app.keys.ports import KeyType, SignAlgorithm
from strongroom.app.keyslots import PassphraseUnlocker, normalize_passphrase
from strongroom.app.model import Classification
from strongroom.app.unlock_methods import load_source
from strongroom.app.vault import NewSecret, Vault
from strongroom.backends.fido2 import Fido2Source
from strongroom.ui.clipboard import ClipboardGuard
from strongroom.ui.keys.inventory import token_key
from strongroom.ui.keys.model import KeyNode, TokenNode
from strongroom.ui.keys.section import KeysSection
from strongroom.ui.vault.history_dialog import HistoryDialog
from strongroom.ui.vault.secret_dialog import SecretDialog
from strongroom.ui.vault.section import VaultSection
from strongroom.ui.widgets.approval import ApproverDialog
from strongroom.ui.widgets.approval_flow import Guarded

from conftest import PASSPHRASE
from helpers.soft_ctap2 import SoftAuthenticator
from helpers.softhsm import SoftHsm, softhsm  # noqa: F401
from helpers.ui_services import NoClipboard, SectionServices, make_services

WAIT_MS = 60_000
LEFT = Qt.MouseButton.LeftButton
CAROL, DAVE = "carol's amber walrus 2290", "dave's copper lantern 7741"


def add(vault: Vault, name: str, passphrase: str, *roles: str, **kw: Any) -> None:
    operator_admin.add_operator(vault, name, passphrase.encode(), roles=list(roles),
                                kdf_time_ms=10, **kw)


def as_(path: Path, passphrase: str, operator: str | None = None) -> Vault:
    v = Vault.open(path)
    v.unlock(PassphraseUnlocker.from_text(passphrase), operator=operator)
    return v


@pytest.fixture
def pair(tmp_path: Path) -> Path:
    """alice (the creator, every role) and carol (Custodian: she may approve values, holds no
    level); secrets at Critical, High and Low. Revealing Critical and deleting High are
    two-person operations (the default policy)."""
    path = tmp_path / "pair"
    with Vault.create(path, normalize_passphrase(PASSPHRASE), kdf_time_ms=10,
                      actor="alice") as v:
        v.add_secret(NewSecret("crit", b"critical value", Classification.Critical))
        v.add_secret(NewSecret("hi", b"high value", Classification.High))
        v.add_secret(NewSecret("low", b"low value", Classification.Low))
        add(v, "carol", CAROL, "Custodian")
    return path


@pytest.fixture
def dual(tmp_path: Path) -> Path:
    """alice, carol and dave (Administrators; carol also Custodian), carol a second holder of
    Critical: its key is split between alice and carol (dual control, the default policy)."""
    path = tmp_path / "dual"
    with Vault.create(path, normalize_passphrase(PASSPHRASE), kdf_time_ms=10,
                      actor="alice") as v:
        v.add_secret(NewSecret("crit", b"critical value", Classification.Critical))
        add(v, "carol", CAROL, "Administrator", "Custodian")
        ok = approvals.approve(v, "access.change", "operator:dave", "carol",
                               PassphraseUnlocker.from_text(CAROL))
        add(v, "dave", DAVE, "Administrator", approval=ok)
        ok = approvals.approve(v, "access.change", "grant:carol:level:critical", "dave",
                               PassphraseUnlocker.from_text(DAVE))
        access_changes.add_grant(v, "carol", Scope.parse("level:critical"), "read",
                                 justification="second custodian", approval=ok)
    return path


class Console:
    """A Vault section over one operator's unlocked vault, with its services' notes."""

    def __init__(self, qtbot: Any, made: SectionServices, section: VaultSection,
                 vault: Vault) -> None:
        self.qtbot, self.made, self.section, self.vault = qtbot, made, section, vault

    @property
    def errors(self) -> list[str]:
        return self.made.errors

    def select(self, name: str) -> None:
        self.section.select(name)
        self.qtbot.waitUntil(lambda: getattr(self.section.selected(), "name", None) == name,
                             timeout=WAIT_MS)

    def click_action(self, key: str) -> None:
        click(self.qtbot, self.section.toolbar.widgetForAction(self.section.actions_[key]))

    def approver_dialog(self, guard: Guarded | None = None) -> ApproverDialog:
        guard = guard or self.section.guard
        self.qtbot.waitUntil(lambda: guard.dialog is not None and guard.dialog.isVisible(),
                             timeout=WAIT_MS)
        assert guard.dialog is not None
        return guard.dialog

    def settle(self) -> None:
        self.qtbot.waitUntil(lambda: not self.section.services.runner.busy, timeout=WAIT_MS)
        self.qtbot.wait(20)


@pytest.fixture
def console(qtbot, tmp_path: Path) -> Iterator[Callable[..., Console]]:
    opened: list[Console] = []

    def open_as(path: Path, passphrase: str = PASSPHRASE, operator: str = "alice",
                sources: Callable[[str], Any] = load_source) -> Console:
        vault = as_(path, passphrase, operator)
        made = make_services(tmp_path / f"s{len(opened)}.ini", ClipboardGuard)
        section = VaultSection(made.services, sources=sources)
        qtbot.addWidget(section)
        section.resize(1000, 600)
        section.show()
        section.vault_unlocked(vault)
        total = vault.count_secrets()
        qtbot.waitUntil(lambda: not section.loading and section.model.total == total,
                        timeout=WAIT_MS)
        opened.append(Console(qtbot, made, section, vault))
        return opened[-1]

    yield open_as
    for c in opened:
        c.section.vault_locked()
        c.made.services.runner.wait()
        cast(ClipboardGuard, c.made.services.clipboard).clear_if_ours()
        c.vault.lock()


def click(qtbot, widget: QWidget) -> None:
    assert widget.isVisible() and widget.isEnabled(), widget.accessibleName()
    qtbot.mouseClick(widget, LEFT)


def tick(qtbot, box: QCheckBox) -> None:
    """Click a check box on its box (the widget is as wide as the form's field column)."""
    assert box.isVisible() and box.isEnabled(), box.accessibleName()
    option = QStyleOptionButton()
    box.initStyleOption(option)
    where = box.style().subElementRect(QStyle.SubElement.SE_CheckBoxIndicator, option, box)
    qtbot.mouseClick(box, LEFT, pos=where.center())


def names(dialog: ApproverDialog) -> list[str]:
    return [dialog.approver.itemText(i) for i in range(dialog.approver.count())]


def events(vault: Vault, action: str, target: str) -> list[dict[str, Any]]:
    return [e.details for e in vault.audit_events(action=action, target=target)]


# ----- passphrase approvals -------------------------------------------------------------------


def test_revealing_a_critical_secret_asks_for_the_approver_and_retries_once(
        qtbot, pair: Path, console) -> None:
    c = console(pair)
    section = c.section
    c.select("crit")
    c.click_action("reveal")
    ask = c.approver_dialog()
    assert "second operator" in ask.reason.text() and "revealing this secret" in \
        ask.reason.text().lower()
    assert names(ask) == ["carol"]
    assert not ask.use_key.isVisible()  # carol has no security key: no such choice
    assert ask.passphrase.isVisible()

    ask.passphrase.setText(DAVE)  # not carol's
    click(qtbot, ask.ok_button)
    assert ask.progress.isVisible() and not ask.ok_button.isEnabled()  # it runs in the runner
    assert ask.passphrase.text() == ""  # not kept while it runs
    qtbot.waitUntil(lambda: "Try again" in ask.message.text(), timeout=WAIT_MS)
    assert ask.isVisible() and "not carol's" in ask.message.text()
    assert not section.value.revealed and c.errors == []

    ask.passphrase.setText(CAROL)
    click(qtbot, ask.ok_button)
    qtbot.waitUntil(lambda: section.value.revealed, timeout=WAIT_MS)
    assert section.value.label.text() == "critical value"
    assert section.guard.dialog is None and c.errors == []
    [read] = events(c.vault, "secret.reveal", "crit")
    assert read["approval"]["approver"] == "carol"
    assert read["approval"]["method"] == "passphrase"
    assert read["approval"]["operation"] == "secret.reveal"
    [failed] = events(c.vault, "approval.failed", "crit")
    assert failed["approver"] == "carol"


def test_cancelling_the_approver_reveals_nothing_and_says_so(qtbot, pair: Path,
                                                             console) -> None:
    c = console(pair)
    c.select("crit")
    c.click_action("reveal")
    ask = c.approver_dialog()
    click(qtbot, ask.cancel_button)
    qtbot.waitUntil(lambda: bool(c.errors), timeout=WAIT_MS)
    assert c.errors == ["No approval was given, so nothing was revealed"]
    assert c.section.guard.dialog is None and not c.section.value.revealed
    assert events(c.vault, "secret.reveal", "crit") == []
    # Copying is asked the same way; a cancel copies nothing.
    c.click_action("copy_value")
    c.approver_dialog().reject()
    qtbot.waitUntil(lambda: len(c.errors) == 2, timeout=WAIT_MS)
    assert c.errors[-1] == "No approval was given, so nothing was copied"
    assert events(c.vault, "secret.copy", "crit") == []
    # A Low secret needs nobody.
    c.select("low")
    c.click_action("reveal")
    qtbot.waitUntil(lambda: c.section.value.revealed, timeout=WAIT_MS)
    assert c.section.guard.dialog is None


def test_deleting_a_high_secret_asks_too(qtbot, pair: Path, console) -> None:
    c = console(pair)
    c.select("hi")
    c.click_action("delete")
    qtbot.waitUntil(lambda: any(isinstance(d, QMessageBox) and d.isVisible()
                                for d in c.section.dialogs), timeout=WAIT_MS)
    box = next(d for d in c.section.dialogs if isinstance(d, QMessageBox))
    click(qtbot, box.button(QMessageBox.StandardButton.Yes))
    ask = c.approver_dialog()
    assert "deleting this secret" in ask.reason.text().lower()
    ask.passphrase.setText(CAROL)
    click(qtbot, ask.ok_button)
    qtbot.waitUntil(lambda: c.section.model.total == 2, timeout=WAIT_MS)
    assert c.errors == [] and "Deleted hi" in c.made.statuses
    [deleted] = events(c.vault, "secret.delete", "hi")
    assert deleted["approval"]["approver"] == "carol"


def test_a_history_reveal_of_a_critical_version_asks_over_the_history_dialog(
        qtbot, pair: Path, console) -> None:
    c = console(pair)
    c.select("crit")
    c.click_action("history")
    qtbot.waitUntil(lambda: any(isinstance(d, HistoryDialog) and d.versions
                                for d in c.section.dialogs), timeout=WAIT_MS)
    history = next(d for d in c.section.dialogs if isinstance(d, HistoryDialog))
    click(qtbot, history.reveal_button)
    ask = c.approver_dialog()
    assert ask.parent() is history
    ask.reject()
    qtbot.waitUntil(lambda: "nothing was revealed" in history.state.text(), timeout=WAIT_MS)
    assert not history.value.revealed
    click(qtbot, history.reveal_button)
    ask = c.approver_dialog()
    ask.passphrase.setText(CAROL)
    click(qtbot, ask.ok_button)
    qtbot.waitUntil(lambda: history.value.revealed, timeout=WAIT_MS)
    assert history.value.label.text() == "critical value"


# ----- a security key -------------------------------------------------------------------------


def enrol_key(path: Path, key: SoftAuthenticator) -> Fido2Source:
    """carol enrols ``key`` as a keyslot of her own."""
    source = Fido2Source(lambda: [key])
    with as_(path, CAROL, "carol") as carol:
        carol.add_hardware_slot(source, label="carol's key")
    return source


def test_a_security_key_approval_through_the_dialog(qtbot, pair: Path, console) -> None:
    key = SoftAuthenticator(touch_after=1.0)  # the approver takes a moment to touch it
    source = enrol_key(pair, key)
    c = console(pair, sources=lambda kind: source)
    c.select("crit")
    c.click_action("reveal")
    ask = c.approver_dialog()
    assert ask.use_key.isVisible() and ask.use_key.isEnabled()
    assert ask.use_key.text() == "Use security key"
    tick(qtbot, ask.use_key)
    assert ask.use_key.isChecked()
    assert not ask.passphrase.isVisible()  # she touches her key; no passphrase is asked
    assert ask.ok_button.text() == "Approve with security key"
    touched = key.touches
    click(qtbot, ask.ok_button)
    assert ask.cancel_button.isEnabled()  # a key wait can be stopped
    qtbot.waitUntil(lambda: ask.touch.isVisible(), timeout=WAIT_MS)
    assert ask.touch.text().startswith("Touch your security key")
    qtbot.waitUntil(lambda: c.section.value.revealed, timeout=WAIT_MS)
    assert c.section.value.label.text() == "critical value" and c.errors == []
    assert key.touches == touched + 1
    [read] = events(c.vault, "secret.reveal", "crit")
    approval = read["approval"]
    assert approval["approver"] == "carol" and approval["method"] == "fido2"
    assert approval["evidence"]["verified"] is True


def test_cancelling_while_the_security_key_waits(qtbot, pair: Path, console) -> None:
    key = SoftAuthenticator()
    source = enrol_key(pair, key)
    key.touch_after, key.touch_timeout = None, None  # from now on never touched
    c = console(pair, sources=lambda kind: source)
    c.select("crit")
    c.click_action("reveal")
    ask = c.approver_dialog()
    ask.use_key.setChecked(True)
    click(qtbot, ask.ok_button)
    qtbot.waitUntil(lambda: ask.touch.isVisible(), timeout=WAIT_MS)
    click(qtbot, ask.cancel_button)
    qtbot.waitUntil(lambda: bool(c.errors), timeout=WAIT_MS)
    assert c.errors == ["No approval was given, so nothing was revealed"]
    assert c.section.guard.dialog is None and not c.section.value.revealed
    assert events(c.vault, "secret.reveal", "crit") == []


# ----- dual control ---------------------------------------------------------------------------


def test_under_dual_control_copying_needs_the_other_holder(qtbot, dual: Path,
                                                           console) -> None:
    c = console(dual)
    clipboard = QApplication.clipboard()
    c.select("crit")
    c.click_action("copy_value")
    ask = c.approver_dialog()
    assert names(ask) == ["carol"]  # dave may approve, but holds no share of the Critical key
    ask.passphrase.setText(CAROL)
    click(qtbot, ask.ok_button)
    qtbot.waitUntil(lambda: clipboard.text() == "critical value", timeout=WAIT_MS)
    assert c.errors == []
    [copy] = events(c.vault, "secret.copy", "crit")
    assert copy["approval"]["approver"] == "carol"


def test_under_dual_control_adding_a_critical_secret_asks_for_the_other_holder(
        qtbot, dual: Path, console) -> None:
    c = console(dual)
    c.click_action("add")
    qtbot.waitUntil(lambda: any(isinstance(d, SecretDialog) and d.isVisible()
                                for d in c.section.dialogs), timeout=WAIT_MS)
    editor = next(d for d in c.section.dialogs if isinstance(d, SecretDialog))
    qtbot.keyClicks(editor.name, "crit2")
    editor.classification.setCurrentIndex(list(Classification).index(Classification.Critical))
    qtbot.keyClicks(editor.value, "second critical value")
    click(qtbot, editor.save_button)
    ask = c.approver_dialog()
    assert "dual control" in ask.reason.text() and "holders: alice, carol" in ask.reason.text()
    assert names(ask) == ["carol"]
    ask.reject()  # not approved: not saved, and the editor says so
    qtbot.waitUntil(lambda: "nothing was saved" in editor.message.text(), timeout=WAIT_MS)
    assert editor.save_button.isEnabled()
    click(qtbot, editor.save_button)
    ask = c.approver_dialog()
    ask.passphrase.setText(CAROL)
    click(qtbot, ask.ok_button)
    qtbot.waitUntil(lambda: c.section.model.total == 2, timeout=WAIT_MS)
    with as_(dual, CAROL, "carol") as carol:
        ok = approvals.approve(carol, "secret.reveal", "crit2", "alice",
                               PassphraseUnlocker.from_text(PASSPHRASE))
        assert carol.get_secret("crit2", approval=ok) == b"second critical value"


# ----- Keys & Signing: a high-value key -----------------------------------------------------------


def test_signing_with_a_high_value_key_asks_for_an_approver(
        qtbot, pair: Path, tmp_path: Path, softhsm: SoftHsm) -> None:  # noqa: F811
    token = softhsm.take_token()
    vault = as_(pair, PASSPHRASE, "alice")
    access_changes.set_policy(vault, Policy(high_value_keys=("hv-signer",)))
    made = make_services(tmp_path / "k.ini", lambda _s: NoClipboard())

    def providers(name: str) -> Any:
        if name == "pkcs11":
            return key_tokens.load_provider("pkcs11")
        raise BackendUnavailable("no TPM in this test")

    section = KeysSection(made.services, providers=providers)
    qtbot.addWidget(section)
    section.resize(1000, 600)
    section.show()
    try:
        section.vault_unlocked(vault)

        def nodes() -> list[Any]:
            return [section.model.node(i) for i in section.model.indexes()]

        def ours() -> TokenNode | None:
            return next((n for n in nodes() if isinstance(n, TokenNode)
                         and n.token.info.label == token), None)

        qtbot.waitUntil(lambda: section.task is None and ours() is not None, timeout=WAIT_MS)
        section.login(ours().token.info, softhsm.pin)
        qtbot.waitUntil(lambda: section.task is None
                        and token_key(ours().token.info) in section.stores, timeout=WAIT_MS)
        section.generate(ours().token.info, KeyType.EcP256, "hv-signer", b"\x77\x01")
        qtbot.waitUntil(lambda: section.task is None and any(
            isinstance(n, KeyNode) and n.key.label == "hv-signer" for n in nodes()),
            timeout=WAIT_MS)
        [node] = [n for n in nodes() if isinstance(n, KeyNode) and n.key.label == "hv-signer"]
        release = tmp_path / "release.tar"
        release.write_bytes(b"release bits")
        section.key_actions.sign_files(node, [release], SignAlgorithm.EcdsaSha256)
        guard = section.key_actions.guard
        qtbot.waitUntil(lambda: guard.dialog is not None and guard.dialog.isVisible(),
                        timeout=WAIT_MS)
        ask = guard.dialog
        assert ask is not None and "signing with a high-value key" in ask.reason.text().lower()
        assert names(ask) == ["carol"]
        ask.passphrase.setText(CAROL)
        click(qtbot, ask.ok_button)
        qtbot.waitUntil(lambda: section.task is None and bool(section.key_actions.last_signed),
                        timeout=WAIT_MS)
        assert (tmp_path / "release.tar.sig").exists() and made.errors == []
        [signed] = events(vault, "keys.sign", "release.tar")
        assert signed["access"]["approval"]["approver"] == "carol"
        assert signed["access"]["approval"]["operation"] == "key.sign"
    finally:
        section.vault_locked()
        section.hw.wait()
        made.services.runner.wait()
        vault.lock()
