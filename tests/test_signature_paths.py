"""Where signatures go (app/keys/signature_paths.py): each folder is resolved once, and a symlink
or a ``..`` still resolves in full, so no signature can land on an input or on another."""

from __future__ import annotations

from pathlib import Path

import pytest

from strongroom.app.errors import AlreadyExists, NotFound, UsageError
from strongroom.app.keys.signature_paths import signature_paths


def files(folder: Path, n: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(n):
        (folder / f"f{i}.bin").write_bytes(b"x")
        out.append(folder / f"f{i}.bin")
    return out


def test_many_files_get_name_sig_in_the_folder(tmp_path: Path) -> None:
    inputs = files(tmp_path / "in", 50)
    (tmp_path / "out").mkdir()
    dests = signature_paths(inputs, None, tmp_path / "out")
    assert dests == [tmp_path / "out" / f"f{i}.bin.sig" for i in range(50)]


def test_a_signature_symlinked_onto_an_input_is_refused(tmp_path: Path) -> None:
    [data] = files(tmp_path / "in", 1)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "f0.bin.sig").symlink_to(data)
    with pytest.raises(UsageError, match="would overwrite an input"):
        signature_paths([data], None, tmp_path / "out", force=True)


def test_an_input_reached_through_a_symlinked_folder_is_still_an_input(tmp_path: Path) -> None:
    files(tmp_path / "in", 1)
    (tmp_path / "link").symlink_to(tmp_path / "in")
    # the out folder is the input folder under another name: f0.bin.sig is no input, but
    # signing in.sig into the folder that holds it must see through the link
    (tmp_path / "in" / "f0.bin.sig").write_bytes(b"old")
    with pytest.raises(UsageError, match="would overwrite an input"):
        signature_paths([tmp_path / "in" / "f0.bin.sig"], tmp_path / "link" / "f0.bin.sig", None,
                        force=True)


def test_dotdot_in_the_folder_resolves(tmp_path: Path) -> None:
    [data] = files(tmp_path / "in", 1)
    (tmp_path / "in" / "sub").mkdir()
    with pytest.raises(UsageError, match="would overwrite an input"):
        signature_paths([data], tmp_path / "in" / "sub" / ".." / "f0.bin", None, force=True)


def test_two_inputs_of_one_name_clash_and_an_existing_file_is_kept(tmp_path: Path) -> None:
    a, b = files(tmp_path / "a", 1)[0], files(tmp_path / "b", 1)[0]
    (tmp_path / "out").mkdir()
    with pytest.raises(UsageError, match="both be signed"):
        signature_paths([a, b], None, tmp_path / "out")
    (tmp_path / "out" / "f0.bin.sig").write_bytes(b"old")
    with pytest.raises(AlreadyExists):
        signature_paths([a], None, tmp_path / "out")
    assert signature_paths([a], None, tmp_path / "out", force=True)


def test_a_missing_folder_is_named(tmp_path: Path) -> None:
    [data] = files(tmp_path / "in", 1)
    with pytest.raises(NotFound, match="no directory"):
        signature_paths([data], None, tmp_path / "nowhere")
    with pytest.raises(NotFound, match="no directory"):
        signature_paths([data], tmp_path / "nowhere" / "x.sig", None)
