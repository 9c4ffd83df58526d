"""The main window's menu bar: File (import, export, lock, quit) and Help (about).

The window says what each item does; Import and Export are offered only while the vault is
unlocked. The keys shown beside Lock, Quit and About are the window's own shortcuts, not
registered twice.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QMenuBar


def install(bar: QMenuBar, slots: Mapping[str, Callable[[], None]]) -> dict[str, QAction]:
    """Build the menus, each item calling ``slots[key]``; returns the actions by key
    (``import``, ``export``, ``lock``, ``quit``, ``about``)."""
    actions: dict[str, QAction] = {}

    def add(menu: QMenu, key: str, text: str, slot: Callable[[], None]) -> None:
        action = QAction(text, menu)
        action.triggered.connect(slot)
        menu.addAction(action)
        actions[key] = action

    file_menu = bar.addMenu("&File")
    add(file_menu, "import", "&Import…", slots["import"])
    add(file_menu, "export", "&Export…", slots["export"])
    file_menu.addSeparator()
    add(file_menu, "lock", "&Lock\tCtrl+L", slots["lock"])
    add(file_menu, "quit", "&Quit\tCtrl+Q", slots["quit"])
    help_menu = bar.addMenu("&Help")
    add(help_menu, "about", "&About Strongroom\tF1", slots["about"])
    set_unlocked(actions, False)
    return actions


def set_unlocked(actions: dict[str, QAction], unlocked: bool) -> None:
    for key in ("import", "export", "lock"):
        actions[key].setEnabled(unlocked)
