"""The Keys & Signing tree: tokens in natural order, an empty slot said in words, columns as
wide as their headers and contents, rows with room."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QModelIndex
from PySide6.QtGui import QFontMetrics

from strongroom.app.keys.ports import ModuleInfo, StoreKind, TokenInfo
from strongroom.ui.keys.details import Details
from strongroom.ui.keys.inventory import Inventory, ModuleView, TokenView
from strongroom.ui.keys.model import (
    COLUMNS,
    Column,
    KeysModel,
    TokenNode,
    natural_key,
    token_label,
)
from strongroom.ui.keys.tree import ROW_PADDING, KeysTree

KIND = StoreKind(name="pkcs11", title="PKCS#11", entry_point="pkcs11", takes_modules=True)
READY = ("rng", "login-required", "user-pin-initialized", "token-initialized")
EMPTY = ("rng", "login-required", "so-pin-locked")


def token(label: str, slot: int, flags: tuple[str, ...] = READY) -> TokenView:
    return TokenView(TokenInfo(store="pkcs11", module="/usr/lib/softhsm/libsofthsm2.so",
                               slot=slot, label=label, manufacturer="SoftHSM project",
                               model="SoftHSM v2", serial=f"{slot:016x}" if label else "",
                               flags=flags))


def inventory(*tokens: TokenView) -> Inventory:
    info = ModuleInfo("/usr/lib/softhsm/libsofthsm2.so", "SoftHSM", "SoftHSM", "2.6", "2.40",
                      detected=True)
    return Inventory((ModuleView(KIND, info.path, info, tokens),))


def labels(model: KeysModel) -> list[str]:
    module = model.index(0, 0)
    return [model.index(r, 0, module).data() for r in range(model.rowCount(module))]


def test_natural_key_orders_numbers_as_numbers() -> None:
    names = ["spare-10", "spare-1", "Spare-9", "spare-12", "alpha", "spare-2b", "spare-2a"]
    assert sorted(names, key=natural_key) == [
        "alpha", "spare-1", "spare-2a", "spare-2b", "Spare-9", "spare-10", "spare-12"]


def test_tokens_show_in_natural_order_with_the_empty_slot_last(qtbot) -> None:
    model = KeysModel()
    model.set_inventory(inventory(token("spare-1", 11), token("", 5, EMPTY), token("spare-9", 3),
                                  token("spare-12", 7), token("spare-10", 2)))
    assert labels(model) == ["spare-1", "spare-9", "spare-10", "spare-12",
                             "uninitialised token in slot 5"]


def test_an_uninitialised_slot_is_said_in_words_not_a_blank_row(qtbot) -> None:
    empty = token("", 5, EMPTY)
    assert token_label(empty.info) == "uninitialised token in slot 5"
    model = KeysModel()
    model.set_inventory(inventory(empty))
    row = model.index(0, 0, model.index(0, 0))
    flags = row.siblingAtColumn(COLUMNS.index(Column.Flags)).data()
    assert flags.startswith("not initialised")
    details = Details()
    qtbot.addWidget(details)
    node = model.node(row)
    assert isinstance(node, TokenNode)
    details.show_node(node)
    assert details.heading.text() == "Uninitialised token in slot 5"


def test_columns_fit_their_headers_and_contents(qtbot) -> None:
    model = KeysModel()
    tree = KeysTree(model)
    qtbot.addWidget(tree)
    tree.resize(640, 400)  # as narrow as the splitter leaves it
    tree.show()
    model.set_inventory(inventory(*(token(f"spare-{n}", n) for n in range(1, 13))))
    tree.expandAll()
    tree.fit_columns()
    header = tree.header()
    metrics = QFontMetrics(header.font())
    for i, column in enumerate(COLUMNS):
        assert tree.columnWidth(i) >= metrics.horizontalAdvance(column.value) + 8, column
    type_width = tree.columnWidth(COLUMNS.index(Column.Type))
    assert type_width >= metrics.horizontalAdvance("PKCS#11 module")  # not cut to "PKCS#1…"
    assert tree.columnWidth(COLUMNS.index(Column.Flags)) >= 120  # "Flags", not "F"


def test_rows_have_room_above_and_below_the_text(qtbot) -> None:
    model = KeysModel()
    tree = KeysTree(model)
    qtbot.addWidget(tree)
    model.set_inventory(inventory(token("spare-1", 1)))
    tree.expandAll()
    tree.show()
    index = model.index(0, 0, model.index(0, 0))
    assert index != QModelIndex()
    text_height = QFontMetrics(tree.font()).height()
    assert tree.visualRect(index).height() >= text_height + ROW_PADDING
