"""The secret dialog's value input: one masked line, or several lines (PEM keys, certificates)
typed, pasted or loaded from a file.

Masked by default either way: one line shows dots, several lines show only a summary until
"Show" is ticked. A file is read in the task runner, up to ``MAX_FILE_BYTES``, and its bytes
are kept exactly (line ends, binary data) until the text is edited; typed or pasted lines are
stored with ``\\n`` line ends. :meth:`ValueField.wipe` forgets the value, its undo history and
any bytes read from a file. Nothing here logs or shows the value outside the field itself.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import shiboken6
from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from strongroom.app.errors import UsageError

from ..workers import TaskRunner, user_message

MAX_FILE_BYTES = 1024 * 1024  # certificate chains and keys fit; the field is no file store
PARAGRAPH = "\u2029"  # how a QTextDocument separates lines in its raw text


def read_value_file(path: Path, limit: int = MAX_FILE_BYTES) -> bytes:
    """A regular file's bytes; refuses other files (a FIFO would block), empty or large ones."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
        with os.fdopen(fd, "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                raise UsageError(f"{path.name} is not a regular file")
            data = f.read(limit + 1)
    except OSError as e:
        raise UsageError(f"cannot read {path.name}: {e.strerror or type(e).__name__}") from e
    if len(data) > limit:
        raise UsageError(f"{path.name} is larger than {limit // 1024:,} KiB")
    if not data:
        raise UsageError(f"{path.name} is empty")
    return data


def _text_of(data: bytes) -> str | None:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def has_line_breaks(text: str) -> bool:
    return bool(text) and text.splitlines() != [text]


class ValueField(QWidget):
    """A secret value: one masked line, or several lines hidden behind a summary until shown."""

    problem = Signal(str)  # one sentence for the dialog's message line ("" clears it)

    def __init__(self, runner: TaskRunner | None = None, keeping: bool = False,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runner = runner
        self.keeping = keeping  # editing: an empty field keeps the current value
        self._exact: bytes | None = None  # the value exactly, as read or moved, until edited
        self._source = ""  # the file it was read from
        self._setting = False  # the block's text is being set by code, not edited
        self._generation = 0  # bumped by wipe(); a file read that ends after it is dropped
        self._chooser: QFileDialog | None = None
        hint = "Leave empty to keep the current value" if keeping else ""

        self.line = QLineEdit()
        self.line.setEchoMode(QLineEdit.EchoMode.Password)
        self.line.setAccessibleName("Value")
        self.line.setPlaceholderText(hint)
        self.block = QPlainTextEdit()
        self.block.setAccessibleName("Value, several lines")
        self.block.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.block.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.block.setTabChangesFocus(True)
        self.block.setPlaceholderText(hint or "Paste or type the value, e.g. a PEM key")
        self.block.setFixedHeight(150)
        self.block.textChanged.connect(self._edited)
        self.summary = QLabel()
        self.summary.setTextFormat(Qt.TextFormat.PlainText)
        self.summary.setWordWrap(True)
        self.summary.setAccessibleName("Value, hidden")
        self.show_box = QCheckBox("Show")
        self.show_box.setAccessibleName("Show the value")
        self.show_box.toggled.connect(self._refresh)
        self.multiline = QCheckBox("Multi-line")
        self.multiline.setAccessibleName("Enter a value of several lines")
        self.multiline.toggled.connect(self._multiline_toggled)
        self.load_button = QPushButton("Load from &file…")
        self.load_button.setAccessibleName("Load the value from a file")
        self.load_button.setVisible(runner is not None)
        self.load_button.clicked.connect(self.choose_file)

        controls = QHBoxLayout()
        controls.addWidget(self.show_box)
        controls.addWidget(self.multiline)
        controls.addWidget(self.load_button)
        controls.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for widget in (self.line, self.block, self.summary):
            layout.addWidget(widget)
        layout.addLayout(controls)
        self._refresh()

    # ----- the value -------------------------------------------------------------------------

    @property
    def is_multiline(self) -> bool:
        return self.multiline.isChecked()

    def block_text(self) -> str:
        # toPlainText() would turn no-break spaces into spaces; the raw text keeps them.
        return self.block.document().toRawText().replace(PARAGRAPH, "\n")

    def value(self) -> bytes | None:
        """The value entered, or None when the field is empty."""
        if self.is_multiline:
            return self._block_value()
        text = self.line.text()
        return text.encode("utf-8") if text else None

    def _block_value(self) -> bytes | None:
        if self._exact is not None:
            return self._exact or None
        text = self.block_text()
        return text.encode("utf-8") if text else None

    def set_text(self, text: str) -> None:
        """Put ``text`` in whichever field is in use (the generator's values)."""
        if self.is_multiline:
            self._put_block(text, None)
        else:
            self.line.setText(text)
        self._refresh()

    def _put_block(self, text: str, exact: bytes | None, source: str = "") -> None:
        self._setting = True
        try:
            self.block.setPlainText(text)  # also drops the undo history
        finally:
            self._setting = False
        self._exact, self._source = exact, source

    @Slot()
    def _edited(self) -> None:
        if not self._setting:  # typed or pasted: the text is the value now
            self._exact, self._source = None, ""

    @Slot(bool)
    def _multiline_toggled(self, multi: bool) -> None:
        if multi:
            text = self.line.text()
            self._put_block(text, text.encode("utf-8") if text else None)
            self.line.setText("")
        else:
            text = _text_of(self._block_value() or b"")
            if text is None or has_line_breaks(text):
                self.multiline.blockSignals(True)
                self.multiline.setChecked(True)
                self.multiline.blockSignals(False)
                self.problem.emit("This value has several lines (or is binary); it stays in "
                                  "the multi-line field.")
                return
            self._put_block("", None)
            self.line.setText(text)
        self.problem.emit("")
        self._refresh()

    @Slot()
    def _refresh(self) -> None:
        multi, shown = self.is_multiline, self.show_box.isChecked()
        binary = self._exact is not None and _text_of(self._exact) is None
        self.line.setEchoMode(
            QLineEdit.EchoMode.Normal if shown else QLineEdit.EchoMode.Password
        )
        self.line.setVisible(not multi)
        self.block.setVisible(multi and shown and not binary)
        self.summary.setVisible(multi and (not shown or binary))
        self.summary.setText(self._summary(binary) if multi else "")
        self.setFocusProxy(self.block if self.block.isVisibleTo(self) else self.line)

    def _summary(self, binary: bool) -> str:
        """What the hidden value is like, never what it says."""
        value = self.value()
        if value is None:
            return ("Empty: the current value is kept. " if self.keeping else "Empty. ") + (
                "Tick Show to type or paste a value, or load it from a file.")
        where = f"{self._source}: " if self._source else ""
        if binary:
            return f"{where}{len(value):,} bytes of binary data, kept exactly."
        lines = len(self.block_text().splitlines())
        return (f"{where}{lines} line{'s' * (lines != 1)}, {len(value):,} bytes, hidden. "
                "Tick Show to see or edit it.")

    # ----- from a file -----------------------------------------------------------------------

    @Slot()
    def choose_file(self) -> None:
        chooser = QFileDialog(self, "Load the value from a file")
        chooser.setFileMode(QFileDialog.FileMode.ExistingFile)
        chooser.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        chooser.fileSelected.connect(lambda path: self.load_file(Path(path)))
        self._chooser = chooser
        chooser.open()

    def load_file(self, path: Path) -> None:
        """Read ``path`` in the runner; its bytes become the value, shown only if "Show" is on."""
        if self.runner is None:
            return
        generation = self._generation

        def current() -> bool:
            return shiboken6.isValid(self) and generation == self._generation

        def done(data: bytes) -> None:
            if current():
                self.load_button.setEnabled(True)
                self.multiline.setChecked(True)
                self._put_block(_text_of(data) or "", data, path.name)
                self.problem.emit("")
                self._refresh()

        def failed(error: BaseException) -> None:
            if current():
                self.load_button.setEnabled(True)
                self.problem.emit(user_message(error) + ".")

        def cancelled() -> None:
            if current():
                self.load_button.setEnabled(True)

        self.load_button.setEnabled(False)
        self.problem.emit(f"Reading {path.name}…")
        self.runner.submit("read a value file", lambda cancel, progress: read_value_file(path),
                           on_success=done, on_error=failed, on_cancel=cancelled)

    # ----- forgetting ------------------------------------------------------------------------

    def wipe(self) -> None:
        """Forget the value: both fields, their undo history, and bytes read from a file."""
        self._generation += 1
        if self._chooser is not None and shiboken6.isValid(self._chooser):
            self._chooser.reject()
        self._chooser = None
        self.line.setText("")  # unlike clear(), also drops the undo history
        self._put_block("", None)
        self.block.document().clearUndoRedoStacks()
        self.multiline.blockSignals(True)
        self.multiline.setChecked(False)
        self.multiline.blockSignals(False)
        self.show_box.setChecked(False)
        self.load_button.setEnabled(True)
        self._refresh()
