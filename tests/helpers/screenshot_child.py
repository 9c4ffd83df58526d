"""Drive the real console on a real X server and save screenshots (run by test_ui_xvfb.py).

Usage: ``python screenshot_child.py VAULT_DIR OUT_DIR [THEME [TOKEN]]`` with DISPLAY set, the
passphrase as one line on stdin and, with TOKEN (a SoftHSM2 token label), its user PIN as the
next line. Prints one line per screenshot written.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

from strongroom.ui.console import build
from strongroom.ui.settings.store import ConsoleSettings


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


def unlocked_on(vault_dir: Path, out: Path, theme: str, title: str):
    """The console in ``theme``, unlocked with the passphrase on stdin, showing the section
    titled ``title``: (app, window, section)."""
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
    index = next(i for i, s in enumerate(window.sections) if s.title == title)
    window.sidebar.setCurrentRow(index)
    return app, window, window.sections[index]


def shoot_keys(app: QApplication, window, section, out: Path, token: str, pin: str) -> None:
    """Log in to ``token`` in Keys & Signing, select its first key and take the picture."""
    from strongroom.ui.keys.inventory import token_key
    from strongroom.ui.keys.model import KeyNode, TokenNode, selection_of

    def nodes() -> list:
        return [section.model.node(i) for i in section.model.indexes()]

    def token_node() -> TokenNode | None:
        return next((n for n in nodes() if isinstance(n, TokenNode)
                     and n.token.info.label == token), None)

    pump(app, 30, until=lambda: section.task is None and token_node() is not None)
    node = token_node()
    if node is None:
        raise SystemExit(f"Keys & Signing does not list the token {token}")
    section.login(node.token.info, pin)
    pump(app, 30, until=lambda: section.task is None
         and token_key(node.token.info) in section.stores
         and any(isinstance(n, KeyNode) for n in nodes()))
    keys = [n for n in nodes() if isinstance(n, KeyNode) and n.token.info.label == token]
    if not keys:
        raise SystemExit(f"no keys listed on {token} after logging in")
    section.select(selection_of(keys[0]))
    shoot(app, window, out, "6-keys")


def main() -> int:
    vault_dir, out = Path(sys.argv[1]), Path(sys.argv[2])
    passphrase = sys.stdin.readline().rstrip("\n")
    token = sys.argv[4] if len(sys.argv) > 4 else None
    pin = sys.stdin.readline().rstrip("\n") if token else ""
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
        if section.title == "Access Reviews":
            window.sidebar.setCurrentRow(index)
            pump(app, 30, until=lambda s=section: s.snapshot is not None
                 and not window.runner.busy)
            shoot(app, window, out, "7-access-reviews")
        if section.title == "Ceremonies":
            window.sidebar.setCurrentRow(index)
            pump(app, 30, until=lambda s=section: bool(s.library.entries)
                 and not window.runner.busy)
            section.library.select("root-ca.toml")
            shoot(app, window, out, "8-ceremonies")
        if section.title == "Keys & Signing" and token:
            window.sidebar.setCurrentRow(index)
            shoot_keys(app, window, section, out, token, pin)
    window.quit()
    return 0


if __name__ == "__main__":
    sys.exit(main())
