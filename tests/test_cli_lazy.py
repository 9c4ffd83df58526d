"""The CLI imports only the chosen command's group: the static table of commands says what the
groups register, and `strongroom --help` loads nothing of the vault."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from strongroom.app import cli
from strongroom.app.cli.parsing import UNLOCK_CHOICES
from strongroom.app.unlock_methods import RECOVERY


def _commands(parser: argparse.ArgumentParser) -> argparse._SubParsersAction:  # type: ignore[type-arg]
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))


def test_the_table_names_what_the_groups_register() -> None:
    full = _commands(cli.build_parser())
    listed = [(c.dest, c.help) for c in full._choices_actions]
    assert listed == [(name, help) for name, help, *_ in cli.COMMANDS]


@pytest.mark.parametrize("name", [name for name, *_ in cli.COMMANDS])
def test_a_command_parsed_alone_is_the_same_command(name: str) -> None:
    whole = _commands(cli.build_parser()).choices[name]
    alone = _commands(cli.build_parser(frozenset({name}))).choices[name]
    assert alone.format_help() == whole.format_help()
    assert cli.build_parser(frozenset()).format_help() == cli.build_parser().format_help()


def test_unlock_choices_end_with_recovery() -> None:
    assert UNLOCK_CHOICES[-1] == RECOVERY


@pytest.mark.parametrize(("argv", "absent"), [
    (["--help"], ("strongroom.app.vault", "zxcvbn", "importlib.metadata", "sqlcipher3",
                  "strongroom.app.cli.common")),
    (["--version"], ("strongroom.app.vault", "zxcvbn", "sqlcipher3")),
    (["secret", "--help"], ("zxcvbn", "strongroom.app.compliance.registry",
                            "strongroom.app.transfer", "strongroom.app.cli.check",
                            "importlib.metadata")),
])
def test_a_call_imports_only_what_it_needs(argv: list[str], absent: tuple[str, ...]) -> None:
    code = (
        "import sys, contextlib\nfrom strongroom.app.cli import main\n"
        f"with contextlib.suppress(SystemExit):\n    main({argv!r})\n"
        f"print([m for m in {absent!r} if m in sys.modules], file=sys.stderr)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False)
    assert proc.stderr.strip().splitlines()[-1] == "[]", proc.stderr
