"""Where the vault lives: ``--vault DIR``, else ``$STRONGROOM_VAULT``, else the user data dir."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

ENV_VAULT = "STRONGROOM_VAULT"


def default_vault_dir() -> Path:
    return Path(platformdirs.user_data_dir("Strongroom", appauthor=False))


def resolve_vault_dir(option: str | None) -> Path:
    if option:
        return Path(option).expanduser()
    env = os.environ.get(ENV_VAULT)
    if env:
        return Path(env).expanduser()
    return default_vault_dir()


def state_dir() -> Path:
    """Per-user state kept between runs (the operator last used on this machine)."""
    return Path(platformdirs.user_state_dir("Strongroom", appauthor=False))
