"""`strongroom --version [--verbose]` and the console's About box: the version, the licence and the
versions of Qt, SQLCipher and the crypto and hardware libraries ("not installed" when absent)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest
import sqlcipher3
from PySide6.QtCore import QSettings, Qt, qVersion

from strongroom.app import about, cli
from strongroom.ui.about import AboutDialog
from strongroom.ui.main_window import MainWindow
from strongroom.ui.settings.store import ConsoleSettings

from helpers.xvfb import SCREENSHOTS, distinct_colours, xvfb  # noqa: F401 - fixture

VERSION = metadata.version("strongroom")
CHILD = Path(__file__).with_name("helpers") / "about_child.py"


def test_version_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out == f"strongroom {VERSION}\n"


def test_verbose_version_names_the_licence_and_every_library(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli.main(["--verbose", "--version"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"strongroom {VERSION}"
    assert lines[1] == f"licence: {metadata.metadata('strongroom')['License-Expression']}"
    shown = {line.split()[0]: " ".join(line.split()[1:]) for line in lines[2:]}
    assert list(shown) == ["Python", "SQLCipher", "PySide6", "cryptography", "fido2",
                           "python-pkcs11", "tpm2-pytss", "sqlcipher3"]
    assert shown["cryptography"] == metadata.version("cryptography")
    assert shown["fido2"] == metadata.version("fido2")
    assert shown["python-pkcs11"] == metadata.version("python-pkcs11")
    assert shown["tpm2-pytss"] == metadata.version("tpm2-pytss")
    conn = sqlcipher3.connect(":memory:")
    assert shown["SQLCipher"] == conn.execute("PRAGMA cipher_version").fetchone()[0]
    conn.close()


def test_version_under_json_is_one_object(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--json", "--version"]) == 0
    assert json.loads(capsys.readouterr().out) == {"strongroom": VERSION}
    assert cli.main(["--version", "--verbose", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["licence"] == about.licence()
    assert out["components"]["fido2"] == metadata.version("fido2")


def test_a_missing_library_is_not_installed(monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    real = metadata.version

    def version(name: str) -> str:
        if name in ("tpm2-pytss", "python-pkcs11"):
            raise metadata.PackageNotFoundError(name)
        return real(name)

    monkeypatch.setattr(about.metadata, "version", version)
    found = {c.name: c for c in about.components()}
    assert found["tpm2-pytss"].version is None and found["tpm2-pytss"].shown == "not installed"
    assert cli.main(["--version", "--verbose"]) == 0
    assert "python-pkcs11  not installed" in capsys.readouterr().out


def test_version_through_the_installed_script() -> None:
    script = Path(sys.executable).parent / "strongroom"
    proc = subprocess.run([str(script), "--version", "--verbose"], capture_output=True,
                          text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"strongroom {VERSION}\nlicence: ")


def test_about_dialog_shows_the_versions(qtbot, monkeypatch: pytest.MonkeyPatch) -> None:
    real = metadata.version
    monkeypatch.setattr(about.metadata, "version", lambda name: (
        (_ for _ in ()).throw(metadata.PackageNotFoundError(name)) if name == "fido2"
        else real(name)))
    dialog = AboutDialog()
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.version.text() == f"Version {VERSION}"
    assert dialog.licence.text() == "Licence: " + about.licence().removeprefix("LicenseRef-")
    rows = {name: label.text() for name, label in dialog.rows.items()}
    assert rows["Qt"] == qVersion()
    assert rows["cryptography"] == metadata.version("cryptography")
    assert rows["tpm2-pytss"] == metadata.version("tpm2-pytss")
    assert rows["python-pkcs11"] == metadata.version("python-pkcs11")
    assert rows["SQLCipher"] == about.sqlcipher_version()
    assert rows["fido2"] == "not installed"
    assert dialog.rows["fido2"].property("role") == "muted"
    assert "Qt: " + qVersion() in dialog.text()


def test_f1_and_the_sidebar_button_open_about(qtbot, tmp_path: Path) -> None:
    settings = ConsoleSettings(QSettings(str(tmp_path / "console.ini"),
                                         QSettings.Format.IniFormat))
    window = MainWindow(tmp_path / "vault", settings=settings, sections=[])
    qtbot.addWidget(window)
    window.show()
    window.activateWindow()  # F1 is a window shortcut
    qtbot.waitUntil(window.isActiveWindow)

    def shown() -> list[AboutDialog]:
        return [d for d in window.findChildren(AboutDialog) if d.isVisible()]

    qtbot.keyClick(window, Qt.Key.Key_F1)  # works before any vault exists (the wizard)
    qtbot.waitUntil(lambda: len(shown()) == 1)
    shown()[0].reject()
    qtbot.waitUntil(lambda: not shown())
    button = next(b for b in window.workspace.findChildren(type(window.lock_screen.unlock_button))
                  if b.accessibleName() == "About Strongroom")
    button.click()
    qtbot.waitUntil(lambda: len(shown()) == 1)
    shown()[0].reject()


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_about_screenshot_under_xvfb(xvfb: str, tmp_path: Path, theme: str) -> None:  # noqa: F811
    out = SCREENSHOTS / theme
    out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "DISPLAY": xvfb, "QT_QPA_PLATFORM": "xcb",
           "XDG_RUNTIME_DIR": str(tmp_path)}
    proc = subprocess.run([sys.executable, str(CHILD), str(tmp_path / "vault"), str(out), theme],
                          capture_output=True, text=True, env=env, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    shot = Path(proc.stdout.split()[-1])
    assert shot.name == "about.png" and shot.stat().st_size > 5_000
    assert distinct_colours(shot) > 8, f"{shot} looks blank"
