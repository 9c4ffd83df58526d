"""The compliance policy: a small TOML file, every key optional, defaults from ``Policy``.

Example (all keys shown with their defaults)::

    max_patch_age_days = 2          # a pending security update older than this fails patch-age
    max_screen_lock_minutes = 15    # idle time until the screen locks
    require_password_on_wake = true # the lock (and wake from sleep) asks for the password
    required = ["disk-encryption", "patch-age", "screen-lock", "firewall", "guest-account",
                "secure-boot", "auto-updates", "tpm"]

Only required checks decide the exit code; the others are still run and reported. Unknown keys
are refused, so a typo cannot silently fall back to a default.
"""

from __future__ import annotations

import tomllib
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ..errors import UsageError
from .model import Policy
from .registry import CHECK_IDS

DEFAULTS = "defaults"
MAX_FILE_BYTES = 64 * 1024


def load_policy(path: str | Path | None) -> tuple[Policy, str]:
    """The policy in ``path`` (or the defaults when None) and where it came from."""
    if path is None:
        return Policy(), DEFAULTS
    path = Path(path)
    try:
        with path.open("rb") as f:  # never more than the limit: the path may be /dev/zero
            data = f.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise UsageError(f"policy file {path} does not exist") from None
    except IsADirectoryError:
        raise UsageError(f"policy file {path} is a directory") from None
    except OSError as e:
        raise UsageError(f"cannot read policy file {path}: {e.strerror or e}") from None
    if len(data) > MAX_FILE_BYTES:
        raise UsageError(f"policy file {path} is larger than {MAX_FILE_BYTES // 1024} KiB")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise UsageError(f"policy file {path} is not UTF-8 text (byte 0x{data[e.start]:02x} at "
                         f"offset {e.start})") from None
    return parse_policy(text, str(path)), str(path)


def parse_policy(text: str, where: str = "policy") -> Policy:
    """Validate TOML text into a Policy; every problem is one UsageError line naming ``where``."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise UsageError(f"{where} is not valid TOML: {e}") from None
    except RecursionError:  # tomllib recurses into nested arrays and inline tables
        raise UsageError(f"{where} nests arrays or tables too deeply to be a policy") from None
    except ValueError as e:  # e.g. an integer of more than 4,300 digits
        why = ("a number has more than 4,300 digits" if "integer string conversion" in str(e)
               else " ".join(str(e).split())[:100])
        raise UsageError(f"{where} is not a TOML file Strongroom can read ({why})") from None
    known = {"max_patch_age_days", "max_screen_lock_minutes", "require_password_on_wake",
             "required"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise UsageError(
            f"{where}: unknown key {_shown(unknown[0])} (known: {', '.join(sorted(known))})"
        )
    defaults = Policy()
    return Policy(
        max_patch_age_days=_int(raw, "max_patch_age_days", defaults.max_patch_age_days,
                                0, 3650, where),
        max_screen_lock_minutes=_int(raw, "max_screen_lock_minutes",
                                     defaults.max_screen_lock_minutes, 1, 24 * 60, where),
        require_password_on_wake=_bool(raw, "require_password_on_wake",
                                       defaults.require_password_on_wake, where),
        required=_required(raw, defaults.required, where),
    )


def _int(raw: dict[str, Any], key: str, default: int, low: int, high: int, where: str) -> int:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise UsageError(f"{where}: {key} must be a whole number, not {_shown(value)}")
    if not low <= value <= high:
        raise UsageError(f"{where}: {key} must be between {low} and {high}, not {_shown(value)}")
    return value


def _bool(raw: dict[str, Any], key: str, default: bool, where: str) -> bool:
    value = raw.get(key, default)
    if not isinstance(value, bool):
        raise UsageError(f"{where}: {key} must be true or false, not {_shown(value)}")
    return value


def _required(raw: dict[str, Any], default: tuple[str, ...], where: str) -> tuple[str, ...]:
    value = raw.get("required", list(default))
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise UsageError(f"{where}: required must be a list of check ids")
    for check_id in value:
        if check_id not in CHECK_IDS:
            raise UsageError(f"{where}: unknown check {_shown(check_id)} in required "
                             f"(known: {', '.join(CHECK_IDS)})")
    return tuple(dict.fromkeys(value))


def _shown(value: Any) -> str:
    """A value from the file in an error message: short and on one line."""
    if isinstance(value, list | dict):
        return "an array" if isinstance(value, list) else "a table"
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**30:
        return "a huge number"
    text = repr(value)
    return text if len(text) <= 60 else text[:59] + "…"


def policy_to_json(policy: Policy, source: str) -> dict[str, Any]:
    out = asdict(policy)
    out["required"] = list(policy.required)
    out["source"] = source
    return out


def describe(policy: Policy, source: str) -> str:
    """The policy in one line, for the head of a report."""
    required = (
        "all checks required" if set(policy.required) == set(CHECK_IDS)
        else f"required: {', '.join(policy.required) or 'none'}"
    )
    wake = "required" if policy.require_password_on_wake else "not required"
    return (
        f"Policy ({source}): security updates within {policy.max_patch_age_days} d, screen lock "
        f"within {policy.max_screen_lock_minutes} min, password on wake {wake}; {required}"
    )
