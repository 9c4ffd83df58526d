"""Fuzz campaign: property-based (hypothesis) inputs to every parser of outside input.

Parsers: the vault header (``Header.from_bytes``, and the keyslot parameters it holds), the backup
archive (``backup.parse``; ``verify_backup`` on damaged files and on files a key holder re-MAC'd
with odd manifests or headers), compliance evidence files (``load_bundle``, and whole bundles
judged by ``strongroom check --evidence``), compliance policy files (``load_policy``), the
rollback witness (``witness.load`` + ``witness.check``) and the back-off records
(``Backoff.state``, ``check`` and ``attempt``).

Inputs are arbitrary bytes, nesting 100,000 deep, real files with bytes flipped, cut or
spliced, and real JSON with values replaced, removed or added. Every documented error is a
``StrongroomError`` (app/errors.py); any other exception is a crash, recorded by type and the
line it came from, with the input that raised it. Each target is a function of one input, so
the campaign counts every execution and every crash rather than stopping at the first.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import json
import struct
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

from strongroom.app.compliance.evidence_io import EVIDENCE_FILE, load_bundle
from strongroom.app.compliance.policy import load_policy
from strongroom.app.crypto import mac
from strongroom.app.errors import StrongroomError
from strongroom.app.header import Header
from strongroom.app.keyslots import PASSPHRASE, argon2_params_from_slot, unwrap_master_key
from strongroom.app.model import Classification
from strongroom.app.vault import NewSecret, Vault, witness
from strongroom.app.vault.backoff import Backoff
from strongroom.app.vault.backup import MAGIC, _backup_mac_key, create_backup, parse, verify_backup

from campaigns.common import cli, new_vault, quiet_logs, table
from helpers.crash_child import KnownKek

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "compliance"


@dataclass
class TargetReport:
    name: str
    executions: int = 0
    crashing: int = 0  # executions that raised something other than a StrongroomError
    crashes: dict[str, str] = field(default_factory=dict)  # "Type at file:line" -> an example


@dataclass
class FuzzReport:
    targets: list[TargetReport] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def crashes(self) -> int:
        return sum(len(t.crashes) for t in self.targets)

    def table(self) -> str:
        rows: list[list[object]] = [[t.name, t.executions, t.crashing, len(t.crashes)]
                                    for t in self.targets]
        rows.append(["all", sum(t.executions for t in self.targets),
                     sum(t.crashing for t in self.targets), self.crashes])
        return table(["parser", "executions", "crashing inputs", "distinct crashes"], rows)


def _where(error: BaseException) -> str:
    frames = traceback.extract_tb(error.__traceback__)
    ours = [f for f in frames if "/strongroom/" in f.filename or "/app/" in f.filename]
    frame = (ours or frames)[-1]
    return f"{type(error).__name__} at {Path(frame.filename).name}:{frame.lineno}"


def _short(data: Any) -> str:
    text = repr(data)
    return text if len(text) <= 160 else text[:157] + "..."


def fuzz(name: str, strategy: st.SearchStrategy[Any], target: Callable[[Any], None],
         examples: int, seed: int) -> TargetReport:
    """Run ``target`` on ``examples`` inputs drawn from ``strategy``; record, never stop at, a
    crash."""
    report = TargetReport(name)

    @settings(max_examples=examples, deadline=None, database=None, print_blob=False,
              phases=(Phase.explicit, Phase.generate), suppress_health_check=list(HealthCheck))
    @hypothesis_seed(seed)
    @given(strategy)
    def run(data: Any) -> None:
        report.executions += 1
        try:
            with quiet_logs():
                target(data)
        except StrongroomError:
            pass
        except Exception as e:  # noqa: BLE001 - anything else is the crash we look for
            report.crashing += 1
            report.crashes.setdefault(_where(e), f"{type(e).__name__}: {str(e)[:120]} <- "
                                                 f"{_short(data)}")

    run()
    return report


# ----- strategies ---------------------------------------------------------------------------

JSON_SCALARS = (st.none() | st.booleans() | st.integers() | st.integers(-2**80, 2**80)
                | st.floats() | st.text(max_size=20))
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                                 max_size=4),
    max_leaves=8,
)


def deep(opening: bytes, closing: bytes = b"") -> st.SearchStrategy[bytes]:
    """Nesting from a few to 100,000 levels, closed or not."""
    return st.builds(lambda n, closed: opening * n + (closing * n if closed else b""),
                     st.sampled_from([40, 1000, 10_000, 100_000]) | st.integers(2, 3000),
                     st.booleans())


def _slots(obj: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside ``obj`` (dict keys and list indexes)."""
    out = [path]
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _slots(v, (*path, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += _slots(v, (*path, i))
    return out


@st.composite
def edited_json(draw: st.DrawFn, base: Any) -> Any:
    """``base`` with one to three values replaced, removed, or given a new sibling."""
    obj = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(_slots(obj)))
        if not path:
            obj = draw(JSON_VALUES)
            continue
        parent = obj
        for step in path[:-1]:
            parent = parent[step]
        last = path[-1]
        action = draw(st.sampled_from(("replace", "replace", "remove", "add")))
        if action == "replace":
            parent[last] = draw(JSON_VALUES)
        elif action == "remove":
            del parent[last]
        elif isinstance(parent, dict):
            parent[draw(st.text(max_size=10))] = draw(JSON_VALUES)
        else:
            parent.insert(last, draw(JSON_VALUES))
    return obj


def edited_json_bytes(base: Any) -> st.SearchStrategy[bytes]:
    return edited_json(base).map(lambda o: json.dumps(o, indent=1).encode())


@st.composite
def damaged(draw: st.DrawFn, base: bytes) -> bytes:
    """``base`` with bytes flipped, a piece cut out, random bytes put in, or the end cut off."""
    data = bytearray(base)
    for _ in range(draw(st.integers(1, 4))):
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        action = draw(st.sampled_from(("flip", "flip", "cut", "insert", "truncate")))
        if action == "flip":
            data[at] ^= draw(st.integers(1, 255))
        elif action == "cut":
            del data[at:at + draw(st.integers(1, 64))]
        elif action == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        else:
            del data[at:]
    return bytes(data)


def any_bytes(base: bytes, base_json: Any, *nesting: st.SearchStrategy[bytes]
              ) -> st.SearchStrategy[bytes]:
    return st.one_of(st.binary(max_size=512), damaged(base), edited_json_bytes(base_json),
                     *nesting)


# ----- the things fuzzed, made once -----------------------------------------------------------


@dataclass
class Subjects:
    """A real vault (unlocked), its header, a backup of it, and where the targets write files."""

    work: Path
    vault: Vault
    vault_id: str
    kek: bytes = field(repr=False)
    master: bytes = field(repr=False)
    header: bytes
    backup: bytes
    backup_path: Path


def make_subjects(work: Path) -> Subjects:
    path = work / "vault"
    vault = new_vault(path)
    for i, level in enumerate(Classification):
        vault.add_secret(NewSecret(f"fuzz/{i}", b"value %d" % i, level))
    backup_path = work / "good.srbk"
    create_backup(vault, backup_path)
    keys = vault._unlocked_keys
    return Subjects(work, vault, vault.vault_id, keys.kek, keys.master,
                    (path / "header.json").read_bytes(), backup_path.read_bytes(), backup_path)


def _write(work: Path, name: str, data: bytes) -> Path:
    path = work / name
    path.write_bytes(data)
    return path


# ----- targets ---------------------------------------------------------------------------------


def header_target(data: bytes) -> None:
    """Parse a header as unlock does, then use what it parsed: the slots' associated data, the
    passphrase slots' Argon2id parameters (before any derivation), the MAC, the bytes again."""
    header = Header.from_bytes(data)
    for slot in header.slots:
        slot.aad(header.vault_id)
        if slot.kind == PASSPHRASE:
            argon2_params_from_slot(slot)
        unwrap_master_key(b"\0" * 32, slot, header.vault_id)
    header.mac_ok(b"\0" * 32)
    header.to_bytes()


def params_strategy(base: dict[str, Any]) -> st.SearchStrategy[bytes]:
    """A real header whose passphrase slot's parameters are replaced by odd ones."""
    numbers = (st.integers(-2, 20) | st.integers(-2**70, 2**70) | st.sampled_from(
        [1, 2, 3, 8, 65536, 2**22, 2**22 + 1, 2**40, 10**9]) | st.floats() | st.booleans()
        | st.text(max_size=8) | st.none())
    salts = (st.binary(max_size=40).map(lambda b: base64.b64encode(b).decode())
             | st.text(max_size=30) | st.integers() | st.none())
    params = st.fixed_dictionaries(
        {}, optional={"kdf": st.sampled_from(["argon2id", "scrypt", "", "ARGON2ID"]) | JSON_VALUES,
                      "salt": salts, "iterations": numbers, "memory_kib": numbers,
                      "lanes": numbers, "extra": JSON_VALUES})

    def build(p: dict[str, Any]) -> bytes:
        obj = copy.deepcopy(base)
        obj["slots"][0]["params"] = p
        return json.dumps(obj).encode()

    return params.map(build)


def backup_parse_target(work: Path) -> Callable[[bytes], None]:
    def target(data: bytes) -> None:
        parse(_write(work, "fuzzed.srbk", data))
    return target


def structured_backup(draw_parts: st.SearchStrategy[list[bytes]]) -> st.SearchStrategy[bytes]:
    """The backup's framing with odd lengths and contents."""
    def frame(fmt: int, parts: list[bytes], lengths: list[int]) -> bytes:
        out = MAGIC + struct.pack(">I", fmt)
        for i, part in enumerate(parts):
            n = lengths[i] if i < len(lengths) else len(part)
            out += struct.pack(">Q" if i == 2 else ">I", n % (2**64 if i == 2 else 2**32)) + part
        return out
    return st.builds(frame, st.sampled_from([1, 1, 1, 0, 2, 2**32 - 1]), draw_parts,
                     st.lists(st.integers(0, 2**64 - 1) | st.integers(0, 300), max_size=3))


def backup_verify_target(s: Subjects) -> Callable[[bytes], None]:
    def target(data: bytes) -> None:
        verify_backup(_write(s.work, "fuzzed.srbk", data), KnownKek(s.kek))
    return target


def remac(s: Subjects, manifest: Any, header: bytes | None = None) -> bytes:
    """A backup with another manifest (JSON value, or bytes as they are) or header, closed by a
    valid HMAC: what someone holding the master key could write."""
    good = parse(s.backup_path)
    manifest_bytes = manifest if isinstance(manifest, bytes) else json.dumps(manifest).encode()
    header_bytes = good.header_bytes if header is None else header
    body = b"".join([MAGIC, struct.pack(">I", 1), struct.pack(">I", len(manifest_bytes)),
                     manifest_bytes, struct.pack(">I", len(header_bytes)), header_bytes,
                     struct.pack(">Q", len(good.db_bytes)), good.db_bytes])
    return body + mac(_backup_mac_key(s.master, good.header.vault_id), body)


def evidence_target(work: Path) -> Callable[[bytes], None]:
    folder = work / "evidence"
    folder.mkdir(exist_ok=True)

    def target(data: bytes) -> None:
        (folder / EVIDENCE_FILE).write_bytes(data)
        load_bundle(folder)
    return target


def judged_evidence_target(work: Path) -> Callable[[bytes], None]:
    """A bundle that loads, judged end to end: an internal error is the crash."""
    folder = work / "judged"
    folder.mkdir(exist_ok=True)

    def target(data: bytes) -> None:
        (folder / EVIDENCE_FILE).write_bytes(data)
        run = cli("check", "--json", "--evidence", str(folder))
        if "internal error" in run.err or "Traceback" in run.err or run.code not in (0, 1, 2, 3, 5):
            raise AssertionError(f"exit {run.code}: {run.err.strip()[:200]}")
    return target


def _fixture_bundles() -> list[tuple[bytes, Any]]:
    return [(p.read_bytes(), json.loads(p.read_bytes()))
            for p in sorted(FIXTURES.glob("*/*/*/evidence.json"))]


@st.composite
def judged_bundle(draw: st.DrawFn, bundles: list[tuple[bytes, Any]]) -> bytes:
    """A recorded bundle whose items' outputs are damaged or replaced (the structure stays)."""
    _, obj = draw(st.sampled_from(bundles))
    obj = copy.deepcopy(obj)
    for item in obj["items"].values():
        if not draw(st.booleans()):
            continue
        for key in ("stdout", "stderr", "content", "value", "error"):
            if isinstance(item.get(key), str) and draw(st.booleans()):
                text = item[key].encode()
                item[key] = draw(damaged(text) if text else st.binary(max_size=20)).decode(
                    "utf-8", errors="replace") if draw(st.booleans()) else draw(st.text(
                        max_size=200))
        if "exit_code" in item and draw(st.booleans()):
            item["exit_code"] = draw(st.integers(-300, 300) | st.none())
    return json.dumps(obj).encode()


def policy_target(work: Path) -> Callable[[bytes], None]:
    def target(data: bytes) -> None:
        load_policy(_write(work, "policy.toml", data))
    return target


POLICY = (b'max_patch_age_days = 2\nmax_screen_lock_minutes = 15\n'
          b'require_password_on_wake = true\nrequired = ["disk-encryption", "patch-age", '
          b'"screen-lock", "firewall"]\n')


def toml_value() -> st.SearchStrategy[str]:
    scalars = (st.integers(-2**70, 2**70).map(str) | st.booleans().map(lambda b: str(b).lower())
               | st.text(max_size=12).map(json.dumps) | st.floats(allow_nan=False).map(repr)
               | st.sampled_from(["inf", "nan", "1979-05-27T07:32:00Z", "1e400", "0x1F", "{}"]))
    return st.recursive(scalars, lambda inner: st.lists(inner, max_size=3).map(
        lambda xs: "[" + ", ".join(xs) + "]"), max_leaves=6)


def policy_strategy() -> st.SearchStrategy[bytes]:
    keys = st.sampled_from(["max_patch_age_days", "max_screen_lock_minutes",
                            "require_password_on_wake", "required", "other", "[table]"])
    lines = st.lists(st.tuples(keys, toml_value()).map(lambda kv: f"{kv[0]} = {kv[1]}"),
                     max_size=5).map(lambda ls: "\n".join(ls).encode())
    return st.one_of(st.binary(max_size=300), st.text(max_size=300).map(str.encode), lines,
                     damaged(POLICY), deep(b"a = [", b"]"), deep(b"a = {b = ", b"}"))


def witness_target(s: Subjects) -> Callable[[bytes], None]:
    folder = s.vault.path
    path = witness.witness_file(s.vault_id, folder)
    head = s.vault._log.head()

    def target(data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        found = witness.load(s.vault_id, folder)
        witness.check(found, head, s.vault._log.hash_at)
    return target


def backoff_target(work: Path) -> Callable[[bytes], None]:
    record, mirror = work / "unlock-backoff.json", work / "mirror.backoff.json"

    def target(data: bytes) -> None:
        record.write_bytes(data)
        mirror.unlink(missing_ok=True)
        backoff = Backoff(record, mirror, work / ".unlock.lock")
        now = dt.datetime.now(dt.UTC)
        backoff.check(now, backoff.state())
        with backoff.attempt(now) as attempt:
            attempt.refused = True
    return target


def backoff_strategy() -> st.SearchStrategy[bytes]:
    stamps = (st.datetimes(timezones=st.just(dt.UTC)).map(lambda d: d.isoformat())
              | st.text(max_size=30) | st.sampled_from(["2026-01-01T00:00:00", "9999-12-31T23:"
                                                        "59:59+23:59", "0001-01-01T00:00:00Z"]))
    failures = (st.integers(-5, 40) | st.integers(0, 2**70) | JSON_SCALARS
                | st.sampled_from([1025, 1026, 5000, 10**6, 2**63, 10**400]))
    fields = {"failures": failures, "first_failure": stamps | JSON_SCALARS,
              "last_failure": stamps | JSON_SCALARS}
    record = st.fixed_dictionaries(fields) | st.fixed_dictionaries({}, optional=fields)
    base = {"failures": 3, "first_failure": "2026-01-01T00:00:00+00:00",
            "last_failure": "2026-01-01T00:00:05+00:00"}
    return st.one_of(record.map(lambda r: json.dumps(r).encode()),
                     any_bytes(json.dumps(base).encode(), base, deep(b"[", b"]")))


# ----- the campaign ---------------------------------------------------------------------------


def run_fuzz_campaign(examples: int, seed: int, work: Path | None = None) -> FuzzReport:
    """Every target with ``examples`` inputs (the slow ones, a tenth of that)."""
    started = time.monotonic()
    work = work or Path(tempfile.mkdtemp(prefix="strongroom-fuzz-"))
    s = make_subjects(work)
    header_json = json.loads(s.header)
    good = parse(s.backup_path)
    bundles = _fixture_bundles()
    few = max(10, examples // 10)
    report = FuzzReport()
    try:
        plan: list[tuple[str, st.SearchStrategy[Any], Callable[[Any], None], int]] = [
            ("header (Header.from_bytes)",
             any_bytes(s.header, header_json, deep(b"["), deep(b'{"a":', b"}")),
             header_target, examples),
            ("keyslot parameters (Argon2id)", params_strategy(header_json), header_target,
             examples),
            ("backup archive (backup.parse)",
             st.one_of(st.binary(max_size=512), damaged(s.backup),
                       structured_backup(st.lists(
                           st.binary(max_size=64) | edited_json_bytes(good.manifest)
                           | st.just(good.header_bytes) | deep(b"[") | deep(b'{"a":', b"}"),
                           min_size=0, max_size=3)),
                       st.builds(lambda m: remac(s, m), deep(b"[")),
                       st.builds(lambda h: remac(s, good.manifest, h), deep(b"["))),
             backup_parse_target(work), examples),
            ("backup verify, damaged file", damaged(s.backup), backup_verify_target(s), few),
            ("backup verify, re-MAC'd by a key holder",
             st.one_of(st.builds(lambda m: remac(s, m), edited_json(good.manifest)),
                       st.builds(lambda h: remac(s, good.manifest, h),
                                 edited_json_bytes(json.loads(good.header_bytes)))),
             backup_verify_target(s), few),
            ("evidence file (load_bundle)",
             st.one_of(st.binary(max_size=512), deep(b"["), deep(b'{"a":', b"}"),
                       st.sampled_from(bundles).flatmap(lambda b: st.one_of(
                           damaged(b[0]), edited_json_bytes(b[1])))),
             evidence_target(work), examples),
            ("evidence judged (check --evidence)", judged_bundle(bundles),
             judged_evidence_target(work), few),
            ("policy file (load_policy)", policy_strategy(), policy_target(work), examples),
            ("rollback witness (witness.load, check)",
             any_bytes(witness.witness_file(s.vault_id, s.vault.path).read_bytes(),
                       json.loads(witness.witness_file(s.vault_id, s.vault.path).read_bytes()),
                       deep(b"[")),
             witness_target(s), examples),
            ("back-off record (Backoff.state, check, attempt)", backoff_strategy(),
             backoff_target(work), examples),
        ]
        for number, (name, strategy, target, count) in enumerate(plan):
            report.targets.append(fuzz(name, strategy, target, count, seed + number))
    finally:
        s.vault.lock()
    report.seconds = time.monotonic() - started
    return report

