"""The stylesheets in both themes, checked on rendered widgets: a ticked box shows a tick, disabled
buttons look disabled, dialog buttons have no stock icons, the strength meter's colour follows the
score, sliders and scroll bars are drawn, the sidebar shows focus without a dotted rectangle."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import re

import pytest
from PySide6.QtCore import QFile, QPoint, Qt
from PySide6.QtGui import QAction, QColor, QImage
from PySide6.QtWidgets import (
    QCheckBox,
    QDialogButtonBox,
    QFrame,
    QGroupBox,
    QListWidget,
    QMessageBox,
    QProxyStyle,
    QPushButton,
    QScrollBar,
    QSlider,
    QStyle,
    QStyleFactory,
    QStyleOptionButton,
    QStyleOptionSlider,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from strongroom.resources import read_text, style_dir
from strongroom.ui.widgets.strength import STRENGTH_WORDS, StrengthMeter

from helpers.theme import THEMES, colours, most_common, render, themed


def contrast(a: QColor, b: QColor) -> int:
    return abs(a.lightness() - b.lightness())


@pytest.mark.parametrize("theme", THEMES)
def test_every_stylesheet_image_ships_and_resolves(qtbot, theme: str) -> None:
    names = re.findall(r"url\(style:([^)]+)\)", read_text("style", f"{theme}.qss"))
    assert names, "the stylesheet names no images"
    with themed(theme):
        for name in names:
            assert (style_dir() / name).is_file(), name
            assert QFile.exists(f"style:{name}"), name
            assert not QImage(f"style:{name}").isNull(), f"{name} does not load (SVG plugin?)"


@pytest.mark.parametrize("theme", THEMES)
def test_a_ticked_check_box_shows_a_tick(qtbot, theme: str) -> None:
    with themed(theme):
        box = QCheckBox("Lock when the session locks")
        qtbot.addWidget(box)
        box.show()
        option = QStyleOptionButton()
        box.initStyleOption(option)
        rect = box.style().subElementRect(QStyle.SubElement.SE_CheckBoxIndicator, option, box)
        inner = rect.adjusted(3, 3, -3, -3)  # inside the box's border
        off = render(box).copy(inner)
        box.setChecked(True)
        on = render(box).copy(inner)
    fill = most_common(on)
    ticked = [c for c in map(QColor, colours(on)) if contrast(c, fill) > 60]
    assert ticked, f"the {theme} theme's ticked box is one flat colour: no tick"
    assert colours(on) != colours(off)


@pytest.mark.parametrize("theme", THEMES)
def test_an_unticked_check_box_in_a_group_shows_its_box(qtbot, theme: str) -> None:
    """Settings put check boxes in group boxes, whose rule makes them transparent: the empty
    box must still be drawn (the light theme once showed only the label, and a bare tick)."""
    with themed(theme):
        group = QGroupBox("Audit forwarding")
        box = QCheckBox("Plain TCP, to a relay on this machine", group)
        QVBoxLayout(group).addWidget(box)
        qtbot.addWidget(group)
        group.show()
        option = QStyleOptionButton()
        box.initStyleOption(option)
        rect = box.style().subElementRect(QStyle.SubElement.SE_CheckBoxIndicator, option, box)
        image = render(box)
        around = QColor(image.pixel(rect.right() + 3, rect.center().y()))  # beside the box
        edge = [QColor(image.pixel(rect.left() + dx, rect.center().y())) for dx in range(3)]
    assert max(contrast(c, around) for c in edge) > 40, f"no box drawn in the {theme} theme"


class IconsOnButtons(QProxyStyle):
    """A platform style that puts icons on dialog buttons (as Linux desktops do)."""

    def styleHint(self, hint, option=None, widget=None, data=None):
        if hint == QStyle.StyleHint.SH_DialogButtonBox_ButtonsHaveIcons:
            return 1
        return super().styleHint(hint, option, widget, data)


@pytest.mark.parametrize("theme", THEMES)
def test_dialog_buttons_carry_no_stock_icons(qtbot, theme: str) -> None:
    """Save/Cancel/OK get no icons even where the platform style would give them some."""
    platform = IconsOnButtons(QStyleFactory.create("Fusion"))
    with themed(theme):
        buttons = QDialogButtonBox()
        buttons.setStyle(platform)
        buttons.setStandardButtons(QDialogButtonBox.StandardButton.Save
                                   | QDialogButtonBox.StandardButton.Cancel)
        qtbot.addWidget(buttons)
        box = QMessageBox(QMessageBox.Icon.Warning, "Delete", "Delete it?")
        box.setStyle(platform)
        box.setStandardButtons(QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel)
        qtbot.addWidget(box)
        shown = [*buttons.buttons(), *box.buttons()]
        assert shown and all(b.icon().isNull() for b in shown)


def card_with_default_button(qtbot) -> tuple[QFrame, QPushButton]:
    card = QFrame()
    card.setObjectName("card")
    next_button = QPushButton("Next")
    next_button.setDefault(True)
    QVBoxLayout(card).addWidget(next_button)
    qtbot.addWidget(card)
    card.show()
    return card, next_button


@pytest.mark.parametrize("theme", THEMES)
def test_a_disabled_default_button_does_not_look_enabled(qtbot, theme: str) -> None:
    with themed(theme):
        _card, button = card_with_default_button(qtbot)
        enabled = most_common(render(button).copy(button.rect().adjusted(3, 3, -3, -3)))
        button.setEnabled(False)
        disabled = most_common(render(button).copy(button.rect().adjusted(3, 3, -3, -3)))
    assert contrast(enabled, disabled) > 40, (enabled.name(), disabled.name())


@pytest.mark.parametrize("theme", THEMES)
def test_a_disabled_toolbar_action_is_drawn_muted(qtbot, theme: str) -> None:
    """The Vault section's Edit, Delete, Reveal are toolbar actions: off, they must look off."""
    with themed(theme):
        bar = QToolBar()
        action = QAction("Reveal", bar)
        bar.addAction(action)
        qtbot.addWidget(bar)
        bar.show()
        tool = bar.widgetForAction(action)
        enabled = render(tool)
        action.setEnabled(False)
        disabled = render(tool)
    face = most_common(enabled)

    def ink(image: QImage) -> QColor:  # the text: the pixel furthest from the face
        return max(map(QColor, colours(image)), key=lambda c: contrast(c, face))

    assert contrast(ink(enabled), face) - contrast(ink(disabled), face) > 40


@pytest.mark.parametrize("theme", THEMES)
def test_the_strength_meter_colour_follows_the_score(qtbot, theme: str) -> None:
    with themed(theme):
        meter = StrengthMeter("Passphrase strength")
        meter.resize(300, 30)
        qtbot.addWidget(meter)
        meter.show()
        meter.set_score(None)
        assert meter.level == "" and meter.text() == ""
        chunks, words = [], []
        for score in range(len(STRENGTH_WORDS)):
            meter.set_score(score)
            assert meter.level == str(score) and meter.value() == score
            assert meter.text() == STRENGTH_WORDS[score]
            bar = render(meter.bar)
            chunks.append(bar.pixel(2, bar.height() // 2))
            words.append(meter.word.palette().color(meter.word.foregroundRole()).rgb())
    assert len(set(chunks)) == len(STRENGTH_WORDS), "two scores share a colour"
    assert len(set(words)) == len(STRENGTH_WORDS)
    weak, very_strong = QColor(chunks[1]), QColor(chunks[4])
    assert weak.red() > weak.green() and very_strong.green() > very_strong.red()


@pytest.mark.parametrize("theme", THEMES)
def test_the_slider_groove_and_handle_are_visible(qtbot, theme: str) -> None:
    groove_rule = re.search(r"QSlider::groove:horizontal \{[^}]*background-color: (#[0-9a-f]{6})",
                            read_text("style", f"{theme}.qss"))
    assert groove_rule is not None, "no groove colour in the stylesheet"
    with themed(theme):
        host = QWidget()
        slider = QSlider(Qt.Orientation.Horizontal)
        slider.setRange(0, 5)
        slider.setValue(2)
        QVBoxLayout(host).addWidget(slider)
        host.resize(300, 60)
        qtbot.addWidget(host)
        host.show()
        option = QStyleOptionSlider()
        slider.initStyleOption(option)
        handle = slider.style().subControlRect(QStyle.ComplexControl.CC_Slider, option,
                                               QStyle.SubControl.SC_SliderHandle, slider)
        image = render(host)
    handle.translate(slider.pos())
    background = QColor(image.pixel(2, 2))
    groove = QColor(image.pixel(slider.x() + slider.width() - 12, handle.center().y()))
    assert groove.name() == groove_rule.group(1), "the groove is not the stylesheet's"
    knob = max(map(QColor, colours(image.copy(handle))), key=lambda c: contrast(c, background))
    assert contrast(knob, background) > 80, "the handle hardly shows"


@pytest.mark.parametrize("theme", THEMES)
def test_scroll_bar_handles_are_filled_not_hollow(qtbot, theme: str) -> None:
    with themed(theme):
        bar = QScrollBar(Qt.Orientation.Horizontal)
        bar.setRange(0, 100)
        bar.setPageStep(40)
        bar.resize(300, 14)
        qtbot.addWidget(bar)
        bar.show()
        option = QStyleOptionSlider()
        bar.initStyleOption(option)
        handle = bar.style().subControlRect(QStyle.ComplexControl.CC_ScrollBar, option,
                                            QStyle.SubControl.SC_ScrollBarSlider, bar)
        image = render(bar)
    centre = QColor(image.pixel(handle.center()))
    track = QColor(image.pixel(QPoint(bar.width() - 4, bar.height() // 2)))
    assert centre != track, "the handle's middle is the track's colour: a hollow box"


@pytest.mark.parametrize("theme", THEMES)
def test_the_sidebar_shows_focus_by_its_highlight_not_a_dotted_rectangle(qtbot,
                                                                        theme: str) -> None:
    with themed(theme):
        window = QWidget()
        sidebar = QListWidget()
        sidebar.setObjectName("sidebar")
        sidebar.addItems(["Vault", "Keys & Signing", "Settings"])
        other = QPushButton("elsewhere")
        lay = QVBoxLayout(window)
        lay.addWidget(sidebar)
        lay.addWidget(other)
        qtbot.addWidget(window)
        window.show()
        window.activateWindow()
        sidebar.setCurrentRow(2)
        rect = sidebar.visualItemRect(sidebar.item(2)).adjusted(4, 0, 0, 0)  # past the edge mark
        other.setFocus()
        qtbot.waitUntil(other.hasFocus)
        unfocused = render(sidebar.viewport()).copy(rect)
        sidebar.setFocus()
        qtbot.waitUntil(sidebar.hasFocus)
        focused = render(sidebar.viewport()).copy(rect)
    assert most_common(focused) != most_common(unfocused), "keyboard focus does not show"
    fill = focused.pixel(focused.width() - 2, focused.height() // 2)
    for y in range(focused.height()):  # a focus rectangle's edge is a long line across the row
        run = longest = 0
        for x in range(focused.width()):
            run = run + 1 if focused.pixel(x, y) != fill else 0
            longest = max(longest, run)
        assert longest < 60, f"a line across the focused item at y={y}: a focus rectangle"
