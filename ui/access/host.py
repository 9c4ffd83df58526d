"""What the Access Reviews tabs and the approver flow use of the section that holds them, as a
protocol: the tabs depend on it, not on the section module (which imports the tabs)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from PySide6.QtWidgets import QDialog, QLabel, QWidget

from strongroom.app.access.approvals import Approval
from strongroom.app.vault import Vault

from ..base import Services
from ..workers import Task, Work
from .data import Snapshot

Change = Callable[[Approval | None], Any]  # an access change, retried once with an approval


class GuardedRunner(Protocol):
    def run(self, name: str, text: str, change: Change, on_success: Callable[[Any], None],
            on_error: Callable[[BaseException], None] | None = None) -> Task | None: ...


class SectionHost(Protocol):
    services: Services
    vault: Vault | None
    snapshot: Snapshot | None
    result: QLabel
    guarded: GuardedRunner
    kdf_time_ms: int
    operators: Any  # the Operators tab
    campaigns: Any  # the Campaigns tab

    def submit(self, name: str, text: str, work: Work, on_success: Callable[[Any], None],
               on_error: Callable[[BaseException], None] | None = None) -> Task: ...

    def changed(self, message: str) -> None: ...

    def refresh(self) -> Task | None: ...

    def window(self) -> QWidget: ...

    def open_dialog(self, dialog: QDialog) -> None: ...

    def problem_colour(self) -> str: ...
