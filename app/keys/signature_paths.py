"""Where signatures go: one file (``--out``) or NAME.sig in a folder (``--out-dir``), checked
before any token work — the folder exists, no signature lands on an input or on another, and no
existing file is replaced unless asked."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..errors import AlreadyExists, NotFound, UsageError

SIG_SUFFIX = ".sig"


def signature_paths(paths: Sequence[Path], out: Path | None, out_dir: Path | None, *,
                    force: bool = False) -> list[Path]:
    """Where each signature goes (``out`` for one file, ``out_dir``/NAME.sig for many);
    checked before any token work: the directory exists, no clash with an input or another,
    and no existing file is replaced unless ``force``."""
    if (out is None) == (out_dir is None):
        raise UsageError("give either --out SIG (one file) or --out-dir DIR")
    if out is not None:
        if len(paths) != 1:
            raise UsageError("--out takes one file; use --out-dir for several")
        dests = [out]
    else:
        assert out_dir is not None  # noqa: S101 - checked above
        if not out_dir.is_dir():
            raise NotFound(f"no directory {out_dir} for the signatures")
        dests = [out_dir / f"{p.name}{SIG_SUFFIX}" for p in paths]
    seen: dict[Path, Path] = {}
    folders: dict[Path, Path | None] = {}  # each folder resolved once (None: not a directory)
    inputs = {_real(p, folders) for p in paths}
    for src, dest in zip(paths, dests, strict=True):
        real = _real(dest, folders)
        if folders[dest.parent] is None:
            raise NotFound(f"no directory {dest.parent} for the signature {dest.name}")
        if real in inputs:
            raise UsageError(f"the signature {dest} would overwrite an input file")
        if real in seen:
            raise UsageError(f"{seen[real].name} and {src.name} would both be signed into {dest}")
        refuse_existing(dest, force)
        seen[real] = src
    return dests


def _real(path: Path, folders: dict[Path, Path | None]) -> Path:
    """``path.resolve()``, with each folder resolved once: a thousand files in one folder cost
    one realpath, not a thousand. A symlink, or a name such as ``..``, is resolved in full."""
    if path.name in ("", ".", "..") or path.is_symlink():
        folders.setdefault(path.parent, path.parent.resolve() if path.parent.is_dir() else None)
        return path.resolve()
    if path.parent not in folders:
        folders[path.parent] = path.parent.resolve() if path.parent.is_dir() else None
    folder = folders[path.parent]
    return path.resolve() if folder is None else folder / path.name


def refuse_existing(dest: Path, force: bool) -> None:
    """An output file that exists is kept unless ``force`` (said before any prompt)."""
    if not force and (dest.exists() or dest.is_symlink()):
        raise AlreadyExists(f"{dest} already exists; choose a new file name or give --force")
