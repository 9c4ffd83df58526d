"""KV version 2 through hvac (app.remotes.port.KvEngine), with failover across a cluster's nodes.

A failure that a cluster recovers from (a node gone, a leader election under way) is retried
for up to ``retry_seconds`` (the remote's setting, 15 by default), logging in again on the next
URL. A write retried after such a failure may have landed the first time: the path is read back,
and if its current version is the one check-and-set expected plus one and holds exactly the data
written, that version is the write's; otherwise the retry is a check-and-set like the first.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import quote

import hvac

from strongroom.app.remotes.config import Remote
from strongroom.app.remotes.errors import (
    CasMismatch,
    RemoteError,
    RemoteNotFound,
    RemotePermissionDenied,
    RemoteSealed,
    RemoteUnreachable,
    RemoteUnsuitable,
)
from strongroom.app.remotes.port import KvMeta, KvVersion

from .client import connect, translated

_T = TypeVar("_T")
RETRY_SECONDS = 15.0
CAPABILITY_BATCH = 500  # paths per sys/capabilities-self request
_TRANSIENT_WORDS = ("active cluster node not found", "local node not active", "standby",
                    "leadership", "no active node", "raft")


def _transient(e: RemoteError) -> bool:
    if isinstance(e, RemoteUnreachable):
        return True
    return not isinstance(e, RemoteSealed | CasMismatch | RemoteNotFound) and any(
        w in str(e).lower() for w in _TRANSIENT_WORDS)


def _same(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    return hmac.compare_digest(json.dumps(dict(a), sort_keys=True).encode(),
                               json.dumps(dict(b), sort_keys=True).encode())


class KvV2:
    """One remote's KV v2 mount through an authenticated hvac client."""

    def __init__(self, remote: Remote, client: hvac.Client, credential: bytes = b"") -> None:
        self.remote = remote
        self.client = client
        self._credential = credential
        self.retry_seconds = float(remote.settings.get("retry_seconds", RETRY_SECONDS))

    def _where(self, verb: str, path: str, part: str = "data") -> str:
        return f"{verb} {self.remote.kv_mount}/{part}/{path} on remote {self.remote.name}"

    def _api(self, part: str, path: str) -> str:
        return f"/v1/{quote(self.remote.kv_mount)}/{part}/{quote(path, safe='/')}"

    def _call(self, what: str, fn: Callable[[], _T]) -> _T:
        """``fn`` under ``translated``; transient failures retried on the nodes in turn."""
        deadline = time.monotonic() + self.retry_seconds
        pause = 0.2
        while True:
            try:
                with translated(what):
                    return fn()
            except RemoteError as e:
                if not _transient(e) or time.monotonic() + pause > deadline:
                    raise
            time.sleep(pause)
            pause = min(pause * 2, 1.0)
            if self._credential:
                # every node still down: the next round tries again
                with contextlib.suppress(RemoteUnreachable):
                    self.client = connect(self.remote, self._credential)

    # ----- the port ----------------------------------------------------------------------------

    def check(self) -> None:
        mount = self.remote.kv_mount
        what = f"reading the mount {mount}/ on remote {self.remote.name}"
        try:
            answer = self._call(what, lambda: self.client.adapter.get(
                f"/v1/sys/internal/ui/mounts/{quote(mount)}"))
        except RemotePermissionDenied:  # what the server says of a mount that is not there
            raise RemoteNotFound(f"{what} failed: the mount does not exist, or this credential "
                                 "may not use it") from None
        data = (answer or {}).get("data") or {}
        version = str((data.get("options") or {}).get("version", "1"))
        if data.get("type") not in ("kv", "generic") or version != "2":
            raise RemoteUnsuitable(f"the mount {mount}/ on remote {self.remote.name} is not a KV "
                                   f"version 2 engine (it is {data.get('type')!s} version "
                                   f"{version}); enable one with 'bao secrets enable -path="
                                   f"{mount} kv-v2'")

    def metadata(self, path: str) -> KvMeta | None:
        what = self._where("reading", path, "metadata")

        def read() -> Any:
            try:
                return self.client.adapter.get(self._api("metadata", path))
            except hvac.exceptions.InvalidPath as e:
                if "namespace" in str(e):
                    raise
                return None

        answer = self._call(what, read)
        if not answer:
            return None
        data = answer.get("data") or {}
        current = int(data.get("current_version") or 0)
        info = (data.get("versions") or {}).get(str(current)) or {}
        deleted = bool(info.get("deletion_time")) or bool(info.get("destroyed"))
        custom = {str(k): str(v) for k, v in (data.get("custom_metadata") or {}).items()}
        return KvMeta(current, deleted, custom)

    def read(self, path: str, version: int = 0) -> KvVersion:
        what = self._where("reading", path)
        params = {"version": version} if version else {}
        answer = self._call(what, lambda: self.client.adapter.get(self._api("data", path),
                                                                  params=params))
        body = (answer or {}).get("data") or {}
        meta = body.get("metadata") or {}
        if body.get("data") is None:
            raise RemoteNotFound(f"{what} failed: that version is deleted or destroyed")
        return KvVersion(int(meta.get("version") or version), body["data"])

    def write(self, path: str, data: Mapping[str, str], cas: int) -> int:
        what = self._where("writing", path)
        attempts = [0]

        def put() -> int:
            if attempts[0] and self._landed(path, data, cas):
                return cas + 1
            attempts[0] += 1
            answer = self.client.adapter.post(self._api("data", path),
                                              json={"options": {"cas": cas}, "data": dict(data)})
            return int(answer["data"]["version"])

        try:
            return self._call(what, put)
        except CasMismatch:
            raise CasMismatch(f"{what} failed: the path changed on the server since version "
                              f"{cas}", path=path) from None

    def _landed(self, path: str, data: Mapping[str, str], cas: int) -> bool:
        """After a failed attempt: did it land anyway (the next version, holding ``data``)?"""
        meta = self.metadata(path)
        if meta is None or meta.current_version != cas + 1 or meta.deleted:
            return False
        return _same(self.read(path, cas + 1).data, data)

    def check_writable(self, paths: Mapping[str, bool]) -> None:
        mount = self.remote.kv_mount
        wanted: dict[str, tuple[str, ...]] = {}
        for path, new in paths.items():
            wanted[f"{mount}/data/{path}"] = ("create",) if new else ("update",)
            wanted[f"{mount}/metadata/{path}"] = ("create", "update")
        names = list(wanted)
        for start in range(0, len(names), CAPABILITY_BATCH):
            chunk = names[start:start + CAPABILITY_BATCH]
            try:
                answer = self._call(f"reading this credential's capabilities on remote "
                                    f"{self.remote.name}", lambda c=chunk: self.client.adapter.post(
                                        "/v1/sys/capabilities-self", json={"paths": c}))
            except (RemotePermissionDenied, RemoteNotFound):
                return  # the server will not say: the writes themselves will tell
            held = (answer or {}).get("data") or {}
            for name in chunk:
                caps = set(held.get(name) or ())
                if not caps & {"root", "sudo", *wanted[name]}:
                    verb = "writing" if "/data/" in name else "writing the metadata of"
                    raise RemotePermissionDenied(
                        f"{verb} {name} on remote {self.remote.name} failed: permission denied "
                        "by the server's policy (nothing was sent)")

    def set_metadata(self, path: str, custom: Mapping[str, str]) -> None:
        what = self._where("writing", path, "metadata")
        self._call(what, lambda: self.client.adapter.post(
            self._api("metadata", path), json={"custom_metadata": dict(custom)}))

    def list(self, folder: str) -> list[str]:
        what = self._where("listing", folder, "metadata")

        def names() -> list[str]:
            try:
                answer = self.client.adapter.list(self._api("metadata", folder))
            except hvac.exceptions.InvalidPath as e:
                if "namespace" in str(e):
                    raise
                return []
            return [str(k) for k in ((answer or {}).get("data") or {}).get("keys") or []]

        return self._call(what, names)
