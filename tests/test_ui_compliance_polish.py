"""Compliance tiles show what was observed in full (wrapped, never cut mid-word), and Run now keeps
keyboard focus instead of handing it to the schedule's spin box."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication

from strongroom.app.compliance.model import OS, CheckResult, Confidence, EvidenceBundle, Status
from strongroom.ui.compliance.section import ComplianceSection
from strongroom.ui.compliance.tiles import REASON_LINES, TileGrid, WrappedLabel, wrap_lines

from conftest import make_vault
from helpers.compliance_cases import FIXTURES, NOW, load_bundle
from helpers.ui_services import NoClipboard, SectionServices, make_services

WAIT_MS = 60_000
OBSERVED = "86 security update(s) pending, first pending since 2026-11-02, oldest 21 days old"
REASON = ("apt 2.6.2, apt-transport-https 2.6.2, ca-certificates 20250419~deb12u2 and 83 more "
          "pending since at least 2026-12-06 20:10 UTC, when the package lists were refreshed; "
          "/var/lib/apt/lists/deb.debian.org_debian-security_dists_bookworm-security_InRelease")


def result(observed: str = OBSERVED, reason: str = REASON) -> CheckResult:
    return CheckResult("patch-age", "Security updates installed in time", Status.Unknown,
                       observed, reason, "", "", Confidence.High, "apt")


def lines(label: WrappedLabel) -> int:
    return round(label.height() / label.fontMetrics().lineSpacing())


def test_a_tile_shows_what_was_observed_in_full(qtbot) -> None:
    grid = TileGrid()
    qtbot.addWidget(grid)
    grid.resize(960, 400)  # four columns of about 230 px
    grid.show()
    tile = grid.tiles["patch-age"]
    tile.set_result(result(), True)
    QApplication.processEvents()
    observed = tile.observed
    assert observed.text() == OBSERVED
    assert observed.height() >= observed.heightForWidth(observed.width())  # every line shows
    assert lines(observed) >= 2  # wrapped, not elided to one line
    assert tile.reason.height() >= tile.reason.heightForWidth(tile.reason.width())
    assert lines(tile.reason) <= REASON_LINES  # the rest is in the tooltip and the details


def test_a_word_longer_than_the_line_wraps_inside_it(qtbot) -> None:
    label = WrappedLabel()
    qtbot.addWidget(label)
    path = "/var/lib/apt/lists/deb.debian.org_debian-security_dists_bookworm-security_InRelease"
    label.setText(path)
    one_line = label.fontMetrics().lineSpacing()
    assert label.heightForWidth(120) > 2 * one_line - 2  # broken inside the path
    assert label.minimumSizeHint().width() == 0  # a path never forces the tile wider


def test_wrapping_breaks_between_words_and_inside_only_an_overlong_word(qtbot) -> None:
    metrics = WrappedLabel().fontMetrics()
    text = "86 security update(s) pending /var/lib/apt/lists/deb.debian.org_debian-security_x"
    width = metrics.horizontalAdvance("86 security update(s)") + 2
    lines = wrap_lines(text, metrics, width)
    assert lines[0] == "86 security update(s)" and lines[1] == "pending"  # whole words
    assert "".join(lines[2:]) == "/var/lib/apt/lists/deb.debian.org_debian-security_x"
    assert len(lines) > 3 and all(metrics.horizontalAdvance(line) <= width for line in lines)


def test_reason_lines_are_capped_and_observed_lines_are_not(qtbot) -> None:
    capped, whole = WrappedLabel(max_lines=REASON_LINES), WrappedLabel()
    for label in (capped, whole):
        qtbot.addWidget(label)
        label.setText(REASON * 3)
    spacing = capped.fontMetrics().lineSpacing()
    assert capped.heightForWidth(200) <= REASON_LINES * spacing + 1
    assert whole.heightForWidth(200) > REASON_LINES * spacing + 1


class OneCase:
    """A collector double: the recorded evidence of one disk-encryption case."""

    os = OS.Linux

    def collect(self, only: set[str] | None = None) -> EvidenceBundle:
        return load_bundle(FIXTURES / "disk-encryption" / "linux" / "ubuntu-luks-on-lvm")


@pytest.fixture
def harness(qtbot, tmp_path: Path) -> Iterator[SectionServices]:
    harness = make_services(tmp_path / "console.ini", lambda _settings: NoClipboard())
    yield harness
    harness.services.runner.cancel_all()
    harness.services.runner.wait()


@pytest.fixture
def section(qtbot, harness: SectionServices, tmp_path: Path) -> Iterator[ComplianceSection]:
    vault = make_vault(tmp_path / "vault")
    section = ComplianceSection(harness.services, collector=OneCase())
    section.clock = lambda: NOW
    qtbot.addWidget(section)
    section.resize(1100, 720)
    section.show()
    section.activateWindow()
    section.vault_unlocked(vault)
    qtbot.waitUntil(lambda: not harness.services.runner.busy, timeout=WAIT_MS)
    yield section
    section.vault_locked()
    harness.services.runner.wait()
    vault.lock()


def run_by_keyboard(qtbot, section: ComplianceSection, button) -> None:
    button.setFocus()
    qtbot.waitUntil(button.hasFocus, timeout=WAIT_MS)
    task = section.run_now()
    assert task is not None and not button.isEnabled()
    assert button.hasFocus(), "focus left Run now while its run goes on"
    assert not section.schedule.hasFocus()
    qtbot.waitUntil(lambda: task.done and button.isEnabled(), timeout=WAIT_MS)


def test_run_now_keeps_focus_in_the_empty_state_and_after(qtbot,
                                                         section: ComplianceSection) -> None:
    assert section.view is None
    run_by_keyboard(qtbot, section, section.empty_run_button)
    assert section.view is not None  # the empty page gave way to the tiles
    assert section.run_button.hasFocus(), QApplication.focusWidget()
    run_by_keyboard(qtbot, section, section.run_button)
    assert section.run_button.hasFocus() and not section.schedule.hasFocus()
