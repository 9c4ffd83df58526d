"""Who is unlocking: on a vault shared by two or more operators, the lock screen first lists them
(from the header, readable before unlock), like a login screen, and then offers only the chosen
operator's unlock methods. Suspended operators are listed greyed, marked "suspended", and cannot
be chosen. The last operator chosen on this machine is preselected (app.access.last_operator).
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QKeyEvent
from PySide6.QtWidgets import (
    QFrame,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from strongroom.app.access.operators import REMOVED, SUSPENDED
from strongroom.app.header import Header, OperatorRef
from strongroom.app.keyslots import Keyslot
from strongroom.app.unlock_methods import needs_passphrase

METHOD_NAMES = {"passphrase": "Passphrase", "fido2": "Security key", "tpm": "TPM",
                "keyring": "OS keyring"}
ROW_HEIGHT = 30
GREYED = QColor("#8a969e")  # a suspended operator: between the light and dark themes' text


def pickable(header: Header) -> list[OperatorRef]:
    """The operators the lock screen lists (every one not removed)."""
    return [o for o in header.operators if o.status != REMOVED]


def needs_picker(header: Header) -> bool:
    """Two or more operators: ask who is unlocking first. One (or an old vault with none):
    unlock as before, with no extra step."""
    return len(pickable(header)) >= 2


def slots_of(header: Header, operator: str | None) -> list[Keyslot]:
    """The keyslots of ``operator`` (every keyslot when None)."""
    if operator is None:
        return list(header.slots)
    ref = header.operator_named(operator)
    return [] if ref is None else [s for s in header.slots if s.operator == ref.id]


def method_text(slot: Keyslot, operator: str | None = None) -> str:
    """One line of the lock screen's list of unlock methods (without the "bob: " that starts
    the labels of ``operator``'s own keyslots)."""
    kind = METHOD_NAMES.get(slot.kind, slot.kind)
    label = slot.label
    if operator and label.casefold().startswith(operator.casefold() + ":"):
        label = label[len(operator) + 1:].strip()
    name = kind if label.casefold() == kind.casefold() else f"{kind} — {label}"
    two = " (+ passphrase)" if needs_passphrase(slot) else ""
    used = slot.last_used and f", last used {slot.last_used[:16].replace('T', ' ')} UTC"
    return f"{name}{two}{used or ''}"


class _List(QListWidget):
    """Enter chooses the current operator."""

    activated_current = Signal()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt API
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.activated_current.emit()
            return
        super().keyPressEvent(event)


class OperatorPicker(QWidget):
    """The list of operators and a Continue button; emits ``chosen(name)``."""

    chosen = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.prompt = QLabel("Who is unlocking?")
        self.prompt.setAccessibleName("Choose who is unlocking")
        self.list = _List()
        self.list.setAccessibleName("Operators of this vault")
        self.list.setFrameShape(QFrame.Shape.StyledPanel)
        self.list.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.list.itemDoubleClicked.connect(lambda _item: self.choose())
        self.list.activated_current.connect(lambda: self.choose())
        self.list.currentItemChanged.connect(lambda *_: self._update())
        self.continue_button = QPushButton("Continue")
        self.continue_button.setDefault(True)
        self.continue_button.setAccessibleName("Continue as the chosen operator")
        self.continue_button.clicked.connect(lambda: self.choose())
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.prompt)
        lay.addWidget(self.list)
        lay.addWidget(self.continue_button, 0, Qt.AlignmentFlag.AlignRight)

    def show_operators(self, refs: Sequence[OperatorRef], preselect: str | None) -> None:
        self.list.clear()
        for ref in refs:
            item = QListWidgetItem(ref.name if ref.status != SUSPENDED
                                   else f"{ref.name} — suspended")
            item.setData(Qt.ItemDataRole.UserRole, ref.name)
            item.setSizeHint(QSize(0, ROW_HEIGHT))
            if ref.status == SUSPENDED:
                item.setFlags(item.flags() & ~(Qt.ItemFlag.ItemIsEnabled
                                               | Qt.ItemFlag.ItemIsSelectable))
                item.setForeground(QBrush(GREYED))  # the stylesheet's colour hides "disabled"
                font = QFont(item.font())
                font.setItalic(True)
                item.setFont(font)
                item.setToolTip(f"{ref.name} is suspended: an Administrator reinstates them")
            self.list.addItem(item)
        rows = min(len(refs), 8)
        self.list.setFixedHeight(rows * ROW_HEIGHT + 2 * self.list.frameWidth() + 2)
        names = [self.name_at(i) for i in range(self.list.count()) if self._enabled(i)]
        if names:
            pick = preselect if preselect in names else names[0]
            self.list.setCurrentRow(next(i for i in range(self.list.count())
                                         if self.name_at(i) == pick))
        self._update()
        self.list.setFocus()

    def name_at(self, row: int) -> str:
        return str(self.list.item(row).data(Qt.ItemDataRole.UserRole))

    def _enabled(self, row: int) -> bool:
        return bool(self.list.item(row).flags() & Qt.ItemFlag.ItemIsEnabled)

    def current(self) -> str | None:
        row = self.list.currentRow()
        return self.name_at(row) if row >= 0 and self._enabled(row) else None

    def _update(self) -> None:
        self.continue_button.setEnabled(self.current() is not None)

    def choose(self, name: str | None = None) -> None:
        """Continue as ``name`` (the selected operator when None)."""
        if name is not None:
            for row in range(self.list.count()):
                if self.name_at(row) == name and self._enabled(row):
                    self.list.setCurrentRow(row)
        picked = self.current()
        if picked is not None and (name is None or picked == name):
            self.chosen.emit(picked)
