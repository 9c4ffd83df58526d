"""End to end under a real X server: Xvfb is started and stopped here, the console runs on the
xcb platform plugin in a child process, and screenshots land in build/screenshots/ for a person
to look at."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from strongroom.app.model import Classification
from strongroom.app.vault import NewSecret

from conftest import PASSPHRASE, make_vault, run_cli
from helpers.softhsm import USER_PIN, SoftHsm, softhsm  # noqa: F401 - session fixture

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "build" / "screenshots"
CHILD = Path(__file__).with_name("helpers") / "screenshot_child.py"


def free_display() -> int:
    for n in range(90, 200):
        if not Path(f"/tmp/.X11-unix/X{n}").exists() and not Path(f"/tmp/.X{n}-lock").exists():
            return n
    raise RuntimeError("no free X display number")


@pytest.fixture
def xvfb():
    if shutil.which("Xvfb") is None:
        pytest.fail("Xvfb is not installed; `make test` installs it (packaging/bootstrap.sh)")
    n = free_display()
    proc = subprocess.Popen(
        ["Xvfb", f":{n}", "-screen", "0", "1280x800x24", "-nolisten", "tcp", "-nolock"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    socket = Path(f"/tmp/.X11-unix/X{n}")
    deadline = time.monotonic() + 15
    while not socket.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    if not socket.exists():
        proc.kill()
        pytest.fail("Xvfb did not start")
    yield f":{n}"
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


def distinct_colours(path: Path) -> int:
    from PySide6.QtGui import QImage

    image = QImage(str(path))
    assert not image.isNull(), f"{path} is not an image"
    step_x, step_y = max(1, image.width() // 60), max(1, image.height() // 60)
    return len({image.pixel(x, y) for x in range(0, image.width(), step_x)
                for y in range(0, image.height(), step_y)})


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_console_screenshots_under_xvfb(xvfb: str, tmp_path: Path, theme: str,
                                        softhsm: SoftHsm) -> None:  # noqa: F811
    vault = make_vault(tmp_path / "vault")
    vault.add_secrets(
        NewSecret(name=name, value=b"not shown", classification=level, tags=tags, note=note)
        for name, level, tags, note in [
            ("prod/postgres/admin", Classification.Critical, ("db", "prod"), "primary cluster"),
            ("prod/api/signing-key", Classification.High, ("api",), "rotated quarterly"),
            ("staging/redis", Classification.Moderate, ("cache",), ""),
            ("ci/deploy-token", Classification.Low, ("ci",), "GitLab deploy token"),
            ("docs/wiki-password", Classification.Public, (), ""),
        ]
    )
    vault.lock()
    token = softhsm.add_token(f"screens-{theme}")
    for label, kind in (("release-signing-2026", "ec-p256"), ("intermediate-ca", "rsa-3072")):
        made = run_cli("keys", "generate", "--token", token, "--label", label, "--type", kind,
                       vault=tmp_path / "vault", passphrases=[PASSPHRASE], pins=[USER_PIN])
        assert made.code == 0, made.err
    out = OUT / theme
    shutil.rmtree(out, ignore_errors=True)
    env = {**os.environ, "DISPLAY": xvfb, "QT_QPA_PLATFORM": "xcb",
           "XDG_RUNTIME_DIR": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, str(CHILD), str(tmp_path / "vault"), str(out), theme, token],
        input=f"{PASSPHRASE}\n{USER_PIN}\n", capture_output=True, text=True, env=env, timeout=180,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    shots = [Path(line) for line in proc.stdout.split()]
    names = [p.stem for p in shots]
    assert names[:2] == ["1-lock-screen", "2-vault"] and "3-audit-log" in names
    assert "5-compliance" in names and "6-keys" in names and "7-access-reviews" in names
    assert "8-ceremonies" in names
    for shot in shots:
        assert shot.stat().st_size > 5_000
        assert distinct_colours(shot) > 8, f"{shot.name} looks blank"
    print(f"\nscreenshots ({theme}): {out}")
