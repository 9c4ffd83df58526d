"""The Access Reviews section over a real vault with several operators, driven through its widgets:
operators and their warnings, adding an operator through the dialog, the two-person rule's
approver dialog and retry, grants added and revoked (and the level key rotated), the who-can-
access-what matrices, and a review campaign decided and closed."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from strongroom.app.access import access_changes, operator_admin, reviews
from strongroom.app.access.grants import Scope
from strongroom.app.keyslots import normalize_passphrase
from strongroom.app.model import Classification
from strongroom.app.vault import NewSecret, Vault
from strongroom.ui.access.dialogs import AddGrantDialog, AddOperatorDialog, ReasonDialog
from strongroom.ui.access.section import AccessReviewsSection
from strongroom.ui.access.table import RowsTable

from conftest import PASSPHRASE, unlocker
from helpers.ui_services import NoClipboard, SectionServices, make_services

WAIT_MS = 60_000
LEFT = Qt.MouseButton.LeftButton
BOB, CAROL = "bob's violet kangaroo 5813", "carol's amber walrus 2290"
DAVE, ERIN = "dave's copper lantern 7741", "erin's quiet harbour 3306"


def add(vault: Vault, name: str, passphrase: str, *roles: str) -> None:
    operator_admin.add_operator(vault, name, passphrase.encode(), roles=list(roles),
                                kdf_time_ms=10)


@pytest.fixture
def harness(qtbot, tmp_path: Path) -> Iterator[SectionServices]:
    harness = make_services(tmp_path / "s.ini", lambda _s: NoClipboard())
    yield harness
    harness.services.runner.cancel_all()
    harness.services.runner.wait()


@pytest.fixture
def team(tmp_path: Path) -> Iterator[Vault]:
    """alice (the creator: every role, manage on every level), bob (Custodian, read on level
    high), carol (Custodian, read on tag ops); secrets at Critical, High (tag ops), Moderate."""
    v = Vault.create(tmp_path / "team", normalize_passphrase(PASSPHRASE), kdf_time_ms=10,
                     actor="alice")
    v.add_secret(NewSecret("crit", b"critical value", Classification.Critical))
    v.add_secret(NewSecret("hi", b"high value", Classification.High, tags=("ops",)))
    v.add_secret(NewSecret("mod", b"moderate value", Classification.Moderate))
    add(v, "bob", BOB, "Custodian")
    add(v, "carol", CAROL, "Custodian")
    access_changes.add_grant(v, "bob", Scope.parse("level:high"), "read", justification="on call")
    access_changes.add_grant(v, "carol", Scope.parse("tag:ops"), "read", justification="ops rota")
    yield v
    v.lock()


def open_section(qtbot, harness: SectionServices, vault: Vault) -> AccessReviewsSection:
    section = AccessReviewsSection(harness.services)
    section.kdf_time_ms = 10
    qtbot.addWidget(section)
    section.resize(1100, 700)
    section.show()
    section.vault_unlocked(vault)
    settle(qtbot, section)
    assert section.snapshot is not None, harness.errors
    return section


def settle(qtbot, section: AccessReviewsSection) -> None:
    qtbot.waitUntil(lambda: not section.services.runner.busy, timeout=WAIT_MS)
    qtbot.wait(20)


def click(qtbot, widget) -> None:
    assert widget.isVisible() and widget.isEnabled(), widget.accessibleName()
    qtbot.mouseClick(widget, LEFT)


def rows(table: RowsTable, title: str) -> dict[str, str]:
    """First column -> the column ``title``, as shown."""
    headers = [table.rows.headerData(c, Qt.Orientation.Horizontal)
               for c in range(table.rows.columnCount())]
    return dict(zip(table.column_texts(0), table.column_texts(headers.index(title)),
                    strict=True))


def choose(table: RowsTable, key: object) -> None:
    assert table.select_key(key), key


def visible_dialog(section: AccessReviewsSection, kind: type):
    found = [d for d in section.dialogs if isinstance(d, kind) and d.isVisible()]
    assert found, f"no {kind.__name__} open"
    return found[-1]


# ----- operators ------------------------------------------------------------------------------


def test_the_operators_table_shows_status_roles_methods_and_warnings(qtbot, harness, team
                                                                     ) -> None:
    section = open_section(qtbot, harness, team)
    table = section.operators.table
    assert table.column_texts(0) == ["alice", "bob", "carol"]
    assert rows(table, "Status") == {"alice": "active", "bob": "active", "carol": "active"}
    assert rows(table, "Roles")["bob"] == "Custodian"
    assert "Administrator" in rows(table, "Roles")["alice"]
    assert rows(table, "Unlock methods") == {"alice": "1", "bob": "1", "carol": "1"}
    assert rows(table, "Warnings")["bob"] == "⚠ 1 warning"
    # alice administers operators: she sees everyone's warnings.
    texts = [section.operators.warnings.item(i).text()
             for i in range(section.operators.warnings.count())]
    assert any("bob has a single unlock method" in t for t in texts)
    assert any("alice has a single unlock method" in t for t in texts)
    assert "everyone's" in section.operators.warnings_title.text()
    assert section.who.text().startswith("Acting as alice")
    section.vault_locked()
    assert table.rows.rowCount() == 0 and section.operators.warnings.count() == 0


def test_a_custodian_sees_only_their_own_warnings_and_no_admin_actions(qtbot, harness, team
                                                                       ) -> None:
    path = team.path
    team.lock()
    bob = Vault.open(path)
    bob.unlock(unlocker(BOB), operator="bob")
    try:
        section = open_section(qtbot, harness, bob)
        texts = [section.operators.warnings.item(i).text()
                 for i in range(section.operators.warnings.count())]
        assert texts and all("bob" in t for t in texts)
        assert not section.operators.add_button.isEnabled()
        assert not section.grants.add_button.isEnabled()
        assert [k for k in section.grants.table.column_texts(0)] == ["bob"]  # his own grants
        assert "Reviewers, Auditors and Administrators" in section.campaigns.note.text()
        assert "audit log" in section.approvals.recent_note.text()
        assert harness.errors == []
        # Nothing he was not allowed to read was asked for: no refusal in the audit log.
        section.vault_locked()
    finally:
        bob.lock()
    with Vault.open(path) as alice:
        alice.unlock(unlocker(PASSPHRASE), operator="alice")
        assert alice.audit_events(action="access.denied") == []


def test_add_an_operator_through_the_dialog(qtbot, harness, team) -> None:
    section = open_section(qtbot, harness, team)
    click(qtbot, section.operators.add_button)
    dialog = visible_dialog(section, AddOperatorDialog)
    assert set(dialog.roles) >= {"Administrator", "Custodian", "Auditor", "Reviewer"}
    dialog.name.setText("erin")
    dialog.contact.setText("erin@example.org")
    dialog.roles["Auditor"].setChecked(True)
    dialog.pass1.setText(ERIN)
    dialog.pass2.setText(ERIN + "x")
    click(qtbot, dialog.ok_button)
    assert "differ" in dialog.message.text() and dialog.isVisible()
    dialog.pass2.setText(ERIN)
    click(qtbot, dialog.ok_button)
    assert dialog.pass1.text() == "" and dialog.pass2.text() == ""  # not kept while it runs
    settle(qtbot, section)
    assert dialog not in section.dialogs
    assert harness.errors == []
    table = section.operators.table
    assert "erin" in table.column_texts(0)
    assert rows(table, "Roles")["erin"] == "Auditor"
    assert rows(table, "Unlock methods")["erin"] == "1"
    assert "Added operator erin" in section.result.text()
    [event] = team.audit_events(action="operator.add", target="erin")
    assert event.details["roles"] == ["Auditor"]
    # Her passphrase opens the vault as her.
    other = Vault.open(team.path)
    other.unlock(unlocker(ERIN), operator="erin")
    assert other.actor == "erin"
    other.lock()


def test_a_two_person_change_asks_for_an_approver_and_retries_once(qtbot, harness, team
                                                                   ) -> None:
    add(team, "dave", DAVE, "Administrator")  # a second Administrator: changes need approval
    section = open_section(qtbot, harness, team)
    choose(section.operators.table, "bob")
    click(qtbot, section.operators.suspend_button)
    confirm = visible_dialog(section, QMessageBox)
    click(qtbot, confirm.button(QMessageBox.StandardButton.Yes))
    qtbot.waitUntil(lambda: section.guarded.dialog is not None
                    and section.guarded.dialog.isVisible(), timeout=WAIT_MS)
    ask = section.guarded.dialog
    assert "Approval needed" in ask.reason.text() and "second operator" in ask.reason.text()
    assert [ask.approver.itemText(i) for i in range(ask.approver.count())] == ["dave"]
    ask.passphrase.setText(BOB)  # not dave's
    click(qtbot, ask.ok_button)
    qtbot.waitUntil(lambda: "Try again" in ask.message.text(), timeout=WAIT_MS)
    assert ask.isVisible() and rows(section.operators.table, "Status")["bob"] == "active"
    ask.passphrase.setText(DAVE)
    click(qtbot, ask.ok_button)
    settle(qtbot, section)
    assert section.guarded.dialog is None and harness.errors == []
    assert rows(section.operators.table, "Status")["bob"] == "suspended"
    [event] = team.audit_events(action="operator.status", target="bob")
    assert event.details["approval"]["approver"] == "dave"
    assert [e.details["operation"] for e in team.audit_events(action="approval.failed")] == [
        "access.change"]
    # Cancelling the approver leaves things as they were, and says so.
    choose(section.operators.table, "bob")
    section.operators.set_status("bob", "active")
    qtbot.waitUntil(lambda: section.guarded.dialog is not None, timeout=WAIT_MS)
    section.guarded.dialog.reject()
    assert harness.errors[-1].startswith("No approval was given")
    settle(qtbot, section)
    assert rows(section.operators.table, "Status")["bob"] == "suspended"


# ----- grants ---------------------------------------------------------------------------------


def test_add_and_revoke_a_grant_and_see_the_level_key_rotated(qtbot, harness, team) -> None:
    section = open_section(qtbot, harness, team)
    section.tabs.setCurrentWidget(section.grants)
    click(qtbot, section.grants.add_button)
    dialog = visible_dialog(section, AddGrantDialog)
    dialog.operator.setCurrentText("bob")
    dialog.permission.setCurrentIndex(dialog.permission.findData("read"))
    dialog.kind.setCurrentText("level")
    dialog.value.setCurrentText("critical")
    dialog.justification.setText("incident 42")
    dialog.expires.setChecked(True)
    click(qtbot, dialog.ok_button)
    settle(qtbot, section)
    assert dialog not in section.dialogs and harness.errors == []
    table = section.grants.table
    scopes = list(zip(table.column_texts(0), table.column_texts(2), strict=True))
    assert ("bob", "level:critical") in scopes
    assert "Granted read on level:critical to bob" in section.result.text()
    [(grant, _)] = [(g, n) for g, n in section.snapshot.grants
                    if n == "bob" and str(g.scope) == "level:critical"]
    assert grant.expires is not None and grant.justification == "incident 42"

    choose(table, grant.id)
    click(qtbot, section.grants.revoke_button)
    reason = visible_dialog(section, ReasonDialog)
    reason.reason.setText("incident closed")
    click(qtbot, reason.ok_button)
    settle(qtbot, section)
    assert harness.errors == []
    assert "Revoked grant" in section.result.text()
    assert "Critical key rotated" in section.result.text()
    assert ("bob", "level:critical") not in list(zip(table.column_texts(0),
                                                     table.column_texts(2), strict=True))
    section.grants.show_revoked.setChecked(True)
    status = dict(zip(table.column_texts(2), table.column_texts(6), strict=True))
    assert status["level:critical"].startswith("revoked")
    assert team.audit_events(action="dek.rotate") or team.audit_events(action="grant.revoke")


# ----- who can access what -----------------------------------------------------------------


def test_the_matrix_shows_a_tag_grant_and_a_level_grant_on_the_same_secret(qtbot, harness,
                                                                          team) -> None:
    access_changes.add_grant(team, "bob", Scope.parse("key:release"), "use",
                             justification="releases")
    section = open_section(qtbot, harness, team)
    m = section.matrix
    assert m.secrets.column_texts(0) == ["crit", "hi", "mod"]
    assert m.cell(m.secrets, "hi", "bob") == "read (level:high)"
    assert m.cell(m.secrets, "hi", "carol") == "read (tag:ops)"
    assert m.cell(m.secrets, "mod", "bob") == "—"
    assert m.cell(m.secrets, "crit", "carol") == "—"
    assert m.cell(m.secrets, "crit", "alice").startswith("manage")
    assert m.keys.column_texts(0) == ["key:*", "key:release"]  # alice, the creator: key:*
    assert m.cell(m.keys, "key:release", "bob") == "use (key:release)"
    assert m.cell(m.keys, "key:release", "alice") == "manage (key:*)"
    assert m.cell(m.keys, "key:*", "bob") == "—"


# ----- approvals (read-only) --------------------------------------------------------------------


def test_the_approvals_tab_shows_the_policy_and_approvals_from_the_audit_log(qtbot, harness,
                                                                            team) -> None:
    add(team, "dave", DAVE, "Administrator")
    from strongroom.app.access import approvals

    approval = approvals.approve(team, "access.change", "grant:carol:tag:ops", "dave",
                                 unlocker(DAVE))
    [(g, _)] = [(g, n) for g, n in access_changes.list_grants(team, operator="carol")]
    access_changes.revoke_grant(team, g.id, reason="moved teams", approval=approval)
    section = open_section(qtbot, harness, team)
    ops = section.approvals.critical.column_texts(0)
    assert "Changing operators, roles or grants" in ops
    assert "Revealing a secret" in ops
    recent = section.approvals.recent
    assert recent.column_texts(4) == ["dave"]
    assert recent.column_texts(1) == ["grant.revoke"]


# ----- campaigns ------------------------------------------------------------------------------


def test_a_campaign_listed_decided_closed_and_exported(qtbot, harness, team, tmp_path) -> None:
    due = dt.date.today() + dt.timedelta(days=30)
    campaign = reviews.create_campaign(team, "Q1 review", scope={"operators": ["bob", "carol"]},
                                       reviewers=["alice"], due=due, default_decision="keep")
    section = open_section(qtbot, harness, team)
    tab = section.campaigns
    section.tabs.setCurrentWidget(tab)
    assert tab.table.column_texts(0) == ["Q1 review"]
    assert rows(tab.table, "Progress") == {"Q1 review": "0/2 decided"}
    assert rows(tab.table, "Due") == {"Q1 review": due.isoformat()}
    choose(tab.table, campaign.id)
    click(qtbot, tab.open_button)
    settle(qtbot, section)
    review = tab.review
    assert review.isVisible() and review.view is not None
    assert review.table.column_texts(1) == ["bob", "carol"]
    [bob_item] = [i for i in review.view["items"] if i["subject"]["operator"] == "bob"]
    assert review.select_item(bob_item["id"])
    assert "level:high" in review.reason.text()
    review.justification.setText("left the on-call rota")
    click(qtbot, review.revoke_button)
    settle(qtbot, section)
    assert harness.errors == []
    decisions = dict(zip(review.table.column_texts(1), review.table.column_texts(8),
                         strict=True))
    assert decisions == {"bob": "revoke (alice)", "carol": "undecided"}
    assert rows(tab.table, "Progress") == {"Q1 review": "1/2 decided"}

    click(qtbot, review.close_button)
    confirm = visible_dialog(section, QMessageBox)
    assert "1 undecided item gets" in confirm.text()
    click(qtbot, confirm.button(QMessageBox.StandardButton.Yes))
    settle(qtbot, section)
    assert harness.errors == []
    assert section.result.text().startswith("Closed Q1 review: 1 change applied")
    assert "level keys rotated: high" in section.result.text()
    assert rows(tab.table, "Status")["Q1 review"].startswith("closed")
    assert not review.keep_button.isEnabled()
    live = [n for g, n in access_changes.list_grants(team) if str(g.scope) == "level:high"]
    assert "bob" not in live

    out = tmp_path / "report.csv"
    tab.export_to(campaign.id, out)
    settle(qtbot, section)
    assert out.read_text().count("\n") == 3  # the header and two items
    pdf = tmp_path / "report.pdf"
    tab.export_to(campaign.id, pdf)
    settle(qtbot, section)
    assert pdf.read_bytes().startswith(b"%PDF")


def test_an_overdue_campaign_is_flagged_in_words(qtbot, harness, team) -> None:
    campaign = reviews.create_campaign(
        team, "Late one", scope={"all": True}, reviewers=["alice"],
        starts=dt.date.today() - dt.timedelta(days=10), due=dt.date.today() - dt.timedelta(days=2))
    section = open_section(qtbot, harness, team)
    tab = section.campaigns
    due = rows(tab.table, "Due")["Late one"]
    assert due.endswith("OVERDUE")
    assert "OVERDUE" in tab.note.text()
    tab.open_campaign(campaign.id)
    settle(qtbot, section)
    review = tab.review
    assert "OVERDUE" in review.facts.text()
    assert all(d.endswith("OVERDUE") for d in review.table.column_texts(8))
    # alice reviews, but not her own grants: another reviewer decides those.
    [own, *_] = [i for i in review.view["items"] if i["subject"]["operator"] == "alice"]
    assert review.select_item(own["id"])
    assert "your own grant" in review.reason.text() and "OVERDUE" in review.reason.text()
    assert not review.keep_button.isEnabled() and not review.revoke_button.isEnabled()
    [bob, *_] = [i for i in review.view["items"] if i["subject"]["operator"] == "bob"]
    assert review.select_item(bob["id"])
    assert review.keep_button.isEnabled()
