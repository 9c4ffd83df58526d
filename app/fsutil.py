"""Crash-safe file writes: write a sibling temp file, fsync it, rename over, fsync the directory."""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import secrets
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from .errors import NotFound, StorageError, UsageError

try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


def storage_error(e: OSError, what: str) -> StorageError:
    """Translate an OS write failure into one sentence naming the cause."""
    if e.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        reason = "the disk is full"
    elif e.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        reason = "permission denied"
    else:
        reason = e.strerror or type(e).__name__
    return StorageError(f"could not write {what}: {reason}; nothing was changed")


def read_bounded(path: Path, limit: int, what: str) -> bytes:
    """Up to ``limit`` + 1 bytes of the file ``what`` at ``path`` (the caller refuses more, in
    its own words): NotFound when missing, UsageError for a directory, StorageError otherwise."""
    try:
        with path.open("rb") as f:
            return f.read(limit + 1)
    except FileNotFoundError:
        raise NotFound(f"no {what} {path}") from None
    except IsADirectoryError:
        raise UsageError(f"{path} is a directory, not a {what}") from None
    except OSError as e:
        raise StorageError(f"could not read {path}: {e.strerror or type(e).__name__}") from e


def fsync_dir(path: Path) -> None:
    if os.name != "posix":  # pragma: no cover - directories cannot be opened on Windows
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_temp(path: Path, data: bytes, mode: int = 0o600, *, sync: bool = True) -> Path:
    """A new, fsynced sibling temp file of ``path`` holding ``data``, for the caller to rename
    over ``path`` (several of them can be written first and renamed together). ``sync`` False
    leaves the fsync to the caller (``sync_files`` over the whole batch, before any rename)."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if sync:
                os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as e:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise storage_error(e, path.name) from e
    return tmp


def _syncfs() -> Any:
    """Linux's syncfs(2) from libc (errors reported since Linux 5.8), or None elsewhere."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.syncfs
    except (OSError, AttributeError):  # pragma: no cover - a libc without syncfs
        return None


def sync_files(paths: Sequence[Path], *, batch_from: int = 8) -> None:
    """Make the data of written, closed ``paths`` durable before they are renamed into place.

    A batch of at least ``batch_from`` files is flushed with one syncfs(2) per filesystem they
    are on instead of one fsync each (1,000 signatures: 1 call, not 1,000 journal commits);
    fewer files, or a system without syncfs, get an fsync each.
    """
    syncfs = _syncfs() if len(paths) >= batch_from else None
    if syncfs is None:
        for path in paths:
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        return
    done: set[int] = set()
    for path in paths:
        device = os.stat(path).st_dev
        if device in done:
            continue
        fd = os.open(path, os.O_RDONLY)
        try:
            if syncfs(fd) != 0:
                err = ctypes.get_errno()
                raise OSError(err, os.strerror(err), str(path))
        finally:
            os.close(fd)
        done.add(device)


def atomic_write(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Replace ``path`` with ``data`` so that a crash leaves either the old or the new file."""
    tmp = write_temp(path, data, mode)
    try:
        os.replace(tmp, path)
        fsync_dir(path.parent)
    except OSError as e:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise storage_error(e, path.name) from e


@contextlib.contextmanager
def exclusive_lock(path: Path) -> Iterator[None]:
    """Hold an advisory lock on ``path`` so two processes never interleave a header update."""
    if fcntl is None:  # pragma: no cover - Windows relies on SQLite's own locking
        yield
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
