"""Settings → Audit forwarding: a destination typed in, Forward now run in the task runner
against a real rsyslogd, the last acknowledged event shown; a bad destination is one sentence
and runs nothing; and an Xvfb screenshot of the panel in both themes."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from strongroom.app.errors import BackendUnavailable
from strongroom.app.forwarding.verify import verify_lines
from strongroom.app.unlock_methods import SlotSecretSource
from strongroom.app.vault import Vault
from strongroom.ui.settings.section import SettingsSection

from conftest import PASSPHRASE, make_vault
from helpers.rsyslog import Rsyslog
from helpers.ui_services import NoClipboard, SectionServices, make_services
from helpers.xvfb import SCREENSHOTS, distinct_colours, xvfb  # noqa: F401 - fixture

WAIT_MS = 60_000
CHILD = Path(__file__).with_name("helpers") / "forwarding_screenshot_child.py"


@pytest.fixture
def harness(qtbot, tmp_path: Path) -> Iterator[SectionServices]:
    harness = make_services(tmp_path / "s.ini", lambda _settings: NoClipboard())
    yield harness
    harness.services.runner.cancel_all()
    harness.services.runner.wait()


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[Rsyslog]:
    with Rsyslog(tmp_path / "rsyslog") as r:
        yield r


def no_hardware(kind: str) -> SlotSecretSource:
    raise BackendUnavailable(f"no {kind} here (a test)")


def section_for(qtbot, harness: SectionServices, vault: Vault) -> SettingsSection:
    section = SettingsSection(harness.services, sources=no_hardware)
    qtbot.addWidget(section)
    section.show()
    section.vault_unlocked(vault)
    return section


def test_forward_now_sends_the_log_and_shows_the_last_event(
        qtbot, harness: SectionServices, tmp_path: Path, receiver: Rsyslog) -> None:
    vault = make_vault(tmp_path / "v")
    try:
        panel = section_for(qtbot, harness, vault).forwarding
        qtbot.waitUntil(lambda: panel.status.text() == "Not forwarded yet.", timeout=WAIT_MS)
        panel.destination.setText(receiver.address)
        panel.tcp.setChecked(True)
        assert not panel.ca.isEnabled()
        task = panel.forward_now()
        assert task is not None and not panel.forward_button.isEnabled()
        qtbot.waitUntil(lambda: panel.task is None and "acknowledged up to event" in
                        panel.status.text(), timeout=WAIT_MS)
        assert panel.result.text().startswith("Forwarded ")
        assert harness.errors == []
        lines = receiver.lines(expected=2)
        assert verify_lines(lines, vault_id=vault.vault_id).ok
        assert f"{receiver.address} over TCP: acknowledged up to event" in panel.status.text()
    finally:
        vault.lock()


@pytest.mark.parametrize(("to", "tcp", "phrase"), [
    ("not an address", False, "HOST:PORT"),
    ("192.0.2.1:514", True, "loopback"),
])
def test_a_bad_destination_is_one_sentence_and_runs_nothing(
        qtbot, harness: SectionServices, tmp_path: Path, to: str, tcp: bool,
        phrase: str) -> None:
    vault = make_vault(tmp_path / "v")
    try:
        panel = section_for(qtbot, harness, vault).forwarding
        panel.destination.setText(to)
        panel.tcp.setChecked(tcp)
        assert panel.forward_now() is None
        assert len(harness.errors) == 1 and phrase in harness.errors[0]
        assert panel.task is None and panel.forward_button.isEnabled()
    finally:
        vault.lock()


def test_a_receiver_that_is_down_is_an_error_and_the_panel_is_ready_again(
        qtbot, harness: SectionServices, tmp_path: Path) -> None:
    vault = make_vault(tmp_path / "v")
    try:
        panel = section_for(qtbot, harness, vault).forwarding
        panel.destination.setText(f"127.0.0.1:{Rsyslog(tmp_path / 'off').port}")
        panel.tcp.setChecked(True)
        panel.forward_now()
        qtbot.waitUntil(lambda: panel.task is None and bool(harness.errors), timeout=WAIT_MS)
        assert "connection refused" in harness.errors[0]
        assert panel.forward_button.isEnabled()
        qtbot.waitUntil(lambda: panel.status.text() == "Not forwarded yet.", timeout=WAIT_MS)
    finally:
        vault.lock()


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_audit_forwarding_screenshot_under_xvfb(xvfb: str, tmp_path: Path,  # noqa: F811
                                                theme: str) -> None:
    make_vault(tmp_path / "vault").lock()
    out = SCREENSHOTS / theme
    with Rsyslog(tmp_path / "rsyslog") as receiver:
        env = {**os.environ, "DISPLAY": xvfb, "QT_QPA_PLATFORM": "xcb",
               "XDG_RUNTIME_DIR": str(tmp_path)}
        proc = subprocess.run(
            [sys.executable, str(CHILD), str(tmp_path / "vault"), str(out), theme,
             receiver.address], input=f"{PASSPHRASE}\n", capture_output=True, text=True,
            env=env, timeout=180, check=False)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        shot = Path(proc.stdout.split("\n")[0])
        assert proc.stdout.split("\n")[1].startswith("Forwarded ")
        assert receiver.lines(expected=1)
    assert shot.stat().st_size > 5_000
    assert distinct_colours(shot) > 8, f"{shot.name} looks blank"
    print(f"\nscreenshot ({theme}): {shot}")
