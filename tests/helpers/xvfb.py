"""A private X server for a test, and a look at what it shows.

Xvfb picks its own free display (``-displayfd``, guarded by its lock files), so tests in parallel
pytest-xdist workers never start two servers on one display or stop each other's. Use it with
``from helpers.xvfb import xvfb  # noqa: F401`` and a test argument ``xvfb: str`` (the DISPLAY).
"""

from __future__ import annotations

import os
import select
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"


@pytest.fixture
def xvfb() -> Iterator[str]:
    if shutil.which("Xvfb") is None:
        pytest.fail("Xvfb is not installed; `make test` installs it (packaging/bootstrap.sh)")
    read_end, write_end = os.pipe()
    proc = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_end), "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
        pass_fds=(write_end,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    os.close(write_end)
    number = b""
    try:
        while not number.endswith(b"\n"):
            ready, _, _ = select.select([read_end], [], [], 15)
            chunk = os.read(read_end, 16) if ready else b""
            if not chunk:
                proc.kill()
                pytest.fail("Xvfb did not start")
            number += chunk
    finally:
        os.close(read_end)
    yield f":{int(number)}"
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


def distinct_colours(path: Path) -> int:
    """How many colours a 60×60 sample of the image has (a blank screen has one)."""
    from PySide6.QtGui import QImage

    image = QImage(str(path))
    assert not image.isNull(), f"{path} is not an image"
    step_x, step_y = max(1, image.width() // 60), max(1, image.height() // 60)
    return len({image.pixel(x, y) for x in range(0, image.width(), step_x)
                for y in range(0, image.height(), step_y)})
