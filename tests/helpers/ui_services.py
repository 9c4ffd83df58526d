"""The Services a console section is built with, for the section tests: a real task runner and
settings in an INI file, a clipboard of the test's choosing, and the status and error notes
collected in lists."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QSettings

from strongroom.ui.base import ClipboardLike, Services
from strongroom.ui.settings.store import ConsoleSettings
from strongroom.ui.workers import TaskRunner


class NoClipboard:
    """For sections that never copy a secret: a copy fails the test."""

    def copy_secret(self, value: bytes) -> None:
        raise AssertionError("this section copies no secrets")

    def clear_if_ours(self) -> None:
        pass


@dataclass
class SectionServices:
    services: Services
    statuses: list[str]
    errors: list[str]
    ini: Path


def make_services(ini: Path,
                  clipboard_for: Callable[[ConsoleSettings], ClipboardLike]) -> SectionServices:
    """Services over settings kept in ``ini``; ``clipboard_for`` builds the clipboard from them."""
    settings = ConsoleSettings(QSettings(str(ini), QSettings.Format.IniFormat))
    statuses: list[str] = []
    errors: list[str] = []
    services = Services(
        runner=TaskRunner(), settings=settings, clipboard=clipboard_for(settings),
        status=statuses.append, error=errors.append, lock_now=lambda: None,
        activity=lambda: None,
    )
    return SectionServices(services, statuses, errors, ini)
