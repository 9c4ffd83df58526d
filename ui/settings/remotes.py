"""Settings → Remotes: the vault's OpenBao / Vault remotes, how many secrets each has synced,
and Test, Status, Preview publish/pull and Publish/Pull of exactly the previewed plan.

Everything runs in the task runner (remotes_work.py: the domain calls `strongroom remote`
makes); results come back by signal and errors as the domain's one sentence. Adding and
removing remotes stays in the CLI, which reads a token only from its prompt or --token-fd. A
plan needing a second operator's approval is refused here (by the domain, before anything is
read or written); conflicts are listed, never resolved (no --prefer in the console).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QEvent
from PySide6.QtWidgets import QGroupBox, QHBoxLayout, QMessageBox, QVBoxLayout, QWidget

from strongroom.app.remotes.planning import SyncPlan
from strongroom.app.remotes.state import Action, Item
from strongroom.app.remotes.syncing import SyncResult
from strongroom.app.vault import Vault

from ..access.table import Cell, RowsTable
from ..base import Services
from ..widgets.common import Note, button
from ..widgets.operations import BusyRow
from ..workers import Task, user_message
from . import remotes_work as work
from .remotes_work import RemoteRow

REMOTE_HEADERS = ("Name", "URL(s)", "Auth", "KV mount", "Transit mount", "Synced")
ITEM_HEADERS = ("Action", "Secret", "Path", "Local", "Remote", "Why")
HINT = ("Add or remove remotes on the command line (strongroom remote add | remove), which "
        "reads the token from its prompt or --token-fd.")
PROBLEMS = (Action.Conflict.value, Action.Invalid.value, "conflict")


def item_cells(item: Item, word: str) -> list[Cell]:
    problem = word in PROBLEMS
    return [Cell(word, strong=word in ("create", "update"), problem=problem), Cell(item.name),
            Cell(item.path), Cell(f"v{item.local_version}" if item.local_version else "-"),
            Cell(f"v{item.remote_version}" if item.remote_version else "-"),
            Cell(item.reason, problem=problem)]


class RemotesPanel(QGroupBox):
    """Settings → Remotes."""

    def __init__(self, services: Services, parent: QWidget | None = None) -> None:
        super().__init__("Remotes (OpenBao / Vault)", parent)
        self.setAccessibleName("Remotes")
        self.services = services
        self.vault: Vault | None = None
        self.task: Task | None = None
        self.plan: SyncPlan | None = None
        self.ask: Callable[[str], bool] = self._confirm  # tests answer for the user

        self.hint = Note("How to add or remove remotes")
        self.hint.setText(HINT)
        self.remotes = RowsTable(REMOTE_HEADERS, "Remotes", widths=(110, 220, 70, 80, 100))
        self.remotes.setMinimumHeight(110)
        self.remotes.setMaximumHeight(150)
        self.remotes.selectionModel().selectionChanged.connect(self._selected)
        self.test_button = button("Test", self.test, "Log in and check the KV mount")
        self.status_button = button("Status", self.status, "Each synced secret's state")
        self.preview_publish = button("Preview publish", lambda: self.preview("publish"))
        self.preview_pull = button("Preview pull", lambda: self.preview("pull"))
        self.publish_button = button("Publish", self._run_clicked)
        self.pull_button = button("Pull", self._run_clicked)
        self.cancel_button = button("Cancel", self.cancel)
        self.busy = BusyRow("Remotes", hide_when_idle=True)
        self.result = Note("Result of the last remote operation")
        self.items = RowsTable(ITEM_HEADERS, "Plan or status",
                               widths=(80, 130, 190, 55, 60))
        self.items.setMinimumHeight(170)

        actions = QHBoxLayout()
        for b in (self.test_button, self.status_button, self.preview_publish,
                  self.preview_pull, self.publish_button, self.pull_button, self.cancel_button):
            actions.addWidget(b)
        actions.addStretch(1)
        lay = QVBoxLayout(self)
        for w in (self.hint, self.remotes):
            lay.addWidget(w)
        lay.addLayout(actions)
        for w in (self.busy, self.result, self.items):
            lay.addWidget(w)
        self._update()

    # ----- session -----------------------------------------------------------------------------

    def vault_unlocked(self, vault: Vault) -> None:
        self.vault = vault
        self._follow_theme()
        self.refresh()

    def vault_locked(self) -> None:
        self.cancel()
        self.vault = None
        self.plan = None
        self.remotes.rows.clear()
        self.items.rows.clear()
        self.result.setText("")
        self._update()

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt API
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            self._follow_theme()

    def _follow_theme(self) -> None:
        dark = self.palette().window().color().lightness() < 128
        for table in (self.remotes, self.items):
            table.rows.set_dark(dark)

    def selected(self) -> str | None:
        key = self.remotes.selected_key()
        return key if isinstance(key, str) else None

    def _selected(self, *_args: Any) -> None:
        if self.plan is not None and self.plan.remote.name != self.selected():
            self.plan = None
            self.items.rows.clear()
        self._update()

    def _update(self) -> None:
        running, chosen = self.task is not None, self.selected() is not None
        for b in (self.test_button, self.status_button, self.preview_publish, self.preview_pull):
            b.setEnabled(self.vault is not None and chosen and not running)
        plan = self.plan
        for b, direction in ((self.publish_button, "publish"), (self.pull_button, "pull")):
            b.setEnabled(not running and plan is not None and plan.direction == direction)
        self.cancel_button.setEnabled(running)
        self.cancel_button.setVisible(running)

    # ----- work --------------------------------------------------------------------------------

    def refresh(self) -> Task | None:
        """Read the remotes and their synced counts (in the runner), then show them."""
        vault = self.vault
        if vault is None:
            return None
        return self.services.runner.submit(
            "remote.list", lambda _c, _p: work.overview(vault), on_success=self._show_remotes,
            quiet=True, on_error=lambda exc: self._report(user_message(exc), error=True))

    def _show_remotes(self, rows: list[RemoteRow]) -> None:
        if self.vault is None:
            return  # locked meanwhile
        chosen = self.selected()
        self.remotes.rows.set_rows([[
            Cell(r.remote.name, strong=True), Cell(", ".join(r.remote.urls)),
            Cell(r.remote.auth), Cell(r.remote.kv_mount), Cell(r.remote.transit_mount),
            Cell(str(r.synced))] for r in rows], [r.remote.name for r in rows])
        if rows and not self.remotes.select_key(chosen or rows[0].remote.name):
            self.remotes.select_key(rows[0].remote.name)
        if not rows:
            self.result.setText("No remotes in this vault.")
        self._update()

    def _submit(self, name: str, text: str, job: Callable[[Vault, str], Any],
                done: Callable[[Any], None]) -> Task | None:
        vault, remote = self.vault, self.selected()
        if vault is None or remote is None or self.task is not None:
            return None
        self.busy.start(text.format(remote=remote))
        self.result.setText("")
        self.services.activity()
        task = self.services.runner.submit(
            name, lambda _c, _p: job(vault, remote), on_success=done,
            on_error=lambda exc: self._report(user_message(exc), error=True),
            on_cancel=lambda: self._report("Cancelled."))
        task.finished.connect(self._finished)
        self.task = task
        self._update()
        return task

    def test(self) -> Task | None:
        return self._submit("remote.test", "Logging in to {remote}…", work.test, self._report)

    def status(self) -> Task | None:
        self.plan = None
        return self._submit("remote.status", "Reading the state of {remote}…", work.status,
                            self._show_status)

    def preview(self, direction: str) -> Task | None:
        self.plan = None
        self.items.rows.clear()
        return self._submit(f"remote.{direction}.plan", f"Planning a {direction} with {{remote}}…",
                            lambda v, r: work.preview(v, r, direction), self._show_plan)

    def _run_clicked(self) -> None:
        plan = self.plan
        if plan is None:
            return
        changes = work.summary(plan.counts())
        if plan.two_person or self.ask(
                f"{plan.direction.capitalize()} with {plan.remote.name}: {changes}? Conflicts "
                "are left as they are on both sides."):
            self.run_plan()

    def run_plan(self) -> Task | None:
        """Run the previewed plan, exactly (the preview is consumed)."""
        plan, vault = self.plan, self.vault
        if plan is None or vault is None or self.task is not None:
            return None
        self.plan = None
        verb = "Publishing to" if plan.direction == "publish" else "Pulling from"
        self.busy.start(f"{verb} {plan.remote.name}…")
        self.services.activity()
        task = self.services.runner.submit(
            f"remote.{plan.direction}", lambda _c, _p: work.run(vault, plan),
            on_success=self._show_result,
            on_error=lambda exc: self._report(user_message(exc), error=True),
            on_cancel=lambda: self._report("Cancelled; what was written stays written."))
        task.finished.connect(self._finished)
        self.task = task
        self._update()
        return task

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()

    def _finished(self) -> None:
        self.task = None
        self.busy.stop()
        self._update()

    def _show_status(self, items: list[Item]) -> None:
        self.items.rows.set_rows([item_cells(i, i.reason) for i in items],
                                 [i.name for i in items])
        self._report(f"{len(items)} secret(s) synced with {self.selected()}." if items
                     else f"Nothing synced with {self.selected()} yet.")

    def _show_plan(self, plan: SyncPlan) -> None:
        if self.vault is None:
            return
        self.plan = plan
        self.items.rows.set_rows([item_cells(i, i.action.value) for i in plan.items],
                                 [i.name for i in plan.items])
        approval = (f" {len(plan.two_person)} secret(s) need a second operator's approval, "
                    "which the console cannot ask for here: use the CLI."
                    if plan.two_person else "")
        self._report(f"Preview, nothing changed: {work.summary(plan.counts())}.{approval}")
        self._update()

    def _show_result(self, result: SyncResult) -> None:
        self.items.rows.set_rows([item_cells(i, i.action.value) for i in result.items],
                                 [i.name for i in result.items])
        verb = "Published to" if result.plan.direction == "publish" else "Pulled from"
        text = f"{verb} {result.plan.remote.name}: {work.summary(result.counts())}."
        if result.conflicts:
            text += (f" {len(result.conflicts)} secret(s) not synced (conflict or invalid "
                     "data); nothing was written for them.")
        self._report(text, error=bool(result.conflicts))
        self.refresh()

    def _report(self, text: str, *, error: bool = False) -> None:
        if self.vault is None:
            return
        self.result.setText(text)
        if error:
            self.services.error(text)
        else:
            self.services.status(text)

    def _confirm(self, text: str) -> bool:
        answer = QMessageBox.question(self, "Remotes", text)
        return answer == QMessageBox.StandardButton.Yes
