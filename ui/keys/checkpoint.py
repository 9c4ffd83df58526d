"""Sign an audit checkpoint with the selected key: a controller the Keys & Signing section holds.

A checkpoint (``app.checkpoints``) has a device key sign the audit chain's head, so a history
rewritten by someone holding the vault's keys no longer matches it. Like every token call it runs
on the section's hardware runner: through the console's session on the token, or a session
opened for the call. When the token needs a login the console does not hold, the PIN is asked,
used for that one call and not kept; a wrong PIN is shown in the dialog and signs nothing.

Checkpoints can also be signed every N hours while the vault is open, but only with a key usable
without a prompt: on a PKCS#11 token the console holds a session on (or one that needs no login),
or a TPM key without a PIN of its own (or with one given at the TPM's log-in).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QSpinBox, QWidget

from strongroom.app.keys.checkpoints import Checkpoint
from strongroom.app.keys.ports import KeyStore, TokenInfo

from ..workers import Task
from . import ops
from .dialogs import TokenPinDialog, pin_error_text
from .host import SectionHost
from .inventory import TokenKey, token_key
from .model import KeyNode


class ScheduleRow(QWidget):
    """"Checkpoint every N hours while open", for the key selected when it is switched on."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.on = QCheckBox("Sign an audit checkpoint every")
        self.on.setAccessibleName("Sign audit checkpoints on a schedule")
        self.hours = QSpinBox()
        self.hours.setRange(1, 168)
        self.hours.setValue(24)
        self.hours.setSuffix(" h")
        self.hours.setAccessibleName("Hours between scheduled checkpoints")
        self.note = QLabel("while the vault is open, with the selected key")
        self.note.setAccessibleName("Scheduled checkpoints")
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        for widget in (self.on, self.hours, self.note):
            row.addWidget(widget)
        row.addStretch(1)


class CheckpointHost(SectionHost, Protocol):
    """What checkpoints need from the section besides the basics."""

    stores: dict[TokenKey, KeyStore]  # the console's logged-in sessions
    task: Task | None  # the hardware operation running, if any
    pin_dialog: TokenPinDialog | None  # the one PIN dialog open (login or checkpoint)

    def selected_key(self) -> KeyNode | None: ...

    def with_store(self, token: TokenInfo, fn: Callable[[KeyStore], Any]) -> Callable[[], Any]:
        """``fn`` on the console's session on ``token``, or on a session opened for the call."""
        ...


class CheckpointActions:
    """Sign audit checkpoints now or on a schedule; ``parent`` holds the PIN dialog and timer.

    The section shows :attr:`schedule_row` and stops the schedule when the vault locks.
    """

    def __init__(self, host: CheckpointHost, parent: QWidget) -> None:
        self.host = host
        self.parent = parent
        self.last_checkpoint: Checkpoint | None = None
        self.scheduled: KeyNode | None = None  # the key that signs on the schedule
        self.ms_per_hour = 3_600_000  # the tests shorten the hour
        self.schedule_row = ScheduleRow()
        self.schedule_timer = QTimer(parent)
        self.schedule_timer.timeout.connect(self._scheduled_tick)
        self.schedule_row.on.toggled.connect(
            lambda on: self.start_schedule(self.schedule_row.hours.value()) if on
            else self.stop_schedule())
        self.schedule_row.hours.valueChanged.connect(
            lambda h: self.schedule_timer.setInterval(h * self.ms_per_hour))

    def unattended_refusal(self, node: KeyNode) -> str | None:
        """Why ``node``'s key cannot sign without a prompt, or None when it can."""
        token = node.token.info
        if not ops.can_checkpoint(node.key):
            return f"{node.key.label} cannot sign"
        kind = self.host.backends.kind(token.store)
        if kind.key_pins:
            if not node.key.needs_pin or token_key(token) in self.host.stores:
                return None
            return (f"the {kind.title} key {node.key.label} has a PIN: log in to the "
                    f"{kind.title} with it first")
        if token_key(token) in self.host.stores or "login-required" not in token.flags:
            return None
        return f"log in to {token.label} first (the console never keeps a PIN)"

    def start_schedule(self, hours: int) -> bool:
        """Sign a checkpoint with the selected key every ``hours`` while the vault is open."""
        services, node = self.host.services, self.host.selected_key()
        refusal = "select a key" if node is None else self.unattended_refusal(node)
        if refusal is not None or node is None or self.host.vault is None:
            self.schedule_row.on.setChecked(False)
            services.error(f"Scheduled checkpoints need a key usable without a PIN "
                                f"prompt: {refusal or 'the vault is locked'}.")
            return False
        self.scheduled = node
        self.schedule_timer.start(hours * self.ms_per_hour)
        self.schedule_row.note.setText(f"while the vault is open, with {node.key.label}")
        services.status(f"An audit checkpoint will be signed with {node.key.label} every "
                             f"{hours} h while the vault is open.")
        return True

    def stop_schedule(self, why: str = "") -> None:
        was, self.scheduled = self.scheduled, None
        self.schedule_timer.stop()
        self.schedule_row.on.setChecked(False)
        self.schedule_row.note.setText("while the vault is open, with the selected key")
        if why and was is not None:
            self.host.services.error(why)

    def _scheduled_tick(self) -> None:
        node = self.scheduled
        if node is None or self.host.vault is None:
            self.stop_schedule()
            return
        refusal = self.unattended_refusal(node)
        if refusal is not None:
            self.stop_schedule(f"Scheduled checkpoints stopped: {refusal}.")
            return
        if self.host.task is not None:  # busy: the next tick signs
            return
        task = self.sign_checkpoint(node)
        if task is not None:
            task.failed.connect(lambda _e: self.stop_schedule(
                "Scheduled checkpoints stopped after a failure; switch them on again once "
                "the key works."))

    def ask_checkpoint(self, node: KeyNode | None = None) -> TokenPinDialog | Task | None:
        """Sign a checkpoint with ``node`` (default: the selected key), asking the PIN first
        when the token needs a login the console does not hold."""
        host = self.host
        node = node or host.selected_key()
        if node is None or host.vault is None or not ops.can_checkpoint(node.key):
            return None
        token = node.token.info
        if token_key(token) in host.stores or "login-required" not in token.flags:
            return self.sign_checkpoint(node)
        if host.pin_dialog is not None:
            return None
        dialog = TokenPinDialog(token, self.parent, title="Sign an audit checkpoint",
                                ok_text="Sign checkpoint")
        dialog.submitted.connect(lambda pin: self.sign_checkpoint(node, pin))
        dialog.finished.connect(lambda _r: setattr(host, "pin_dialog", None))
        host.pin_dialog = dialog
        dialog.open()
        return dialog

    def sign_checkpoint(self, node: KeyNode, pin: str | None = None) -> Task | None:
        """Sign the audit chain's head with ``node``'s key and record it; with ``pin``, through
        a session opened for this call only."""
        host, key, token = self.host, node.key, node.token.info
        vault, backends = host.vault, host.backends
        if vault is None:
            return None
        if pin is None:
            call = host.with_store(token, lambda s: ops.sign_checkpoint(vault, s, token, key))
        else:
            def call() -> Checkpoint:
                return ops.checkpoint_with_pin(backends, vault, token, key, pin)
        dialog = host.pin_dialog if pin is not None else None

        def done(cp: Checkpoint) -> None:
            self.last_checkpoint = cp
            if dialog is not None and dialog is host.pin_dialog:
                dialog.accept()
            host.services.status(f"Checkpoint of audit event {cp.seq} signed by "
                                 f"{cp.key_label}.")

        def failed(exc: BaseException) -> None:
            if dialog is not None and dialog is host.pin_dialog:
                dialog.show_error(pin_error_text(exc))
            else:
                host.failed(exc)

        return host.run("audit.checkpoint", f"Signing an audit checkpoint with {key.label}…",
                        lambda _c, _p: call(), done, failed,
                        cancelled="Checkpoint cancelled; nothing was signed.")
