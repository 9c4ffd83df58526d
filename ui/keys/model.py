"""The Keys & Signing tree: modules → tokens → keys, with label, type, id, fingerprint and flags.

A :class:`KeysModel` is rebuilt from an :class:`~.inventory.Inventory` gathered on the
hardware runner; each row's first cell carries the node it shows (``NODE_ROLE``) so the section
knows what is selected without parsing text.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from enum import Enum
from typing import Any

from PySide6.QtCore import QModelIndex, QObject, Qt
from PySide6.QtGui import QBrush, QColor, QStandardItem, QStandardItemModel

from strongroom.app.keys.ports import KeyInfo, TokenInfo

from .inventory import (
    Inventory,
    ModuleView,
    TokenKey,
    TokenView,
    grouped_hex,
    size_text,
    token_key,
)

NODE_ROLE = Qt.ItemDataRole.UserRole + 1
_WARN = QColor("#c0561b")  # readable on the light and the dark theme
_MUTED = QColor("#7a8790")


class Column(Enum):
    Label = "Label"
    Type = "Type"
    Id = "ID"
    Fingerprint = "Fingerprint"
    Flags = "Flags"


COLUMNS = tuple(Column)


@dataclass(frozen=True)
class ModuleNode:
    module: ModuleView


@dataclass(frozen=True)
class TokenNode:
    token: TokenView


@dataclass(frozen=True)
class KeyNode:
    key: KeyInfo
    token: TokenView


Node = ModuleNode | TokenNode | KeyNode
Selection = tuple[Any, ...]  # what identifies a row across rebuilds of the tree


def selection_of(node: Node | None) -> Selection:
    if isinstance(node, KeyNode):
        return ("key", token_key(node.token.info), node.key.key_id, node.key.fingerprint)
    if isinstance(node, TokenNode):
        return ("token", token_key(node.token.info))
    if isinstance(node, ModuleNode):
        return ("module", node.module.store, node.module.path)
    return ()


def module_label(module: ModuleView) -> str:
    if not module.path:
        return module.title
    if not module.kind.takes_modules:
        return f"{module.title} ({module.path})"
    maker = module.info.manufacturer.strip() if module.info else ""
    name = os.path.basename(module.path)
    return f"{name} ({maker})" if maker else name


def module_flags(module: ModuleView) -> str:
    if module.error:
        return f"unavailable: {module.error}"
    if module.info is None:
        return ""
    return "detected" if module.info.detected else "added"


def initialised(token: TokenInfo) -> bool:
    return "token-initialized" in token.flags


def token_label(token: TokenInfo) -> str:
    if not initialised(token):
        return "uninitialised token" + ("" if token.slot is None else f" in slot {token.slot}")
    return token.label or "(no label)"


def token_heading(token: TokenInfo) -> str:
    """The details pane's title for a token."""
    return f"Token {token_label(token)}" if initialised(token) else token_label(token).capitalize()


def token_flags(token: TokenView) -> str:
    if not initialised(token.info):
        return "not initialised: set it up with the token's own tool (softhsm2-util --init-token)"
    state = "logged in" if token.session or token.info.logged_in else "logged out"
    return ", ".join((state, *token.info.flags))


def natural_key(text: str) -> tuple[tuple[int, str], ...]:
    """Sorts "spare-2" before "spare-10": runs of digits compare as numbers."""
    return tuple((int(part), "") if part.isdigit() else (-1, part.casefold())
                 for part in re.split(r"(\d+)", text) if part)


def token_order(token: TokenView) -> tuple[bool, tuple[tuple[int, str], ...], str]:
    """Initialised tokens by label in natural order, then the empty slots."""
    info = token.info
    return (not initialised(info), natural_key(info.label), info.serial)


def key_flags(key: KeyInfo) -> str:
    caps = ", ".join(sorted(c.value for c in key.capabilities))
    notes = [n for n, on in (("EXTRACTABLE", key.extractable), ("NOT SENSITIVE", not key.sensitive))
             if on]
    return "  ".join(p for p in ("⚠ " + ", ".join(notes) if notes else "", caps) if p)


def short_fingerprint(key: KeyInfo) -> str:
    return grouped_hex(key.fingerprint[:16]) + " …"


class KeysModel(QStandardItemModel):
    """The tree; ``set_inventory`` replaces what it shows."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(0, len(COLUMNS), parent)
        self.setHorizontalHeaderLabels([c.value for c in COLUMNS])
        self.inventory = Inventory()

    def set_inventory(self, inventory: Inventory) -> None:
        self.inventory = inventory
        self.removeRows(0, self.rowCount())
        root = self.invisibleRootItem()
        for module in inventory.modules:
            row = self._row(ModuleNode(module), module_label(module),
                            f"{module.title} module" if module.kind.takes_modules
                            else module.title,
                            module.path, "", module_flags(module))
            if module.error:
                for cell in row:
                    cell.setForeground(QBrush(_MUTED))
                    cell.setToolTip(module.error)
            for token in sorted(module.tokens, key=token_order):
                token_row = self._row(TokenNode(token), token_label(token.info),
                                      token.info.model, token.info.serial, "", token_flags(token))
                if not initialised(token.info):
                    for cell in token_row:
                        cell.setForeground(QBrush(_MUTED))
                info = token.info
                token_row[0].setToolTip("\n".join(t for t in (
                    f"{info.manufacturer} {info.model}, serial {info.serial}",
                    f"free memory: public {size_text(info.free_public_memory)}, "
                    f"private {size_text(info.free_private_memory)}", token.note) if t))
                for key in sorted(token.keys, key=lambda k: natural_key(k.label)):
                    key_row = self._row(KeyNode(key, token), key.label or "(no label)",
                                        key.algorithm, key.key_id, short_fingerprint(key),
                                        key_flags(key))
                    key_row[3].setToolTip(grouped_hex(key.fingerprint))
                    if key.warnings:
                        key_row[4].setForeground(QBrush(_WARN))
                        key_row[4].setToolTip("; ".join(key.warnings))
                    token_row[0].appendRow(key_row)
                row[0].appendRow(token_row)
            root.appendRow(row)

    def clear_all(self) -> None:
        self.set_inventory(Inventory())

    def _row(self, node: Node, *texts: str) -> list[QStandardItem]:
        cells = []
        for text in texts:
            cell = QStandardItem(text)
            cell.setEditable(False)
            cells.append(cell)
        cells[0].setData(node, NODE_ROLE)
        cells[0].setAccessibleText(f"{texts[1]} {texts[0]}")
        return cells

    def node(self, index: QModelIndex) -> Node | None:
        if not index.isValid():
            return None
        first = index.siblingAtColumn(0)
        node = first.data(NODE_ROLE)
        return node if isinstance(node, ModuleNode | TokenNode | KeyNode) else None

    # ----- finding rows ------------------------------------------------------------------------

    def indexes(self) -> list[QModelIndex]:
        """Every row's first cell, depth first."""
        out: list[QModelIndex] = []

        def walk(parent: QModelIndex) -> None:
            for row in range(self.rowCount(parent)):
                index = self.index(row, 0, parent)
                out.append(index)
                walk(index)

        walk(QModelIndex())
        return out

    def find_token(self, key: TokenKey) -> QModelIndex:
        for index in self.indexes():
            node = self.node(index)
            if isinstance(node, TokenNode) and token_key(node.token.info) == key:
                return index
        return QModelIndex()

    def find_key(self, token: TokenInfo, key_id: str, fingerprint: str) -> QModelIndex:
        for index in self.indexes():
            node = self.node(index)
            if (isinstance(node, KeyNode) and token_key(node.token.info) == token_key(token)
                    and node.key.key_id == key_id and node.key.fingerprint == fingerprint):
                return index
        return QModelIndex()

    def module_paths(self) -> list[str]:
        return [m.path for m in self.inventory.modules if m.path]
