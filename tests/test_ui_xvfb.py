"""End to end under a real X server: Xvfb is started and stopped here, the console runs on the
xcb platform plugin in a child process, and screenshots land in build/screenshots/ for a person
to look at."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from strongroom.app.model import Classification
from strongroom.app.vault import NewSecret

from conftest import PASSPHRASE, make_vault, run_cli
from helpers.softhsm import USER_PIN, SoftHsm, softhsm  # noqa: F401 - session fixture
from helpers.xvfb import SCREENSHOTS, distinct_colours, xvfb  # noqa: F401 - fixture

ROOT = Path(__file__).resolve().parents[1]
OUT = SCREENSHOTS
CHILD = Path(__file__).with_name("helpers") / "screenshot_child.py"


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_console_screenshots_under_xvfb(xvfb: str, tmp_path: Path, theme: str,  # noqa: F811
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
