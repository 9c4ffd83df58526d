"""Helpers the Linux checks share: why evidence is unusable, excerpts, the distribution
family, small INI readers, and the result builder and Check wrapper.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace

from ..model import (
    CheckResult,
    CommandEvidence,
    Confidence,
    Evidence,
    EvidenceBundle,
    FileEvidence,
    Policy,
    Status,
)
from ..parsing import file
from ..registry import TITLES
from .evidence_ids import EVIDENCE, OS_RELEASE

MAX_EXCERPT = 900


def problem(item: Evidence | None, what: str = "") -> str | None:
    """Why ``item`` cannot be used (one phrase), or None when it is usable."""
    if item is None:
        return f"{what or 'the evidence'} was not collected"
    if isinstance(item, CommandEvidence):
        name = item.argv[0] if item.argv else "the command"
        if item.error == "missing":
            return f"{name} is not installed"
        if item.error == "timeout":
            return f"{name} timed out"
        if item.error == "permission" or _denied(item.stderr):
            return f"{name}: permission denied"
        if item.error:
            return f"{name} could not run ({item.error})"
        return None
    if isinstance(item, FileEvidence):
        if item.error == "missing":
            return f"{item.path} does not exist"
        if item.error == "permission":
            return f"{item.path}: permission denied"
        if item.error:
            return f"{item.path} could not be read ({item.error})"
        return None
    return f"unexpected {item.kind} evidence"


def failure(item: CommandEvidence | None, what: str = "") -> str | None:
    """Like :func:`problem`, and a command that exited non-zero gives its first stderr line."""
    why = problem(item, what)
    if why or item is None or item.exit_code == 0:
        return why
    first = (item.stderr.strip().splitlines() or [f"exit {item.exit_code}"])[0]
    name = item.argv[0] if item.argv else "the command"
    return f"{name}: {first[:100]}"


def _denied(text: str) -> bool:
    low = text.lower()
    return "permission denied" in low or "operation not permitted" in low or \
        "access denied" in low


def _text(item: FileEvidence | None) -> str | None:
    return None if item is None or item.error or item.content is None else item.content


def excerpt(item: Evidence | None, lines: Iterable[str] | None = None) -> str:
    """A short quote of the evidence that decided: the command or path, then the lines."""
    if item is None:
        return ""
    if isinstance(item, CommandEvidence):
        head = "$ " + " ".join(item.argv)
        if item.error:
            head += f"  [{item.error}]"
        elif item.exit_code:
            head += f"  [exit {item.exit_code}]"
        body = list(lines) if lines is not None else (
            item.stdout.splitlines()[:6] or item.stderr.splitlines()[:3])
    elif isinstance(item, FileEvidence):
        head = item.path + (f"  [{item.error}]" if item.error else "")
        body = list(lines) if lines is not None else (item.content or "").splitlines()[:6]
    else:
        head, body = f"{item.key}\\{item.name}", [str(item.value)]
    text = "\n".join([head, *("  " + ln.rstrip() for ln in body)])
    return text if len(text) <= MAX_EXCERPT else text[: MAX_EXCERPT - 1] + "…"


def _join(*parts: str) -> str:
    return "\n".join(p for p in parts if p)


def _os_release(bundle: EvidenceBundle) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in (_text(file(bundle, OS_RELEASE)) or "").splitlines():
        key, sep, value = line.partition("=")
        if sep:
            out[key.strip()] = value.strip().strip("\"'")
    return out


def family(bundle: EvidenceBundle) -> str:
    """"debian", "rhel" or "" from /etc/os-release's ID and ID_LIKE (os-release(5))."""
    info = _os_release(bundle)
    ids = {info.get("ID", "").lower(), *info.get("ID_LIKE", "").lower().split()}
    if ids & {"debian", "ubuntu"}:
        return "debian"
    if ids & {"rhel", "fedora", "centos", "rocky", "almalinux", "ol", "amzn"}:
        return "rhel"
    return ""


@dataclass
class _Result:
    """Builder for one CheckResult so each branch states only what differs."""

    check_id: str
    method: str
    remediation: str
    evidence: list[str] = field(default_factory=list)

    def make(self, status: Status, observed: str, reason: str,
             confidence: Confidence = Confidence.High, remediation: str | None = None,
             excerpts: Sequence[str] = ()) -> CheckResult:
        needs_fix = status in (Status.Fail, Status.Unknown)
        fix = self.remediation if remediation is None else remediation
        return CheckResult(
            check_id=self.check_id, title=TITLES[self.check_id], status=status,
            observed=observed, reason=reason, evidence_excerpt=_join(*excerpts),
            remediation=fix if needs_fix else "", confidence=confidence, method=self.method,
        )


def _max_duration(bundle: EvidenceBundle, check_id: str) -> float:
    keys = EVIDENCE[check_id]
    longest = 0.0
    for key, item in bundle.items.items():
        if isinstance(item, CommandEvidence) and any(
            key == k or (k.endswith((".", ":")) and key.startswith(k)) or key.startswith(k + ".")
            for k in keys
        ):
            longest = max(longest, item.duration)
    return longest


class LinuxCheck:
    """A Check (see model.Check): id, title, the evidence it reads, and the judgement."""

    def __init__(self, check_id: str,
                 fn: Callable[[EvidenceBundle, Policy, dt.datetime], CheckResult]) -> None:
        self.id = check_id
        self.title = TITLES[check_id]
        self.evidence = EVIDENCE[check_id]
        self.fn = fn

    def __call__(self, bundle: EvidenceBundle, policy: Policy, now: dt.datetime) -> CheckResult:
        result = self.fn(bundle, policy, now)
        # The evidence was gathered in parallel: this check waited for its slowest command.
        return _with_duration(result, _max_duration(bundle, self.id))


def _with_duration(result: CheckResult, seconds: float) -> CheckResult:
    return replace(result, duration=result.duration + seconds)


def _days(delta: dt.timedelta) -> str:
    days = delta.total_seconds() / 86400
    if days < 1:
        hours = max(0, int(delta.total_seconds() // 3600))
        return f"{hours} h"
    return f"{int(days)} day" + ("" if int(days) == 1 else "s")


def _ini_section(text: str, section: str) -> dict[str, str]:
    out: dict[str, str] = {}
    current = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = line
            continue
        if current == f"[{section}]":
            key, sep, value = line.partition("=")
            if sep:
                out[key.strip()] = value.strip()
    return out


def _bool(text: str | None, default: bool) -> bool | None:
    if text is None:
        return default
    low = text.strip().lower()
    if low in ("true", "1", "yes", "on"):
        return True
    if low in ("false", "0", "no", "off"):
        return False
    return None
