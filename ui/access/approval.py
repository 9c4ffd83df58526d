"""Access changes run in the task runner, under the two-person rule.

When the vault refuses a change because a second operator must approve it (``AccessDenied`` with
``missing: approval``), a small dialog asks who approves and for *their* passphrase; the approval
(Argon2id on the approver's keyslot) and the change, retried once with it, run in the runner. A
passphrase that is not the approver's keeps the dialog open to try again; nothing was changed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QProgressBar,
    QVBoxLayout,
    QWidget,
)

from strongroom.app.access import approvals
from strongroom.app.errors import (
    AccessDenied,
    AuthenticationFailed,
    StrongroomError,
    WrongPassphrase,
)
from strongroom.app.keyslots import PassphraseUnlocker

from ..unlock.passphrase_dialog import password_field
from ..workers import Progress, Task, user_message
from .host import Change, SectionHost


def approval_needed(error: BaseException) -> bool:
    """Whether ``error`` is the two-person rule asking for a second operator (not a refusal of
    an approval that was given)."""
    return (isinstance(error, AccessDenied) and error.details.get("missing") == "approval"
            and error.details.get("why") == "missing")


class ApproverRefused(StrongroomError):
    """The approver's factor did not open their keyslot: ask again (carries the message)."""


class NotApproved(StrongroomError):
    """The approver dialog was cancelled: the change was not made."""

    def __init__(self) -> None:
        super().__init__("no approval was given, so nothing was changed")


class ApproverDialog(QDialog):
    """Approval needed: the reason. Approver: [combo]. Passphrase: [field]."""

    approve = Signal(str, object)  # approver name, their PassphraseUnlocker

    def __init__(self, reason: str, approvers: Sequence[str], parent: QWidget | None = None
                 ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Approval needed")
        self.setAccessibleName("Approval needed")
        self.reason = QLabel(f"Approval needed: {reason.rstrip('.')}.")
        self.reason.setWordWrap(True)
        self.reason.setAccessibleName("Why an approval is needed")
        self.approver = QComboBox()
        self.approver.addItems(list(approvers))
        self.approver.setAccessibleName("Approver")
        self.passphrase = password_field("Approver's passphrase")
        self.passphrase.setPlaceholderText("The approver types their own passphrase")
        self.passphrase.returnPressed.connect(self._ok)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setAccessibleName("Approval status")
        self.progress = QProgressBar()
        self.progress.setRange(0, 0)
        self.progress.setTextVisible(False)
        self.progress.setMaximumHeight(6)
        self.progress.hide()
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                        | QDialogButtonBox.StandardButton.Cancel)
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText("Approve")
        self.ok_button.setAccessibleName("Approve")
        self.buttons.accepted.connect(self._ok)
        self.buttons.rejected.connect(self.reject)
        form = QFormLayout()
        form.addRow("Approver", self.approver)
        form.addRow("Passphrase", self.passphrase)
        lay = QVBoxLayout(self)
        lay.addWidget(self.reason)
        lay.addLayout(form)
        lay.addWidget(self.progress)
        lay.addWidget(self.message)
        lay.addWidget(self.buttons)
        self.setMinimumWidth(460)
        self._busy = False
        if not approvers:
            self.set_message("No other active operator can approve this.", "error")
            self.ok_button.setEnabled(False)
        self.finished.connect(lambda _r: self.passphrase.setText(""))

    def _ok(self) -> None:
        text = self.passphrase.text()
        if not self.ok_button.isEnabled():
            return
        if not text:
            self.set_message("The approver types their passphrase.", "warning")
            return
        self.passphrase.setText("")
        unlocker = PassphraseUnlocker.from_text(text)
        del text
        self.set_busy(True)
        self.set_message(f"Checking {self.approver.currentText()}'s passphrase…")
        self.approve.emit(self.approver.currentText(), unlocker)

    def reject(self) -> None:
        if self._busy:  # the approval and the change are running: they finish first
            return
        super().reject()

    def set_busy(self, busy: bool) -> None:
        self._busy = busy
        self.progress.setVisible(busy)
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).setEnabled(not busy)
        self.ok_button.setEnabled(not busy)
        self.approver.setEnabled(not busy)
        self.passphrase.setEnabled(not busy)

    def set_message(self, text: str, role: str = "") -> None:
        self.message.setText(text)
        self.message.setProperty("role", role)
        self.message.style().unpolish(self.message)
        self.message.style().polish(self.message)

    def refused(self, text: str) -> None:
        self.set_busy(False)
        self.set_message(text + " Try again, or cancel.", "error")
        self.passphrase.setFocus()


class Guarded:
    """Runs the section's access changes; asks for an approver when the rule needs one."""

    def __init__(self, section: SectionHost) -> None:
        self.section = section
        self.dialog: ApproverDialog | None = None

    def run(self, name: str, text: str, change: Change,
            on_success: Callable[[Any], None],
            on_error: Callable[[BaseException], None] | None = None) -> Task | None:
        """``change(None)`` in the runner; on a missing approval, ask and retry once."""
        section = self.section
        vault = section.vault
        if vault is None:
            return None
        fail = on_error or (lambda exc: section.services.error(user_message(exc)))

        def failed(exc: BaseException) -> None:
            if approval_needed(exc) and section.vault is vault:
                assert isinstance(exc, AccessDenied)  # noqa: S101 - approval_needed says so
                self.ask(exc, name, text, change, on_success, fail)
            else:
                fail(exc)

        return section.submit(name, text, lambda _c, _p: change(None), on_success, failed)

    def ask(self, denied: AccessDenied, name: str, text: str, change: Change,
            on_success: Callable[[Any], None], fail: Callable[[BaseException], None]) -> None:
        section = self.section
        vault = section.vault
        if vault is None:
            return
        operation = str(denied.details.get("operation", ""))
        target = denied.target
        dialog = ApproverDialog(user_message(denied), section.approvers_for(operation), section)
        self.close()
        self.dialog = dialog
        settled = False

        def cancelled() -> None:
            if not settled:
                fail(NotApproved())

        def approve(approver: str, unlocker: PassphraseUnlocker) -> None:
            def work(cancel: threading.Event, progress: Progress) -> Any:
                try:
                    approval = approvals.approve(vault, operation, target, approver, unlocker,
                                                 cancel=cancel, on_status=progress)
                except (WrongPassphrase, AuthenticationFailed) as e:
                    raise ApproverRefused(user_message(e)) from e
                progress(f"Approved by {approver}; {text[:1].lower()}{text[1:].rstrip('…')}")
                return change(approval)

            def done(result: Any) -> None:
                nonlocal settled
                settled = True
                self._finish(dialog, accepted=True)
                on_success(result)

            def failed(exc: BaseException) -> None:
                nonlocal settled
                if isinstance(exc, ApproverRefused) and dialog.isVisible():
                    dialog.refused(str(exc))
                    return
                settled = True
                self._finish(dialog, accepted=False)
                fail(exc)

            section.submit(name, text, work, done, failed)

        dialog.approve.connect(approve)
        dialog.rejected.connect(cancelled)
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        dialog.open()
        dialog.passphrase.setFocus()

    def _finish(self, dialog: ApproverDialog, *, accepted: bool) -> None:
        if self.dialog is dialog:
            self.dialog = None
        dialog.set_busy(False)
        if accepted:
            dialog.accept()
        else:
            dialog.reject()
        dialog.deleteLater()

    def close(self) -> None:
        """Close an open approval dialog (the vault locked, or another approval is asked)."""
        dialog, self.dialog = self.dialog, None
        if dialog is not None:
            dialog.rejected.disconnect()  # not a cancel by the user: nothing more to say
            dialog.set_busy(False)
            dialog.reject()
            dialog.deleteLater()
