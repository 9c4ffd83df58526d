"""Ceremony scripts: one reviewed TOML file holds the whole ceremony (docs/ceremonies.md).

:func:`parse` reads a script and gathers every problem it finds, each with the line it is on
(unknown table, key or step kind, a missing or bad parameter, roles missing or doubled, a
segregation-of-duties conflict, a step acting as a role the script does not define, an output
written twice); :func:`check_operators` adds what only a vault can tell (unknown operators, an
operator without the role's Strongroom role). Nothing here touches a token or a file but the
script itself.
"""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import UsageError
from ..keys.certificates import parse_subject
from ..keys.ports import KeyType
from . import script_lines
from .script_lines import Problem
from .script_roles import ROLE_KINDS, RoleSpec, check_operators, read_roles
from .step_kinds import KEY_USAGES, STEP_KINDS, ParamError

__all__ = ["FORMAT_VERSION", "ROLE_KINDS", "Preflight", "Problem", "RoleSpec", "Script",
           "ScriptInvalid", "Step", "check_operators", "load", "parse", "problems"]

FORMAT_VERSION = 1
MAX_SCRIPT_BYTES = 256 * 1024
MAX_STEPS = 500
PREFLIGHT_CHECKS = ("disk-encryption", "screen-lock", "patch-age", "firewall")


class ScriptInvalid(UsageError):
    """A script with problems: the message names the first; ``problems`` lists all."""

    def __init__(self, source: str, problems: Sequence[Problem]) -> None:
        first = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(f"{source} line {first.line}: {first.message}{more}")
        self.problems = list(problems)


@dataclass(frozen=True)
class Preflight:
    offline: bool = True
    checks: tuple[str, ...] = ("disk-encryption", "screen-lock")
    token_store: str = "pkcs11"  # noqa: S105 - a key store's name
    token_serial: str | None = None
    token_label: str | None = None
    output: str = "out"
    clock_skew_minutes: int = 10


@dataclass(frozen=True)
class Step:
    id: str
    kind: str
    role: str
    title: str
    params: Mapping[str, Any]
    line: int


@dataclass(frozen=True)
class Script:
    name: str
    purpose: str
    roles: Mapping[str, RoleSpec]
    preflight: Preflight
    steps: tuple[Step, ...]
    text: str = field(repr=False)
    sign_with: str | None = None  # a key label that signs the transcript's head at the end

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()

    def role_of_kind(self, kind: str) -> RoleSpec | None:
        return next((r for r in self.roles.values() if r.kind == kind), None)


def load(path: Any) -> Script:
    from pathlib import Path

    path = Path(path)
    try:
        with path.open("rb") as f:
            data = f.read(MAX_SCRIPT_BYTES + 1)
    except IsADirectoryError:
        raise UsageError(f"{path} is a directory, not a ceremony script") from None
    except OSError as e:
        raise UsageError(f"cannot read {path}: {e.strerror or e}") from None
    if len(data) > MAX_SCRIPT_BYTES:
        raise UsageError(f"{path} is larger than a ceremony script can be "
                         f"({MAX_SCRIPT_BYTES // 1024} KiB)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise UsageError(f"{path} is not UTF-8 text (byte 0x{data[e.start]:02x} at offset "
                         f"{e.start})") from None
    return parse(text, path.name)


def parse(text: str, source: str = "script") -> Script:
    """The script, or ScriptInvalid naming every problem with its line."""
    script, found = _read(text, source)
    if found or script is None:
        raise ScriptInvalid(source, found or [Problem(1, "the script is empty")])
    return script


def problems(text: str, source: str = "script") -> list[Problem]:
    return _read(text, source)[1]


def _read(text: str, source: str) -> tuple[Script | None, list[Problem]]:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        return None, [Problem(getattr(e, "lineno", 1) or 1, f"not valid TOML: {e.msg}"
                              if hasattr(e, "msg") else f"not valid TOML: {e}")]
    except RecursionError:
        return None, [Problem(1, "arrays or tables nest too deeply")]
    except ValueError as e:
        return None, [Problem(1, f"a value cannot be read ({' '.join(str(e).split())[:80]})")]
    lines = script_lines.Lines(text)
    out: list[Problem] = []
    for key in sorted(set(raw) - {"ceremony", "roles", "preflight", "steps"}):
        out.append(Problem(lines.table(key) or lines.key(None, key), f"unknown table {key!r}"))
    head = script_lines.table_of(raw, "ceremony", lines, out)
    name = _text(head, "name", lines.key("ceremony", "name") or 1, out, required=True)
    purpose = _text(head, "purpose", lines.key("ceremony", "purpose") or 1, out, required=True)
    version = head.get("version", FORMAT_VERSION)
    if version != FORMAT_VERSION:
        out.append(Problem(lines.key("ceremony", "version") or 1,
                           f"script format {version!r}; this Strongroom reads {FORMAT_VERSION}"))
    sign_with = head.get("sign_transcript_with")
    if sign_with is not None and not isinstance(sign_with, str):
        out.append(Problem(lines.key("ceremony", "sign_transcript_with") or 1,
                           "sign_transcript_with is a key label"))
        sign_with = None
    for key in sorted(set(head) - {"name", "purpose", "version", "sign_transcript_with"}):
        out.append(Problem(lines.key("ceremony", key) or 1, f"unknown key {key!r} in [ceremony]"))
    roles = read_roles(raw, lines, out)
    preflight = _preflight(raw, lines, out)
    steps = _steps(raw, lines, roles, out)
    if sign_with is not None and not any(s.kind == "generate-key" and s.params.get("label")
                                         == sign_with for s in steps):
        out.append(Problem(lines.key("ceremony", "sign_transcript_with") or 1,
                           f"no generate-key step makes the key {sign_with!r}"))
    script = Script(name or "", purpose or "", roles, preflight, tuple(steps), text,
                    sign_with if isinstance(sign_with, str) else None)
    return script, sorted(out, key=lambda p: p.line)


def _text(table: Mapping[str, Any], key: str, line: int, out: list[Problem], *,
          required: bool = False, limit: int = 4096) -> str | None:
    value = table.get(key)
    if value is None:
        if required:
            out.append(Problem(line, f"{key} is missing"))
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        out.append(Problem(line, f"{key} must be text of 1 to {limit} characters"))
        return None
    return value


def _preflight(raw: Mapping[str, Any], lines: script_lines.Lines, out: list[Problem]
               ) -> Preflight:
    table = raw.get("preflight", {})
    line = lines.table("preflight") or 1
    if not isinstance(table, dict):
        out.append(Problem(line, "preflight must be a table"))
        return Preflight()
    offline = table.get("offline", True)
    if not isinstance(offline, bool):
        out.append(Problem(lines.key("preflight", "offline") or line, "offline is true or false"))
        offline = True
    checks = table.get("checks", list(Preflight.checks))
    if not isinstance(checks, list) or not all(c in PREFLIGHT_CHECKS for c in checks):
        out.append(Problem(lines.key("preflight", "checks") or line,
                           f"checks are some of: {', '.join(PREFLIGHT_CHECKS)}"))
        checks = []
    token = table.get("token", {})
    serial = label = None
    store = "pkcs11"
    if not isinstance(token, dict) or set(token) - {"store", "serial", "label"}:
        out.append(Problem(lines.key("preflight", "token") or line,
                           "token is { store = \"pkcs11\" | \"tpm\", serial = \"…\" or label = "
                           "\"…\" }"))
    else:
        store, serial, label = token.get("store", "pkcs11"), token.get("serial"), token.get(
            "label")
        if store not in ("pkcs11", "tpm") or not all(v is None or (isinstance(v, str) and v)
                                                     for v in (serial, label)):
            out.append(Problem(lines.key("preflight", "token") or line,
                               "token store is pkcs11 or tpm; serial and label are text"))
            store, serial, label = "pkcs11", None, None
    folder = table.get("output", "out")
    if not isinstance(folder, str) or not script_lines.plain_name(folder):
        out.append(Problem(lines.key("preflight", "output") or line,
                           "output is a plain folder name (no '/', no '..')"))
        folder = "out"
    skew = table.get("clock_skew_minutes", 10)
    if type(skew) is not int or not 1 <= skew <= 1440:
        out.append(Problem(lines.key("preflight", "clock_skew_minutes") or line,
                           "clock_skew_minutes is 1 to 1440"))
        skew = 10
    for key in sorted(set(table) - {"offline", "checks", "token", "output",
                                    "clock_skew_minutes"}):
        out.append(Problem(lines.key("preflight", key) or line,
                           f"unknown key {key!r} in [preflight]"))
    return Preflight(offline, tuple(checks), str(store), serial, label, folder, skew)


def _steps(raw: Mapping[str, Any], lines: script_lines.Lines, roles: Mapping[str, RoleSpec],
           out: list[Problem]) -> list[Step]:
    items = raw.get("steps")
    if not isinstance(items, list) or not items:
        out.append(Problem(1, "the script has no [[steps]]"))
        return []
    if len(items) > MAX_STEPS:
        out.append(Problem(lines.step(MAX_STEPS), f"more than {MAX_STEPS} steps"))
        items = items[:MAX_STEPS]
    steps: list[Step] = []
    context = StepContext()
    for index, item in enumerate(items):
        line = lines.step(index)
        if not isinstance(item, dict):
            out.append(Problem(line, "a step must be a table"))
            continue
        step_id = item.get("id")
        kind = item.get("kind")
        role = item.get("role")
        if not isinstance(step_id, str) or not script_lines.plain_name(step_id):
            out.append(Problem(line, "a step needs an id: a plain name"))
            step_id = f"step-{index + 1}"
        elif step_id in context.ids:
            out.append(Problem(line, f"two steps have the id {step_id!r}"))
        context.ids.add(step_id)
        if not isinstance(kind, str) or kind not in STEP_KINDS:
            out.append(Problem(lines.step_key(index, "kind") or line,
                               f"unknown step kind {kind!r}; use one of: "
                               f"{', '.join(STEP_KINDS)}"))
            continue
        if not isinstance(role, str) or role not in roles:
            out.append(Problem(lines.step_key(index, "role") or line,
                               f"step {step_id!r} acts as role {role!r}, which the script does "
                               "not define"))
            role = ""
        title = item.get("title", "")
        if not isinstance(title, str) or len(title) > 200:
            out.append(Problem(line, "a step title is text of up to 200 characters"))
            title = ""
        params = {k: v for k, v in item.items() if k not in ("id", "kind", "role", "title")}
        for problem in check_params(kind, step_id, params, context, roles):
            out.append(Problem(lines.step_key(index, problem.key) or line, problem.message))
        steps.append(Step(step_id, kind, role, title or step_id, params, line))
    return steps


@dataclass
class StepContext:
    """What earlier steps made, for the checks of later ones."""

    ids: set[str] = field(default_factory=set)
    keys: set[str] = field(default_factory=set)
    outputs: set[str] = field(default_factory=set)
    share_sets: set[str] = field(default_factory=set)


def check_params(kind: str, step_id: str, params: Mapping[str, Any], context: StepContext,
                 roles: Mapping[str, RoleSpec]) -> list[ParamError]:
    spec = STEP_KINDS[kind]
    found = [ParamError(k, f"step {step_id!r}: unknown parameter {k!r} for {kind}")
             for k in sorted(set(params) - set(spec))]
    for name, (check, required) in spec.items():
        if name not in params:
            if required:
                found.append(ParamError("", f"step {step_id!r}: {kind} needs {name}"))
            continue
        why = check(params[name])
        if why:
            found.append(ParamError(name, f"step {step_id!r}: {name} {why}"))
    if found:
        return found
    return _relations(kind, step_id, params, context, roles)


def _relations(kind: str, step_id: str, params: Mapping[str, Any], context: StepContext,
               roles: Mapping[str, RoleSpec]) -> list[ParamError]:
    found: list[ParamError] = []
    if kind == "generate-key":
        if params["label"] in context.keys:
            found.append(ParamError("label", f"step {step_id!r}: a key {params['label']!r} is "
                                             "generated twice"))
        try:
            KeyType(params["type"])
        except ValueError:
            found.append(ParamError("type", f"step {step_id!r}: unknown key type "
                                            f"{params['type']!r}"))
        context.keys.add(params["label"])
    if "subject" in params:
        try:
            parse_subject(params["subject"])
        except UsageError as e:
            found.append(ParamError("subject", f"step {step_id!r}: {e}"))
    if kind in ("issue-certificate", "self-signed-root"):
        bad = [u for u in params.get("key_usage", []) if u not in KEY_USAGES]
        if bad:
            found.append(ParamError("key_usage", f"step {step_id!r}: unknown key usage "
                                                 f"{bad[0]!r}"))
    if kind == "create-shares":
        custodians = roles.get(params["custodians"])
        if custodians is None:
            found.append(ParamError("custodians", f"step {step_id!r}: custodians name a role "
                                                  "the script does not define"))
        elif not 2 <= params["threshold"] <= len(custodians.operators):
            found.append(ParamError("threshold", f"step {step_id!r}: threshold must be 2 to "
                                                 f"{len(custodians.operators)}"))
        context.share_sets.add(step_id)
    if kind == "verify-shares" and params["set"] not in context.share_sets:
        found.append(ParamError("set", f"step {step_id!r}: no earlier create-shares step "
                                       f"{params['set']!r}"))
    output = params.get("output")
    if isinstance(output, str):
        if output in context.outputs:
            found.append(ParamError("output", f"step {step_id!r}: the output {output!r} is "
                                              "written twice"))
        context.outputs.add(output)
    return found
