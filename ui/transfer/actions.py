"""File > Import and File > Export: the dialogs over the Vault section, their work on its runner.

Both run through the section's approval flow (``Guarded``), so an import into a dual-control level
or an export of Critical secrets asks for a second operator where the vault says so, and the
section's table reloads when secrets arrive.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Protocol

from PySide6.QtWidgets import QDialog, QWidget

from strongroom.app.access.approvals import Approval
from strongroom.app.transfer import exporting
from strongroom.app.transfer.exporting import ExportResult, Filters
from strongroom.app.vault import Vault

from ..base import Services
from ..widgets.approval_flow import Guarded
from ..workers import Progress, user_message
from . import formats
from .export_dialog import ExportDialog
from .import_dialog import ImportDialog


class TransferHost(Protocol):
    """What the dialogs need of the section they open over (the Vault section)."""

    services: Services
    guard: Guarded

    @property
    def vault(self) -> Vault | None: ...

    def open_dialog(self, dialog: QDialog) -> None: ...

    def reload(self) -> None: ...


class Transfers:
    """Opens the import and export dialogs for one Vault section."""

    def __init__(self, section: TransferHost) -> None:
        self.section = section

    def _parent(self) -> QWidget | None:
        return self.section if isinstance(self.section, QWidget) else None

    def open_export(self) -> ExportDialog | None:
        section = self.section
        if section.vault is None:
            return None
        section.services.activity()
        dialog = ExportDialog(self._parent())
        dialog.requested.connect(
            lambda key, path, password, filters, force: self._export(
                dialog, key, path, password, filters, force))
        section.open_dialog(dialog)
        return dialog

    def _export(self, dialog: ExportDialog, key: str, path: Path, password: str,
                filters: Filters, force: bool) -> None:
        section, vault = self.section, self.section.vault
        if vault is None:
            return

        def work(approval: Approval | None, _cancel: threading.Event,
                 _progress: Progress) -> ExportResult:
            plan = exporting.plan(vault, key, filters)
            return formats.export(vault, key, plan, path, password, approval=approval,
                                  force=force)

        def done(result: ExportResult) -> None:
            section.services.status(
                f"Exported {result.count} secret(s) to {result.path.name}"
                + (f"; {len(result.warnings)} note(s): {result.warnings[0]}"
                   if result.warnings else ""))
            dialog.exported(result)

        section.guard.run_work(f"export {path.name}", "Exporting…", work, done,
                               lambda e: dialog.failed(user_message(e)),
                               nothing="nothing was exported", parent=dialog)

    def open_import(self, path: Path | None = None) -> ImportDialog | None:
        section = self.section
        if section.vault is None:
            return None
        section.services.activity()
        dialog = ImportDialog(section.services, section.vault, section.guard, self._parent())
        dialog.imported.connect(lambda _result: section.reload())
        if path is not None:
            dialog.set_path(path)
        section.open_dialog(dialog)
        return dialog
