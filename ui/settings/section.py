"""Settings: the console's preferences, the vault's long operations (passphrase, keys, backups),
its unlock methods (ui/unlock/methods_view.py), audit forwarding (forwarding.py) and the
OpenBao / Vault remotes (remotes.py).

Each preference widget writes ConsoleSettings as soon as it changes (the main window listens to
``changed``). Each vault operation runs in the task runner with its button disabled and a busy
bar showing, and ends in one sentence: the result in the status bar, or the error.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QLabel,
    QMessageBox,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from strongroom.app.keyslots import PassphraseUnlocker
from strongroom.app.unlock_methods import load_source
from strongroom.app.vault import Vault
from strongroom.app.vault.backup import BackupReport, create_backup, verify_backup
from strongroom.app.vault.restore import restore_backup

from ..base import Section, Services
from ..unlock.hw_prompts import SourceFactory
from ..unlock.methods_view import UnlockMethodsPanel
from ..unlock.passphrase_dialog import ChangePassphraseDialog, PassphrasePrompt, ask_passphrase
from ..widgets.common import Note, button
from ..widgets.operations import BusyRow, Operations
from ..workers import Task
from .forwarding import AuditForwardingPanel
from .remotes import RemotesPanel

THEMES = (("system", "Same as the system"), ("light", "Light"), ("dark", "Dark"))
BACKUP_FILTER = "Strongroom backups (*.srbk);;All files (*)"
BACKUP_PROMPT = "The passphrase the vault had when this backup was made:"


def _counts(report: BackupReport) -> str:
    c = report.counts
    return f"{c.get('secrets', 0)} secrets, {c.get('audit_events', 0)} audit events"


class SettingsSection(Section):
    title = "Settings"
    accessible_description = "Console preferences, passphrase, key rotation and backups"

    def __init__(self, services: Services, parent: QWidget | None = None, *,
                 sources: SourceFactory = load_source) -> None:
        super().__init__(services, parent)
        self.setAccessibleDescription(self.accessible_description)
        self.dialog: ChangePassphraseDialog | None = None
        settings = services.settings

        self.auto_lock = self._spin("Auto-lock after idle minutes", 1, 240, " min")
        self.lock_on_session = QCheckBox("Lock when the session locks or the computer sleeps")
        self.lock_on_session.setAccessibleName("Lock when the session locks or the computer sleeps")
        self.clipboard_clear = self._spin("Clear copied secrets after seconds", 5, 600, " s")
        self.reveal = self._spin("Hide revealed values after seconds", 5, 600, " s")
        self.theme = QComboBox()
        self.theme.setAccessibleName("Theme")
        for key, text in THEMES:
            self.theme.addItem(text, key)
        self.tray = QCheckBox("Minimise to the tray when the window is closed")
        self.tray.setAccessibleName("Minimise to the tray when the window is closed")
        self.load_settings()

        self.auto_lock.valueChanged.connect(lambda v: settings.set("auto_lock_minutes", v))
        self.clipboard_clear.valueChanged.connect(
            lambda v: settings.set("clipboard_clear_seconds", v))
        self.reveal.valueChanged.connect(lambda v: settings.set("reveal_seconds", v))
        self.lock_on_session.toggled.connect(lambda on: settings.set("lock_on_session_lock", on))
        self.tray.toggled.connect(lambda on: settings.set("minimize_to_tray", on))
        self.theme.currentIndexChanged.connect(
            lambda _i: settings.set("theme", self.theme.currentData()))
        settings.changed.connect(lambda _key: self.load_settings())

        prefs = QGroupBox("Console")
        form = QFormLayout(prefs)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.FieldsStayAtSizeHint)
        form.addRow("Auto-lock after", self.auto_lock)
        form.addRow("", self.lock_on_session)
        form.addRow("Clear copied secrets after", self.clipboard_clear)
        form.addRow("Hide revealed values after", self.reveal)
        form.addRow("Theme", self.theme)
        form.addRow("", self.tray)

        self.change_button = button("Change passphrase…", self._on_change_clicked)
        self.rotate_button = button("Rotate keys…", self._on_rotate_clicked)
        self.backup_button = button("Backup now…", self._on_backup_clicked)
        self.verify_button = button("Verify backup…", self._on_verify_clicked)
        self.restore_button = button("Restore…", self._on_restore_clicked)
        restore_note = QLabel(
            "Restore writes a backup as a new vault in a folder you choose; it does not replace "
            "or change the vault that is open."
        )
        restore_note.setWordWrap(True)
        self.busy = BusyRow("Vault operation", hide_when_idle=True)
        self.result = Note("Result of the last vault operation")
        self.result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        vault_box = QGroupBox("Vault")
        grid = QGridLayout(vault_box)
        grid.addWidget(self.change_button, 0, 0)
        grid.addWidget(self.rotate_button, 0, 1)
        grid.addWidget(self.backup_button, 1, 0)
        grid.addWidget(self.verify_button, 1, 1)
        grid.addWidget(self.restore_button, 1, 2)
        grid.addWidget(restore_note, 2, 0, 1, 3)
        grid.addWidget(self.busy, 3, 0, 1, 3)
        grid.addWidget(self.result, 4, 0, 1, 3)

        self.unlock_methods = UnlockMethodsPanel(services, sources=sources)
        self.forwarding = AuditForwardingPanel(services)
        self.remotes = RemotesPanel(services)
        page = QWidget()
        lay = QVBoxLayout(page)
        lay.setContentsMargins(24, 24, 24, 24)
        lay.addWidget(prefs)
        lay.addWidget(vault_box)
        lay.addWidget(self.unlock_methods)
        lay.addWidget(self.forwarding)
        lay.addWidget(self.remotes)
        lay.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(page)
        QVBoxLayout(self).addWidget(scroll)
        self.ops = Operations(self, self.busy, [
            self.change_button, self.rotate_button, self.backup_button,
            self.verify_button, self.restore_button,
        ])
        self.ops.update()

    def _spin(self, name: str, low: int, high: int, suffix: str) -> QSpinBox:
        spin = QSpinBox()
        spin.setRange(low, high)
        spin.setSuffix(suffix)
        spin.setAccessibleName(name)
        return spin

    def load_settings(self) -> None:
        """Show the stored preferences (without writing them back)."""
        s = self.services.settings
        pairs: list[tuple[QWidget, Callable[[], None]]] = [
            (self.auto_lock, lambda: self.auto_lock.setValue(s.auto_lock_minutes)),
            (self.clipboard_clear,
             lambda: self.clipboard_clear.setValue(s.clipboard_clear_seconds)),
            (self.reveal, lambda: self.reveal.setValue(s.reveal_seconds)),
            (self.lock_on_session, lambda: self.lock_on_session.setChecked(s.lock_on_session_lock)),
            (self.tray, lambda: self.tray.setChecked(s.minimize_to_tray)),
            (self.theme, lambda: self.theme.setCurrentIndex(max(0, self.theme.findData(s.theme)))),
        ]
        for widget, apply in pairs:
            blocked = widget.blockSignals(True)
            apply()
            widget.blockSignals(blocked)

    # ----- session -----------------------------------------------------------------------------

    def vault_unlocked(self, vault: Vault) -> None:
        super().vault_unlocked(vault)
        self.unlock_methods.vault_unlocked(vault)
        self.forwarding.vault_unlocked(vault)
        self.remotes.vault_unlocked(vault)
        self.ops.update()

    def vault_locked(self) -> None:
        super().vault_locked()
        self.unlock_methods.vault_locked()
        self.forwarding.vault_locked()
        self.remotes.vault_locked()
        if self.dialog is not None:
            self.dialog.force_close()
            self.dialog = None
        for child in [*self.findChildren(QMessageBox), *self.findChildren(PassphrasePrompt)]:
            child.reject()
        self.result.setText("")
        self.ops.update()

    def _report(self, text: str) -> None:
        self.result.setText(text)
        self.services.status(text)

    # ----- the operations, callable with their inputs (the buttons ask for them first) ---------

    def _passphrase_changed(self, rekeyed: bool) -> None:
        self._report("The passphrase was changed.")
        self._report(
            "The master key was rotated too: an older copy of the header no longer opens the vault."
            if rekeyed else
            "The master key was not rotated (other unlock methods wrap it): an older copy of the "
            "header with the old passphrase still opens this vault."
        )

    def open_change_passphrase(self) -> ChangePassphraseDialog | None:
        if self.vault is None:
            return None
        dialog = ChangePassphraseDialog(self.services.runner, self.vault, self)
        dialog.succeeded.connect(self._passphrase_changed)
        dialog.finished.connect(lambda _r: self._dialog_closed(dialog))
        self.dialog = dialog
        dialog.open()
        return dialog

    def _dialog_closed(self, dialog: ChangePassphraseDialog) -> None:
        if self.dialog is dialog:
            self.dialog = None
        dialog.deleteLater()
        self.ops.update()

    def rotate_keys(self) -> Task | None:
        vault = self.vault
        if vault is None:
            return None
        return self.ops.run(
            self.rotate_button, "rotate", "Rotating keys…",
            lambda _c, _p: vault.rotate_all(),
            lambda _r: self._report(
                "Rotated the master key and every data key; a backup was saved in the vault's "
                "backups folder first."),
        )

    def backup_to(self, path: str | Path) -> Task | None:
        vault, dest = self.vault, Path(path)
        if vault is None:
            return None
        return self.ops.run(
            self.backup_button, "backup", "Writing the backup…",
            lambda _c, _p: create_backup(vault, dest),
            lambda r: self._report(f"Backup written to {r.path.name} ({_counts(r)})."),
        )

    def verify_backup_file(self, path: str | Path, passphrase: str) -> Task | None:
        vault, source = self.vault, Path(path)
        if vault is None:
            return None
        vault_id = vault.vault_id
        unlocker = PassphraseUnlocker.from_text(passphrase)
        return self.ops.run(
            self.verify_button, "backup.verify", "Checking the backup…",
            lambda _c, _p: verify_backup(source, unlocker, expect_vault_id=vault_id),
            lambda r: self._report(
                f"The backup {r.path.name} checks out: {_counts(r)}, made {r.created}."),
        )

    def restore_to(self, path: str | Path, dest: str | Path, passphrase: str) -> Task | None:
        if self.vault is None:
            return None
        source, target = Path(path), Path(dest)
        unlocker = PassphraseUnlocker.from_text(passphrase)
        return self.ops.run(
            self.restore_button, "backup.restore", "Restoring the backup…",
            lambda _c, _p: restore_backup(source, unlocker, target),
            lambda r: self._report(
                f"Restored {r.path.name} as a new vault in {target} ({_counts(r)}); the open "
                "vault is unchanged."),
        )

    # ----- buttons -----------------------------------------------------------------------------

    def _on_change_clicked(self) -> None:
        self.open_change_passphrase()

    def _on_rotate_clicked(self) -> None:
        answer = QMessageBox.question(
            self, "Rotate keys",
            "Give the vault a new master key and new data keys for every level? The secrets stay "
            "the same, and a backup is saved in the vault's backups folder first.",
        )
        if answer == QMessageBox.StandardButton.Yes:
            self.rotate_keys()

    def _on_backup_clicked(self) -> None:
        name = f"strongroom-{dt.datetime.now():%Y%m%d-%H%M}.srbk"
        path, _ = QFileDialog.getSaveFileName(
            self, "Back up the vault", str(Path.home() / name), BACKUP_FILTER,
            options=QFileDialog.Option.DontConfirmOverwrite,  # create_backup refuses, in words
        )
        if path:
            self.backup_to(path)

    def _on_verify_clicked(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Verify a backup", "", BACKUP_FILTER)
        if not path:
            return
        passphrase = self._ask("Verify backup", BACKUP_PROMPT)
        if passphrase is not None:
            self.verify_backup_file(path, passphrase)

    def _on_restore_clicked(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Restore a backup", "", BACKUP_FILTER)
        if not path:
            return
        dest = QFileDialog.getExistingDirectory(
            self, "An empty folder for the restored vault (it becomes a new vault)")
        if not dest:
            return
        passphrase = self._ask("Restore backup", BACKUP_PROMPT)
        if passphrase is not None:
            self.restore_to(path, dest, passphrase)

    def _ask(self, title: str, prompt: str) -> str | None:
        if self.vault is None:  # the vault locked while a file dialog was open
            return None
        text = ask_passphrase(self, title, prompt)
        return text if self.vault is not None else None
