"""Recover with shares: the custodians present type M shares of the vault's recovery set into
hidden fields, and the vault opens (app/ceremony/recovery.py) in the task runner.

A refusal ("share 2: word 5 of the share is not a SLIP-39 word") shows in the dialog, which keeps
the fields and puts the cursor in the share named; the fields are emptied, and what was typed
dropped, once the dialog closes, however it closes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFrame,
    QLabel,
    QProgressBar,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from strongroom.app.ceremony.recovery import RecoveryUnlocker, recovery_params, shares_needed
from strongroom.app.header import Header
from strongroom.app.keyslots import Keyslot
from strongroom.app.vault import Vault

from ..widgets.common import heading
from ..workers import Task, TaskRunner
from .hw_prompts import hardware_message
from .share_field import ShareField

TITLE = "Recover with shares"
WORKING = "Combining the shares and opening the vault…"
FIELDS_IN_VIEW = 3  # more shares than this scroll
NAMED_SHARE = re.compile(r"\bshare (\d+)\b", re.IGNORECASE)


def set_role(label: QLabel, role: str) -> None:
    label.setProperty("role", role)
    label.style().unpolish(label)
    label.style().polish(label)


def creator_name(header: Header, slot: Keyslot) -> str | None:
    """The operator a recovery slot opens the vault as (who made it), when the header names
    them."""
    return next((o.name for o in header.operators if slot.operator and o.id == slot.operator),
                None)


def intro_text(slots: Sequence[Keyslot]) -> str:
    """"Any M of the N custodians' shares open this vault." for the set asked for."""
    needed = shares_needed(slots)
    counts = [recovery_params(s).count for s in slots if recovery_params(s).threshold == needed]
    return f"Any {needed} of the {counts[0]} custodians' shares open this vault."


class RecoveryDialog(QDialog):
    """M share fields and Unlock; emits ``unlocked(vault)`` once the vault is open."""

    unlocked = Signal(object)

    def __init__(self, runner: TaskRunner, vault: Vault, slots: Sequence[Keyslot],
                 operator: str | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(TITLE)
        self.setAccessibleName(TITLE)
        self.setModal(True)
        self.setMinimumWidth(560)
        self._runner = runner
        self._vault: Vault | None = vault
        self._operator = operator
        self._task: Task | None = None
        self._closing = False
        needed = shares_needed(slots)

        self.intro = QLabel(intro_text(slots))
        self.intro.setWordWrap(True)
        self.intro.setAccessibleName("How many shares open the vault")
        names = {creator_name(vault.header, s) for s in slots}
        opens_as = (f" The vault opens as {names.pop()}, who made its recovery keyslot."
                    if len(names) == 1 and None not in names else "")
        self.how = QLabel("Each custodian present types their share: its words in order, in any "
                          f"case and spacing. Tick “Show” to check it.{opens_as}")
        self.how.setTextFormat(Qt.TextFormat.PlainText)  # an operator's name is not markup
        self.how.setWordWrap(True)
        self.how.setProperty("role", "muted")
        self.fields = [ShareField(n) for n in range(1, needed + 1)]

        holder = QWidget()
        column = QVBoxLayout(holder)
        column.setContentsMargins(0, 0, 8 if needed > FIELDS_IN_VIEW else 0, 0)  # scroll bar
        column.setSpacing(14)
        for field in self.fields:
            column.addWidget(field)
        column.addStretch(1)
        self.scroll = QScrollArea()
        self.scroll.setWidget(holder)
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        shown = self.fields[:FIELDS_IN_VIEW]
        self.scroll.setMinimumHeight(sum(f.sizeHint().height() for f in shown)
                                     + column.spacing() * (len(shown) - 1))

        self.busy_bar = QProgressBar()
        self.busy_bar.setRange(0, 0)
        self.busy_bar.setTextVisible(False)
        self.busy_bar.setMaximumHeight(6)
        self.busy_bar.setAccessibleName("Unlocking")
        self.busy_bar.hide()
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setAccessibleName("Recovery status")
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.unlock_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.unlock_button.setText("Unlock")
        self.unlock_button.setAccessibleName("Unlock with these shares")
        self.cancel_button = self.buttons.button(QDialogButtonBox.StandardButton.Cancel)
        self.cancel_button.setAccessibleName("Cancel recovery")
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        self._retry = QTimer(self)
        self._retry.setSingleShot(True)
        self._retry.timeout.connect(self._may_retry)

        lay = QVBoxLayout(self)
        lay.setContentsMargins(24, 20, 24, 16)
        lay.setSpacing(10)
        lay.addWidget(heading("Open the vault with recovery shares", scale=1.25))
        lay.addWidget(self.intro)
        lay.addWidget(self.how)
        lay.addSpacing(4)
        lay.addWidget(self.scroll, 1)
        lay.addWidget(self.busy_bar)
        lay.addWidget(self.status)
        lay.addWidget(self.buttons)
        self.fields[0].edit.setFocus()

    # ----- unlocking -----------------------------------------------------------------------------

    def submit(self) -> Task | None:
        """Open the vault with the shares typed, in the runner; None when nothing was started."""
        vault, operator = self._vault, self._operator
        if vault is None or self._task is not None or not self.unlock_button.isEnabled():
            return None
        empty = next((f for f in self.fields if not f.words()), None)
        if empty is not None:
            self.set_message(f"Type share {empty.number}: it is empty.", "warning")
            self.scroll.ensureWidgetVisible(empty)
            empty.edit.setFocus()
            return None
        unlocker = RecoveryUnlocker([f.text() for f in self.fields])

        def work(cancel, progress):  # type: ignore[no-untyped-def]
            try:
                vault.unlock(unlocker, cancel=cancel, on_status=progress, operator=operator)
            finally:
                unlocker.forget()
            return vault

        self._set_busy(True)
        self.set_message(WORKING)
        self._task = self._runner.submit(
            "unlock.recovery", work, on_success=self._opened, on_error=self._refused,
            on_progress=lambda s: self.set_message(s + "…"), on_cancel=self._cancelled)
        return self._task

    def set_message(self, text: str, role: str = "") -> None:
        self.status.setText(text)
        set_role(self.status, role)

    def _set_busy(self, busy: bool) -> None:
        self.busy_bar.setVisible(busy)
        self.unlock_button.setEnabled(not busy and not self._retry.isActive())
        for field in self.fields:
            field.set_read_only(busy)

    def _opened(self, vault: Vault) -> None:
        self._task = None
        self._set_busy(False)
        self.accept()  # empties the fields
        self.unlocked.emit(vault)

    def _refused(self, error: BaseException) -> None:
        self._task = None
        self._set_busy(False)
        if self._closing:
            self.reject()
            return
        message = hardware_message(error)
        self.set_message(message, "error")
        wait = float(getattr(error, "retry_after", 0.0) or 0.0)
        if wait > 0:
            self._retry.start(int(wait * 1000) + 100)
            self.unlock_button.setEnabled(False)
        named = NAMED_SHARE.search(message)
        number = int(named.group(1)) if named else 0
        field = self.fields[number - 1] if 1 <= number <= len(self.fields) else self.fields[0]
        self.scroll.ensureWidgetVisible(field)
        field.edit.setFocus()

    def _cancelled(self) -> None:
        self._task = None
        self._set_busy(False)
        if self._closing:
            self.reject()
        else:
            self.set_message("Unlock cancelled.")

    def _may_retry(self) -> None:
        self.unlock_button.setEnabled(self._task is None)
        if self.status.property("role") == "error":
            self.set_message(self.status.text() + " You can try again now.", "error")

    # ----- closing -------------------------------------------------------------------------------

    def done(self, result: int) -> None:  # every way of closing ends here
        if self._task is not None:  # closes once the unlock under way has stopped
            self._closing = True
            self._task.cancel()
            self.set_message("Cancelling…")
            return
        for field in self.fields:
            field.clear()
        self._vault = None
        self._retry.stop()
        super().done(result)
