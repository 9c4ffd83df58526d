"""The file formats the console imports and exports, and which app/transfer function does each."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QPushButton, QWidget

from strongroom.app.access.approvals import Approval
from strongroom.app.transfer import archive, bitwarden, csv_import, kdbx, kdbx_export
from strongroom.app.transfer.exporting import ExportPlan, ExportResult
from strongroom.app.transfer.model import ParsedFile
from strongroom.app.vault import Vault

EXPORT_FORMATS = {
    "kdbx": "KeePass KDBX 4 (opens in KeePassXC and KeePass)",
    "archive": "Strongroom archive (encrypted; imports back with every field)",
}
EXPORT_FILTERS = {
    "kdbx": "KeePass database (*.kdbx)",
    "archive": "Strongroom archive (*.srarchive)",
}
EXPORT_NOTE = ("Each secret exported is an audited read. Critical secrets need a second "
               "operator's approval where the policy says so.")
IMPORT_FORMATS = {
    "kdbx": "KeePass KDBX 3.1 or 4",
    "bitwarden": "Bitwarden JSON export (unencrypted)",
    "csv": "CSV (KeePassXC, Bitwarden or your own columns)",
    "archive": "Strongroom archive",
}
CSV_PRESETS = {None: "Detected from the header row", "keepassxc": "KeePassXC CSV export",
               "bitwarden": "Bitwarden CSV export"}
KIND_WORDS = {"entry": "entries", "totp": "TOTP seeds", "value": "values"}
_SUFFIXES = {".kdbx": "kdbx", ".json": "bitwarden", ".csv": "csv", ".srarchive": "archive"}


def buddy(text: str, field: QWidget) -> QLabel:
    """A form label whose mnemonic focuses ``field`` (a row holding a layout gets none)."""
    label = QLabel(text)
    label.setBuddy(field)
    return label


def file_row(what: str, hint: str, choose: Callable[[], None]) -> tuple[QLineEdit, QHBoxLayout]:
    """A path field with a "Choose…" button beside it; ``what`` names the file ("to import")."""
    path = QLineEdit()
    path.setAccessibleName(f"File {what}")
    path.setPlaceholderText(hint)
    button = QPushButton("C&hoose…")
    button.setAccessibleName(f"Choose the file {what}")
    button.clicked.connect(choose)
    row = QHBoxLayout()
    row.addWidget(path, 1)
    row.addWidget(button)
    return path, row


def default_name(key: str) -> str:
    return "strongroom-export" + {"kdbx": ".kdbx", "archive": ".srarchive"}[key]


def guess_format(path: Path) -> str | None:
    """The import format a file's name suggests, or None."""
    return _SUFFIXES.get(path.suffix.lower())


@dataclass(frozen=True)
class ReadOptions:
    """What reading a file needs besides its path; ``mapping`` is column -> field (CSV), None
    for the preset's."""

    password: str = field(default="", repr=False)
    key_file: str | None = None
    preset: str | None = None
    mapping: dict[str, str] | None = None


def read(key: str, path: Path, options: ReadOptions) -> ParsedFile:
    """Read and check one file (worker thread); one sentence if it cannot be imported."""
    if key == "kdbx":
        return kdbx.read_kdbx(path, options.password or None,
                              Path(options.key_file).expanduser() if options.key_file else None)
    if key == "bitwarden":
        return bitwarden.read_bitwarden(path)
    if key == "csv":
        return csv_import.read_csv(path, options.mapping, options.preset)
    return archive.read_archive_file(path, options.password)


def export(vault: Vault, key: str, plan: ExportPlan, path: Path, password: str, *,
           approval: Approval | None, force: bool) -> ExportResult:
    """Run one export in the worker."""
    if key == "kdbx":
        return kdbx_export.export_kdbx(vault, plan, path, password, approval=approval,
                                       force=force)
    return archive.export_archive(vault, plan, path, password, approval=approval, force=force)
