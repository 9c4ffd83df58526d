"""Assertions on the CLI's error contract, a runner for argv shapes ``run_cli`` cannot build, and
a faster ``vault_dir`` fixture for modules that import it (with ``empty_template``)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import Result, make_vault


def one_line_error(result: Result, code: int, *phrases: str) -> str:
    """Assert exit ``code`` and one ``strongroom: ...`` line on stderr holding ``phrases``."""
    assert result.code == code, f"exit {result.code}, expected {code}; stderr: {result.err!r}"
    assert "Traceback" not in result.err, result.err
    lines = result.err.splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got {lines!r}"
    assert result.err.endswith("\n")
    line = lines[0]
    assert line.startswith("strongroom: "), line
    assert len(line) > len("strongroom: ") + 10, f"not a clear message: {line!r}"
    for phrase in phrases:
        assert phrase.lower() in line.lower(), f"{phrase!r} not in {line!r}"
    return line


def run_argv(
    argv: list[str],
    *,
    passphrases: list[str] | None = None,
    stdin: bytes = b"",
    env: dict[str, str] | None = None,
    new_session: bool = False,
    python_m: bool = True,
    timeout: float = 120,
) -> Result:
    """Run the CLI with ``argv`` exactly as given; ``{fd}`` in it becomes the passphrase pipe.

    ``new_session`` starts the child without a controlling terminal (so /dev/tty cannot open);
    ``python_m=False`` runs the installed ``strongroom`` console script instead of ``-m``.
    """
    if python_m:
        cmd = [sys.executable, "-m", "strongroom"]
    else:
        cmd = [str(Path(sys.executable).parent / "strongroom")]
    read_end = None
    pass_fds: tuple[int, ...] = ()
    if passphrases is not None:
        read_end, write_end = os.pipe()
        os.write(write_end, "".join(p + "\n" for p in passphrases).encode())
        os.close(write_end)
        pass_fds = (read_end,)
        argv = [a.replace("{fd}", str(read_end)) for a in argv]
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("STRONGROOM_")}
    full_env.update(env or {})
    try:
        proc = subprocess.run(
            cmd + argv, input=stdin, capture_output=True, pass_fds=pass_fds, env=full_env,
            timeout=timeout, check=False, start_new_session=new_session,
        )
    finally:
        if read_end is not None:
            os.close(read_end)
    return Result(proc.returncode, proc.stdout, proc.stderr.decode())


@pytest.fixture(scope="module")
def empty_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("empty") / "vault"
    make_vault(path).lock()
    return path


@pytest.fixture
def vault_dir(empty_template: Path, tmp_path: Path) -> Path:
    """conftest's ``vault_dir`` (a locked, empty vault), copied from one made once per module
    instead of paying for Argon2id calibration in every test."""
    path = tmp_path / "vault"
    shutil.copytree(empty_template, path)
    return path
