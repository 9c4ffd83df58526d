"""Critical operations, retried once with a second operator's approval (the two-person rule).

:meth:`Guarded.run` runs an operation in the host's task runner. When the vault refuses it for
want of a second operator (a missing approval, or a dual-control level's second holder), the
approvers are read in the runner, the approver dialog asks who approves and how, and the approval
(Argon2id on the approver's passphrase keyslot, or a touch of their security key) and the
operation, retried once with it, run in the runner: the UI never waits. A factor that is not the
approver's keeps the dialog open; cancelling it says that nothing was done.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Protocol

import shiboken6
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget

from strongroom.app.access import approvals
from strongroom.app.access.approvals import Approval
from strongroom.app.errors import (
    AccessDenied,
    AuthenticationFailed,
    StrongroomError,
    UserCancelled,
)
from strongroom.app.keyslots import KeyslotUnlocker
from strongroom.app.unlock_methods import HardwareUnlocker, SlotKind, load_source
from strongroom.app.vault import Vault

from ..base import Services
from ..unlock.hw_prompts import QtPrompts, SourceFactory, availability_of, hardware_message
from ..workers import Progress, Task, Work, user_message
from .approval import ApproverDialog
from .approvers import SECOND_HOLDER, Approver, Request, approval_needed, approvers, request_for

Change = Callable[[Approval | None], Any]  # an operation, retried once with an approval
# The same, given the task's cancel Event and progress callback too.
ApprovedWork = Callable[[Approval | None, threading.Event, Progress], Any]
FIDO2 = SlotKind.Fido2.value


class ApprovalHost(Protocol):
    """What the flow needs of a section: the vault, its task runner, where to say errors."""

    @property
    def services(self) -> Services: ...

    @property
    def vault(self) -> Vault | None: ...

    def submit(self, name: str, text: str, work: Work, on_success: Callable[[Any], None],
               on_error: Callable[[BaseException], None] | None = None) -> Task:
        """Run ``work`` in the runner; results that arrive after a lock are dropped."""
        ...

    def window(self) -> QWidget: ...


class ApproverRefused(StrongroomError):
    """The approver's factor did not approve: ask again (``approvers``: who may, when narrowed)."""

    def __init__(self, message: str, approvers: list[Approver] | None = None) -> None:
        super().__init__(message)
        self.approvers = approvers


class NotApproved(StrongroomError):
    """The approver dialog was cancelled: the operation was not done."""

    def __init__(self, nothing: str = "nothing was changed") -> None:
        super().__init__(f"no approval was given, so {nothing}")


@dataclass(frozen=True)
class _Op:
    """One guarded operation and what to do with its outcome."""

    name: str
    text: str
    work: ApprovedWork
    on_success: Callable[[Any], None]
    fail: Callable[[BaseException], None]
    nothing: str
    parent: QWidget


class _Asking:
    """The state of one open approver dialog."""

    def __init__(self, dialog: ApproverDialog) -> None:
        self.dialog = dialog
        self.settled = False  # the operation's outcome was reported
        self.closing = False  # Cancel was pressed while a security key was awaited
        self.approved = False  # the approval was given (set in the worker); the operation runs
        self.task: Task | None = None


class Guarded:
    """Runs a host's critical operations; asks for an approver when the vault needs one."""

    def __init__(self, host: ApprovalHost, *, sources: SourceFactory = load_source) -> None:
        self.host = host
        self.sources = sources  # kind -> backend; tests give a software authenticator
        self.prompts = QtPrompts(host.window())
        self.prompts.touch_changed.connect(self._touch)
        self._asking: _Asking | None = None

    @property
    def dialog(self) -> ApproverDialog | None:
        return None if self._asking is None else self._asking.dialog

    def run(self, name: str, text: str, change: Change, on_success: Callable[[Any], None],
            on_error: Callable[[BaseException], None] | None = None, *,
            request: Request | None = None, nothing: str = "nothing was changed",
            parent: QWidget | None = None) -> Task | None:
        """``change(None)`` in the runner; when a second operator is needed, ask and retry once
        with ``change(approval)``. ``request`` names the operation and target where the refusal
        may not (dual control); ``nothing`` ends "no approval was given, so …"."""
        return self.run_work(name, text, lambda approval, _c, _p: change(approval), on_success,
                             on_error, request=request, nothing=nothing, parent=parent)

    def run_work(self, name: str, text: str, work: ApprovedWork,
                 on_success: Callable[[Any], None],
                 on_error: Callable[[BaseException], None] | None = None, *,
                 request: Request | None = None, nothing: str = "nothing was changed",
                 parent: QWidget | None = None) -> Task | None:
        """:meth:`run` for work that watches the task's cancel Event or reports progress."""
        host = self.host
        vault = host.vault
        if vault is None:
            return None
        fail = on_error or (lambda exc: host.services.error(user_message(exc)))
        op = _Op(name, text, work, on_success, fail, nothing, parent or host.window())

        def failed(exc: BaseException) -> None:
            wanted = request_for(exc, request) if approval_needed(exc) else None
            if wanted is not None and isinstance(exc, AccessDenied) and host.vault is vault:
                self._find_approvers(vault, exc, wanted, op)
            else:
                fail(exc)

        return host.submit(name, text, lambda cancel, progress: work(None, cancel, progress),
                           on_success, failed)

    def _find_approvers(self, vault: Vault, denied: AccessDenied, wanted: Request,
                        op: _Op) -> None:
        sources = self.sources

        def work(_cancel: threading.Event, _progress: Progress) -> tuple[list[Approver], str]:
            found = approvers(vault, wanted)
            note = ""
            if any(a.has_key for a in found):
                available = availability_of(sources, FIDO2)
                note = "" if available.ok else available.reason
            return found, note

        def found(result: tuple[list[Approver], str]) -> None:
            if self.host.vault is vault:
                self._ask(vault, denied, wanted, op, *result)

        self.host.submit(f"{op.name} (approvers)", "Finding who can approve…", work, found,
                         op.fail)

    def _ask(self, vault: Vault, denied: AccessDenied, wanted: Request, op: _Op,
             found: list[Approver], key_note: str) -> None:
        parent = op.parent  # over the dialog that asked, unless it was closed meanwhile
        if not (shiboken6.isValid(parent) and parent.isVisible()):
            parent = self.host.window()
        dialog = ApproverDialog(user_message(denied), found, parent, key_note=key_note)
        self.close()
        asking = self._asking = _Asking(dialog)

        def cancelled() -> None:  # the user closed the dialog (close() disconnects this first)
            if self._asking is asking:
                self._asking = None
                dialog.deleteLater()
            if not asking.settled:
                asking.settled = True
                op.fail(NotApproved(op.nothing))

        def stop() -> None:
            asking.closing = True
            if asking.task is not None and not asking.task.done:
                asking.task.cancel()

        dialog.approve.connect(lambda name, unlocker: self._attempt(
            asking, vault, wanted, op, name, lambda: unlocker, hardware=False))
        dialog.approve_with_key.connect(lambda name: self._attempt(
            asking, vault, wanted, op, name, lambda: HardwareUnlocker(
                self.sources(FIDO2), vault.vault_id, prompts=self.prompts), hardware=True))
        dialog.cancel_requested.connect(stop)
        dialog.rejected.connect(cancelled)
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        dialog.open()
        dialog.passphrase.setFocus()

    def _attempt(self, asking: _Asking, vault: Vault, wanted: Request, op: _Op, approver: str,
                 unlocker_for: Callable[[], KeyslotUnlocker], *, hardware: bool) -> None:
        """The approval and the operation with it, in the runner."""
        prompts = self.prompts

        def work(cancel: threading.Event, progress: Progress) -> Any:
            status = progress
            if hardware:
                prompts.watch(cancel)
                status = _without_touch(progress)  # the prompts say "Touch …", after a delay
            try:
                approval = approvals.approve(vault, wanted.operation, wanted.target, approver,
                                             unlocker_for(), cancel=cancel, on_status=status)
            except UserCancelled:
                raise
            except AuthenticationFailed as e:
                raise ApproverRefused(hardware_message(e) if hardware else user_message(e)
                                      ) from e
            except StrongroomError as e:
                if not hardware or isinstance(e, AccessDenied):
                    raise
                raise ApproverRefused(hardware_message(e)) from e
            asking.approved = True
            progress(f"Approved by {approver}; {op.text[:1].lower()}{op.text[1:].rstrip('…')}")
            try:
                return op.work(approval, cancel, progress)
            except AccessDenied as e:
                if e.details.get("missing") != SECOND_HOLDER:
                    raise
                level = str(e.details.get("level") or wanted.level or "")
                raise ApproverRefused(
                    f"{approver} does not hold the {level} key, which is under dual control: "
                    "one of its holders approves.", approvers(vault, replace(wanted, level=level))
                ) from e

        def done(result: Any) -> None:
            asking.settled = True
            self._finish(asking, accepted=True)
            op.on_success(result)

        def failed(exc: BaseException) -> None:
            if asking.closing:
                self._finish(asking, accepted=False)  # -> cancelled(): nothing was done
            elif isinstance(exc, ApproverRefused) and asking is self._asking:
                if exc.approvers is not None:
                    asking.dialog.set_approvers(exc.approvers)
                asking.dialog.refused(str(exc))
            else:
                asking.settled = True
                self._finish(asking, accepted=False)
                op.fail(exc)

        def stopped() -> None:  # cancelled: the key wait (by Cancel, or at the PIN dialog), or
            if asking is not self._asking:  # the operation after the approval (by the host)
                return
            if asking.closing:
                self._finish(asking, accepted=False)
            elif asking.approved:  # the host says what its cancel left undone
                asking.settled = True
                self._finish(asking, accepted=False)
            else:
                asking.dialog.refused("The security key was not used; nothing was approved."
                                      if hardware else "Stopped; nothing was approved.")

        task = asking.task = self.host.submit(op.name, op.text, work, done, failed)
        task.cancelled.connect(stopped)
        task.progress.connect(lambda text: self._progress(asking, text))
        if hardware:
            prompts.begin()
            task.finished.connect(prompts.end)

    def _progress(self, asking: _Asking, text: str) -> None:
        if asking is self._asking and not asking.closing:
            asking.dialog.set_message(text.rstrip("…") + "…")

    def _touch(self, text: str) -> None:
        if self._asking is not None:
            self._asking.dialog.set_touch(text)

    def _finish(self, asking: _Asking, *, accepted: bool) -> None:
        if self._asking is not asking:
            return  # closed meanwhile: close() saw to the dialog
        self._asking = None
        dialog = asking.dialog
        dialog.set_busy(False)
        if accepted:
            dialog.accept()
        else:
            dialog.reject()
        dialog.deleteLater()

    def close(self) -> None:
        """Close an open approver dialog (the vault locked, or another approval is asked); a key
        wait still running is cancelled."""
        asking, self._asking = self._asking, None
        if asking is None:
            return
        if asking.task is not None and not asking.task.done:
            asking.task.cancel()
        dialog = asking.dialog
        dialog.rejected.disconnect()  # not a cancel by the user: nothing more to say
        dialog.set_busy(False)
        dialog.reject()
        dialog.deleteLater()


def _without_touch(progress: Progress) -> Progress:
    def status(text: str) -> None:
        if not text.startswith("Touch "):
            progress(text)

    return status
