"""Tells the console when the OS session locks or the machine is about to sleep (Linux: D-Bus).

Where the platform gives no such signal, ``availability`` says so, and Settings shows it.
"""

from __future__ import annotations

import sys

from PySide6.QtCore import SLOT, QObject, Signal, Slot

try:
    from PySide6.QtDBus import QDBusConnection
except ImportError:  # pragma: no cover - QtDBus is absent on some platforms
    QDBusConnection = None  # type: ignore[assignment,misc]

# (bus, service, path, interface, signal) pairs we listen to.
_SOURCES = [
    ("system", "org.freedesktop.login1", "/org/freedesktop/login1",
     "org.freedesktop.login1.Manager", "PrepareForSleep"),
    ("session", "org.freedesktop.ScreenSaver", "/org/freedesktop/ScreenSaver",
     "org.freedesktop.ScreenSaver", "ActiveChanged"),
    ("session", "org.gnome.ScreenSaver", "/org/gnome/ScreenSaver",
     "org.gnome.ScreenSaver", "ActiveChanged"),
]


class SessionWatcher(QObject):
    """Emits ``session_locked`` when the screen saver activates or the system prepares to sleep."""

    session_locked = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.connected: list[str] = []
        self.reason = ""
        if QDBusConnection is None or not sys.platform.startswith("linux"):
            self.reason = "this platform does not report session locks to Strongroom yet"
            return
        for bus_name, service, path, interface, name in _SOURCES:
            bus = (QDBusConnection.systemBus() if bus_name == "system"
                   else QDBusConnection.sessionBus())
            if not bus.isConnected():
                continue
            if bus.connect(service, path, interface, name, self, SLOT("_on_active(bool)")):
                self.connected.append(f"{service}.{name}")
        if not self.connected:
            self.reason = "no D-Bus session or system bus is reachable"

    @property
    def available(self) -> bool:
        return bool(self.connected)

    @Slot(bool)
    def _on_active(self, active: bool) -> None:
        if active:
            self.session_locked.emit("session locked or going to sleep")
