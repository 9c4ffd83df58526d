"""The console's stylesheets in an offscreen test: applied the way the console applies them (with
the ``style:`` image search path), taken off again afterwards, and pixels read from widgets."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QApplication, QWidget

from strongroom.resources import read_text
from strongroom.ui.console import register_style_images

THEMES = ("light", "dark")


@contextmanager
def themed(theme: str) -> Iterator[QApplication]:
    """The app with ``theme``'s stylesheet for the duration of the block."""
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    register_style_images()
    app.setStyleSheet(read_text("style", f"{theme}.qss"))
    try:
        yield app
    finally:
        app.setStyleSheet("")


def render(widget: QWidget) -> QImage:
    """The widget as it paints itself now."""
    QApplication.processEvents()
    return widget.grab().toImage()


def colours(image: QImage) -> set[int]:
    return {image.pixel(x, y) for x in range(image.width()) for y in range(image.height())}


def darkest(image: QImage) -> QColor:
    """The darkest pixel (on a light theme, the text)."""
    return min((QColor(p) for p in colours(image)), key=lambda c: c.lightness())


def most_common(image: QImage) -> QColor:
    """The face colour of a widget (the pixel seen most often)."""
    counts: dict[int, int] = {}
    for x in range(image.width()):
        for y in range(image.height()):
            p = image.pixel(x, y)
            counts[p] = counts.get(p, 0) + 1
    return QColor(max(counts, key=counts.__getitem__))
