"""What every sidebar section gets (the services) and what it must do (the Section contract)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, Protocol

from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QDialog, QWidget

from strongroom.app.vault import Vault

from .settings.store import ConsoleSettings
from .workers import TaskRunner


@dataclass
class Services:
    """Shared by the sections; built once by the main window."""

    runner: TaskRunner  # every vault call goes through it, never on the UI thread
    settings: ConsoleSettings
    clipboard: ClipboardLike
    status: Callable[[str], None]  # a short note in the status bar
    error: Callable[[str], None]  # one clear sentence shown to the user
    lock_now: Callable[[], None]
    activity: Callable[[], None]  # resets the idle auto-lock timer


class ClipboardLike(Protocol):
    """The clipboard guard's interface (ui/clipboard.py implements it)."""

    def copy_secret(self, value: bytes) -> None: ...

    def clear_if_ours(self) -> None: ...


class Section(QWidget):
    """One sidebar section. Lives for the whole session; told when the vault opens and closes."""

    title: ClassVar[str] = ""
    accessible_description: ClassVar[str] = ""

    def __init__(self, services: Services, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.services = services
        self.vault: Vault | None = None
        if not hasattr(type(self), "dialogs"):  # (Keys forwards it to its actions controller)
            self.dialogs: list[QDialog] = []  # open non-modal dialogs: closed at lock
        self.setAccessibleName(self.title)

    def vault_unlocked(self, vault: Vault) -> None:
        """The vault is open: load what the section shows (through the runner)."""
        self.vault = vault

    def vault_locked(self) -> None:
        """The vault closed: drop every reference, clear models, close dialogs showing secrets."""
        self.vault = None

    def focus_search(self) -> None:
        """Ctrl+F: focus this section's search or filter field, if it has one."""

    # ----- shared by the sections -------------------------------------------------------------

    def dark_theme(self) -> bool:
        """The console's theme, or the OS's when it follows it (judged by the window colour)."""
        theme = self.services.settings.theme
        if theme in ("light", "dark"):
            return theme == "dark"
        return self.palette().color(QPalette.ColorRole.Window).lightness() < 128

    def open_dialog(self, dialog: QDialog) -> None:
        """Open ``dialog`` non-modally, kept until it finishes or :meth:`close_dialogs`."""
        self.dialogs.append(dialog)
        dialog.finished.connect(lambda _r, d=dialog: self._dialog_closed(d))
        dialog.open()

    def _dialog_closed(self, dialog: QDialog) -> None:
        if dialog in self.dialogs:
            self.dialogs.remove(dialog)
        dialog.deleteLater()

    def close_dialogs(self) -> None:
        for dialog in list(self.dialogs):
            dialog.reject()
        self.dialogs.clear()
