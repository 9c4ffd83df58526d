"""Drive the real console on a real X server and save screenshots (run by test_ui_xvfb.py).

Usage: ``python screenshot_child.py VAULT_DIR OUT_DIR`` with DISPLAY set and the passphrase as
one line on stdin. Prints one line per screenshot written.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

from strongroom.ui.console import build
from strongroom.ui.settings_store import ConsoleSettings


def pump(app: QApplication, seconds: float, until=lambda: False) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not until():
        app.processEvents()
        time.sleep(0.02)


def shoot(app: QApplication, window, out: Path, name: str) -> None:
    pump(app, 0.4)
    screen = app.primaryScreen()
    image = screen.grabWindow(window.winId())  # a real capture from the X server
    path = out / f"{name}.png"
    if not image.save(str(path)):
        raise SystemExit(f"could not save {path}")
    print(path, flush=True)


def main() -> int:
    vault_dir, out = Path(sys.argv[1]), Path(sys.argv[2])
    passphrase = sys.stdin.readline().rstrip("\n")
    out.mkdir(parents=True, exist_ok=True)
    settings = ConsoleSettings(QSettings(str(out / "console.ini"), QSettings.Format.IniFormat))
    settings.set("theme", sys.argv[3] if len(sys.argv) > 3 else "light")
    app, window = build(vault_dir, settings)
    window.resize(1200, 720)
    window.show()
    pump(app, 1.0, until=lambda: window.isVisible() and window.windowHandle() is not None)
    shoot(app, window, out, "1-lock-screen")

    window.lock_screen.passphrase.setText(passphrase)
    window.lock_screen.start_unlock()
    pump(app, 60, until=lambda: window.is_unlocked)
    if not window.is_unlocked:
        raise SystemExit("the console did not unlock: " + window.lock_screen.status.text())
    pump(app, 30, until=lambda: not window.runner.busy)
    shoot(app, window, out, "2-vault")
    for index, section in enumerate(window.sections):
        if section.title == "Audit Log":
            window.sidebar.setCurrentRow(index)
            pump(app, 30, until=lambda: not window.runner.busy)
            shoot(app, window, out, "3-audit-log")
        if section.title == "Settings":
            window.sidebar.setCurrentRow(index)
            shoot(app, window, out, "4-settings")
        if section.title == "Compliance":
            window.sidebar.setCurrentRow(index)
            pump(app, 0.3)
            section.empty_run_button.click()  # Run now: the real collector on this machine
            pump(app, 60, until=lambda s=section: s.view is not None and not window.runner.busy)
            if section.view is None:
                raise SystemExit("the compliance run did not finish")
            shoot(app, window, out, "5-compliance")
    window.quit()
    return 0


if __name__ == "__main__":
    sys.exit(main())
