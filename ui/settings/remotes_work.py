"""The work behind Settings → Remotes, run on the task runner's worker: each function is the
domain calls `strongroom remote list|test|status|publish|pull` make, in the same order."""

from __future__ import annotations

from dataclasses import dataclass

from strongroom.app.remotes import config, engines, planning, state, syncing
from strongroom.app.remotes.config import Remote
from strongroom.app.remotes.planning import SyncPlan
from strongroom.app.remotes.state import Item
from strongroom.app.remotes.syncing import SyncResult
from strongroom.app.vault import Vault


@dataclass(frozen=True)
class RemoteRow:
    """A remote and how many secrets its ``remote_sync`` rows say are synced with it."""

    remote: Remote
    synced: int


def overview(vault: Vault) -> list[RemoteRow]:
    """Every remote with its synced count (the vault only, no network)."""
    remotes = config.list_remotes(vault)
    with vault._read() as conn:
        return [RemoteRow(r, len(state.rows(conn, r.name))) for r in remotes]


def test(vault: Vault, name: str) -> str:
    """Log in and check the KV mount, as `remote test` does."""
    remote = config.get_remote(vault, name)
    engines.open_kv(vault, remote).check()
    return f"Remote {remote.name}: logged in, {remote.kv_mount}/ is KV version 2."


def status(vault: Vault, name: str) -> list[Item]:
    """Each synced secret's state on both sides, as `remote status` does."""
    remote = config.get_remote(vault, name)
    return planning.status(vault, engines.open_kv(vault, remote))


def preview(vault: Vault, name: str, direction: str) -> SyncPlan:
    """The plan of `remote publish|pull NAME --all --dry-run`; changes nothing."""
    remote = config.get_remote(vault, name)
    engine = engines.open_kv(vault, remote)
    return planning.plan(vault, engine, direction, planning.Selection(all=True))


def run(vault: Vault, plan: SyncPlan) -> SyncResult:
    """Run exactly ``plan`` (check-and-set against its versions); no approval is given, so a
    plan needing a second operator is refused by the domain before anything is read or written."""
    engine = engines.open_kv(vault, plan.remote)
    sync = syncing.publish if plan.direction == "publish" else syncing.pull
    return sync(vault, engine, plan, None)


def summary(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {a}" for a, n in counts.items() if n) or "nothing selected"
