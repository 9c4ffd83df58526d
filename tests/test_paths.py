"""Where the vault is: --vault beats STRONGROOM_VAULT beats the platform's user data dir."""

from __future__ import annotations

from pathlib import Path

import platformdirs
import pytest

from strongroom.app.paths import default_vault_dir, resolve_vault_dir


def test_default_is_the_platform_user_data_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STRONGROOM_VAULT", raising=False)
    expected = Path(platformdirs.user_data_dir("Strongroom", appauthor=False))
    assert resolve_vault_dir(None) == default_vault_dir() == expected


def test_env_overrides_default_and_option_overrides_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STRONGROOM_VAULT", "/srv/from-env")
    assert resolve_vault_dir(None) == Path("/srv/from-env")
    assert resolve_vault_dir("/srv/from-option") == Path("/srv/from-option")


def test_home_is_expanded(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert resolve_vault_dir("~/v") == tmp_path / "v"
