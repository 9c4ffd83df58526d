"""Drive the real console on a real X server to Settings → Remotes, preview a publish to a real
bao dev server, and save a screenshot (run by tests/test_ui_remotes.py).

Usage: ``python remotes_screenshot_child.py VAULT_DIR OUT_DIR THEME`` with DISPLAY set and the
passphrase as one line on stdin. Prints the screenshot's path, then the result line.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtWidgets import QScrollArea
from screenshot_child import pump, shoot, unlocked_on


def main() -> int:
    vault_dir, out, theme = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    app, window, section = unlocked_on(vault_dir, out, theme, "Settings")
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
