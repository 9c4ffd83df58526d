"""Publish and pull, planned: which secrets, what each side holds, and what would happen.

A plan reads the vault (metadata only, never a value) and the server (metadata only); it
changes nothing, so ``--dry-run`` is a plan printed. Per secret, against its sync row:

- publish: not on the server -> create; changed here only -> update (check-and-set from the
  synced remote version); changed there only -> skip (pull it); both -> conflict, unless
  ``prefer="local"``, which updates from the server's current version.
- pull: changed there only -> update (a new local version); changed here only or neither ->
  skip; both -> conflict, unless ``prefer="remote"``. With ``--all``, a path under the prefix
  that no local secret has is created (its level and kind from the custom metadata, Moderate and
  value without), and a local secret never synced whose path exists there is a conflict.

An approval covers a whole plan: its target is the direction, the remote and the SHA-256 of the
names that would be read or written.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from ..access import policy as access_policy
from ..errors import UsageError
from ..model import Classification, SecretInfo
from ..vault.secret_fields import check_name
from ..vault.secrets import list_secrets, secret_info
from . import codec, state
from .config import Remote, list_remotes
from .state import Action, Item

if TYPE_CHECKING:
    from ..vault.session import VaultSession
    from .port import KvEngine, KvMeta

PUBLISH_OPERATION = "secret.export"  # the policy's export levels (Critical by default)
PULL_OPERATION = "remote.pull"
PREFER = ("local", "remote")
MAX_DEPTH, MAX_DISCOVERED = 16, 200_000


@dataclass(frozen=True)
class Selection:
    """Which secrets: named ones, or those with a tag and/or at a level, or all."""

    names: tuple[str, ...] = ()
    tag: str | None = None
    level: Classification | None = None
    all: bool = False

    def check(self) -> None:
        if not (self.names or self.tag or self.level or self.all):
            raise UsageError("choose the secrets: --name N (repeatable), --tag T, --level L or "
                             "--all")
        if self.names and (self.tag or self.level or self.all):
            raise UsageError("--name cannot be combined with --tag, --level or --all")


@dataclass(frozen=True)
class SyncPlan:
    direction: str  # publish or pull
    remote: Remote
    items: tuple[Item, ...]
    prefer: str | None
    operation: str
    target: str  # what one approval covers
    two_person: tuple[str, ...]  # names whose reading or writing needs that approval

    def counts(self) -> dict[str, int]:
        return {a.value: sum(1 for i in self.items if i.action is a) for a in Action}

    def to_json(self) -> dict[str, Any]:
        return {"remote": self.remote.name, "direction": self.direction,
                "items": [i.to_json() for i in self.items], "counts": self.counts(),
                "two_person": list(self.two_person)}


def _selected(vault: VaultSession, selection: Selection) -> list[SecretInfo]:
    selection.check()
    if selection.names:
        infos = [secret_info(vault, n) for n in dict.fromkeys(selection.names)]
    else:
        infos = list_secrets(vault, classification=selection.level, tag=selection.tag)
    credentials = {r.credential_secret for r in list_remotes(vault)}
    return [i for i in infos if i.name not in credentials]  # never a remote's own credential


def path_of(remote: Remote, name: str) -> str:
    return remote.prefix + name


def _publish_item(info: SecretInfo, path: str, meta: KvMeta | None, row: state.SyncRow | None,
                  prefer: str | None) -> Item:
    current = meta.current_version if meta else 0
    item = Item(info.name, info.id, info.classification.value, info.kind, path, Action.Skip,
                info.version, current, row, tags=info.tags)
    if row is None:
        if meta is None:
            return replace(item, action=Action.Create, reason="not on the remote yet")
        if prefer == "local":
            return replace(item, action=Action.Update, reason="replacing what the remote holds")
        return replace(item, action=Action.Conflict,
                       reason="the path exists on the remote but was never synced from here")
    local_changed = info.version != row.local_version
    remote_changed = meta is None or meta.deleted or current != row.remote_version
    if not remote_changed:
        if local_changed:
            return replace(item, action=Action.Update, reason="changed here since the last sync")
        return replace(item, reason="in sync")
    if prefer == "local":
        return replace(item, action=Action.Create if meta is None else Action.Update,
                       reason="changed on both sides; keeping this vault's (--prefer local)")
    if not local_changed:
        return replace(item, reason="changed on the remote since the last sync; pull it")
    return replace(item, action=Action.Conflict, reason=(
        "deleted on the remote and changed here" if meta is None or meta.deleted
        else "changed on both sides since the last sync"))


def _pull_item(info: SecretInfo, path: str, meta: KvMeta | None, row: state.SyncRow | None,
               prefer: str | None) -> Item:
    current = meta.current_version if meta else 0
    item = Item(info.name, info.id, info.classification.value, info.kind, path, Action.Skip,
                info.version, current, row, tags=info.tags)
    if row is None:
        if meta is None or meta.deleted:
            return replace(item, reason="not on the remote")
        if prefer == "remote":
            return replace(item, action=Action.Update,
                           reason="on both sides, never synced; taking the remote's")
        return replace(item, action=Action.Conflict,
                       reason="on both sides but never synced between them")
    if meta is None or meta.deleted:
        return replace(item, action=Action.Conflict, reason="deleted on the remote")
    local_changed = info.version != row.local_version
    if current == row.remote_version:
        return replace(item, reason="changed here since the last sync; publish it"
                       if local_changed else "in sync")
    if local_changed and prefer != "remote":
        return replace(item, action=Action.Conflict,
                       reason="changed on both sides since the last sync")
    return replace(item, action=Action.Update, reason=(
        "changed on both sides; taking the remote's (--prefer remote)" if local_changed
        else "changed on the remote since the last sync"))


def _discover(engine: KvEngine, folder: str, depth: int = 0) -> list[str]:
    """Every path under ``folder`` on the server (sub-folders walked, MAX_DEPTH deep)."""
    paths: list[str] = []
    for key in engine.list(folder):
        if key.endswith("/"):
            if depth < MAX_DEPTH:
                paths += _discover(engine, folder + key, depth + 1)
        elif key:
            paths.append(folder + key)
        if len(paths) > MAX_DISCOVERED:
            raise UsageError(f"more than {MAX_DISCOVERED} paths under {folder} on the remote; "
                             "pull them by name")
    return paths


def _remote_only(remote: Remote, path: str, meta: KvMeta | None) -> Item | None:
    """A path on the server that no local secret has: a secret to create, if it can be one."""
    if meta is None or meta.deleted:
        return None
    name = path[len(remote.prefix):]
    facts = codec.parse_metadata(meta.custom)
    level = (facts.level or Classification.Moderate).value
    item = Item(name, 0, level, facts.kind or "value", path, Action.Create, 0,
                meta.current_version, None, "on the remote, not in this vault", facts.tags)
    try:
        check_name(name)
    except UsageError:
        return replace(item, action=Action.Invalid, reason="the path is not a secret name")
    return item


def approval_target(direction: str, remote: str, names: Sequence[str]) -> str:
    digest = hashlib.sha256("\n".join(sorted(names)).encode()).hexdigest()
    return f"remote:{direction}:{remote}:{digest}"


def plan(vault: VaultSession, engine: KvEngine, direction: str, selection: Selection,
         prefer: str | None = None) -> SyncPlan:
    """What publishing (``direction="publish"``) or pulling would do; changes nothing."""
    if prefer is not None and prefer not in PREFER:
        raise UsageError("--prefer is local or remote")
    remote = engine.remote
    infos = _selected(vault, selection)
    with vault._read() as conn:
        rows = state.rows(conn, remote.name)
        rule = access_policy.load(conn)
    make = _publish_item if direction == "publish" else _pull_item
    found = set(_discover(engine, remote.prefix)) if direction == "pull" and selection.all \
        else set()
    items = []
    for info in infos:
        row = rows.get(info.id)
        path = row.path if row else path_of(remote, info.name)
        meta = engine.metadata(path) if row or direction == "publish" or path in found else None
        items.append(make(info, path, meta, row, prefer))
        found.discard(path)
    with vault._read() as conn:  # a name listed here may be hidden from the operator's list
        taken = {r[0] for r in conn.execute("SELECT name FROM secrets")} if found else set()
    for path in sorted(found):
        if path[len(remote.prefix):] in taken:
            continue
        extra = _remote_only(remote, path, engine.metadata(path))
        if extra is not None:
            items.append(extra)
    # publish reads a conflict's value too: the remote may already hold it (a run cut short)
    touched = (Action.Create, Action.Update, Action.Conflict) if direction == "publish" \
        else (Action.Create, Action.Update)
    names = [i.name for i in items if i.action in touched]
    operation = PUBLISH_OPERATION if direction == "publish" else PULL_OPERATION
    gated = tuple(i.name for i in items if i.action in touched
                  and rule.critical(PUBLISH_OPERATION, level=i.level))
    return SyncPlan(direction, remote, tuple(items), prefer, operation,
                    approval_target(direction, remote.name, names), gated)


def status(vault: VaultSession, engine: KvEngine) -> list[Item]:
    """Every secret synced with the remote, with what a publish would do for it."""
    remote = engine.remote
    with vault._read() as conn:
        rows = state.rows(conn, remote.name)
        ids = [r.secret_id for r in rows.values()]
        names = {r[0]: r[1] for r in conn.execute("SELECT id, name FROM secrets")} if ids else {}
    items = []
    for secret_id, row in sorted(rows.items(), key=lambda kv: names.get(kv[0], "")):
        if secret_id not in names:  # deleted meanwhile (its row goes with it)
            continue
        info = secret_info(vault, names[secret_id])
        item = _publish_item(info, row.path, engine.metadata(row.path), row, None)
        local_changed = info.version != row.local_version
        remote_changed = item.remote_version != row.remote_version
        word = ("conflict" if local_changed and remote_changed else "local-changed"
                if local_changed else "remote-changed" if remote_changed else "in-sync")
        items.append(replace(item, reason=word))
    return items
