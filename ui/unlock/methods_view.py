"""Settings → Unlock methods: the vault's keyslots, their warnings, and enrol/test/rename/remove.

Every action runs in the task runner with Cancel (hardware waits honour the job's cancel Event),
ends in one sentence, and the table then shows the header as the vault saved it. Which kinds can
be added here is checked in the runner too (it may touch hardware) and an unusable kind's Add
button is disabled with the reason beside it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QMessageBox,
    QProgressBar,
    QTableView,
    QWidget,
)

from strongroom.app.keyslots import PASSPHRASE, Keyslot, PassphraseUnlocker, normalize_passphrase
from strongroom.app.unlock_methods import (
    Availability,
    HardwareUnlocker,
    SlotKind,
    inventory_warnings,
    load_source,
    needs_passphrase,
)
from strongroom.app.vault import Vault

from ..base import Services
from ..widgets.common import Note, button
from ..workers import Task, Work
from .enrol_dialog import (
    DEFAULT_LABELS,
    KEYRING_WARNING,
    KIND_NAMES,
    ask_security_key,
    ask_tpm,
)
from .hw_prompts import (
    QtPrompts,
    SourceFactory,
    availability_of,
    hardware_message,
    run_with_prompts,
)
from .methods_model import Column, SlotTableModel, cell, column_widths
from .passphrase_dialog import ask_passphrase


class UnlockMethodsPanel(QGroupBox):
    """Settings → Unlock methods. ``sources`` maps a kind to its backend (tests inject theirs)."""

    def __init__(self, services: Services, parent: QWidget | None = None, *,
                 sources: SourceFactory = load_source) -> None:
        super().__init__("Unlock methods", parent)
        self.setAccessibleName("Unlock methods")
        self.services = services
        self.sources = sources
        self.vault: Vault | None = None
        self.task: Task | None = None
        self.available: dict[str, Availability] = {}
        self.prompts = QtPrompts(self)

        self.model = SlotTableModel(self)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setAccessibleName("Keyslots")
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        for i, width in enumerate(column_widths(self.table.fontMetrics(), header.fontMetrics())):
            self.table.setColumnWidth(i, width)  # once: rows coming and going never resize them
        self.table.setWordWrap(False)
        self.table.setMinimumHeight(120)
        self.table.setMaximumHeight(220)
        self.table.selectionModel().selectionChanged.connect(lambda *_a: self.update_buttons())
        self.warnings = self._label("Unlock method warnings", "warning")
        self.not_here = self._label("Methods not available here", "muted")
        self.result = self._label("Result of the last unlock-method action", "")
        self.touch_note = self._label("Security key prompt", "warning")
        self.touch_note.hide()
        self.prompts.touch_changed.connect(self._show_touch)

        self.add_key_button = button("Add security key…", self._on_add_key)
        self.add_tpm_button = button("Add TPM…", self._on_add_tpm)
        self.add_keyring_button = button(
            "Remember on this device (lower assurance)…", self._on_add_keyring)
        self.test_button = button("Test…", self._on_test)
        self.rename_button = button("Rename…", self._on_rename)
        self.remove_button = button("Remove…", self._on_remove)
        self.cancel_button = button("Cancel", self.cancel)
        self.add_buttons = {SlotKind.Fido2.value: self.add_key_button,
                            SlotKind.Tpm.value: self.add_tpm_button,
                            SlotKind.Keyring.value: self.add_keyring_button}
        self.busy_bar = QProgressBar()
        self.busy_bar.setRange(0, 0)
        self.busy_bar.setTextVisible(False)
        self.busy_bar.setMaximumWidth(140)
        self.busy_bar.setAccessibleName("Unlock-method action in progress")
        self.busy_label = self._label("Unlock-method progress", "")
        busy = QHBoxLayout()
        busy.addWidget(self.busy_bar)
        busy.addWidget(self.busy_label, 1)
        busy.addWidget(self.cancel_button)

        grid = QGridLayout(self)
        grid.addWidget(self.table, 0, 0, 1, 3)
        grid.addWidget(self.warnings, 1, 0, 1, 3)
        for col, b in enumerate((self.add_key_button, self.add_tpm_button,
                                 self.add_keyring_button)):
            grid.addWidget(b, 2, col)
        grid.addWidget(self.not_here, 3, 0, 1, 3)
        for col, b in enumerate((self.test_button, self.rename_button, self.remove_button)):
            grid.addWidget(b, 4, col)
        grid.addLayout(busy, 5, 0, 1, 3)
        grid.addWidget(self.touch_note, 6, 0, 1, 3)
        grid.addWidget(self.result, 7, 0, 1, 3)
        self._set_busy(False)

    def _label(self, name: str, role: str) -> QLabel:
        return Note(name, role)

    # ----- state -------------------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        return self.task is not None

    def selected(self) -> Keyslot | None:
        rows = self.table.selectionModel().selectedRows()
        return self.model.slot_at(rows[0].row()) if rows else None

    def update_buttons(self) -> None:
        ready = self.vault is not None and not self.busy
        for kind, b in self.add_buttons.items():
            usable = self.available.get(kind)
            b.setEnabled(ready and usable is not None and usable.ok)
            b.setToolTip("" if usable is None or usable.ok
                         else f"Not available here: {usable.reason}")
        chosen = ready and self.selected() is not None
        for b in (self.test_button, self.rename_button, self.remove_button):
            b.setEnabled(chosen)

    def _set_busy(self, busy: bool, text: str = "") -> None:
        self.busy_bar.setVisible(busy)
        self.cancel_button.setVisible(busy)
        self.busy_label.setText(text if busy else "")
        self.update_buttons()

    def _show_touch(self, text: str) -> None:
        self.touch_note.setText(text)
        self.touch_note.setVisible(bool(text))

    def show_slots(self, slots: Sequence[Keyslot]) -> None:
        self.model.set_slots(slots)
        warnings = inventory_warnings(slots)
        self.warnings.setText("\n".join(f"⚠ {w[:1].upper()}{w[1:]}." for w in warnings))
        self.warnings.setVisible(bool(warnings))
        self.update_buttons()

    def show_availability(self, found: dict[str, Availability]) -> None:
        self.available = found
        lines = [f"• {KIND_NAMES[k]}: {a.reason.rstrip('.')}." for k, a in found.items()
                 if not a.ok]  # one whole sentence each, not one run-on line
        self.not_here.setText("\n".join(["Not available here:", *lines]) if lines else "")
        self.not_here.setVisible(bool(lines))
        self.update_buttons()

    def vault_unlocked(self, vault: Vault) -> None:
        self.vault = vault
        self.result.setText("")
        sources = self.sources
        kinds = list(self.add_buttons)
        self.services.runner.submit(
            "unlock-methods.load",
            lambda _c, _p: (vault.header.slots, {k: availability_of(sources, k) for k in kinds}),
            on_success=lambda r, v=vault: self._loaded(v, *r),
        )

    def _loaded(self, vault: Vault, slots: Sequence[Keyslot],
                found: dict[str, Availability]) -> None:
        if vault is self.vault:
            self.show_slots(slots)
            self.show_availability(found)

    def vault_locked(self) -> None:
        self.cancel()
        self.prompts.end()
        self.vault = None
        self.model.set_slots([])
        self.result.setText("")
        self.warnings.setText("")
        for child in self.findChildren(QDialog):
            child.reject()
        self.update_buttons()

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()
            self.busy_label.setText("Cancelling…")

    # ----- the operations, callable with their inputs (the buttons ask for them first) ---------

    def _run(self, name: str, text: str, work: Work, done: Callable[[Any], str]) -> Task | None:
        vault = self.vault
        if vault is None or self.busy:
            return None
        services = self.services
        services.activity()

        def job(cancel: Any, progress: Callable[[str], None]) -> Any:
            return work(cancel, progress), vault.header.slots

        def succeeded(result: tuple[Any, Sequence[Keyslot]]) -> None:
            if vault is self.vault:
                self.show_slots(result[1])
                self._report(done(result[0]))

        def failed(error: BaseException) -> None:
            message = hardware_message(error)
            if vault is self.vault:
                self.result.setText(message)
                self.show_slots(vault.header.slots)
            services.error(message)

        def cancelled() -> None:
            if vault is self.vault:
                self._report(f"{text.rstrip('…')} was cancelled.")

        self.task = run_with_prompts(
            services.runner, self.prompts, name, job, on_success=succeeded, on_error=failed,
            on_cancel=cancelled, on_progress=self.busy_label.setText,
        )
        self.task.finished.connect(self._finished)
        self._set_busy(True, text)
        return self.task

    def _finished(self) -> None:
        self.task = None
        self._set_busy(False)

    def _report(self, text: str) -> None:
        self.result.setText(text)
        self.services.status(text)

    def _enrol(self, kind: str, label: str, options: dict[str, Any],
               passphrase: str | None = None) -> Task | None:
        vault, sources, prompts = self.vault, self.sources, self.prompts
        if vault is None:
            return None
        secret = normalize_passphrase(passphrase) if passphrase else None

        def work(cancel: Any, progress: Callable[[str], None]) -> Keyslot:
            return vault.add_hardware_slot(
                sources(kind), label=label, options=options, passphrase=secret, prompts=prompts,
                cancel=cancel, on_status=progress)

        waiting = {"fido2": "Touch the security key when it blinks…",
                   "tpm": "Sealing a key to the TPM…", "keyring": "Storing a key in the keyring…"}
        return self._run(f"keyslot.add.{kind}", waiting[kind], work,
                         lambda slot: f"Added {cell(slot, Column.Kind).lower()} “{slot.label}”.")

    def add_security_key(self, label: str, *, uv: str = "discouraged",
                         passphrase: str | None = None) -> Task | None:
        """Enrol a FIDO2 key; ``uv`` "required" asks its PIN each time; ``passphrase`` makes the
        slot two-factor."""
        return self._enrol(SlotKind.Fido2.value, label, {"uv": uv}, passphrase)

    def add_tpm(self, label: str, *, pcrs: Sequence[int] = (7,), pin: bool = False) -> Task | None:
        return self._enrol(SlotKind.Tpm.value, label, {"pcrs": list(pcrs), "pin": pin})

    def remember_device(self, label: str = DEFAULT_LABELS["keyring"]) -> Task | None:
        return self._enrol(SlotKind.Keyring.value, label, {})

    def test_slot(self, slot_id: str, passphrase: str | None = None) -> Task | None:
        """Check that a keyslot still opens the vault (a passphrase slot tests ``passphrase``)."""
        vault, sources, prompts = self.vault, self.sources, self.prompts
        slot = vault.header.slot(slot_id) if vault is not None else None
        if vault is None or slot is None:
            return None
        unlocker: Any
        if slot.kind == PASSPHRASE:
            unlocker = PassphraseUnlocker.from_text(passphrase or "")
        else:
            secret = normalize_passphrase(passphrase) if passphrase else None

            def unlocker_for() -> HardwareUnlocker:
                return HardwareUnlocker(sources(slot.kind), vault.vault_id, prompts=prompts,
                                        passphrase=secret)
        name = slot.label or slot.id

        def work(cancel: Any, progress: Callable[[str], None]) -> None:
            used = unlocker if slot.kind == PASSPHRASE else unlocker_for()
            vault.test_slot(slot_id, used, cancel=cancel, on_status=progress)

        return self._run("keyslot.test", f"Testing “{name}”…", work,
                         lambda _r: f"“{name}” opens the vault.")

    def rename_slot(self, slot_id: str, label: str) -> Task | None:
        vault = self.vault
        if vault is None:
            return None
        return self._run("keyslot.rename", "Renaming…",
                         lambda _c, _p: vault.rename_slot(slot_id, label),
                         lambda _r: f"Renamed the keyslot to “{label.strip()}”.")

    def remove_slot(self, slot_id: str) -> Task | None:
        vault, sources = self.vault, self.sources
        slot = vault.header.slot(slot_id) if vault is not None else None
        if vault is None or slot is None:
            return None

        def work(_c: Any, _p: Any) -> bool:
            # Only the keyring keeps something outside the vault (its entry) to forget.
            source = sources(slot.kind) if slot.kind == SlotKind.Keyring.value else None
            return vault.remove_slot(slot_id, source)

        name = slot.label or slot.id
        return self._run(
            "keyslot.remove", f"Removing “{name}”…", work,
            lambda rekeyed: f"Removed “{name}”." + (
                " The master key was rotated too: it opens nothing in an older copy of the header."
                if rekeyed else ""),
        )

    # ----- buttons -----------------------------------------------------------------------------

    def _on_add_key(self) -> None:
        answer = ask_security_key(self)
        if answer is not None and self.vault is not None:
            self.add_security_key(answer[0], uv=answer[1], passphrase=answer[2])

    def _on_add_tpm(self) -> None:
        answer = ask_tpm(self)
        if answer is not None and self.vault is not None:
            self.add_tpm(answer[0], pcrs=answer[1], pin=answer[2])

    def _on_add_keyring(self) -> None:
        answer = QMessageBox.question(self, "Remember on this device", KEYRING_WARNING)
        if answer == QMessageBox.StandardButton.Yes:
            self.remember_device()

    def _on_test(self) -> None:
        slot = self.selected()
        if slot is None:
            return
        passphrase = None
        if slot.kind == PASSPHRASE or needs_passphrase(slot):
            passphrase = ask_passphrase(self, "Test unlock method", "The passphrase to test:"
                                        if slot.kind == PASSPHRASE else
                                        "This method also needs the vault's passphrase:")
            if passphrase is None or self.vault is None:
                return
        self.test_slot(slot.id, passphrase)

    def _on_rename(self) -> None:
        slot = self.selected()
        if slot is None:
            return
        label, ok = QInputDialog.getText(self, "Rename unlock method", "New label:",
                                         text=slot.label)
        if ok and label.strip() and self.vault is not None:
            self.rename_slot(slot.id, label)

    def _on_remove(self) -> None:
        slot = self.selected()
        if slot is None:
            return
        answer = QMessageBox.question(
            self, "Remove unlock method",
            f"Remove “{slot.label or slot.id}”? It will no longer open the vault.")
        if answer == QMessageBox.StandardButton.Yes:
            self.remove_slot(slot.id)
