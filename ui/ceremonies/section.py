"""Ceremonies: the script library, a ceremony run step by step, past ceremonies with their
transcripts, and the share drills.

Everything that touches the vault, a token, a security key or a file runs in the task runner
(``submit``); results of an earlier unlock are dropped (``_epoch``). ``env`` is the seam to the
machine (interfaces, /proc, tokens, security keys, clock); ``choose_folder`` and
``choose_script`` the file dialogs.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QStackedWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from strongroom.app.errors import UserCancelled
from strongroom.app.vault import Vault

from ..access.table import RowsTable
from ..base import Section, Services
from ..unlock.hw_prompts import QtPrompts
from ..widgets.common import heading
from ..widgets.operations import BusyRow
from ..workers import Task, Work, user_message
from .drills import DrillsTab
from .env import Entry, Environment
from .library import LibraryTab
from .past import PastTab
from .run_page import RunPage
from .session import RunSession


def ask_folder(parent: QWidget) -> Path | None:
    chosen = QFileDialog.getExistingDirectory(parent, "An empty folder for the ceremony's "
                                                      "outputs and transcript")
    return Path(chosen) if chosen else None


def ask_script(parent: QWidget) -> Path | None:
    chosen, _ = QFileDialog.getOpenFileName(parent, "Open a ceremony script", "",
                                            "Ceremony scripts (*.toml);;All files (*)")
    return Path(chosen) if chosen else None


class CeremoniesSection(Section):
    title = "Ceremonies"
    accessible_description = ("Key ceremonies: scripts, a witnessed run step by step, past "
                              "transcripts and share drills")

    def __init__(self, services: Services, parent: QWidget | None = None) -> None:
        super().__init__(services, parent)
        self.setAccessibleDescription(self.accessible_description)
        self.env = Environment()
        self.choose_folder: Callable[[QWidget], Path | None] = ask_folder
        self.choose_script: Callable[[QWidget], Path | None] = ask_script
        self.prompts = QtPrompts(self)
        self._epoch = 0
        self.busy = BusyRow("Ceremony operation")
        self.library = LibraryTab(self)
        self.past = PastTab(self)
        self.drills = DrillsTab(self)
        self.tabs = QTabWidget()
        self.tabs.setAccessibleName("Ceremonies pages")
        for tab, text in ((self.library, "Library"), (self.past, "Past ceremonies"),
                          (self.drills, "Share drills")):
            self.tabs.addTab(tab, text)
        home = QWidget()
        home_lay = QVBoxLayout(home)
        home_lay.setContentsMargins(16, 16, 16, 0)
        top = QHBoxLayout()
        top.addWidget(heading(self.title))
        top.addStretch(1)
        home_lay.addLayout(top)
        home_lay.addWidget(self.tabs, 1)
        self.home = home
        self.run_page = RunPage(self)
        self.pages = QStackedWidget()
        self.pages.addWidget(home)
        self.pages.addWidget(self.run_page)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.pages, 1)
        busy_row = QHBoxLayout()
        busy_row.setContentsMargins(16, 0, 16, 8)
        busy_row.addWidget(self.busy)
        lay.addLayout(busy_row)
        services.settings.changed.connect(
            lambda key: self._follow_theme() if key == "theme" else None)
        self._follow_theme()

    # ----- session ------------------------------------------------------------------------------

    def vault_unlocked(self, vault: Vault) -> None:
        super().vault_unlocked(vault)
        self._epoch += 1
        self.show_home()
        self.library.load()
        self.refresh_lists()

    def vault_locked(self) -> None:
        super().vault_locked()
        self._epoch += 1
        session = self.run_page.drop()
        if session is not None:  # before the vault's lock, which the runner does next
            self.services.runner.submit("ceremony.close", lambda _c, _p: session.close())
        self.close_dialogs()
        self.library.clear()
        self.past.clear()
        self.drills.clear()
        self.pages.setCurrentWidget(self.home)

    def refresh_lists(self) -> None:
        self.past.refresh()
        self.drills.refresh()

    def show_home(self) -> None:
        self.pages.setCurrentWidget(self.home)

    # ----- runs ---------------------------------------------------------------------------------

    def start_run(self, item: Entry, folder: Path) -> None:
        vault, script = self.vault, item.script
        if vault is None or script is None:
            return
        env = self.env
        self.submit("ceremony.start", f"Starting {script.name}…",
                    lambda _c, _p: RunSession.start(vault, env, script, folder), self._opened)

    def resume_run(self, ceremony_id: str) -> None:
        vault = self.vault
        if vault is None:
            return
        env = self.env
        self.submit("ceremony.resume", "Opening the ceremony…",
                    lambda _c, _p: RunSession.resume(vault, env, ceremony_id), self._opened)

    def _opened(self, session: RunSession) -> None:
        self.pages.setCurrentWidget(self.run_page)
        self.run_page.open(session)
        self.refresh_lists()

    # ----- running ------------------------------------------------------------------------------

    def submit(self, name: str, text: str, work: Work, on_success: Callable[[Any], None],
               on_error: Callable[[BaseException], None] | None = None, *,
               hardware: bool = False) -> Task:
        """Run ``work`` with the busy row showing; a security key's wait gets the prompts; a
        cancel reaches ``on_error`` as UserCancelled; results of an earlier unlock are dropped."""
        epoch = self._epoch
        self.busy.start(text)
        self.services.activity()
        prompts = self.prompts

        def wrapped(cancel: Any, progress: Any) -> Any:
            if not hardware:
                return work(cancel, progress)
            prompts.watch(cancel)
            return work(cancel, lambda line: None if line.startswith("Touch ")
                        else progress(line))

        def ok(result: Any) -> None:
            if epoch == self._epoch:
                on_success(result)

        def failed(exc: BaseException) -> None:
            if epoch != self._epoch:
                return
            if on_error is not None:
                on_error(exc)
            elif isinstance(exc, UserCancelled):  # the user's own cancel: no error to show
                self.services.status(f"{text.rstrip('…')} was cancelled.")
            else:
                self.services.error(user_message(exc))

        task = self.services.runner.submit(
            name, wrapped, on_success=ok, on_error=failed, on_progress=self.busy.progress,
            on_cancel=lambda: failed(UserCancelled()))
        task.finished.connect(self.busy.stop)
        if hardware:
            prompts.begin()
            task.finished.connect(prompts.end)
        return task

    # ----- the theme ----------------------------------------------------------------------------

    def _follow_theme(self) -> None:
        dark = self.dark_theme()
        for table in self.findChildren(RowsTable):
            table.rows.set_dark(dark)
