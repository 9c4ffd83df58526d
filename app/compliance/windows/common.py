"""Helpers the Windows checks share: PowerShell JSON answers and registry values.

PowerShell evidence is one JSON object per script (dates as ISO 8601 via
``.ToString('o')``); when a script throws, the collector's wrapper prints {"error",
"hresult", "message"} instead. Registry evidence keeps the value's type: REG_SZ numbers
are compared as integers.
"""

from __future__ import annotations

from typing import Any

from ..model import EvidenceBundle
from ..parsing import (
    command,
    first_lines,
    load_json,
    looks_like_access_denied,
    powershell_error,
    registry,
    shorten,
    unavailable,
)
from .evidence_ids import REGISTRY


def _ps_json(bundle: EvidenceBundle, evidence_id: str, what: str) -> tuple[Any, str | None]:
    """A PowerShell script's JSON answer, or (None, why not)."""
    item = command(bundle, evidence_id)
    why = unavailable(item, what)
    if why or item is None:
        return None, why
    payload = load_json(item.stdout)
    error = powershell_error(payload)
    if error is not None:
        prefix = "needs administrator rights" if looks_like_access_denied(error) else "failed"
        return None, f"{what} {prefix}: {shorten(first_lines(error, 1))}"
    if payload is None:
        detail = shorten(first_lines(item.stderr, 1)) or f"exit {item.exit_code}, no JSON"
        if looks_like_access_denied(item.stderr):
            return None, f"{what} needs administrator rights: {detail}"
        return None, f"{what}: {detail}"
    return payload, None


def _reg(bundle: EvidenceBundle, evidence_id: str) -> tuple[object, bool]:
    """(value, readable): an absent value is readable (not configured); errors are not."""
    item = registry(bundle, evidence_id)
    if item is None:
        return None, False
    if item.error == "missing":
        return None, True
    if item.error is not None:
        return None, False
    return item.value, True


def _reg_line(bundle: EvidenceBundle, evidence_id: str) -> str:
    item = registry(bundle, evidence_id)
    key, name = REGISTRY[evidence_id]
    if item is None:
        return f"{name}: not collected"
    if item.error == "missing":
        return f"{key}\\{name}: not set"
    if item.error:
        return f"{key}\\{name}: {item.error}"
    return f"{key}\\{name} = {item.value!r} ({item.type})"


def _command_why(bundle: EvidenceBundle, evidence_id: str, what: str) -> str:
    """Why a command's answer gave nothing usable: not run, refused, failed or unrecognised."""
    item = command(bundle, evidence_id)
    why = unavailable(item, what)
    if why or item is None:
        return why or f"{what}: not collected"
    text = "\n".join(part for part in (item.stdout.strip(), item.stderr.strip()) if part)
    if looks_like_access_denied(text):
        return f"{what}: access denied"
    detail = shorten(first_lines(text, 1), 60)
    if item.exit_code != 0:
        return f"{what}: exit {item.exit_code}" + (f" ({detail})" if detail else "")
    return f"{what}: output not recognised" + (f" ({detail})" if detail else "")


def _reg_why(bundle: EvidenceBundle, evidence_id: str) -> str:
    """A registry value that could not be read, and why ("ScreenSaverIsSecure: permission
    denied"); the key is in the evidence excerpt."""
    item = registry(bundle, evidence_id)
    _key, name = REGISTRY[evidence_id]
    return unavailable(item, name) or f"{name}: not readable"
