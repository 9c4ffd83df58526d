"""A batch of temp files is made durable in one pass (keys sign: one syncfs, not an fsync each)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from strongroom.app import fsutil


def _temps(tmp_path: Path, n: int) -> list[Path]:
    return [fsutil.write_temp(tmp_path / f"f{i}.sig", b"sig %d" % i, 0o644, sync=False)
            for i in range(n)]


def test_a_small_batch_fsyncs_each_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fsyncs: list[int] = []
    real = os.fsync
    monkeypatch.setattr(fsutil.os, "fsync", lambda fd: (fsyncs.append(fd), real(fd))[1])
    fsutil.sync_files(_temps(tmp_path, 3))
    assert len(fsyncs) == 3


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="syncfs is Linux's")
def test_a_large_batch_is_one_syncfs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fsyncs: list[int] = []
    monkeypatch.setattr(fsutil.os, "fsync", fsyncs.append)
    temps = _temps(tmp_path, 50)
    fsutil.sync_files(temps)
    assert fsyncs == []
    assert [t.read_bytes() for t in temps] == [b"sig %d" % i for i in range(50)]


def test_write_temp_fsyncs_by_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fsyncs: list[int] = []
    real = os.fsync
    monkeypatch.setattr(fsutil.os, "fsync", lambda fd: (fsyncs.append(fd), real(fd))[1])
    fsutil.write_temp(tmp_path / "one", b"x")
    assert len(fsyncs) == 1
