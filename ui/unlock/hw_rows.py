"""The lock screen's hardware actions: one per enrolled hardware kind among the unlock methods it
shows ("Use security key", "Unlock with TPM", "Unlock with this device's keyring"), enabled only
when its backend can run here (asked in the task runner, as it may touch hardware) and otherwise
saying why not. A mixin of LockScreen, which owns the widgets and the state it works on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QLabel, QPushButton, QVBoxLayout

from strongroom.app.keyslots import Keyslot
from strongroom.app.unlock_methods import (
    Availability,
    SlotKind,
    SlotSecretSource,
    needs_passphrase,
)
from strongroom.app.vault import Vault

from .hw_prompts import availability_of

if TYPE_CHECKING:
    from ..workers import Task, TaskRunner

HW_ACTIONS = {SlotKind.Fido2.value: "Use security key", SlotKind.Tpm.value: "Unlock with TPM",
              SlotKind.Keyring.value: "Unlock with this device's keyring"}
HW_WAITING = {SlotKind.Fido2.value: "Looking for your security key…",
              SlotKind.Tpm.value: "Asking the TPM…",
              SlotKind.Keyring.value: "Reading this device's keyring…"}
KEYRING_NOTE = ("Lower assurance: anyone logged in as you on this device can unlock this way.")


class HardwareRows:
    """Builds the hardware actions and checks, in the runner, which can be used here."""

    runner: TaskRunner
    sources: Callable[[str], SlotSecretSource]
    vault: Vault | None
    hw_rows: QVBoxLayout
    hw_buttons: dict[str, QPushButton]
    hw_notes: dict[str, QLabel]
    available: dict[str, Availability]
    recheck_button: QPushButton
    _check: Task | None

    if TYPE_CHECKING:  # LockScreen's
        def _slots(self) -> list[Keyslot]: ...

        def _update_buttons(self) -> None: ...

        def start_hardware(self, kind: str) -> Task | None: ...

    def _build_hardware_rows(self, vault: Vault) -> None:
        """One action per hardware kind shown, disabled until its backend is known usable."""
        for widget in (*self.hw_buttons.values(), *self.hw_notes.values()):
            self.hw_rows.removeWidget(widget)
            widget.deleteLater()
        self.hw_buttons, self.hw_notes, self.available = {}, {}, {}
        kinds = [k for k in HW_ACTIONS if any(s.kind == k for s in self._slots())]
        for kind in kinds:
            button = QPushButton(HW_ACTIONS[kind])
            button.setAccessibleName(HW_ACTIONS[kind])
            button.setEnabled(False)
            button.clicked.connect(lambda _c=False, k=kind: self.start_hardware(k))
            note = QLabel("Checking whether it can be used here…")
            note.setWordWrap(True)
            note.setProperty("role", "muted")
            note.setAccessibleName(f"{HW_ACTIONS[kind]}: note")
            self.hw_rows.addWidget(button)
            self.hw_rows.addWidget(note)
            self.hw_buttons[kind], self.hw_notes[kind] = button, note
        self.check_availability()

    def check_availability(self) -> None:
        """Ask each shown kind's backend, in the runner, whether it can be used here."""
        vault, kinds, sources = self.vault, list(self.hw_buttons), self.sources
        if vault is None or not kinds or self._check is not None:
            return
        self.recheck_button.hide()
        self._check = self.runner.submit(
            "unlock.availability",
            lambda _c, _p: {k: availability_of(sources, k) for k in kinds},
            on_success=lambda found, v=vault: self._availability_known(v, found),
            on_error=lambda _e: setattr(self, "_check", None),
            on_cancel=lambda: setattr(self, "_check", None),
        )

    def _availability_known(self, vault: Vault, found: dict[str, Availability]) -> None:
        self._check = None
        if vault is not self.vault:
            self.check_availability()  # another vault is shown now: ask for its kinds
            return
        self.available = found
        self.recheck_button.setVisible(not all(a.ok for a in found.values()))
        for kind, usable in found.items():
            button, note = self.hw_buttons.get(kind), self.hw_notes.get(kind)
            if button is None or note is None:
                continue
            slots = [s for s in self._slots() if s.kind == kind]
            if not usable.ok:
                text = f"Not available here: {usable.reason}"
                button.setToolTip(text)
                note.setText(text)
            elif kind == SlotKind.Keyring.value:
                note.setText(KEYRING_NOTE)
            elif slots and all(needs_passphrase(s) for s in slots):
                note.setText("Also needs the passphrase: type it above first.")
            else:
                note.setText("")
            note.setVisible(bool(note.text()))
        self._update_buttons()
        if set(self.hw_buttons) - set(found):
            self.check_availability()  # another operator's kinds are shown now
