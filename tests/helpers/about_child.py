"""Open the console's About box on a real X server and save a screenshot (run by test_about.py).

Usage: ``python about_child.py VAULT_DIR OUT_DIR THEME`` with DISPLAY set; prints the path written.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

from strongroom.ui.about import AboutDialog
from strongroom.ui.console import build
from strongroom.ui.settings.store import ConsoleSettings


def pump(app: QApplication, seconds: float, until=lambda: False) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not until():
        app.processEvents()
        time.sleep(0.02)


def main() -> int:
    vault_dir, out, theme = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    out.mkdir(parents=True, exist_ok=True)
    settings = ConsoleSettings(QSettings(str(out / "about.ini"), QSettings.Format.IniFormat))
    settings.set("theme", theme)
    app, window = build(vault_dir, settings)
    window.resize(1000, 640)
    window.show()
    pump(app, 1.0, until=lambda: window.isVisible() and window.windowHandle() is not None)
    window.show_about()

    def dialog() -> AboutDialog | None:
        return next((d for d in window.findChildren(AboutDialog) if d.isVisible()), None)

    pump(app, 10, until=lambda: dialog() is not None)
    about = dialog()
    if about is None:
        raise SystemExit("the About box did not open")
    pump(app, 0.6)
    path = out / "about.png"
    if not app.primaryScreen().grabWindow(about.winId()).save(str(path)):
        raise SystemExit(f"could not save {path}")
    print(path, flush=True)
    about.reject()
    window.quit()
    return 0


if __name__ == "__main__":
    sys.exit(main())
