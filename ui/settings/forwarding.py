"""Settings → Audit forwarding: where the audit log goes (a syslog receiver over TLS, or plain TCP
to a relay on this machine), the last event each destination acknowledged, and Forward now.

The forwarding runs in the task runner with Cancel (the run stops after the batch under way);
the destination is saved with its first acknowledged batch, as `strongroom audit forward --to`
saves it, under the same name (HOST:PORT), so the console and the CLI share its cursor.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLineEdit,
    QWidget,
)

from strongroom.app.forwarding import forwarder, store
from strongroom.app.forwarding.forwarder import ForwardReport
from strongroom.app.forwarding.store import Cursor
from strongroom.app.vault import Vault

from ..base import Services
from ..widgets.common import Note, button
from ..widgets.operations import BusyRow
from ..workers import Task, user_message

CA_FILTER = "PEM certificates (*.pem *.crt *.cer);;All files (*)"


def cursor_text(cursors: list[Cursor]) -> str:
    """One line per destination: where, how, and the last event it acknowledged."""
    if not cursors:
        return "Not forwarded yet."
    lines = []
    for c in cursors:
        dest = c.settings.destination
        where = c.name if c.name == dest.address else f"{c.name} ({dest.address})"
        when = c.updated[:16].replace("T", " ")
        lines.append(f"{where} over {dest.transport.upper()}: acknowledged up to event "
                     f"{c.last_seq}, {when} UTC." if c.last_seq else
                     f"{where} over {dest.transport.upper()}: nothing acknowledged yet.")
    return "\n".join(lines)


class AuditForwardingPanel(QGroupBox):
    """Settings → Audit forwarding."""

    def __init__(self, services: Services, parent: QWidget | None = None) -> None:
        super().__init__("Audit forwarding", parent)
        self.setAccessibleName("Audit forwarding")
        self.services = services
        self.vault: Vault | None = None
        self.task: Task | None = None

        self.destination = QLineEdit()
        self.destination.setPlaceholderText("siem.example.org:6514")
        self.destination.setAccessibleName("Forward destination, HOST:PORT")
        self.tcp = QCheckBox("Plain TCP, to a relay on this machine (otherwise TLS)")
        self.tcp.setAccessibleName("Plain TCP to a local relay")
        self.ca = QLineEdit()
        self.ca.setPlaceholderText("the system's CA certificates")
        self.ca.setAccessibleName("CA certificates file")
        self.choose_ca = button("Choose…", self._on_choose_ca)
        self.tcp.toggled.connect(self._tcp_toggled)
        ca_row = QHBoxLayout()
        ca_row.addWidget(self.ca, 1)
        ca_row.addWidget(self.choose_ca)
        self.forward_button = button("Forward now", self.forward_now)
        self.cancel_button = button("Cancel", self.cancel)
        self.busy = BusyRow("Audit forwarding", hide_when_idle=True)
        self.status = Note("Last forwarded events")
        self.result = Note("Result of the last forwarding")
        actions = QHBoxLayout()
        actions.addWidget(self.forward_button)
        actions.addWidget(self.cancel_button)
        actions.addStretch(1)

        form = QFormLayout(self)
        form.addRow("Destination", self.destination)
        form.addRow("", self.tcp)
        form.addRow("CA file", ca_row)
        form.addRow("Last forwarded", self.status)
        form.addRow("", actions)
        form.addRow("", self.busy)
        form.addRow("", self.result)
        self._update()

    # ----- session -----------------------------------------------------------------------------

    def vault_unlocked(self, vault: Vault) -> None:
        self.vault = vault
        self._update()
        self.refresh()

    def vault_locked(self) -> None:
        self.cancel()
        self.vault = None
        self.status.setText("")
        self.result.setText("")
        self._update()

    def _update(self) -> None:
        running = self.task is not None
        self.forward_button.setEnabled(self.vault is not None and not running)
        self.cancel_button.setEnabled(running)
        self.cancel_button.setVisible(running)
        self.ca.setEnabled(not self.tcp.isChecked())
        self.choose_ca.setEnabled(not self.tcp.isChecked())

    def _tcp_toggled(self, _on: bool) -> None:
        self._update()

    # ----- work --------------------------------------------------------------------------------

    def refresh(self) -> Task | None:
        """Read the saved destinations and their cursors (in the runner), then show them."""
        vault = self.vault
        if vault is None:
            return None
        return self.services.runner.submit(
            "audit.forward.status", lambda _c, _p: store.cursors(vault),
            on_success=self._show_cursors, quiet=True,
            on_error=lambda exc: self.status.setText(user_message(exc)))

    def _show_cursors(self, cursors: list[Cursor]) -> None:
        if self.vault is None:
            return  # locked meanwhile
        self.status.setText(cursor_text(cursors))
        if cursors and not self.destination.text():
            latest = max(cursors, key=lambda c: c.updated)
            dest = latest.settings.destination
            self.destination.setText(dest.address)
            self.tcp.setChecked(not dest.tls)
            self.ca.setText("" if dest.ca_file is None else str(dest.ca_file))

    def forward_now(self) -> Task | None:
        """Check the fields, then forward what the destination has not acknowledged."""
        vault = self.vault
        if vault is None or self.task is not None:
            return None
        try:
            settings = store.settings_for(
                self.destination.text().strip(), tcp=self.tcp.isChecked(),
                ca=Path(self.ca.text().strip()) if self.ca.text().strip() else None)
        except Exception as exc:  # noqa: BLE001 - a usage error, shown in one sentence
            self.services.error(user_message(exc))
            return None
        name = settings.destination.address
        self.busy.start(f"Forwarding the audit log to {name}…")
        self.result.setText("")
        self.services.activity()
        task = self.services.runner.submit(
            "audit.forward",
            lambda cancel, progress: forwarder.forward(vault, name, settings, cancel=cancel,
                                                       on_status=progress),
            on_success=self._forwarded, on_progress=self.busy.progress,
            on_error=lambda exc: self._report(user_message(exc), error=True),
            on_cancel=lambda: self._report("Forwarding was cancelled; what was acknowledged "
                                           "stays acknowledged."))
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
        self.refresh()

    def _forwarded(self, report: ForwardReport) -> None:
        if not report.events:
            self._report(f"Nothing to forward: {report.to} has every event up to "
                         f"{report.cursor_seq}.")
        else:
            self._report(f"Forwarded {report.events} events ({report.first_seq}–"
                         f"{report.last_seq}) to {report.to} over {report.transport.upper()}.")

    def _report(self, text: str, *, error: bool = False) -> None:
        self.result.setText(text)
        if error:
            self.services.error(text)
        else:
            self.services.status(text)

    def _on_choose_ca(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "CA certificates of the receiver", "",
                                              CA_FILTER)
        if path:
            self.ca.setText(path)
