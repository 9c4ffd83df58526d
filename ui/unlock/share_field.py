"""One custodian's share, typed in: a multi-line entry that shows a dot for every character until
"Show" is ticked, with a live word count (SLIP-39 shares are 20 or 33 words) that also names the
first word not in the SLIP-39 word list (its place only, never the word).

While hidden, what was typed is kept in :class:`HiddenShareEdit` (``text()``) and each typed
character is replaced by a dot in the document as it arrives, so copying, accessibility and
repaints see dots. No undo history is kept, drops and input methods are off, and ``clear()``
empties the widget and drops the text. Listeners use the widget's own ``textChanged`` (emitted
by Qt), not a Python ``Signal.emit()`` per keystroke: under PySide6 6.12 on Python 3.11 each
``emit()`` and each void call drops a reference to ``True``/``None`` for good.
"""

from __future__ import annotations

import unicodedata

from PySide6.QtCore import Qt
from PySide6.QtGui import QTextCursor, QTextOption
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QPlainTextEdit, QVBoxLayout, QWidget

from strongroom.app.ceremony.share_words import WORD_INDEX_MAP

MASK = "\u2022"
SHARE_WORDS = (20, 33)  # a 128-bit and a 256-bit share (Strongroom makes 33)
VISIBLE_LINES = 4  # a 33-word share, shown or as dots, at the dialog's width


def share_words(text: str) -> list[str]:
    """The words as the share parser reads them (any case, any spacing)."""
    return unicodedata.normalize("NFKC", text).casefold().split()


def unknown_word(text: str) -> int:
    """The place (from 1) of the first word that is no SLIP-39 word, 0 if none; the word being
    typed last counts only once no SLIP-39 word starts with it."""
    words = share_words(text)
    for number, word in enumerate(words, 1):
        if word in WORD_INDEX_MAP:
            continue
        typing = number == len(words) and not text[-1:].isspace()
        if not (typing and any(w.startswith(word) for w in WORD_INDEX_MAP)):
            return number
    return 0


def count_text(text: str) -> tuple[str, str]:
    """The counter under a share field and its label role."""
    words = len(share_words(text))
    counted = f"{words} word" + ("" if words == 1 else "s")
    if (bad := unknown_word(text)):
        return f"{counted} · word {bad} is not a SLIP-39 word", "warning"
    if words in SHARE_WORDS:
        return counted, ""
    if words > max(SHARE_WORDS):
        return f"{counted}: more than a share has (20 or 33)", "warning"
    return f"{counted} (a share has 20 or 33)", "muted"


class HiddenShareEdit(QPlainTextEdit):
    """A multi-line entry whose text is dots until ``set_shown(True)``."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._real = ""
        self._shown = False
        self._masking = False
        self.setUndoRedoEnabled(False)  # no history of what was typed
        self.setAcceptDrops(False)  # a drag-move is two edits at once: type or paste instead
        self.setAttribute(Qt.WidgetAttribute.WA_InputMethodEnabled, False)  # no IME history
        self.setTabChangesFocus(True)
        self.setWordWrapMode(QTextOption.WrapMode.WrapAnywhere)
        self.textChanged.connect(self._changed)

    def text(self) -> str:
        """What was typed (shown or not)."""
        return self._real

    def shown(self) -> bool:
        return self._shown

    def set_shown(self, shown: bool) -> None:
        """Show what was typed, for checking it against the custodian's copy, or hide it again."""
        position = self.textCursor().position()
        self._shown = shown
        self._set_document(self._real if shown else MASK * len(self._real), position)
        self.setWordWrapMode(QTextOption.WrapMode.WordWrap if shown
                             else QTextOption.WrapMode.WrapAnywhere)

    def clear_secret(self) -> None:
        """Empty the widget and drop what was typed."""
        self._real = ""
        self._set_document("", 0)

    def _set_document(self, text: str, position: int) -> None:
        self._masking = True
        try:
            self.setPlainText(text)
        finally:
            self._masking = False
        cursor = self.textCursor()
        cursor.setPosition(min(position, len(text)))
        self.setTextCursor(cursor)

    def _changed(self) -> None:
        if self._masking:
            return
        document = self.toPlainText()
        if self._shown:
            self._real = document
        else:
            self._merge(document)

    def _merge(self, document: str) -> None:
        """Fold one edit of the dotted document into the real text.

        Every edit replaces one range with what was typed or pasted and leaves the cursor after
        it, so the characters that are not dots are the new ones and end at the cursor; the dots
        before and after them are the old text's kept start and end."""
        end = self.textCursor().position()
        typed = sum(1 for ch in document if ch != MASK)
        start = end - typed
        kept_tail = len(document) - end
        if (start < 0 or start + kept_tail > len(self._real)
                or any(ch != MASK for ch in document[:start] + document[end:])
                or MASK in document[start:end]):
            # Not one edit we can place (a pasted dot): keep the text as it was.
            self._set_document(MASK * len(self._real), min(start, len(self._real)))
            return
        self._real = (self._real[:start] + document[start:end]
                      + self._real[len(self._real) - kept_tail:])
        if typed:  # the view's cursor is at ``end``: select back to ``start``, put dots there
            cursor = self.textCursor()
            cursor.setPosition(start, QTextCursor.MoveMode.KeepAnchor)
            self._masking = True
            try:
                cursor.insertText(MASK * typed)
            finally:
                self._masking = False


class ShareField(QWidget):
    """"Share N", a "Show" toggle, the hidden entry and its word count."""

    def __init__(self, number: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.number = number
        self.caption = QLabel(f"Share {number}")
        self.caption.setObjectName("shareCaption")
        self.show_box = QCheckBox("Show")
        self.show_box.setAccessibleName(f"Show share {number}")
        self.show_box.setToolTip("Show the words typed, to check them against the custodian's "
                                 "copy")
        self.edit = HiddenShareEdit()
        self.edit.setAccessibleName(f"Share {number}")
        self.edit.setAccessibleDescription("A custodian's recovery share: its words in order, "
                                           "separated by spaces")
        self.edit.setPlaceholderText("The custodian's words, in order")
        lines = self.edit.fontMetrics().lineSpacing() * VISIBLE_LINES
        self.edit.setFixedHeight(lines + 2 * int(self.edit.document().documentMargin())
                                 + 2 * self.edit.frameWidth() + 8)  # + the stylesheet's padding
        self.caption.setBuddy(self.edit)
        self.counter = QLabel()
        self.counter.setAccessibleName(f"Share {number}: words typed")
        self._shown_count: tuple[str, str] | None = None
        self.show_box.toggled.connect(self.edit.set_shown)
        self.edit.textChanged.connect(self._count)  # after the edit's own handler

        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.caption, 1)
        top.addWidget(self.show_box)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(4)
        lay.addLayout(top)
        lay.addWidget(self.edit)
        lay.addWidget(self.counter)
        self._count()

    def text(self) -> str:
        return self.edit.text()

    def words(self) -> int:
        return len(share_words(self.edit.text()))

    def set_read_only(self, read_only: bool) -> None:
        self.edit.setReadOnly(read_only)

    def clear(self) -> None:
        """Empty the entry, drop what was typed, and hide it again."""
        self.show_box.setChecked(False)
        self.edit.clear_secret()

    def _count(self) -> None:
        shown = count_text(self.edit.text())
        if shown == self._shown_count:
            return  # most keystrokes change nothing here: no repaint, no restyle
        self._shown_count = shown
        text, role = shown
        self.counter.setText(text)
        self.counter.setProperty("role", role)
        self.counter.style().unpolish(self.counter)
        self.counter.style().polish(self.counter)
