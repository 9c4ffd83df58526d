"""Children's Python environment as an installed wheel runs: with its bytecode cached.

This machine sets PYTHONDONTWRITEBYTECODE, so each call of the editable install would compile
every Strongroom module from source (about 0.25 s of CPU) — a cost no installed copy pays. The
benchmarks' child processes drop that variable and cache bytecode outside the source tree.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

CACHE = Path(tempfile.gettempdir()) / "strongroom-bench-pycache"


def cached(env: dict[str, str] | None = None, cache: Path = CACHE) -> dict[str, str]:
    out = dict(os.environ if env is None else env)
    out.pop("PYTHONDONTWRITEBYTECODE", None)
    cache.mkdir(parents=True, exist_ok=True)
    out["PYTHONPYCACHEPREFIX"] = str(cache)
    return out
