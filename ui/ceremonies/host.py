"""What the Ceremonies pages use of the section that holds them, as a protocol: the pages depend on
it, not on the section module (which imports the pages)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from PySide6.QtWidgets import QDialog, QWidget

from strongroom.app.vault import Vault

from ..base import Services
from ..unlock.hw_prompts import QtPrompts
from ..workers import Task, Work
from .env import Entry, Environment


class CeremonyHost(Protocol):
    services: Services
    vault: Vault | None
    env: Environment
    prompts: QtPrompts  # the security keys' touch and PIN prompts
    choose_folder: Callable[[QWidget], Path | None]  # an empty folder for a new run
    choose_script: Callable[[QWidget], Path | None]  # "Open script…"

    def submit(self, name: str, text: str, work: Work, on_success: Callable[[Any], None],
               on_error: Callable[[BaseException], None] | None = None, *,
               hardware: bool = False) -> Task: ...

    def open_dialog(self, dialog: QDialog) -> None: ...

    def window(self) -> QWidget: ...

    def dark_theme(self) -> bool: ...

    def start_run(self, item: Entry, folder: Path) -> None: ...

    def resume_run(self, ceremony_id: str) -> None: ...

    def show_home(self) -> None: ...

    def refresh_lists(self) -> None: ...
