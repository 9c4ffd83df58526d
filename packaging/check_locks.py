"""Gate: the lock files are fully hash-pinned and agree with pyproject.toml and briefcase.toml.

Catches a dependency added to pyproject.toml (or dev.in) without `make lock`, and a briefcase.toml
whose `requires` drifted from the project's dependencies. Exit 0 when all is well, 1 otherwise.
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
REQ = ROOT / "packaging" / "requirements"


def logical_lines(path: Path) -> list[str]:
    """The file's lines with comments dropped and backslash continuations joined."""
    out: list[str] = []
    buf = ""
    for raw in path.read_text().splitlines():
        line = raw.split(" #", 1)[0].rstrip() if not raw.lstrip().startswith("#") else ""
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        buf += line
        if buf.strip():
            out.append(buf.strip())
        buf = ""
    return out


def read_lock(path: Path, errors: list[str]) -> dict[str, Version]:
    """name -> pinned version; records every line that is not `name==version --hash=sha256:...`."""
    pins: dict[str, Version] = {}
    for line in logical_lines(path):
        spec, *options = line.split(" --")
        try:
            req = Requirement(spec)
        except InvalidRequirement:
            errors.append(f"{path.name}: not a plain requirement: {line[:80]}")
            continue
        specs = list(req.specifier)
        if req.url or len(specs) != 1 or specs[0].operator != "==":
            errors.append(f"{path.name}: {req.name} is not pinned with ==")
            continue
        if not any(o.startswith("hash=sha256:") for o in options):
            errors.append(f"{path.name}: {req.name} has no --hash=sha256")
        pins[canonicalize_name(req.name)] = Version(specs[0].version)
    return pins


def check_covers(source: str, wanted: list[str], pins: dict[str, Version], lock: str,
                 errors: list[str]) -> None:
    for text in wanted:
        req = Requirement(text)
        pinned = pins.get(canonicalize_name(req.name))
        if pinned is None:
            errors.append(f"{lock} lacks {req.name} (from {source}): run `make lock`")
        elif not req.specifier.contains(pinned, prereleases=True):
            errors.append(
                f"{lock} pins {req.name}=={pinned}, {source} wants {text}: run `make lock`"
            )


def main() -> int:
    errors: list[str] = []
    runtime = read_lock(REQ / "runtime.lock", errors)
    dev = read_lock(REQ / "dev.lock", errors)

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    deps: list[str] = project["dependencies"]
    dev_in = [ln for ln in logical_lines(REQ / "dev.in") if not ln.startswith("-")]
    check_covers("pyproject.toml", deps, runtime, "runtime.lock", errors)
    check_covers("pyproject.toml", deps, dev, "dev.lock", errors)
    check_covers("dev.in", dev_in, dev, "dev.lock", errors)
    for name, version in runtime.items():
        if dev.get(name, version) != version:
            errors.append(f"dev.lock pins {name}=={dev[name]} but runtime.lock {version}")

    briefcase = tomllib.loads((ROOT / "briefcase.toml").read_text())
    requires = briefcase["tool"]["briefcase"]["app"]["strongroom"]["requires"]
    if sorted(map(str, map(Requirement, requires))) != sorted(map(str, map(Requirement, deps))):
        errors.append("briefcase.toml `requires` differs from pyproject.toml's dependencies")

    for e in errors:
        print(f"locks: {e}", file=sys.stderr)
    if not errors:
        print(f"locks: ok ({len(runtime)} runtime, {len(dev)} dev pins, all hash-pinned)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
