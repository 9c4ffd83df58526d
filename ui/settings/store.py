"""The console's own preferences (never secrets), kept with QSettings."""

from __future__ import annotations

from typing import ClassVar

from PySide6.QtCore import QObject, QSettings, Signal


class ConsoleSettings(QObject):
    """Typed access to the preferences; ``changed`` fires with the key that changed."""

    changed = Signal(str)

    DEFAULTS: ClassVar[dict[str, object]] = {
        "auto_lock_minutes": 5,
        "clipboard_clear_seconds": 30,
        "lock_on_session_lock": True,
        "minimize_to_tray": False,
        "theme": "system",  # system | light | dark
        "reveal_seconds": 30,
        "schedule_backup_dir": "",
        "compliance_schedule_hours": 0,  # 0 = no scheduled compliance runs
        "compliance_policy_file": "",  # "" = the built-in default policy
    }

    def __init__(self, store: QSettings | None = None) -> None:
        super().__init__()
        self._store = store or QSettings(
            QSettings.Format.IniFormat, QSettings.Scope.UserScope, "Strongroom", "console"
        )

    def get(self, key: str) -> object:
        default = self.DEFAULTS[key]
        value = self._store.value(key, default)
        if isinstance(default, bool):
            return value in (True, "true", "1", 1)
        if isinstance(default, int):
            try:
                return int(value)  # type: ignore[call-overload]
            except (TypeError, ValueError):
                return default
        return str(value)

    def set(self, key: str, value: object) -> None:
        if key not in self.DEFAULTS:
            raise KeyError(key)
        self._store.setValue(key, value)
        self._store.sync()
        self.changed.emit(key)

    @property
    def auto_lock_minutes(self) -> int:
        return int(self.get("auto_lock_minutes"))  # type: ignore[call-overload]

    @property
    def clipboard_clear_seconds(self) -> int:
        return int(self.get("clipboard_clear_seconds"))  # type: ignore[call-overload]

    @property
    def reveal_seconds(self) -> int:
        return int(self.get("reveal_seconds"))  # type: ignore[call-overload]

    @property
    def lock_on_session_lock(self) -> bool:
        return bool(self.get("lock_on_session_lock"))

    @property
    def minimize_to_tray(self) -> bool:
        return bool(self.get("minimize_to_tray"))

    @property
    def theme(self) -> str:
        return str(self.get("theme"))

    @property
    def compliance_schedule_hours(self) -> int:
        return int(self.get("compliance_schedule_hours"))  # type: ignore[call-overload]

    @property
    def compliance_policy_file(self) -> str:
        return str(self.get("compliance_policy_file"))
