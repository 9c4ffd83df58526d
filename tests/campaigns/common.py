"""What the campaigns share: private homes, the CLI run in this process, vaults, tables."""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from strongroom.app.cli import main as cli_main
from strongroom.app.keyslots import normalize_passphrase
from strongroom.app.vault import Vault

PASSPHRASE = "campaign passphrase: quarry lantern 5531"
FAST_KDF_MS = 10  # the Argon2id floor (64 MiB, 3 iterations) applies anyway


def private_homes() -> Path:
    """Point config, state and temp dirs at a new private folder (the soak never touches the
    user's), and drop STRONGROOM_* settings inherited from the shell. Returns the folder."""
    root = Path(tempfile.mkdtemp(prefix="strongroom-soak-"))
    for name in ("config", "state", "tmp"):
        (root / name).mkdir()
    os.environ["XDG_CONFIG_HOME"] = str(root / "config")
    os.environ["XDG_STATE_HOME"] = str(root / "state")
    os.environ["TMPDIR"] = str(root / "tmp")
    tempfile.tempdir = None  # re-read TMPDIR
    for key in [k for k in os.environ if k.startswith("STRONGROOM_")]:
        del os.environ[key]
    return root


def new_vault(path: Path, passphrase: str = PASSPHRASE) -> Vault:
    """A new vault at ``path``, unlocked."""
    return Vault.create(path, normalize_passphrase(passphrase), kdf_time_ms=FAST_KDF_MS)


@dataclass(frozen=True)
class CliRun:
    code: int
    out: bytes
    err: str
    logs: tuple[str, ...]

    @property
    def one_line(self) -> bool:
        """The error contract: exactly one ``strongroom: ...`` line on stderr, no traceback."""
        lines = self.err.splitlines()
        return len(lines) == 1 and lines[0].startswith("strongroom: ") \
            and "internal error" not in self.err and "Traceback" not in self.err


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.levelname}: {record.getMessage()}")


@contextlib.contextmanager
def quiet_logs() -> Iterator[_Records]:
    """Log records go to a list while this runs (and cli.main's basicConfig binds no stream)."""
    handler = _Records()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)


def cli(*args: str, vault: Path | None = None, passphrases: list[str] | None = None,
        stdin: bytes = b"") -> CliRun:
    """``strongroom ARGS`` through the CLI's own ``main`` in this process (no interpreter start:
    ~0.2 s a run instead of ~1 s), passphrases on a pipe as ``--passphrase-fd``."""
    argv: list[str] = []
    if vault is not None:
        argv += ["--vault", str(vault)]
    read_end = None
    if passphrases is not None:
        read_end, write_end = os.pipe()
        os.write(write_end, "".join(p + "\n" for p in passphrases).encode())
        os.close(write_end)
        argv += ["--passphrase-fd", str(read_end)]
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    err = io.StringIO()
    old_stdin = sys.stdin
    sys.stdin = io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8")
    try:
        with quiet_logs() as logs, contextlib.redirect_stdout(out), \
                contextlib.redirect_stderr(err):
            code = cli_main([*argv, *args])
    finally:
        sys.stdin = old_stdin
        if read_end is not None:
            os.close(read_end)
    out.flush()
    return CliRun(code, out.buffer.getvalue(), err.getvalue(), tuple(logs.lines))  # type: ignore[attr-defined]


def table(headers: list[str], rows: list[list[object]]) -> str:
    """A Markdown table, columns padded so it also reads as plain text."""
    cells = [[str(c) for c in row] for row in [headers, *rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def line(row: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) if i == 0 else c.rjust(w)
                                 for i, (c, w) in enumerate(zip(row, widths, strict=True))) + " |"

    rule = "|" + "|".join("-" * (w + 1) + ("-" if i == 0 else ":")
                          for i, w in enumerate(widths)) + "|"
    return "\n".join([line(cells[0]), rule, *(line(r) for r in cells[1:])])
