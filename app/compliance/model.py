"""Evidence, then judgement: the facts collectors gather and the results checks reach.

Collectors (in strongroom.backends.compliance) gather raw evidence and never judge; checks (in
this package) are pure functions of evidence, policy and ``now`` and never touch the machine.
A permission error, a missing tool or output we do not recognise is UNKNOWN, never FAIL.

Evidence is plain JSON so it can be dumped (``strongroom check --dump-evidence DIR``), replayed
(``--evidence DIR``) and kept as test fixtures. The format of one evidence file::

    {"format": 1, "os": "linux", "collected": "2026-11-23T10:00:00Z",
     "items": {"<evidence id>": {"kind": "command", ...}, ...}}

with items of three kinds:

- command: ``argv`` (list), ``exit_code`` (int or null), ``stdout``, ``stderr`` (text),
  ``error`` (null, "missing", "timeout", "permission" or another short word), ``duration`` (s)
- file: ``path``, ``content`` (text or null), ``error`` (as above, "missing" = no such file)
- registry: ``key``, ``name``, ``type`` ("REG_SZ", "REG_DWORD", …), ``value`` (text or int or
  null), ``error``

Conventions on top of these kinds (the kinds themselves are unchanged):

- a directory's listing is file evidence whose ``path`` ends in "/" and whose ``content`` is the
  entry names, sorted, one per line;
- a compressed log (``.gz``) is file evidence whose ``content`` is the decompressed text; a log
  longer than the output limit keeps its *end* (the newest entries), cut at a line start;
- ``state.first-seen`` is file evidence holding a JSON object {"<pending update>": "<ISO time
  first seen>"}: Strongroom's own memory (the vault or a state file) added after collection, so
  a dumped bundle re-judges the same way. Evidence ids are "<os>.<name>", shared by an OS's
  collector and its checks.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

# Where a stored run's results came from: checks run on this machine, or replayed evidence.
COLLECTED, EVIDENCE = "collected", "evidence"

EVIDENCE_FORMAT = 1


class Status(enum.Enum):
    Pass = "PASS"  # noqa: S105 - a status, not a password
    Fail = "FAIL"
    Unknown = "UNKNOWN"
    NotApplicable = "NOT_APPLICABLE"
    Excepted = "EXCEPTED"


class Confidence(enum.Enum):
    High = "high"  # read from the authoritative source
    Medium = "medium"  # inferred from a secondary source or a fallback method
    Low = "low"  # a heuristic


class OS(enum.Enum):
    Linux = "linux"
    MacOS = "macos"
    Windows = "windows"


@dataclass(frozen=True)
class CommandEvidence:
    argv: tuple[str, ...]
    exit_code: int | None
    stdout: str = ""
    stderr: str = ""
    error: str | None = None
    duration: float = 0.0
    kind: str = "command"

    @property
    def ok(self) -> bool:
        return self.error is None and self.exit_code == 0


@dataclass(frozen=True)
class FileEvidence:
    path: str
    content: str | None
    error: str | None = None
    kind: str = "file"


@dataclass(frozen=True)
class RegistryEvidence:
    key: str
    name: str
    type: str | None
    value: str | int | None
    error: str | None = None
    kind: str = "registry"


Evidence = CommandEvidence | FileEvidence | RegistryEvidence


def evidence_to_json(item: Evidence) -> dict[str, Any]:
    out = asdict(item)
    if isinstance(item, CommandEvidence):
        out["argv"] = list(item.argv)
    return out


def _field(obj: dict[str, Any], key: str, kinds: tuple[type, ...], default: Any = None,
           required: bool = False) -> Any:
    """``obj[key]`` if it is one of ``kinds`` (None allowed when ``None`` is the default)."""
    if key not in obj:
        if required:
            raise ValueError(f"'{key}' is missing")
        return default
    value = obj[key]
    if value is None and default is None and not required:
        return None
    if (isinstance(value, bool) and bool not in kinds) or not isinstance(value, kinds):
        words = {str: "text", list: "a list", float: "a number", int: "a whole number"}
        names = " or ".join(dict.fromkeys(
            "a number" if float in kinds and k is int else words.get(k, k.__name__)
            for k in kinds))
        raise ValueError(f"'{key}' must be {names}")
    return value


def evidence_from_json(obj: dict[str, Any]) -> Evidence:
    """Parse one evidence item; raises ValueError (one phrase) on anything malformed."""
    kind = obj.get("kind")
    if kind == "command":
        argv = _field(obj, "argv", (list,), required=True)
        if not all(isinstance(a, str) for a in argv):
            raise ValueError("'argv' must be a list of text")
        duration = _field(obj, "duration", (int, float), 0.0)
        if not -1e9 < duration < 1e9:  # also refuses NaN, infinities and huge integers
            raise ValueError("'duration' must be a number of seconds")
        return CommandEvidence(
            argv=tuple(argv),
            exit_code=_field(obj, "exit_code", (int,)),
            stdout=_field(obj, "stdout", (str,), ""),
            stderr=_field(obj, "stderr", (str,), ""),
            error=_field(obj, "error", (str,)),
            duration=float(duration),
        )
    if kind == "file":
        return FileEvidence(_field(obj, "path", (str,), required=True),
                            _field(obj, "content", (str,)), _field(obj, "error", (str,)))
    if kind == "registry":
        return RegistryEvidence(_field(obj, "key", (str,), required=True),
                                _field(obj, "name", (str,), required=True),
                                _field(obj, "type", (str,)), _field(obj, "value", (str, int)),
                                _field(obj, "error", (str,)))
    shown = kind if isinstance(kind, str) else type(kind).__name__
    raise ValueError(f"unknown evidence kind {shown[:40]!r}")


@dataclass(frozen=True)
class EvidenceBundle:
    """Everything one collection gathered on one machine."""

    os: OS
    collected: str
    items: dict[str, Evidence] = field(default_factory=dict)
    host: str = ""

    def get(self, evidence_id: str) -> Evidence | None:
        return self.items.get(evidence_id)


@dataclass(frozen=True)
class Policy:
    """What the organisation requires; loaded from TOML with these defaults."""

    max_patch_age_days: int = 2
    max_screen_lock_minutes: int = 15
    require_password_on_wake: bool = True
    required: tuple[str, ...] = (
        "disk-encryption", "patch-age", "screen-lock", "firewall", "guest-account",
        "secure-boot", "auto-updates", "tpm",
    )


@dataclass(frozen=True)
class CheckResult:
    check_id: str
    title: str
    status: Status
    observed: str  # the value we saw, in a few words ("FileVault on", "patched 5 days ago")
    reason: str  # one line: why this status
    evidence_excerpt: str  # the lines of evidence that decided it
    remediation: str  # what to do on this OS ("" when nothing is needed)
    confidence: Confidence
    method: str  # how it was determined (the commands/files read)
    duration: float = 0.0
    exception: dict[str, str] | None = None  # reason and expiry when EXCEPTED

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["status"] = self.status.value
        out["confidence"] = self.confidence.value
        return out


class Check(Protocol):
    """A pure judgement: evidence + policy + now -> result."""

    id: str
    title: str

    def __call__(self, bundle: EvidenceBundle, policy: Policy, now: dt.datetime) -> CheckResult:
        ...


class Collector(Protocol):
    """A port: gathers the evidence the checks need on this machine (implemented in backends)."""

    os: OS

    def collect(self, only: set[str] | None = None) -> EvidenceBundle: ...
