"""Publish and pull, run: values read or written in one audited, approved vault transaction,
the server written with check-and-set, and the sync rows recorded as writes land.

Publishing reads every value it sends with purpose "export" (a ``secret.export`` event each,
the two-person rule checked once for the batch), then writes each path with ``cas`` = the
version planned. A check-and-set refusal is a conflict, unless the server already holds exactly
that value (a run cut short after the write landed): then the path is adopted as in sync. Each
landed write is recorded (``remote_sync`` and a ``remote.publish`` event naming the remote,
path and versions) in batches, and whatever landed is recorded even when a later write fails.

Pulling reads the planned versions from the server first, checks each as outside input
(codec.from_kv), then writes them as new local versions in one transaction (a ``remote.pull``
event each) — only where the local version is still the one planned.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from ..access import approvals, enforce, health_gate
from ..access import policy as access_policy
from ..access.approvals import Approval
from ..errors import AccessDenied
from ..model import Classification, SecretInfo
from ..vault import secrets as vault_secrets
from ..vault import version_meta
from . import codec, state
from .errors import CasMismatch, RemoteNotFound
from .planning import PUBLISH_OPERATION, SyncPlan
from .state import Action, Item

if TYPE_CHECKING:
    from ..vault.session import VaultSession
    from .port import KvEngine

FLUSH_EVERY = 100  # landed writes recorded per vault transaction
PUBLISH_EVENT, PULL_EVENT = "remote.publish", "remote.pull"
_VERBS = {"publish": "Publishing", "pull": "Pulling"}


@dataclass
class SyncResult:
    plan: SyncPlan
    items: list[Item] = field(default_factory=list)  # each with the action it ended with

    def counts(self) -> dict[str, int]:
        return {a.value: sum(1 for i in self.items if i.action is a) for a in Action}

    @property
    def conflicts(self) -> list[Item]:
        return [i for i in self.items if i.action in (Action.Conflict, Action.Invalid)]

    def to_json(self) -> dict[str, Any]:
        return {"remote": self.plan.remote.name, "direction": self.plan.direction,
                "items": [i.to_json() for i in self.items], "counts": self.counts()}


def _batch_refusal(e: AccessDenied, operation: str, direction: str, gated: Sequence[str]
                   ) -> AccessDenied:
    """The two-person refusal worded for a batch: how many, and which, need the approval."""
    message = str(e)
    single = access_policy.describe(operation)
    if gated and message.startswith(single):
        shown = ", ".join(gated[:5]) + (f" and {len(gated) - 5} more" if len(gated) > 5 else "")
        message = f"{_VERBS[direction]} {shown} ({len(gated)} secret(s))" + message[len(single):]
    return AccessDenied(message, target=e.target,
                        details={**e.details, "two_person_secrets": len(gated)})


def _approved(vault: VaultSession, conn: Any, plan: SyncPlan, approval: Approval | None
              ) -> dict[str, Any]:
    try:
        return approvals.check(vault, conn, plan.operation, plan.target, approval,
                               critical=bool(plan.two_person))
    except AccessDenied as e:
        raise _batch_refusal(e, plan.operation, plan.direction, plan.two_person) from None


# ----- publish ---------------------------------------------------------------------------------


@enforce.denials_audited
def _read_values(vault: VaultSession, plan: SyncPlan, work: Sequence[Item],
                 approval: Approval | None) -> dict[str, bytes]:
    """The values to send, read in one transaction (purpose export); a secret changed since the
    plan is left out (the caller reports it)."""
    out: dict[str, bytes] = {}
    with vault._write() as conn:
        rule = access_policy.load(conn)
        extra = _approved(vault, conn, plan, approval)
        for n, item in enumerate(work):
            info = vault_secrets._checked_info(vault, item.name, "read")
            if info.version != item.local_version:
                continue
            details: dict[str, Any] = {"version": info.version, "export": plan.target,
                                       "remote": plan.remote.name, "path": item.path}
            if item.name in plan.two_person or (n == 0 and not plan.two_person):
                details |= extra
            details |= health_gate.check(vault, conn, rule, target=info.name,
                                         level=info.classification.value)
            out[item.name] = vault._deks.decrypt_version(info.name, info.id, info.version)
            vault._event(PUBLISH_OPERATION, info.name, details=details)
    return out


def _holds(engine: KvEngine, item: Item, data: dict[str, str]) -> int:
    """The server's current version of the path if it holds exactly ``data``, else 0."""
    meta = engine.metadata(item.path)
    if meta is None or meta.deleted or not meta.current_version:
        return 0
    try:
        held = engine.read(item.path, meta.current_version)
    except RemoteNotFound:
        return 0
    same = dict(held.data) == data
    return meta.current_version if same else 0


def _record_published(vault: VaultSession, plan: SyncPlan,
                      landed: list[tuple[Item, int, bool]]) -> None:
    if not landed:
        return
    with vault._write() as conn:
        now = vault._now()
        for item, version, adopted in landed:
            state.record(conn, plan.remote.name, item.secret_id, item.path, item.local_version,
                         version, now)
            vault._event(PUBLISH_EVENT, item.name, details={
                "remote": plan.remote.name, "path": f"{plan.remote.kv_mount}/{item.path}",
                "local_version": item.local_version, "remote_version": version,
                "previous_remote_version": item.remote_version, "adopted": adopted})
    landed.clear()


def publish(vault: VaultSession, engine: KvEngine, plan: SyncPlan,
            approval: Approval | None = None) -> SyncResult:
    """Run a publish plan (see the module's docstring)."""
    touched = (Action.Create, Action.Update, Action.Conflict)
    work = [i for i in plan.items if i.action in touched]
    if work:  # a path the credential may not write is said before any value is read
        engine.check_writable({i.path: i.remote_version == 0 for i in work
                               if i.action is not Action.Conflict})
    values = _read_values(vault, plan, work, approval) if work else {}
    result = SyncResult(plan)
    landed: list[tuple[Item, int, bool]] = []
    try:
        for item in plan.items:
            if item.action not in touched:
                result.items.append(item)
                continue
            if item.name not in values:
                result.items.append(replace(item, action=Action.Conflict,
                                            reason="changed here during the publish"))
                continue
            data = codec.to_kv(item.kind, values.pop(item.name))
            try:
                if item.action is Action.Conflict:
                    raise CasMismatch("planned as a conflict", item.path)
                version = engine.write(item.path, data, cas=item.remote_version)
                adopted = False
            except CasMismatch:
                version, adopted = _holds(engine, item, data), True
                if not version:
                    reason = item.reason if item.action is Action.Conflict else \
                        "changed on the remote during the publish"
                    result.items.append(replace(item, action=Action.Conflict, reason=reason))
                    continue
            landed.append((item, version, adopted))
            done = replace(item, remote_version=version,
                           action=Action.Skip if adopted else item.action,
                           reason="the remote already held this value" if adopted
                           else item.reason)
            result.items.append(done)
            engine.set_metadata(item.path, codec.metadata(vault.vault_id, _facts(item)))
            if len(landed) >= FLUSH_EVERY:
                _record_published(vault, plan, landed)
    finally:
        _record_published(vault, plan, landed)  # what landed is recorded, even on a failure
    return result


def _facts(item: Item) -> SecretInfo:
    """What codec.metadata needs of a secret, from the plan's item."""
    return SecretInfo(item.secret_id, item.name, Classification(item.level), "", "", item.tags,
                      "", "", None, None, item.local_version, item.kind)


# ----- pull ------------------------------------------------------------------------------------


def _new_version(vault: VaultSession, info: Any, value: bytes) -> int:
    """In the caller's transaction: ``value`` as the secret's next version (as update_secret)."""
    version_meta.freeze(vault, info)
    updated = replace(info, updated=vault._now(), version=info.version + 1)
    vault._conn.execute("UPDATE secrets SET updated = ?, version = ? WHERE id = ?",
                        (updated.updated, updated.version, info.id))
    vault_secrets._insert_version(vault, updated, updated.version, value)
    return int(updated.version)


@enforce.denials_audited
def _write_pulled(vault: VaultSession, plan: SyncPlan, fetched: Sequence[tuple[Item, int, bytes]],
                  approval: Approval | None) -> list[Item]:
    out: list[Item] = []
    with vault._write() as conn:
        extra = _approved(vault, conn, plan, approval)
        now = vault._now()
        for n, (item, remote_version, value) in enumerate(fetched):
            if item.action is Action.Create:
                if conn.execute("SELECT 1 FROM secrets WHERE name = ?", (item.name,)).fetchone():
                    out.append(replace(item, action=Action.Conflict,
                                       reason="created here during the pull"))
                    continue
                info = vault_secrets._insert_secret(vault, vault_secrets.NewSecret(
                    item.name, value, Classification(item.level), kind=item.kind, tags=item.tags,
                    note=f"pulled from remote {plan.remote.name}"),
                    extra={"remote": plan.remote.name})
                version, previous = info.version, 0
            else:
                info = vault_secrets._checked_info(vault, item.name, "manage")
                if info.version != item.local_version:
                    out.append(replace(item, action=Action.Conflict,
                                       reason="changed here during the pull"))
                    continue
                version, previous = _new_version(vault, info, value), info.version
            state.record(conn, plan.remote.name, info.id, item.path, version, remote_version, now)
            details: dict[str, Any] = {
                "remote": plan.remote.name, "path": f"{plan.remote.kv_mount}/{item.path}",
                "remote_version": remote_version, "local_version": version,
                "previous_local_version": previous, "pull": plan.target}
            if item.name in plan.two_person or (n == 0 and not plan.two_person):
                details |= extra
            vault._event(PULL_EVENT, item.name, details=details)
            out.append(replace(item, secret_id=info.id, local_version=version))
    return out


def pull(vault: VaultSession, engine: KvEngine, plan: SyncPlan,
         approval: Approval | None = None) -> SyncResult:
    """Run a pull plan (see the module's docstring)."""
    result = SyncResult(plan)
    fetched: list[tuple[Item, int, bytes]] = []
    for item in plan.items:
        if item.action not in (Action.Create, Action.Update):
            result.items.append(item)
            continue
        held = engine.read(item.path, item.remote_version)
        where = f"{plan.remote.kv_mount}/{item.path} version {held.version}"
        try:
            fetched.append((item, held.version, codec.from_kv(held.data, item.kind, where)))
        except codec.RemoteDataInvalid as e:
            result.items.append(replace(item, action=Action.Invalid, reason=str(e)))
    if fetched:
        result.items += _write_pulled(vault, plan, fetched, approval)
    result.items.sort(key=lambda i: i.name)
    return result
