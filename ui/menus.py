"""The main window's menu bar: File (import, export, lock, quit) and Help (about).

Import and Export act on the Vault section, and are offered only while the vault is unlocked. The
keys shown beside Lock, Quit and About are the window's own shortcuts, not registered twice.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu

if TYPE_CHECKING:
    from .main_window import MainWindow
    from .vault.section import VaultSection


def _vault_section(window: MainWindow) -> VaultSection | None:
    from .vault.section import VaultSection

    for row, section in enumerate(window.sections):
        if isinstance(section, VaultSection):
            window.sidebar.setCurrentRow(row)
            return section
    return None


def _on_vault(window: MainWindow, act: Callable[[VaultSection], None]) -> Callable[[], None]:
    def run() -> None:
        section = _vault_section(window)
        if section is not None and section.vault is not None:
            act(section)

    return run


def install(window: MainWindow) -> dict[str, QAction]:
    """Build the menus; returns the actions by key (``import``, ``export``, …)."""
    actions: dict[str, QAction] = {}

    def add(menu: QMenu, key: str, text: str, slot: Callable[[], None]) -> None:
        action = QAction(text, menu)
        action.triggered.connect(slot)
        menu.addAction(action)
        actions[key] = action

    bar = window.menuBar()
    file_menu = bar.addMenu("&File")
    add(file_menu, "import", "&Import…", _on_vault(window, lambda s: s.import_secrets()))
    add(file_menu, "export", "&Export…", _on_vault(window, lambda s: s.export_secrets()))
    file_menu.addSeparator()
    add(file_menu, "lock", "&Lock\tCtrl+L", lambda: window.lock("menu"))
    add(file_menu, "quit", "&Quit\tCtrl+Q", window.quit)
    help_menu = bar.addMenu("&Help")
    add(help_menu, "about", "&About Strongroom\tF1", window.show_about)
    set_unlocked(actions, False)
    return actions


def set_unlocked(actions: dict[str, QAction], unlocked: bool) -> None:
    for key in ("import", "export", "lock"):
        actions[key].setEnabled(unlocked)
