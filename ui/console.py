"""Start the desktop console: ``strongroom`` with no command lands here (an entry point)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from PySide6.QtCore import QByteArray, QDir, Qt
from PySide6.QtGui import QGuiApplication, QIcon, QPixmap
from PySide6.QtWidgets import QApplication

from strongroom.app.errors import UsageError
from strongroom.resources import read_bytes, read_text, style_dir

from .main_window import MainWindow
from .settings.store import ConsoleSettings


def app_icon() -> QIcon:
    pixmap = QPixmap()
    pixmap.loadFromData(QByteArray(read_bytes("icons", "strongroom.svg")), "SVG")
    return QIcon(pixmap)


def wants_dark(settings: ConsoleSettings) -> bool:
    if settings.theme in ("light", "dark"):
        return settings.theme == "dark"
    return QGuiApplication.styleHints().colorScheme() == Qt.ColorScheme.Dark


STYLE_PREFIX = "style"  # the stylesheets' images: url(style:check-dark.svg)


def register_style_images() -> None:
    """Let ``url(style:NAME)`` in the stylesheets find the images shipped beside them."""
    QDir.setSearchPaths(STYLE_PREFIX, [str(style_dir())])


def apply_theme(app: QApplication, settings: ConsoleSettings) -> None:
    """Light or dark stylesheet, following the OS unless the user chose one."""
    register_style_images()
    app.setStyleSheet(read_text("style", "dark.qss" if wants_dark(settings) else "light.qss"))


def build(
    vault_dir: Path, settings: ConsoleSettings | None = None
) -> tuple[QApplication, MainWindow]:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)  # noqa: S101 - a widgets application is required
    app.setApplicationName("Strongroom")
    app.setOrganizationName("Strongroom")
    app.setApplicationDisplayName("Strongroom")
    app.setDesktopFileName("com.strongroom.strongroom")  # resources/linux/: the .desktop file
    app.setQuitOnLastWindowClosed(False)
    settings = settings or ConsoleSettings()
    icon = app_icon()
    app.setWindowIcon(icon)
    apply_theme(app, settings)
    settings.changed.connect(lambda key: apply_theme(app, settings) if key == "theme" else None)
    QGuiApplication.styleHints().colorSchemeChanged.connect(lambda _s: apply_theme(app, settings))
    window = MainWindow(vault_dir, settings=settings, icon=icon)
    return app, window


def check_display() -> None:
    """On Linux without a display, say so in one line instead of letting Qt abort."""
    if not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM"):
        return
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        raise UsageError(
            "no display to open the console on (DISPLAY and WAYLAND_DISPLAY are unset); "
            "use the commands ('strongroom --help')"
        )


def run(vault_dir: Path) -> int:
    """Open the console on ``vault_dir``; returns the exit code."""
    check_display()
    app, window = build(Path(vault_dir))
    window.show()
    return int(app.exec())
