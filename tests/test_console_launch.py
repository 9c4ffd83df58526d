"""`strongroom` with no command opens the console (found through its entry point)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path


def test_console_is_registered_as_the_frontend() -> None:
    group = metadata.entry_points(group="strongroom.frontends")
    entries = [e for e in group if e.name == "console"]
    assert entries and entries[0].value == "strongroom.ui.console:run"
    assert callable(entries[0].load())


def test_no_command_opens_the_console_and_keeps_running(tmp_path: Path) -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_CONFIG_HOME": str(tmp_path),
           "XDG_RUNTIME_DIR": str(tmp_path)}
    env.pop("STRONGROOM_VAULT", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "strongroom", "--vault", str(tmp_path / "vault")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env,
    )
    try:
        time.sleep(4)
        assert proc.poll() is None, proc.communicate()[1].decode()
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=20)
    assert "Traceback" not in err.decode()
    assert not (tmp_path / "vault").exists()  # the first-run wizard creates nothing by itself


def test_without_a_display_the_console_says_so_in_one_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM", "STRONGROOM_VAULT")}
    proc = subprocess.run(
        [sys.executable, "-m", "strongroom", "--vault", str(tmp_path / "vault")],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "no display" in proc.stderr
