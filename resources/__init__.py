"""Icons (SVG) and stylesheets, loaded through importlib.resources."""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def read_text(*parts: str) -> str:
    return resources.files(__name__).joinpath(*parts).read_text(encoding="utf-8")


def read_bytes(*parts: str) -> bytes:
    return resources.files(__name__).joinpath(*parts).read_bytes()


def style_dir() -> Path:
    """The folder of the stylesheets and the images they name (a real folder: Qt reads it)."""
    return Path(str(resources.files(__name__).joinpath("style")))
