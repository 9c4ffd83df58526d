"""Copy a secret's value in the real console, offscreen, and wait for the clipboard guard to wipe
it (run by the secret-hygiene campaign, tests/campaigns/hygiene.py).

Usage: ``QT_QPA_PLATFORM=offscreen python console_copy_child.py VAULT_DIR NAME`` with the
passphrase as one line on stdin. The console's settings live where it keeps them (the config
home), with the clipboard cleared after 1 s. Prints ``copied`` once the clipboard holds the value
and ``cleared`` once the guard has wiped it; exits 1 with a reason otherwise. Never prints the
value.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtWidgets import QApplication

from strongroom.ui.console import build
from strongroom.ui.settings.store import ConsoleSettings


def pump(app: QApplication, seconds: float, until: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        app.processEvents()
        if until():
            return True
        time.sleep(0.01)
    return False


def main() -> int:
    vault_dir, name = Path(sys.argv[1]), sys.argv[2]
    passphrase = sys.stdin.readline().rstrip("\n")
    settings = ConsoleSettings()
    settings.set("clipboard_clear_seconds", 1)
    app, window = build(vault_dir, settings)
    window.show()
    window.lock_screen.passphrase.setText(passphrase)
    window.lock_screen.start_unlock()
    if not pump(app, 60, lambda: window.is_unlocked):
        raise SystemExit("the console did not unlock: " + window.lock_screen.status.text())
    section = next(s for s in window.sections if s.title == "Vault")
    pump(app, 30, lambda: not window.runner.busy and not section.loading)
    section.select(name)
    if not pump(app, 30, lambda: getattr(section.selected(), "name", None) == name):
        raise SystemExit(f"the console does not list {name}")
    clipboard = QApplication.clipboard()
    before = clipboard.text()
    section.copy_value()
    if not pump(app, 30, lambda: clipboard.text() not in ("", before)):
        raise SystemExit("nothing was copied")
    print("copied", flush=True)
    if not pump(app, 10, lambda: clipboard.text() == ""):
        raise SystemExit("the clipboard still holds the value after its clear time")
    print("cleared", flush=True)
    window.quit()
    pump(app, 5, lambda: not window.runner.busy)
    return 0


if __name__ == "__main__":
    sys.exit(main())
