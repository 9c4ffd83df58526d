"""Tamper campaign: random mutations of a vault and its backups, each judged through the CLI
(``strongroom audit verify`` for a vault, ``strongroom backup verify`` for a backup file).

Kinds of mutation: a byte flipped (XORed with a random non-zero byte) in every file a vault has
(``vault.db``, ``header.json``, the back-off record beside the vault and its copy in the state
dir, the rollback witness) and in backup files (one made by ``backup create``, one automatic in
``backups/``); truncated files; audit rows edited, deleted, reordered, a forged event appended
and a rewritten log re-chained, all through a raw SQLCipher connection opened with the real master
key; and rollbacks of the database alone, the header alone and the whole folder.

Every outcome is judged against what the README promises, and only exit 3 counts as detected:

- ``vault.db`` (pages with their HMACs), audit rows, rollbacks, backups: exit 3, one line.
- ``header.json``: exit 3, except an edit of what a keyslot's AES-GCM associated data binds (the
  vault id, the slot's id, kind, parameters, nonce, wrapped key), which fails to unwrap and reads
  as a wrong passphrase, exit 4 (README: "an edited slot fails to unwrap"); the same holds for
  the header inside a backup, which is unwrapped before the backup's HMAC can be checked.
- the back-off records are not authenticated; the README promises that one that cannot be read
  refuses the attempt (exit 4) and that the larger of the two counts rules, so a record edited
  to fewer failures changes nothing. A count edited upwards backs off (exit 4).
- the witness: one that cannot be read is logged and replaced, never trusted (README, layer 2).
- a flip that leaves the meaning unchanged (hex digits in another case, base64 padding bits) is
  "no effect": the file says the same thing, so there is nothing to detect.

Anything else is ``missed`` (exit 0 where the README says it is detected) or ``wrong`` (another
exit code, an internal error, more than one line).
"""

from __future__ import annotations

import collections
import datetime as dt
import json
import random
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from strongroom.app import database
from strongroom.app.audit import chain_hash, event_bytes, genesis
from strongroom.app.errors import StrongroomError
from strongroom.app.header import Header
from strongroom.app.keyslots import unwrap_master_key
from strongroom.app.model import Classification
from strongroom.app.vault import DB_FILE, HEADER_FILE, NewSecret, Vault, witness
from strongroom.app.vault.backup import create_backup, parse

from campaigns.common import PASSPHRASE, CliRun, cli, new_vault, quiet_logs, table
from helpers.crash_child import KnownKek

DETECTED, REFUSED, NO_EFFECT, MISSED, WRONG = "detected", "refused", "no effect", "missed", "wrong"
OUTCOMES = (DETECTED, REFUSED, NO_EFFECT, MISSED, WRONG)
LEGEND = (
    "*detected*: exit 3 and one line on stderr (or `audit verify`'s \"Audit log BROKEN at event "
    "N\" report); a flipped page of `vault.db` is refused by `audit verify`, which checks every "
    "page's HMAC before it walks the chain (unlock checks only the pages it reads). "
    "*refused (exit 4)*: only where the README says so: an edit of what a keyslot's AES-GCM "
    "data binds (vault id, slot id, kind, parameters, nonce, wrapped key) cannot be told from a "
    "wrong passphrase, also in a backup's header, "
    "and a back-off record that cannot be read refuses the attempt (or, counting more "
    "failures, backs off). *no effect*: the file still says the same (hex digits in another "
    "case, base64 padding bits, a field nothing checks), the back-off count was kept by the "
    "larger copy, or the witness could not be read and was replaced, which is the same as "
    "deleting it: the README's limit of layer 2. *missed*: exit 0 where the README promises "
    "detection. *wrong*: any other exit code, an internal error, or not one line."
)


@dataclass
class Template:
    """A vault with history: the final folder, earlier snapshots of it, a backup of it."""

    path: Path
    snapshots: list[Path]
    backup: Path
    auto_backups: list[Path]
    kek: bytes = field(repr=False)
    header: Header
    vault_id: str


@dataclass
class Case:
    """One mutation: its kind, what it did, and how it ended."""

    kind: str
    what: str
    outcome: str = ""
    code: int = -1
    message: str = ""


@dataclass
class TamperReport:
    cases: list[Case] = field(default_factory=list)
    seconds: float = 0.0

    def by_kind(self) -> dict[str, collections.Counter[str]]:
        out: dict[str, collections.Counter[str]] = {}
        for case in self.cases:
            out.setdefault(case.kind, collections.Counter())[case.outcome] += 1
        return out

    def count(self, outcome: str) -> int:
        return sum(1 for c in self.cases if c.outcome == outcome)

    def bad(self) -> list[Case]:
        return [c for c in self.cases if c.outcome in (MISSED, WRONG)]

    def table(self) -> str:
        rows: list[list[object]] = []
        for kind in KINDS:
            counts = self.by_kind().get(kind)
            if counts:
                rows.append([kind, sum(counts.values()), *(counts[o] for o in OUTCOMES)])
        rows.append(["all", len(self.cases), *(self.count(o) for o in OUTCOMES)])
        return table(["mutation", "mutations", "detected (exit 3)", "refused (exit 4)",
                      "no effect", "missed", "wrong"], rows)


# ----- the template --------------------------------------------------------------------------


def build_template(work: Path, rng: random.Random) -> Template:
    """A vault whose history has adds, updates, audit records, a data-key and a master-key
    rotation (each with its automatic backup) and a backup, snapshotted after each step."""
    path = work / "template"
    vault = new_vault(path)
    kek = vault._unlocked_keys.kek
    snapshots: list[Path] = []
    levels = list(Classification)

    def step(write: Callable[[Vault], object]) -> None:
        nonlocal vault
        write(vault)
        vault.lock()
        snapshots.append(work / f"snapshot-{len(snapshots):02d}")
        shutil.copytree(path, snapshots[-1])
        vault = Vault.open(path)
        vault.unlock(KnownKek(kek))

    def adds(first: int, count: int) -> Callable[[Vault], object]:
        return lambda v: [v.add_secret(NewSecret(f"app/{i:02d}", f"value {i}".encode() * 9,
                                                 levels[i % 5]))
                          for i in range(first, first + count)]

    step(adds(0, 6))
    step(lambda v: [v.update_secret(f"app/{i:02d}", b"second " * 7) for i in (1, 2, 3)])
    step(lambda v: v.record_many("campaign.note", [(f"note-{k}", {"k": k}) for k in range(5)]))
    step(lambda v: v.rotate_dek(Classification.Critical))
    step(lambda v: v.get_secret("app/02"))
    step(lambda v: v.rotate_master_key())
    step(adds(6, 4))
    step(lambda v: v.update_secret("app/07", b"third " * 5, note="changed"))
    backup = work / "user.srbk"
    step(lambda v: create_backup(v, backup))
    step(lambda v: v.record("campaign.note", "last"))
    vault.lock()
    header = Header.load(path / HEADER_FILE)
    return Template(path, snapshots[:-1], backup, sorted((path / "backups").glob("*.srbk")),
                    kek, header, header.vault_id)


# ----- mutations ----------------------------------------------------------------------------


def _flip(path: Path, rng: random.Random, start: int = 0, end: int | None = None) -> str:
    data = bytearray(path.read_bytes())
    offset = rng.randrange(start, len(data) if end is None else end)
    mask = rng.randrange(1, 256)
    data[offset] ^= mask
    path.write_bytes(bytes(data))
    return f"byte {offset} of {len(data)} ^ 0x{mask:02x}"


def _truncate(path: Path, rng: random.Random) -> str:
    data = path.read_bytes()
    keep = rng.randrange(0, len(data))
    path.write_bytes(data[:keep])
    return f"{keep} of {len(data)} bytes kept"


def _raw(case: Path, t: Template) -> Any:
    """A raw SQLCipher connection with the real master key, as one holding the key could."""
    header = Header.load(case / HEADER_FILE)
    (slot,) = header.slots
    master = unwrap_master_key(t.kek, slot, header.vault_id)
    assert master is not None
    return database.connect(case / DB_FILE, master)


COLUMNS = ("ts", "actor", "action", "target", "outcome", "details", "hash")


def _edit_row(conn: Any, rng: random.Random, head: int) -> str:
    seq, column = rng.randint(1, head), rng.choice(COLUMNS)
    (value,) = conn.execute(f"SELECT {column} FROM audit WHERE seq = ?", (seq,)).fetchone()
    if column == "hash":
        changed = bytearray(value)
        changed[rng.randrange(32)] ^= rng.randrange(1, 256)
        new: Any = bytes(changed)
    elif column == "details":
        details = json.loads(value)
        details["edited"] = rng.randint(0, 9)
        new = json.dumps(details, sort_keys=True, separators=(",", ":"))
    else:
        at = rng.randrange(len(value))
        new = value[:at] + chr(ord(value[at]) ^ rng.choice((1, 2, 4, 8, 16))) + value[at + 1:]
    conn.execute(f"UPDATE audit SET {column} = ? WHERE seq = ?", (new, seq))
    return f"event {seq} of {head}: {column}"


def _delete_row(conn: Any, rng: random.Random, head: int) -> str:
    seq = rng.randint(1, head)
    conn.execute("DELETE FROM audit WHERE seq = ?", (seq,))
    return f"event {seq} of {head} deleted"


def _reorder_rows(conn: Any, rng: random.Random, head: int) -> str:
    a, b = sorted(rng.sample(range(1, head + 1), 2))
    cols = ", ".join(COLUMNS)
    row_a = conn.execute(f"SELECT {cols} FROM audit WHERE seq = ?", (a,)).fetchone()
    row_b = conn.execute(f"SELECT {cols} FROM audit WHERE seq = ?", (b,)).fetchone()
    assign = ", ".join(f"{c} = ?" for c in COLUMNS)
    conn.execute(f"UPDATE audit SET {assign} WHERE seq = ?", (*row_b, a))
    conn.execute(f"UPDATE audit SET {assign} WHERE seq = ?", (*row_a, b))
    return f"events {a} and {b} of {head} swapped"


def _forge_append(conn: Any, rng: random.Random, head: int) -> str:
    (prev,) = conn.execute("SELECT hash FROM audit WHERE seq = ?", (head,)).fetchone()
    fields = (head + 1, "2026-01-01T00:00:00Z", "mallory", "secret.read", "app/00", "ok", "{}")
    digest = chain_hash(bytes(prev), event_bytes(*fields))
    conn.execute("INSERT INTO audit (seq, ts, actor, action, target, outcome, details, hash) "
                 "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", (*fields, digest))
    return f"event {head + 1} forged, chained to event {head}"


def _rechain(conn: Any, rng: random.Random, head: int) -> str:
    """Rewrite one event's details and recompute every hash from it on: only the header's
    anchor (MAC'd, not rewritten here) can tell."""
    seq = rng.randint(1, head)
    rows = conn.execute("SELECT seq, ts, actor, action, target, outcome, details FROM audit "
                        "WHERE seq >= ? ORDER BY seq", (seq,)).fetchall()
    prev_row = conn.execute("SELECT hash FROM audit WHERE seq = ?", (seq - 1,)).fetchone()
    if prev_row is None:
        vault_id = conn.execute("SELECT value FROM meta WHERE key = 'vault_id'").fetchone()[0]
        prev = genesis(vault_id)
    else:
        prev = bytes(prev_row[0])
    for number, ts, actor, action, target, outcome, details in rows:
        if number == seq:
            details = json.dumps({"rewritten": True})
        prev = chain_hash(prev, event_bytes(number, ts, actor, action, target, outcome, details))
        conn.execute("UPDATE audit SET details = ?, hash = ? WHERE seq = ?",
                     (details, prev, number))
    return f"event {seq} of {head} rewritten, {len(rows)} event(s) re-chained"


ROW_EDITS: dict[str, Callable[[Any, random.Random, int], str]] = {
    "audit row edited": _edit_row,
    "audit row deleted": _delete_row,
    "audit rows reordered": _reorder_rows,
    "audit event forged at the end": _forge_append,
    "audit log rewritten and re-chained": _rechain,
}

KINDS = (
    "flip vault.db", "truncate vault.db", "flip header.json", "flip back-off record",
    "flip back-off copy (state dir)", "back-off record reset (one copy)",
    "flip witness (state dir)", "witness edited (seq or hash)", "flip backup file",
    "flip automatic backup", "truncate backup file", *ROW_EDITS,
    "rollback vault.db", "rollback header.json", "rollback whole folder",
)


# ----- judging ------------------------------------------------------------------------------


def _header_or_none(data: bytes) -> Header | None:
    try:
        return Header.from_bytes(data)
    except StrongroomError:
        return None


def _bound(header: Header) -> tuple[Any, ...]:
    """What the keyslots' associated data binds (and the key they wrap)."""
    return (header.vault_id, tuple(
        (s.id, s.kind, json.dumps(dict(s.params), sort_keys=True), s.wrapped, s.wrapped_next)
        for s in header.slots))


def _judge_header(code: int, before: bytes, after: bytes) -> str:
    if code == 3:
        return DETECTED
    old, new = _header_or_none(before), _header_or_none(after)
    if code == 0:
        return NO_EFFECT if new is not None and new == old else MISSED
    if code == 4 and old is not None and new is not None and _bound(old) != _bound(new):
        return REFUSED  # an edited keyslot cannot be told from a wrong passphrase
    return WRONG


def _said_clearly(run: CliRun) -> bool:
    """A refusal is one ``strongroom: ...`` line on stderr; a broken chain is ``audit verify``'s
    report on stdout (exit 3, "Audit log BROKEN at event N: ...") with nothing on stderr."""
    if run.err == "":
        return run.out.startswith(b"Audit log BROKEN at event ")
    return run.one_line


def _failures_recorded(case: Path, t: Template) -> int:
    """The failure count the last unlock wrote into the audit log (0 if none)."""
    with Vault.open(case) as vault:
        vault.unlock(KnownKek(t.kek))
        events = vault.audit_events(action="vault.unlock", limit=3)
    failed = [e for e in events if e.outcome == "failed"]
    return int(failed[0].details["failures"]) if failed else 0


# ----- the campaign ---------------------------------------------------------------------------


def _mutate_vault(kind: str, case: Path, t: Template, rng: random.Random) -> tuple[str, Any]:
    """Apply ``kind`` to the copy at ``case``; returns (what was done, judging context)."""
    now = dt.datetime.now(dt.UTC).isoformat()
    if kind == "flip vault.db":
        return _flip(case / DB_FILE, rng), None
    if kind == "truncate vault.db":
        return _truncate(case / DB_FILE, rng), None
    if kind == "flip header.json":
        before = (case / HEADER_FILE).read_bytes()
        what = _flip(case / HEADER_FILE, rng)
        return what, before
    if kind in ("flip back-off record", "flip back-off copy (state dir)"):
        vault = Vault.open(case)
        vault.backoff.record_failure(dt.datetime.now(dt.UTC))
        target = vault.backoff.path if kind == "flip back-off record" else vault.backoff.mirror
        assert target is not None
        return _flip(target, rng), None
    if kind == "back-off record reset (one copy)":
        vault = Vault.open(case)
        vault.backoff.record_failure(dt.datetime.now(dt.UTC))
        target = rng.choice([vault.backoff.path, vault.backoff.mirror])
        assert target is not None
        if rng.random() < 0.5:
            target.unlink()
            return f"{target.name} deleted", None
        target.write_text(json.dumps({"failures": 0, "first_failure": None,
                                      "last_failure": None}))
        return f"{target.name}: failures 0", None
    if kind == "witness edited (seq or hash)":
        witness.save(t.vault_id, case, t.header.anchor, now)
        target = witness.witness_file(t.vault_id, case)
        body = json.loads(target.read_text())
        if rng.random() < 0.5:
            body["seq"] += rng.choice((-3, -2, -1, 1, 2, 3))
            what = f"seq {body['seq']} (head {t.header.anchor.seq})"  # type: ignore[union-attr]
        else:
            at = rng.randrange(64)
            digit = rng.choice([d for d in "0123456789abcdef" if d != body["hash"][at]])
            body["hash"] = body["hash"][:at] + digit + body["hash"][at + 1:]
            what = f"hash digit {at}"
        target.write_text(json.dumps(body))
        return what, None
    if kind == "flip witness (state dir)":
        witness.save(t.vault_id, case, t.header.anchor, now)
        target = witness.witness_file(t.vault_id, case)
        with quiet_logs():
            before = witness.load(t.vault_id, case)
            what = _flip(target, rng)
            after = witness.load(t.vault_id, case)  # None: unreadable, replaced at unlock
        return what, (before, after)
    if kind in ROW_EDITS:
        conn = _raw(case, t)
        try:
            head = conn.execute("SELECT max(seq) FROM audit").fetchone()[0]
            conn.execute("BEGIN IMMEDIATE")
            what = ROW_EDITS[kind](conn, rng, head)
            conn.execute("COMMIT")
        finally:
            conn.close()
        return what, None
    older = rng.randrange(len(t.snapshots))
    snapshot = t.snapshots[older]
    behind = f"snapshot {older} of {len(t.snapshots)} (steps behind: {len(t.snapshots) - older})"
    if kind == "rollback vault.db":
        shutil.copy2(snapshot / DB_FILE, case / DB_FILE)
        return behind, None
    if kind == "rollback header.json":
        shutil.copy2(snapshot / HEADER_FILE, case / HEADER_FILE)
        return behind, None
    if kind == "rollback whole folder":
        # This machine saw the folder at its latest state; then an older copy is put back.
        witness.save(t.vault_id, case, t.header.anchor, now)
        shutil.rmtree(case)
        shutil.copytree(snapshot, case)
        return behind, None
    raise ValueError(kind)


def _judge_vault(kind: str, code: int, case: Path, t: Template, context: Any) -> str:
    if code == 3:
        return DETECTED
    if kind == "flip header.json":
        return _judge_header(code, context, (case / HEADER_FILE).read_bytes())
    if kind.startswith(("flip back-off", "back-off")):
        if code == 4:
            return REFUSED  # cannot be read (the passphrase is not tried), or backing off
        if code == 0:
            # Not authenticated: the promise is that the larger count rules.
            return NO_EFFECT if _failures_recorded(case, t) >= 1 else MISSED
        return WRONG
    if kind == "flip witness (state dir)" and code == 0:
        before, after = context
        unchanged = after is not None and (after.vault_id, after.seq, after.hash) == (
            before.vault_id, before.seq, before.hash)
        return NO_EFFECT if after is None or unchanged else MISSED
    return MISSED if code == 0 else WRONG


def _backup_case(kind: str, t: Template, case: Path, rng: random.Random) -> Case:
    source = t.backup if kind != "flip automatic backup" else rng.choice(t.auto_backups)
    case.mkdir()
    target = case / source.name
    shutil.copy2(source, target)
    before = parse(target).header
    what = _truncate(target, rng) if kind.startswith("truncate") else _flip(target, rng)
    run = cli("backup", "verify", str(target), passphrases=[PASSPHRASE])
    outcome = WRONG
    if run.code == 3:
        outcome = DETECTED
    elif run.code == 0:
        outcome = MISSED
    elif run.code == 4:
        try:
            after: Header | None = parse(target).header
        except StrongroomError:
            after = None
        if after is not None and _bound(after) != _bound(before):
            outcome = REFUSED  # the backup's keyslot was edited: it reads as a wrong passphrase
    if outcome != WRONG and run.code != 0 and not _said_clearly(run):
        outcome = WRONG
    return Case(kind, f"{source.name}: {what}", outcome, run.code, run.err.strip())


def run_tamper_campaign(mutations: int, seed: int, work: Path) -> TamperReport:
    """``mutations`` random mutations, the kinds taken in turn; see the module docstring."""
    rng = random.Random(seed)  # noqa: S311 - chooses mutations, not keys
    started = time.monotonic()
    template = build_template(work, rng)
    report = TamperReport()
    for number in range(mutations):
        kind = KINDS[number % len(KINDS)]
        case_dir = work / f"m{number:05d}"
        if "backup" in kind:
            case = _backup_case(kind, template, case_dir, rng)
        else:
            shutil.copytree(template.path, case_dir)
            what, context = _mutate_vault(kind, case_dir, template, rng)
            run = cli("audit", "verify", vault=case_dir, passphrases=[PASSPHRASE])
            with quiet_logs():
                outcome = _judge_vault(kind, run.code, case_dir, template, context)
            if outcome in (DETECTED, REFUSED) and not _said_clearly(run):
                outcome = WRONG
            case = Case(kind, what, outcome, run.code,
                        run.err.strip() or run.out.decode(errors="replace").strip())
        report.cases.append(case)
        for leftover in (witness.witness_file(template.vault_id, case_dir),
                         witness.backoff_file(template.vault_id, case_dir)):
            leftover.unlink(missing_ok=True)
        shutil.rmtree(case_dir)
    report.seconds = time.monotonic() - started
    return report
