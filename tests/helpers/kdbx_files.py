"""KeePass files for the import tests, written by the real ``keepassxc-cli`` and by pykeepass.

``keepassxc-cli db-create`` (2.7) writes KDBX 3.1 with AES-KDF tuned to its shortest time
(100 ms, some 8 million rounds); the importer runs those rounds in OpenSSL. KeePassXC keeps a
file's version and KDF when it saves, so a KDBX 4 "written by KeePassXC" starts as pykeepass's
blank KDBX 4 (Argon2 made cheap here) that keepassxc-cli then fills. ``cli`` runs ``strongroom``
with the vault passphrase and the file's password on two pipes.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
from pykeepass import PyKeePass, create_database
from pykeepass.kdbx_parsing import common

from strongroom.app.transfer.kdbx_container import _HEADER, aes_kdf

from conftest import PASSPHRASE, Result

KDBX_PASSWORD = "kdbx pass phrase 7"
KEEPASSXC = shutil.which("keepassxc-cli")
needs_keepassxc = pytest.mark.skipif(KEEPASSXC is None, reason="keepassxc-cli is not installed "
                                     "(Debian package keepassxc)")


def keepassxc(*args: str, stdin: str = "") -> str:
    """Run keepassxc-cli; lines on stdin answer its prompts (database password first)."""
    assert KEEPASSXC is not None
    proc = subprocess.run([KEEPASSXC, *args], input=stdin.encode(), capture_output=True,
                          timeout=60, check=False)
    assert proc.returncode == 0, (args, proc.stderr.decode())
    return proc.stdout.decode()


def version(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    return int.from_bytes(data[10:12], "little"), int.from_bytes(data[8:10], "little")


def kdbx31(path: Path, password: str, key_file: Path | None = None) -> Path:
    """An empty KDBX 3.1 made by keepassxc-cli (a new XML key file too when given)."""
    extra = ["--set-key-file", str(key_file)] if key_file else []
    keepassxc("db-create", "-q", "-p", "-t", "100", *extra, str(path),
              stdin=f"{password}\n{password}\n")
    assert version(path) == (3, 1)
    return path


def kdbx4(path: Path, password: str) -> Path:
    """An empty KDBX 4 (pykeepass's blank database, Argon2 at 8 MiB and one pass)."""
    path.write_bytes(_blank4(password))
    assert version(path) == (4, 0)
    return path


@functools.cache
def _blank4(password: str) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "blank.kdbx"
        kp = create_database(str(path), password)  # opens and saves the blank: 64 MiB x 14
        params = kp.kdbx.header.value.dynamic_header.kdf_parameters.data.dict
        params["I"].value, params["M"].value = 1, 8 * 1024 * 1024
        kp.save()
        return path.read_bytes()


def opened(path: Path, password: str) -> Any:
    """pykeepass on a file of either version; AES-KDF's transformed key computed fast, so that
    pykeepass (which would take ~10 s in Python) can edit a keepassxc-cli file."""
    header = _HEADER.parse(path.read_bytes()).value
    if header.major_version == 3:
        composite = common.compute_key_composite(password=password, keyfile=None)
        tk = aes_kdf(header.dynamic_header.transform_seed.data,
                     header.dynamic_header.transform_rounds.data, composite)
        return PyKeePass(str(path), password, transformed_key=tk), tk
    return PyKeePass(str(path), password), None


def save(kp: Any, tk: bytes | None) -> None:
    kp.save(transformed_key=tk)


def with_inner_xml(path: Path, password: str, xml: bytes, monkeypatch: pytest.MonkeyPatch
                   ) -> Path:
    """A KDBX 4 whose inner (decrypted, inflated) XML is ``xml`` exactly: pykeepass saves it
    with its XML writer told to return these bytes."""
    kdbx4(path, password)
    kp = PyKeePass(str(path), password)
    monkeypatch.setattr(common.XML, "_encode", lambda self, tree, con, p: xml)
    kp.save()
    monkeypatch.undo()
    return path


def cli(vault: Path, *args: str, password: str | None = None,
        passphrase: str = PASSPHRASE) -> Result:
    """The CLI as a process: the vault passphrase on one pipe, the file's password on another
    (``--password-fd``, appended to ``args``)."""
    fds = []
    cmd = [sys.executable, "-m", "strongroom", "--vault", str(vault)]
    extra: list[str] = []
    for lines, option in ((passphrase, "--passphrase-fd"), (password, "--password-fd")):
        if lines is None:
            continue
        read_end, write_end = os.pipe()
        os.write(write_end, (lines + "\n").encode())
        os.close(write_end)
        fds.append(read_end)
        (cmd if option == "--passphrase-fd" else extra).extend([option, str(read_end)])
    env = {k: v for k, v in os.environ.items() if not k.startswith("STRONGROOM_")}
    try:
        proc = subprocess.run(cmd + list(args) + extra, capture_output=True, pass_fds=fds,
                              env=env, timeout=120, check=False)
    finally:
        for fd in fds:
            os.close(fd)
    return Result(proc.returncode, proc.stdout, proc.stderr.decode())
