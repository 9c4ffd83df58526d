"""Drive the real console on a real X server to Settings → Remotes, preview a publish to a real
bao dev server, and save a screenshot (run by tests/test_ui_remotes.py).

Usage: ``python remotes_screenshot_child.py VAULT_DIR OUT_DIR THEME`` with DISPLAY set and the
passphrase as one line on stdin. Prints the screenshot's path, then the result line.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QScrollArea
from screenshot_child import pump, shoot

from strongroom.ui.console import build
from strongroom.ui.settings.store import ConsoleSettings


def main() -> int:
    vault_dir, out, theme = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    passphrase = sys.stdin.readline().rstrip("\n")
    out.mkdir(parents=True, exist_ok=True)
    settings = ConsoleSettings(QSettings(str(out / "console.ini"), QSettings.Format.IniFormat))
    settings.set("theme", theme)
    app, window = build(vault_dir, settings)
    window.resize(1200, 720)
    window.show()
    pump(app, 1.0, until=lambda: window.isVisible() and window.windowHandle() is not None)
    window.lock_screen.passphrase.setText(passphrase)
    window.lock_screen.start_unlock()
    pump(app, 60, until=lambda: window.is_unlocked)
    if not window.is_unlocked:
        raise SystemExit("the console did not unlock: " + window.lock_screen.status.text())
    pump(app, 30, until=lambda: not window.runner.busy)
    index = next(i for i, s in enumerate(window.sections) if s.title == "Settings")
    section = window.sections[index]
    window.sidebar.setCurrentRow(index)
    panel = section.remotes
    pump(app, 30, until=lambda: panel.selected() is not None)
    panel.preview_publish.click()
    pump(app, 60, until=lambda: panel.task is None and panel.plan is not None)
    scroll = section.findChild(QScrollArea)
    pump(app, 0.3)
    scroll.verticalScrollBar().setValue(scroll.verticalScrollBar().maximum())
    pump(app, 0.3)
    shoot(app, window, out, "9-remotes")
    print(panel.result.text(), flush=True)
    window.quit()
    return 0


if __name__ == "__main__":
    sys.exit(main())
