"""The vault's access policy, kept as data in the vault: which operations are critical (the
two-person rule), the device-health gate, and the review and factor-age defaults.

Changing the policy is itself a critical operation (``policy.change``).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from ..errors import UsageError
from ..model import Classification

POLICY_KEY = "access"
GATED_OPERATIONS = ("keyslot.remove", "access.change", "policy.change", "backup.restore",
                    "key.delete")
HEALTH_CHECKS = ("disk-encryption", "screen-lock", "patch-age")  # compliance check ids
DESCRIPTIONS = {
    "secret.reveal": "revealing this secret",
    "secret.export": "exporting this secret",
    "secret.delete": "deleting this secret",
    "key.sign": "signing with a high-value key",
    "key.delete": "deleting a key",
    "keyslot.remove": "removing an unlock method",
    "access.change": "changing operators, roles or grants",
    "policy.change": "changing the access policy",
    "backup.restore": "restoring a backup",
}


@dataclass(frozen=True)
class Policy:
    reveal_levels: tuple[str, ...] = ("critical",)
    export_levels: tuple[str, ...] = ("critical",)
    delete_levels: tuple[str, ...] = ("critical", "high")
    high_value_keys: tuple[str, ...] = ()  # key ids or labels
    operations: tuple[str, ...] = GATED_OPERATIONS
    strict: bool = False  # refuse a critical operation when nobody else could approve it
    # A level's key split 2-of-N (SLIP-39) among its holders once two or more hold it.
    dual_control_levels: tuple[str, ...] = ("critical",)
    health_levels: tuple[str, ...] = ()  # reveal at these levels needs the checks to pass
    health_keys: tuple[str, ...] = ()  # signing with these keys needs the checks to pass
    health_checks: tuple[str, ...] = HEALTH_CHECKS
    health_max_age_hours: int = 24
    unused_days: int = 90  # a review recommends revoking a grant unused this long
    factor_test_days: int = 90  # an unlock method untested this long is warned about

    def to_json(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    def critical(self, operation: str, *, level: str | None = None, key: tuple[str, ...] = ()
                 ) -> bool:
        if operation == "secret.reveal":
            return level in self.reveal_levels
        if operation == "secret.export":
            return level in self.export_levels
        if operation == "secret.delete":
            return level in self.delete_levels
        if operation == "key.sign":
            return any(k in self.high_value_keys for k in key)
        return operation in self.operations


def describe(operation: str) -> str:
    text = DESCRIPTIONS.get(operation, operation)
    return text[0].upper() + text[1:]


def load(conn: Any) -> Policy:
    row = conn.execute("SELECT value FROM policy WHERE key = ?", (POLICY_KEY,)).fetchone()
    return Policy() if row is None else from_json(json.loads(row[0]))


def save(conn: Any, new: Policy) -> None:
    conn.execute("INSERT OR REPLACE INTO policy (key, value) VALUES (?, ?)",
                 (POLICY_KEY, json.dumps(new.to_json(), sort_keys=True)))


def from_json(obj: Any) -> Policy:
    """A policy from its JSON object; UsageError naming the first bad field."""
    if not isinstance(obj, dict):
        raise UsageError("a policy is a JSON object")
    known = {f.name: f for f in fields(Policy)}
    out = Policy()
    for name, value in obj.items():
        if name not in known:
            raise UsageError(f"unknown policy field {name!r}")
        default = getattr(out, name)
        if isinstance(default, bool):
            if not isinstance(value, bool):
                raise UsageError(f"policy field {name} is true or false")
        elif isinstance(default, int):
            if type(value) is not int or not 1 <= value <= 3650:
                raise UsageError(f"policy field {name} is a whole number from 1 to 3650")
        else:
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise UsageError(f"policy field {name} is a list of names")
            value = tuple(_checked(name, v) for v in value)
        out = replace(out, **{name: value})
    return out


def _checked(name: str, value: str) -> str:
    if name.endswith("_levels"):
        return Classification.parse(value).value
    if name == "operations" and value not in GATED_OPERATIONS:
        raise UsageError(f"unknown operation {value!r}; gate one of: {', '.join(GATED_OPERATIONS)}")
    if name == "health_checks" and value not in HEALTH_CHECKS:
        raise UsageError(f"unknown check {value!r}; use: {', '.join(HEALTH_CHECKS)}")
    return value
