"""The question the lock screen asks before it opens a vault refused as rolled back."""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox, QWidget

QUESTION = (
    "This vault folder is older than the state Strongroom last saw, or its files do not match "
    "each other. Open it anyway only if you put the older copy back on purpose: it becomes the "
    "vault's state from now on, and the acceptance is recorded in the audit log."
)


def confirm_accept_rollback(parent: QWidget) -> bool:
    """Yes only when the user says the older copy was put back on purpose."""
    answer = QMessageBox.question(parent, "Accept the rollback?", QUESTION)
    return answer == QMessageBox.StandardButton.Yes
