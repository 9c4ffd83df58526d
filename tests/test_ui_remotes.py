"""Settings → Remotes against a real bao dev server: the table lists a remote and its synced
count; Preview publish changes nothing; Publish writes KV v2 and the count follows; a stopped
server is one sentence; a conflict is listed in the pull preview and Pull leaves both sides;
a plan needing a second operator is refused; and an Xvfb screenshot in both themes."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from strongroom.app.errors import BackendUnavailable
from strongroom.app.model import Classification
from strongroom.app.remotes import config as remote_config
from strongroom.app.remotes.config import Remote
from strongroom.app.unlock_methods import SlotSecretSource
from strongroom.app.vault import NewSecret, Vault
from strongroom.ui.settings.remotes import RemotesPanel
from strongroom.ui.settings.section import SettingsSection

from conftest import PASSPHRASE, make_vault
from helpers.openbao import BaoServer, openbao  # noqa: F401 - fixture
from helpers.remotes import kv_get, kv_tree, make_team_vault, open_vault
from helpers.ui_services import NoClipboard, SectionServices, make_services
from helpers.xvfb import SCREENSHOTS, distinct_colours, xvfb  # noqa: F401 - fixture

WAIT_MS = 60_000
CHILD = Path(__file__).with_name("helpers") / "remotes_screenshot_child.py"
PREFIX = "strongroom/"


@pytest.fixture
def harness(qtbot, tmp_path: Path) -> Iterator[SectionServices]:
    harness = make_services(tmp_path / "s.ini", lambda _settings: NoClipboard())
    yield harness
    harness.services.runner.cancel_all()
    harness.services.runner.wait()


def no_hardware(kind: str) -> SlotSecretSource:
    raise BackendUnavailable(f"no {kind} here (a test)")


def add_remote(vault: Vault, server: BaoServer, name: str = "team") -> None:
    remote_config.add_remote(
        vault, Remote(name, server.url, "", "secret", "transit", "token",
                      credential_secret=remote_config.credential_name(name, "token")),
        server.root_token.encode(), remote_config.default_level(vault))


def small_vault(path: Path, server: BaoServer) -> Vault:
    """A vault with two secrets no second operator guards, and the remote ``team``."""
    vault = make_vault(path)
    vault.add_secret(NewSecret("app/db", b"db-pass-1", Classification.Moderate))
    vault.add_secret(NewSecret("web/token", b"web-token-1", Classification.Low))
    add_remote(vault, server)
    return vault


def panel_for(qtbot, harness: SectionServices, vault: Vault) -> RemotesPanel:
    section = SettingsSection(harness.services, sources=no_hardware)
    qtbot.addWidget(section)
    section.show()
    section.vault_unlocked(vault)
    panel = section.remotes
    qtbot.waitUntil(lambda: panel.remotes.rows.rowCount() == 1 and panel.selected() == "team",
                    timeout=WAIT_MS)
    return panel


def idle(qtbot, panel: RemotesPanel) -> None:
    qtbot.waitUntil(lambda: panel.task is None, timeout=WAIT_MS)


def preview(qtbot, panel: RemotesPanel, direction: str) -> list[str]:
    assert panel.preview(direction) is not None
    idle(qtbot, panel)
    assert panel.plan is not None and panel.plan.direction == direction
    return panel.items.column_texts(0)


def test_preview_changes_nothing_and_publish_writes_kv_and_the_count(
        qtbot, harness: SectionServices, tmp_path: Path, openbao: BaoServer) -> None:  # noqa: F811
    vault = small_vault(tmp_path / "v", openbao)
    try:
        panel = panel_for(qtbot, harness, vault)
        assert [panel.remotes.column_texts(c)[0] for c in range(6)] == [
            "team", openbao.url, "token", "secret", "transit", "0"]
        assert "strongroom remote add" in panel.hint.text()
        assert panel.preview_publish.isEnabled() and not panel.publish_button.isEnabled()

        assert preview(qtbot, panel, "publish") == ["create", "create"]
        assert panel.items.column_texts(1) == ["app/db", "web/token"]
        assert panel.result.text() == "Preview, nothing changed: 2 create."
        assert kv_tree(openbao, PREFIX) == {}
        assert vault.secret_info("app/db").version == 1
        assert panel.publish_button.isEnabled() and not panel.pull_button.isEnabled()

        asked: list[str] = []
        panel.ask = lambda text: asked.append(text) is None
        panel.publish_button.click()
        idle(qtbot, panel)
        assert asked and "2 create" in asked[0]
        assert panel.result.text() == "Published to team: 2 create."
        assert harness.errors == []
        assert kv_get(openbao, PREFIX + "app/db")["data"] == {"value": "db-pass-1"}
        assert kv_get(openbao, PREFIX + "web/token")["data"] == {"value": "web-token-1"}
        qtbot.waitUntil(lambda: panel.remotes.column_texts(5) == ["2"], timeout=WAIT_MS)
        assert not panel.publish_button.isEnabled()  # the preview was used up

        panel.status()
        idle(qtbot, panel)
        assert panel.items.column_texts(0) == ["in-sync", "in-sync"]

        section = panel.window()  # the section locks: the panel empties
        assert isinstance(section, SettingsSection)
        section.vault_locked()
        assert panel.remotes.rows.rowCount() == 0 and panel.items.rows.rowCount() == 0
        assert panel.result.text() == "" and not panel.test_button.isEnabled()
    finally:
        vault.lock()


def test_a_stopped_server_is_one_sentence(
        qtbot, harness: SectionServices, tmp_path: Path, openbao: BaoServer) -> None:  # noqa: F811
    vault = small_vault(tmp_path / "v", openbao)
    try:
        panel = panel_for(qtbot, harness, vault)
        panel.test()
        idle(qtbot, panel)
        assert panel.result.text() == "Remote team: logged in, secret/ is KV version 2."
        openbao.stop()
        for run in (panel.test, lambda: panel.preview("publish")):
            harness.errors.clear()
            run()
            idle(qtbot, panel)
            assert len(harness.errors) == 1, harness.errors
            message = harness.errors[0]
            assert "\n" not in message and "Traceback" not in message
            assert "Something went wrong" not in message
            assert panel.result.text() == message
            assert panel.plan is None and not panel.publish_button.isEnabled()
        print(f"\nstopped server: {message}")
    finally:
        vault.lock()


def test_a_conflict_is_listed_and_pull_does_not_overwrite(
        qtbot, harness: SectionServices, tmp_path: Path, openbao: BaoServer) -> None:  # noqa: F811
    vault = small_vault(tmp_path / "v", openbao)
    try:
        panel = panel_for(qtbot, harness, vault)
        preview(qtbot, panel, "publish")
        panel.run_plan()
        idle(qtbot, panel)
        openbao.cli("kv", "put", f"secret/{PREFIX}app/db", "value=changed-there")
        vault.update_secret("app/db", b"changed-here")

        assert preview(qtbot, panel, "pull") == ["conflict", "skip"]
        assert "changed on both sides" in panel.items.column_texts(5)[0]
        assert "1 conflict" in panel.result.text()
        panel.ask = lambda _text: True
        panel.pull_button.click()
        idle(qtbot, panel)
        assert "1 secret(s) not synced" in panel.result.text()
        assert harness.errors == [panel.result.text()]
        assert panel.items.column_texts(0) == ["conflict", "skip"]
        assert vault.get_secret("app/db") == b"changed-here"
        assert vault.secret_info("app/db").version == 2
        got = kv_get(openbao, PREFIX + "app/db")
        assert got["data"] == {"value": "changed-there"} and got["metadata"]["version"] == 2
    finally:
        vault.lock()


def test_a_plan_needing_a_second_operator_is_refused_in_one_sentence(
        qtbot, harness: SectionServices, tmp_path: Path, openbao: BaoServer) -> None:  # noqa: F811
    make_team_vault(tmp_path / "v")
    vault = open_vault(tmp_path / "v")
    try:
        add_remote(vault, openbao)
        panel = panel_for(qtbot, harness, vault)
        preview(qtbot, panel, "publish")
        assert panel.plan is not None and panel.plan.two_person == ("pki/root-key",)
        assert "second operator" in panel.result.text()
        panel.ask = lambda _text: pytest.fail("a refused plan asks nothing")
        panel.publish_button.click()
        idle(qtbot, panel)
        assert len(harness.errors) == 1 and "\n" not in harness.errors[0]
        print(f"\ntwo-person refusal: {harness.errors[0]}")
        assert kv_tree(openbao, PREFIX) == {}
    finally:
        vault.lock()


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_remotes_screenshot_under_xvfb(xvfb: str, tmp_path: Path,  # noqa: F811
                                       openbao: BaoServer, theme: str) -> None:  # noqa: F811
    small_vault(tmp_path / "vault", openbao).lock()
    out = SCREENSHOTS / theme
    env = {**os.environ, "DISPLAY": xvfb, "QT_QPA_PLATFORM": "xcb",
           "XDG_RUNTIME_DIR": str(tmp_path)}
    proc = subprocess.run([sys.executable, str(CHILD), str(tmp_path / "vault"), str(out), theme],
                          input=f"{PASSPHRASE}\n", capture_output=True, text=True, env=env,
                          timeout=180, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    shot = Path(proc.stdout.split("\n")[0])
    assert proc.stdout.split("\n")[1].startswith("Preview, nothing changed")
    assert kv_tree(openbao, PREFIX) == {}
    assert shot.stat().st_size > 5_000
    assert distinct_colours(shot) > 8, f"{shot.name} looks blank"
    print(f"\nscreenshot ({theme}): {shot}")
