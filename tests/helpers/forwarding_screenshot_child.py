"""Drive the real console on a real X server to Settings → Audit forwarding, forward to a real
rsyslogd, and save a screenshot (run by tests/test_ui_audit_forwarding.py).

Usage: ``python forwarding_screenshot_child.py VAULT_DIR OUT_DIR THEME HOST:PORT`` with DISPLAY
set and the passphrase as one line on stdin. Prints the screenshot's path, then the result line.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtWidgets import QScrollArea
from screenshot_child import pump, shoot, unlocked_on


def main() -> int:
    vault_dir, out, theme, address = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], sys.argv[4]
    app, window, section = unlocked_on(vault_dir, out, theme, "Settings")
    panel = section.forwarding
    panel.destination.setText(address)
    panel.tcp.setChecked(True)
    panel.forward_button.click()
    pump(app, 60, until=lambda: panel.task is None and "acknowledged up to" in panel.status.text())
    scroll = section.findChild(QScrollArea)
    scroll.ensureWidgetVisible(panel, 0, 0)
    pump(app, 0.3)
    scroll.verticalScrollBar().setValue(scroll.verticalScrollBar().maximum())
    shoot(app, window, out, "9-audit-forwarding")
    print(panel.result.text(), flush=True)
    window.quit()
    return 0


if __name__ == "__main__":
    sys.exit(main())
