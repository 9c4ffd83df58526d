"""Shares handed to their custodians, and shares typed back, while a step runs in the worker.

A create-shares step hands its shares to :meth:`Handover.show` on the worker; the share screen
shows each custodian's share alone ("show to bob only"), bob dismisses it, and the words are
cleared from the widget before the next custodian's cover. A verify-shares step asks each
custodian to type theirs (:meth:`Handover.ask`). The worker waits on an Event (watching the
task's cancel) — never the GUI thread. Shares are never logged and never kept after they are shown.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtWidgets import QHBoxLayout, QStackedWidget, QVBoxLayout, QWidget

from strongroom.app.ceremony.shares import IssuedShare
from strongroom.app.errors import UserCancelled

from ..unlock.passphrase_dialog import password_field
from ..widgets.common import button
from .look import STEP_SCALE, TITLE_SCALE, WORDS_SCALE, label, mono_font, scaled

POLL_S = 0.05
COLUMNS = 4


class HandoverRequest:
    def __init__(self, shares: Sequence[IssuedShare] = (), custodian: str = "") -> None:
        self.shares: list[IssuedShare] | None = list(shares)
        self.custodian = custodian
        self.answer: str | None = None
        self.answered = threading.Event()

    def give(self, answer: str | None) -> None:
        if not self.answered.is_set():
            self.answer = answer
            self.answered.set()


class Handover(QObject):
    shares_wanted = Signal(object)  # a request whose shares the share screen shows
    share_asked = Signal(object)  # a request for one custodian's typed share
    _show = Signal(object)
    _ask = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._cancel: threading.Event | None = None
        self._pending: list[HandoverRequest] = []
        queued = Qt.ConnectionType.QueuedConnection
        self._show.connect(self._deliver_show, queued)
        self._ask.connect(self._deliver_ask, queued)

    def watch(self, cancel: threading.Event) -> None:
        self._cancel = cancel

    # ----- worker thread ------------------------------------------------------------------------

    def show(self, shares: Sequence[IssuedShare]) -> None:
        request = HandoverRequest(shares)
        self._show.emit(request)
        self._wait(request)
        request.shares = None

    def ask(self, custodian: str) -> str:
        request = HandoverRequest(custodian=custodian)
        self._ask.emit(request)
        self._wait(request)
        answer, request.answer = request.answer or "", None
        return answer

    def _wait(self, request: HandoverRequest) -> None:
        while not request.answered.wait(POLL_S):
            cancel = self._cancel
            if cancel is not None and cancel.is_set():
                request.give(None)
                raise UserCancelled()
        if request.answer is None:  # dropped: the run was left, or the vault locked
            raise UserCancelled()

    # ----- GUI thread ---------------------------------------------------------------------------

    @Slot(object)
    def _deliver_show(self, request: HandoverRequest) -> None:
        self._pending.append(request)
        self.shares_wanted.emit(request)

    @Slot(object)
    def _deliver_ask(self, request: HandoverRequest) -> None:
        self._pending.append(request)
        self.share_asked.emit(request)

    def answer(self, request: HandoverRequest, text: str | None) -> None:
        if request in self._pending:
            self._pending.remove(request)
        request.give(text)

    def drop(self) -> None:
        """Every question still open is answered with nothing (the run is left or locked)."""
        for request in list(self._pending):
            self.answer(request, None)


class SharePage(QWidget):
    """One custodian at a time: a cover ("for bob only"), then bob's words, then dismissed."""

    finished = Signal()

    def __init__(self, handover: Handover, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.handover = handover
        self.request: HandoverRequest | None = None
        self.position = 0
        self.threshold_text = ""
        self.stack = QStackedWidget()
        # the cover
        self.cover = QWidget()
        self.cover_title = label(scale=TITLE_SCALE, bold=True, name="Whose share is next")
        self.cover_text = label(scale=STEP_SCALE)
        self.show_button = button("Show the share", self._reveal)
        scaled(self.show_button, STEP_SCALE, bold=True)
        cover_lay = QVBoxLayout(self.cover)
        cover_lay.addStretch(1)
        cover_lay.addWidget(self.cover_title)
        cover_lay.addWidget(self.cover_text)
        cover_lay.addWidget(self.show_button, 0, Qt.AlignmentFlag.AlignLeft)
        cover_lay.addStretch(2)
        # the words
        self.sheet = QWidget()
        self.sheet_title = label(scale=TITLE_SCALE, bold=True, name="Whose share this is")
        self.sheet_note = label(scale=STEP_SCALE)
        self.words = label(name="The share's words")
        self.words.setFont(mono_font(WORDS_SCALE))
        self.words.setTextFormat(Qt.TextFormat.RichText)
        self.hide_button = button("Written down — hide it", self._dismiss)
        scaled(self.hide_button, STEP_SCALE, bold=True)
        sheet_lay = QVBoxLayout(self.sheet)
        sheet_lay.addWidget(self.sheet_title)
        sheet_lay.addWidget(self.sheet_note)
        sheet_lay.addWidget(self.words)
        sheet_lay.addStretch(1)
        sheet_lay.addWidget(self.hide_button, 0, Qt.AlignmentFlag.AlignLeft)
        self.stack.addWidget(self.cover)
        self.stack.addWidget(self.sheet)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(32, 24, 32, 24)
        lay.addWidget(self.stack)

    def start(self, request: HandoverRequest, threshold_text: str) -> None:
        self.request, self.position, self.threshold_text = request, 0, threshold_text
        self._cover()

    def _current(self) -> IssuedShare | None:
        shares = self.request.shares if self.request is not None else None
        return shares[self.position] if shares and self.position < len(shares) else None

    def _cover(self) -> None:
        share = self._current()
        if share is None:
            return
        count = len(self.request.shares or ()) if self.request else 0
        self.cover_title.setText(f"Share {share.index} of {count}: for {share.custodian} only")
        self.cover_text.setText(
            f"Everyone but {share.custodian} looks away from the screen now. "
            f"{share.custodian}, press the button when only you can see it.")
        self.show_button.setText(f"Show {share.custodian}'s share")
        self.show_button.setAccessibleName(f"Show {share.custodian}'s share")
        self.stack.setCurrentWidget(self.cover)

    def _reveal(self) -> None:
        share = self._current()
        if share is None:
            return
        self.sheet_title.setText(f"{share.custodian}'s share ({share.index} of "
                                 f"{len(self.request.shares or ()) if self.request else 0})")
        self.sheet_note.setText(f"Write each word on your share card, in order. "
                                f"{self.threshold_text} It is not shown again.")
        self.words.setText(_grid(share.mnemonic.split()))
        self.hide_button.setAccessibleName(f"{share.custodian} has written it down: hide it")
        self.stack.setCurrentWidget(self.sheet)

    def _dismiss(self) -> None:
        self.words.clear()  # nothing of the share stays in the widget
        self.position += 1
        if self._current() is not None:
            self._cover()
            return
        request, self.request = self.request, None
        if request is not None:
            self.handover.answer(request, "shown")
        self.clear()
        self.finished.emit()

    def clear(self) -> None:
        """Empty the page; a handover still open is answered with nothing (the step stops)."""
        self.words.clear()
        request, self.request = self.request, None
        if request is not None:
            self.handover.answer(request, None)
        self.stack.setCurrentWidget(self.cover)


def _grid(words: list[str]) -> str:
    cells = [f"<td style='padding:4px 18px 4px 0'>{i + 1:>2}. <b>{w}</b></td>"
             for i, w in enumerate(words)]
    rows = ["<tr>" + "".join(cells[r:r + COLUMNS]) + "</tr>"
            for r in range(0, len(cells), COLUMNS)]
    return "<table>" + "".join(rows) + "</table>"


class AskSharePage(QWidget):
    """"bob, type your share": a hidden field, checked by commitment in the step."""

    finished = Signal()

    def __init__(self, handover: Handover, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.handover = handover
        self.request: HandoverRequest | None = None
        self.title = label(scale=TITLE_SCALE, bold=True, name="Whose share is asked")
        self.note = label("Type the words of your share card, separated by spaces. Nobody else "
                          "looks; the field shows nothing.", scale=STEP_SCALE)
        self.field = password_field("The custodian's share")
        scaled(self.field, STEP_SCALE)
        self.field.returnPressed.connect(self._check)
        self.check_button = button("Check my share", self._check)
        scaled(self.check_button, STEP_SCALE, bold=True)
        self.cancel_button = button("Stop the step", self._stop)
        row = QHBoxLayout()
        row.addWidget(self.cancel_button)
        row.addStretch(1)
        row.addWidget(self.check_button)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(32, 24, 32, 24)
        lay.addStretch(1)
        lay.addWidget(self.title)
        lay.addWidget(self.note)
        lay.addWidget(self.field)
        lay.addLayout(row)
        lay.addStretch(2)

    def start(self, request: HandoverRequest) -> None:
        self.request = request
        self.field.clear()
        self.title.setText(f"{request.custodian}, type your share to check it")
        self.field.setFocus()

    def _check(self) -> None:
        text = self.field.text()
        self.field.clear()
        if not text.strip():
            return
        self._answer(text)

    def _stop(self) -> None:
        self.field.clear()
        self._answer(None)

    def _answer(self, text: str | None) -> None:
        request, self.request = self.request, None
        if request is not None:
            self.handover.answer(request, text)
        self.finished.emit()
