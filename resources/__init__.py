"""Icons (SVG) and stylesheets, loaded through importlib.resources."""

from __future__ import annotations

from importlib import resources


def read_text(*parts: str) -> str:
    return resources.files(__name__).joinpath(*parts).read_text(encoding="utf-8")


def read_bytes(*parts: str) -> bytes:
    return resources.files(__name__).joinpath(*parts).read_bytes()
