"""The Compliance section over a real vault: recorded evidence from tests/fixtures/compliance fed
through an injected collector (so statuses are known), and once the real collector on this
machine. Runs are stored and audited, tiles and details show them, exceptions, the schedule,
the PDF report, and the lock."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import datetime as dt
import json
import re
import threading
import unicodedata
import zlib
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QFontDatabase, QFontInfo
from PySide6.QtWidgets import QAbstractButton, QAbstractSpinBox, QApplication, QWidget

from strongroom.app.compliance import evidence_io, registry, service, storage
from strongroom.app.compliance.model import OS, EvidenceBundle, Policy, Status
from strongroom.app.vault import Vault
from strongroom.ui.compliance.data import WORDS
from strongroom.ui.compliance.report import print_report, print_supported
from strongroom.ui.compliance.section import ComplianceSection
from strongroom.ui.settings.store import ConsoleSettings
from strongroom.ui.workers import Task

from conftest import make_vault
from helpers.ui_services import NoClipboard, SectionServices, make_services

WAIT_MS = 60_000
FIXTURES = Path(__file__).parent / "fixtures" / "compliance"
NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)  # the fixtures' "now"
# One recorded case per check whose evidence items do not collide with the others'.
CASES = {
    "disk-encryption": "ubuntu-luks-on-lvm", "patch-age": "no-security-suite",
    "screen-lock": "gnome-idle-never", "firewall": "ufw-enabled",
    "guest-account": "no-guest-no-lightdm", "secure-boot": "permission-denied",
    "auto-updates": "dpkg-query-missing", "tpm": "tpm2",
}


def expected(check_id: str) -> dict:
    return json.loads((FIXTURES / check_id / "linux" / CASES[check_id] / "expected.json")
                      .read_text())


EXPECTED = {c: Status(expected(c)["status"]) for c in CASES}


class FixtureCollector:
    """A collector double: one bundle merged from recorded evidence, whatever ``only`` asks."""

    os = OS.Linux

    def __init__(self, cases: dict[str, str] = CASES) -> None:
        items: dict = {}
        for check_id, case in cases.items():
            bundle = evidence_io.load_bundle(FIXTURES / check_id / "linux" / case)
            for key, item in bundle.items.items():
                assert items.get(key, item) == item, f"{case}: {key} differs from another case"
                items[key] = item
        self.bundle = EvidenceBundle(OS.Linux, "2026-11-23T12:00:00Z", items, host="<host>")
        self.threads: list[threading.Thread] = []

    def collect(self, only: set[str] | None = None) -> EvidenceBundle:
        self.threads.append(threading.current_thread())
        return self.bundle


class UnsupportedHere:
    os = OS.Linux

    def collect(self, only: set[str] | None = None) -> EvidenceBundle:
        raise NotImplementedError("no compliance collector for plan9: not supported")



Harness = SectionServices


@pytest.fixture
def harness(qtbot, tmp_path: Path) -> Iterator[Harness]:
    harness = make_services(tmp_path / "console.ini", lambda _settings: NoClipboard())
    harness.services.settings.set("theme", "light")
    yield harness
    harness.services.runner.cancel_all()
    harness.services.runner.wait()


@pytest.fixture
def vault(tmp_path: Path) -> Iterator[Vault]:
    v = make_vault(tmp_path / "vault")
    yield v
    v.lock()


def finish(qtbot, task: Task | None) -> None:
    assert task is not None
    qtbot.waitUntil(lambda: task.done, timeout=WAIT_MS)


def make_section(qtbot, harness: Harness, vault: Vault, collector=None) -> ComplianceSection:
    section = ComplianceSection(harness.services, collector=collector or FixtureCollector())
    section.clock = lambda: NOW
    qtbot.addWidget(section)
    section.resize(1100, 720)
    section.show()
    section.vault_unlocked(vault)
    qtbot.waitUntil(lambda: not harness.services.runner.busy, timeout=WAIT_MS)
    return section


@pytest.fixture
def section(qtbot, harness: Harness, vault: Vault) -> ComplianceSection:
    return make_section(qtbot, harness, vault)


def run(qtbot, section: ComplianceSection) -> None:
    finish(qtbot, section.run_now())
    qtbot.waitUntil(lambda: section.run_button.isEnabled(), timeout=WAIT_MS)


def click(qtbot, widget: QWidget) -> None:
    assert widget.isVisible() and widget.isEnabled(), widget.accessibleName()
    qtbot.mouseClick(widget, Qt.MouseButton.LeftButton)


def pdf_text(data: bytes) -> str:
    """The text of a Qt-written PDF: each font's ToUnicode map applied to its glyph strings."""
    objects = {int(m.group(1)): m.group(2) for m in re.finditer(
        rb"(\d+) 0 obj(.*?)endobj", data, re.S)}

    def stream(body: bytes) -> bytes:
        m = re.search(rb"stream\r?\n(.*?)endstream", body, re.S)
        raw = m.group(1) if m else b""
        return zlib.decompress(raw) if b"FlateDecode" in body else raw

    def cmap(num: int) -> dict[int, str]:
        text, out = stream(objects[num]).decode("latin-1"), {}
        for lo, _hi, targets in re.findall(r"<(\w+)> <(\w+)> \[([^\]]*)\]", text):
            for i, t in enumerate(re.findall(r"<(\w+)>", targets)):
                out[int(lo, 16) + i] = chr(int(t, 16))
        for code, target in re.findall(r"<(\w{4})> <(\w{4})>\s*$", text, re.M):
            out.setdefault(int(code, 16), chr(int(target, 16)))
        return out

    fonts = {}
    for body in objects.values():
        for name, num in re.findall(rb"/(F\d+) (\d+) 0 R", body):
            font = objects.get(int(num), b"")
            m = re.search(rb"/ToUnicode (\d+) 0 R", font)
            if m:
                fonts[name.decode()] = cmap(int(m.group(1)))
    words = []
    for body in objects.values():
        if b"BT" not in stream(body)[:20000]:
            continue
        current: dict[int, str] = {}
        for font, glyphs in re.findall(r"/(F\d+) [\d.]+ Tf|<([0-9A-Fa-f]+)> Tj",
                                       stream(body).decode("latin-1")):
            if font:
                current = fonts.get(font, {})
            else:
                words += [current.get(int(glyphs[i:i + 4], 16), "")
                          for i in range(0, len(glyphs), 4)]
    return unicodedata.normalize("NFKC", "".join(words))  # ligatures (ﬁ) back to letters


# ----- before a run ------------------------------------------------------------------------------


def test_before_any_run_an_empty_state_with_run_now(section: ComplianceSection) -> None:
    assert section.pages.currentIndex() == 0 and section.view is None
    assert section.empty_run_button.isVisible() and section.empty_run_button.isEnabled()
    assert "Not checked yet" in section.header.overall.text()
    assert not section.export_button.isEnabled() and not section.print_button.isEnabled()
    assert section.chart.points == [] and "No stored runs" in section.chart.accessibleDescription()
    assert "defaults" in section.bar.policy.text()


# ----- running on recorded evidence --------------------------------------------------------------


def test_run_now_stores_audits_and_shows_every_check(
    qtbot, harness: Harness, vault: Vault
) -> None:
    collector = FixtureCollector()
    section = make_section(qtbot, harness, vault, collector)
    click(qtbot, section.empty_run_button)
    qtbot.waitUntil(lambda: section.view is not None and section.run_button.isEnabled(),
                    timeout=WAIT_MS)
    assert collector.threads and threading.main_thread() not in collector.threads

    assert section.pages.currentIndex() == 1
    for check_id, status in EXPECTED.items():
        tile = section.tile(check_id)
        assert tile.status_word == WORDS[status], check_id
        assert WORDS[status] in tile.chip.text() and tile.chip.text()[0] != WORDS[status][0]
        assert tile.title.text() == registry.TITLES[check_id]
        assert tile.observed.text() and tile.reason.text()
        assert WORDS[status] in tile.accessibleName()
        for text in expected(check_id)["observed"]:
            assert text in tile.observed.text()

    [stored] = storage.runs(vault)
    assert {r["check_id"]: r["status"] for r in stored["results"]} == {
        c: s.value for c, s in EXPECTED.items()}
    [event] = vault.audit_events(action="compliance.check")
    assert event.details["run"] == stored["id"] and event.details["FAIL"] == 2
    assert any("stored as run" in s for s in harness.statuses)

    header = section.header
    assert "Not compliant" in header.overall.text() and "✘" in header.overall.text()
    assert "<host>" in header.meta.text() and "Linux" in header.meta.text()
    assert header.policy.text().startswith("Policy (defaults)")
    assert len(section.chart.points) == 1
    assert harness.errors == []


def test_a_fail_tile_shows_its_remediation_and_evidence(
    qtbot, section: ComplianceSection
) -> None:
    run(qtbot, section)
    assert section.selected in {c for c, s in EXPECTED.items() if s is Status.Fail}
    click(qtbot, section.tile("screen-lock"))
    detail, result = section.detail, section.view.result("screen-lock")
    assert section.selected == "screen-lock" and section.tile("screen-lock").selected
    assert detail.heading.text() == registry.TITLES["screen-lock"]
    assert "FAIL" in detail.chip.text()
    assert detail.remediation.text() == result.remediation and result.remediation
    assert detail.reason.text() == result.reason
    assert detail.evidence.toPlainText() == result.evidence_excerpt
    assert detail.evidence.isReadOnly()
    # The system's fixed font, whatever family the font set gives it ("monospace" offscreen);
    # fixed pitch wherever the font set has a fixed-pitch face for it (with Debian's
    # fonts-noto-mono, Qt may not call it that).
    fixed = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
    shown = detail.evidence.font()
    assert shown == fixed and shown.family() == fixed.family()
    if QFontInfo(fixed).fixedPitch():
        assert QFontInfo(shown).fixedPitch()
    assert detail.method.text() == result.method
    assert detail.confidence.text() == result.confidence.value
    assert detail.duration.text().endswith("ms")
    assert detail.exception.text() == "None recorded."

    section.tile("tpm").setFocus()
    qtbot.keyClick(section.tile("tpm"), Qt.Key.Key_Space)
    assert detail.heading.text() == registry.TITLES["tpm"]
    assert detail.remediation.text() == "Nothing to do."


def test_the_chart_gets_a_point_per_run(qtbot, section: ComplianceSection, vault: Vault) -> None:
    for _ in range(3):
        run(qtbot, section)
    points = section.chart.points
    assert [p.run_id for p in points] == sorted(r["id"] for r in storage.runs(vault))
    assert all((p.passed, p.failed, p.unknown) == (4, 2, 2) for p in points)
    assert len(vault.audit_events(action="compliance.check")) == 3
    text = section.chart.accessibleDescription()
    assert text.startswith("3 stored runs") and "4 pass, 2 fail, 2 unknown" in text
    chart = section.chart
    assert [chart.point_at(chart.bar_centre(i)) for i in range(3)] == points
    image = section.chart.grab().toImage()
    assert not image.isNull() and image.width() > 200


def test_accept_risk_makes_the_tile_excepted_and_is_audited(
    qtbot, section: ComplianceSection, vault: Vault
) -> None:
    run(qtbot, section)
    until = max(dt.date.today(), NOW.date()) + dt.timedelta(days=30)
    finish(qtbot, section.accept_risk("screen-lock", "kiosk behind a locked door", until))
    tile = section.tile("screen-lock")
    assert tile.status_word == "EXCEPTED" and "⚑" in tile.chip.text()
    assert "kiosk behind a locked door" in tile.reason.text()
    [event] = vault.audit_events(action="compliance.exception.add")
    assert event.target == "screen-lock" and event.details["until"] == until.isoformat()
    section.select("screen-lock")
    assert "kiosk behind a locked door" in section.detail.exception.text()
    assert until.isoformat() in section.detail.exception.text()
    assert "stored FAIL" in section.detail.exception.text()
    assert section.detail.remove_button.isEnabled()
    assert "patch-age" in section.header.overall.text() or "1 required check fails" in \
        section.header.overall.text()

    run(qtbot, section)  # the next stored run is EXCEPTED too
    latest = storage.runs(vault)[0]
    assert {r["check_id"]: r["status"] for r in latest["results"]}["screen-lock"] == "EXCEPTED"

    finish(qtbot, section.remove_exception("screen-lock"))
    assert section.tile("screen-lock").status_word == "FAIL"
    assert section.tile("screen-lock").reason.text() == expected_reason(section, "screen-lock")
    assert vault.audit_events(action="compliance.exception.remove")
    assert not section.detail.remove_button.isEnabled()


def expected_reason(section: ComplianceSection, check_id: str) -> str:
    bundle = section.collector.bundle
    [result] = registry.judge(bundle, Policy(), NOW, only=[check_id])
    return result.reason


def test_accept_risk_through_its_dialog(qtbot, section: ComplianceSection, vault: Vault) -> None:
    run(qtbot, section)
    section.select("patch-age")
    click(qtbot, section.detail.accept_button)
    dialog = section.dialog
    assert dialog is not None and dialog.isVisible()
    click(qtbot, dialog.ok_button)  # no reason yet: refused in words
    assert dialog.isVisible() and dialog.note.text() == "Give a reason."
    qtbot.keyClicks(dialog.reason, "mirror offline until the 1st")
    click(qtbot, dialog.ok_button)
    qtbot.waitUntil(lambda: section.tile("patch-age").status_word == "EXCEPTED", timeout=WAIT_MS)
    assert section.dialog is None
    assert storage.list_exceptions(vault)[0].reason == "mirror offline until the 1st"


# ----- report ------------------------------------------------------------------------------------


def test_export_pdf_writes_the_report_and_records_it(
    qtbot, section: ComplianceSection, vault: Vault, tmp_path: Path
) -> None:
    assert section.export_pdf(tmp_path / "never.pdf") is None  # nothing to report yet
    run(qtbot, section)
    path = tmp_path / "report.pdf"
    finish(qtbot, section.export_pdf(path))
    data = path.read_bytes()
    assert data.startswith(b"%PDF") and len(data) > 1024
    text = re.sub(r"\s+", "", pdf_text(data))
    for title in registry.TITLES.values():
        assert re.sub(r"\s+", "", title) in text, title
    for word in ("Strongroomcompliancereport", "FAIL", "PASS", "UNKNOWN", "Howtofix",
                 "<host>", "Policy(defaults)"):
        assert word in text, word
    remediation = section.view.result("screen-lock").remediation
    assert re.sub(r"\s+", "", remediation)[:40] in text
    [event] = vault.audit_events(action="compliance.report")
    assert event.target == "report.pdf"
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_a_report_into_a_missing_folder_is_one_sentence(
    qtbot, harness: Harness, section: ComplianceSection, tmp_path: Path
) -> None:
    run(qtbot, section)
    finish(qtbot, section.export_pdf(tmp_path / "missing" / "report.pdf"))
    assert len(harness.errors) == 1 and "report.pdf" in harness.errors[0]
    assert harness.errors[0].count(".") <= 2 and "\n" not in harness.errors[0]


@pytest.mark.skipif(not print_supported(), reason="this Qt build has no QtPrintSupport")
def test_printing_lays_the_report_out_on_a_printer(
    qtbot, section: ComplianceSection, tmp_path: Path
) -> None:
    from PySide6.QtPrintSupport import QPrinter

    run(qtbot, section)
    assert section.print_button.isEnabled()
    printer = QPrinter(QPrinter.PrinterMode.HighResolution)
    printer.setOutputFormat(QPrinter.OutputFormat.PdfFormat)
    printer.setOutputFileName(str(tmp_path / "printed.pdf"))
    print_report(section.report(), printer)
    data = (tmp_path / "printed.pdf").read_bytes()
    assert data.startswith(b"%PDF") and "Firewallenabled" in re.sub(r"\s+", "", pdf_text(data))


# ----- schedule and policy -----------------------------------------------------------------------


def test_the_schedule_persists_and_arms_a_timer(
    qtbot, harness: Harness, section: ComplianceSection, vault: Vault
) -> None:
    assert not section.scheduler.timer.isActive()
    assert section.schedule.value() == 0 and section.schedule.text() == "Off"
    section.schedule.setValue(6)
    again = ConsoleSettings(QSettings(str(harness.ini), QSettings.Format.IniFormat))
    assert again.compliance_schedule_hours == 6
    timer = section.scheduler.timer
    assert timer.isActive() and 0 < timer.interval() <= 6 * 3600_000
    assert "next run" in section.bar.note.text()

    timer.timeout.emit()  # the timer fires: a run, stored like any other
    qtbot.waitUntil(lambda: section.view is not None and not section._checking, timeout=WAIT_MS)
    assert len(storage.runs(vault)) == 1
    assert timer.isActive() and timer.interval() > 5 * 3600_000

    section.schedule.setValue(0)
    assert not timer.isActive() and section.bar.note.text() == "(scheduled runs are off)"

    harness.services.settings.set("compliance_schedule_hours", 2)  # changed elsewhere
    assert section.schedule.value() == 2 and timer.isActive()
    fresh = ComplianceSection(replace(harness.services, settings=ConsoleSettings(
        QSettings(str(harness.ini), QSettings.Format.IniFormat))))
    qtbot.addWidget(fresh)
    assert fresh.schedule.value() == 2


def test_a_policy_file_is_used_and_named(
    qtbot, harness: Harness, section: ComplianceSection, tmp_path: Path
) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text('required = ["disk-encryption", "firewall", "tpm", "guest-account"]\n')
    harness.services.settings.set("compliance_policy_file", str(policy))
    qtbot.waitUntil(lambda: str(policy) in section.bar.policy.text(), timeout=WAIT_MS)
    assert section.bar.defaults_button.isEnabled()
    run(qtbot, section)
    assert section.header.policy.text().startswith(f"Policy ({policy})")
    assert section.tile("screen-lock").tag.text() == "optional"
    assert section.tile("firewall").tag.text() == ""
    assert "Compliant" in section.header.overall.text()

    policy.write_text("max_patch_age_days = 'soon'\n")
    section.run_now()
    qtbot.waitUntil(lambda: bool(harness.errors), timeout=WAIT_MS)
    assert "max_patch_age_days must be a whole number" in harness.errors[0]
    section.use_default_policy()
    assert harness.services.settings.compliance_policy_file == ""


def test_a_collector_that_cannot_run_is_one_sentence(
    qtbot, harness: Harness, vault: Vault
) -> None:
    section = make_section(qtbot, harness, vault, UnsupportedHere())
    finish(qtbot, section.run_now())
    assert harness.errors == ["No compliance collector for plan9: not supported"]
    assert storage.runs(vault) == [] and section.run_button.isEnabled()


# ----- lock --------------------------------------------------------------------------------------


def test_vault_locked_clears_everything(
    qtbot, harness: Harness, section: ComplianceSection, vault: Vault
) -> None:
    section.schedule.setValue(4)
    run(qtbot, section)
    assert section.detail.evidence.toPlainText()
    section.vault_locked()
    assert section.vault is None and section.view is None and section.runs == []
    assert section.pages.currentIndex() == 0
    assert all(t.result is None and t.observed.text() == "" for t in section.tiles.tiles.values())
    assert section.detail.evidence.toPlainText() == "" and section.detail.check_id is None
    assert section.chart.points == []
    assert not section.scheduler.timer.isActive()
    assert "locked" in section.header.overall.text()
    assert not section.run_button.isEnabled() and not section.export_button.isEnabled()
    assert section.run_now() is None and section.accept_risk("tpm", "x", NOW.date()) is None

    # A run still in flight when the vault locks is dropped when it arrives.
    section.vault_unlocked(vault)
    qtbot.waitUntil(lambda: section.view is not None, timeout=WAIT_MS)
    task = section.run_now()
    section.vault_locked()
    finish(qtbot, task)
    assert section.view is None and section.chart.points == []
    assert section.detail.evidence.toPlainText() == ""


# ----- the real collector ------------------------------------------------------------------------


def test_the_real_collector_on_this_machine_gives_a_tile_per_check(
    qtbot, harness: Harness, vault: Vault
) -> None:
    section = ComplianceSection(harness.services)  # the platform's collector, via the app layer
    qtbot.addWidget(section)
    section.show()
    section.vault_unlocked(vault)
    finish(qtbot, section.run_now())
    assert harness.errors == []
    assert set(section.tiles.tiles) == set(registry.CHECK_IDS)
    for check_id, tile in section.tiles.tiles.items():
        assert tile.result is not None and tile.status_word in WORDS.values(), check_id
        assert tile.title.text() == registry.TITLES[check_id]
        assert tile.observed.text() and tile.reason.text()
    [stored] = storage.runs(vault)
    assert stored["source"] == "collected" and len(stored["results"]) == 8


# ----- the app layer both front ends share -------------------------------------------------------


def test_run_checks_without_a_vault_stores_nothing(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("STRONGROOM_STATE_DIR", str(tmp_path))
    run_ = service.run_checks(None, Policy(), None, NOW, collector=FixtureCollector())
    assert run_.run_id is None and not run_.evaluation.exceptions_applied
    assert {r.check_id: r.status for r in run_.results} == EXPECTED
    assert run_.evaluation.exit_code == registry.EXIT_FAIL
    assert run_.policy["source"] == "defaults"


def test_exceptions_apply_and_unapply_exactly() -> None:
    results = registry.judge(FixtureCollector().bundle, Policy(), NOW)
    exc = registry.ComplianceException("patch-age", "why (otherwise FAIL: x)", NOW.date())
    applied = service.with_exceptions(results, [exc], NOW)
    assert [r.status for r in applied].count(Status.Excepted) == 1
    assert service.with_exceptions(applied, [], NOW) == results
    again = [service.result_from_json(json.loads(json.dumps(r.to_json()))) for r in applied]
    assert service.with_exceptions(again, [], NOW) == results
    expired = registry.ComplianceException("patch-age", "old", NOW.date() - dt.timedelta(1))
    assert service.with_exceptions(applied, [expired], NOW) == results


def test_every_control_has_an_accessible_name(qtbot, section: ComplianceSection) -> None:
    run(qtbot, section)
    for widget in section.findChildren(QWidget):
        if isinstance(widget, QAbstractButton | QAbstractSpinBox) and widget.isVisible():
            assert widget.accessibleName(), type(widget).__name__
    assert section.chart.accessibleName() and section.detail.evidence.accessibleName()
    assert QApplication.instance() is not None


def test_the_console_shows_this_section_and_follows_the_theme(
    qtbot, harness: Harness, section: ComplianceSection
) -> None:
    from strongroom.ui.compliance.tiles import DARK, LIGHT
    from strongroom.ui.main_window import default_sections

    assert ComplianceSection in default_sections()
    run(qtbot, section)
    tile = section.tile("patch-age")
    assert LIGHT.status[Status.Fail] in tile.styleSheet()
    harness.services.settings.set("theme", "dark")
    assert DARK.status[Status.Fail] in tile.styleSheet() and section.chart.theme is DARK
    assert DARK.status[Status.Fail] in section.header.overall.styleSheet()
