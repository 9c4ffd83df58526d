"""The lock screen's "Recover with shares…": shown when the unlock methods it lists include a
recovery keyslot (the chosen operator's, who made it; or any, when no operator picker is shown),
it opens :class:`RecoveryDialog`. A mixin of LockScreen, which owns the state it works on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPushButton, QWidget

from strongroom.app.ceremony.recovery import recovery_params
from strongroom.app.errors import HeaderCorrupt
from strongroom.app.keyslots import Keyslot
from strongroom.app.unlock_methods import RECOVERY
from strongroom.app.vault import Vault

from ..workers import user_message
from .operator_picker import method_text
from .recovery_dialog import RecoveryDialog

if TYPE_CHECKING:
    from ..workers import Task, TaskRunner

RECOVER_ACTION = "Recover with shares…"


def recovery_slots(slots: list[Keyslot]) -> list[Keyslot]:
    return [s for s in slots if s.kind == RECOVERY]


def method_line(slot: Keyslot, operator: str | None = None) -> str:
    """A line of the lock screen's list of unlock methods; a recovery slot's says M of N."""
    if slot.kind != RECOVERY:
        return method_text(slot, operator)
    try:
        params = recovery_params(slot)
    except HeaderCorrupt:
        return f"Recovery shares — {slot.label} (unreadable parameters)"
    text = f"Recovery shares — any {params.threshold} of {params.count} custodians"
    if slot.label != f"Recovery ({params.threshold} of {params.count} shares)":
        text += f" ({slot.label})"
    used = slot.last_used and f", last used {slot.last_used[:16].replace('T', ' ')} UTC"
    return text + (used or "")


class RecoveryEntry:
    """Builds the "Recover with shares…" action and opens the dialog it stands for."""

    runner: TaskRunner
    vault: Vault | None
    operator: str | None
    recover_button: QPushButton
    recovery: RecoveryDialog | None
    _task: Task | None

    if TYPE_CHECKING:  # LockScreen's
        def _slots(self) -> list[Keyslot]: ...

        def _done(self, vault: Vault) -> None: ...

        def set_message(self, text: str, role: str = "") -> None: ...

    def _recovery_button(self) -> QPushButton:
        self.recovery = None
        button = QPushButton(RECOVER_ACTION)
        button.setAccessibleName("Recover with the custodians' shares")
        button.setToolTip("Any M of the N custodians of the vault's recovery shares open it")
        button.clicked.connect(self.start_recovery)
        button.hide()
        return button

    def _show_recovery(self) -> None:
        self.recover_button.setVisible(bool(recovery_slots(self._slots())))

    def start_recovery(self) -> RecoveryDialog | None:
        """Ask for the shares in a dialog, which unlocks in the runner; None when not offered."""
        vault, slots = self.vault, recovery_slots(self._slots())
        if (vault is None or not slots or self._task is not None or self.recovery is not None
                or not self.recover_button.isEnabled()):
            return None
        try:
            dialog = RecoveryDialog(self.runner, vault, slots, self.operator,
                                    self if isinstance(self, QWidget) else None)
        except HeaderCorrupt as e:
            self.set_message(user_message(e), "error")
            return None
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.recovery = dialog
        dialog.unlocked.connect(self._done)
        dialog.finished.connect(lambda _r: setattr(self, "recovery", None))
        dialog.open()
        return dialog
