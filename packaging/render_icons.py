"""Render the app icons from resources/icons/strongroom.svg (`make icons`; the output is committed).

Writes, next to the SVG, the names Briefcase's ``icon = "resources/icons/strongroom"`` looks for:
``strongroom-<size>.png`` (Linux, and the hicolor theme of a desktop install), ``strongroom.ico``
(Windows) and ``strongroom.icns`` (macOS). Qt's SVG renderer draws each size from the vector
source, so small sizes are not a big bitmap scaled down; Pillow writes every file, which keeps them
free of timestamps and other run-to-run noise.

Usage: python packaging/render_icons.py [ICON_DIR]
"""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
ICONS = ROOT / "resources" / "icons"
STEM = "strongroom"

SIZES = (16, 24, 32, 48, 64, 128, 256, 512)  # the PNGs
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)  # an .ico entry is at most 256 px
# What Pillow's ICNS writer stores (ic07..ic14); 1024 is 512@2x, drawn but not kept as a PNG.
ICNS_SIZES = (32, 64, 128, 256, 512, 1024)


def render(svg: Path, sizes: tuple[int, ...]) -> dict[int, Image.Image]:
    """Each size drawn by QSvgRenderer into a transparent square, as a Pillow RGBA image."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QBuffer, QIODevice, QRectF
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    _app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise SystemExit(f"render_icons: {svg} is not an SVG Qt can draw")
    out: dict[int, Image.Image] = {}
    for size in sizes:
        image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(0)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        renderer.render(painter, QRectF(0, 0, size, size))
        painter.end()
        buffer = QBuffer()
        buffer.open(QIODevice.OpenModeFlag.WriteOnly)
        image.save(buffer, "PNG")
        out[size] = Image.open(io.BytesIO(bytes(buffer.data().data()))).convert("RGBA")
    return out


def write(icon_dir: Path) -> list[Path]:
    """Render and write every icon file into ``icon_dir``; returns the paths written."""
    images = render(icon_dir / f"{STEM}.svg", tuple(sorted({*SIZES, *ICO_SIZES, *ICNS_SIZES})))
    written: list[Path] = []
    for size in SIZES:
        path = icon_dir / f"{STEM}-{size}.png"
        images[size].save(path, format="PNG", optimize=True)
        written.append(path)
    ico = icon_dir / f"{STEM}.ico"
    largest = max(ICO_SIZES)
    images[largest].save(ico, format="ICO", sizes=[(s, s) for s in ICO_SIZES],
                         append_images=[images[s] for s in ICO_SIZES if s != largest])
    icns = icon_dir / f"{STEM}.icns"
    images[1024].save(icns, format="ICNS",
                      append_images=[images[s] for s in ICNS_SIZES if s != 1024])
    return [*written, ico, icns]


def main(argv: list[str]) -> int:
    icon_dir = Path(argv[0]) if argv else ICONS
    for path in write(icon_dir):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
