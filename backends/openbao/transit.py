"""OpenBao / HashiCorp Vault Transit as a key store (app.keys.ports.KeyStore, store ``transit``).

A Transit key is made, kept and used inside OpenBao: it is created with ``exportable=false`` and
``allow_plaintext_backup=false``, so no API hands its private key out (the export endpoint
refuses, and the plaintext backup endpoint refuses too), and Strongroom only ever receives public
keys and signatures. A key is named by its label (the Transit key's name); its ``key_id`` is
``<name>@v<N>``, the version Strongroom read when it listed the key (the latest), so a signature
is always asked of that version and verifies under the public key the KeyInfo carries. After a
rotation in OpenBao the key is listed with its new version (and a new fingerprint).

Messages are hashed here and sent with ``prehashed=true`` (Ed25519 sends the message: Transit's
Ed25519 signs the message itself); ECDSA signatures come DER-encoded (``marshaling_algorithm=
asn1``), RSA-PSS uses ``salt_length=hash``. ``sign_many`` sends up to :data:`BATCH` inputs per
request with Transit's ``batch_input`` (halved if the server's JSON limits refuse a request).

Types made: EC P-256/P-384, RSA 3072/4096, Ed25519 (every KeyType). Listed too: RSA 2048 (signs;
Strongroom does not make it) and EC P-521 (no SignAlgorithm signs with it); Transit's encryption
and HMAC keys are left out.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import threading
from collections.abc import Generator, Iterable
from typing import Any

import hvac
import hvac.exceptions

from strongroom.app.errors import (
    AlreadyExists,
    HardwareError,
    NotFound,
    StrongroomError,
    Unsupported,
    UsageError,
    UserCancelled,
)
from strongroom.app.keys.ports import (
    Capability,
    KeyInfo,
    KeyType,
    ProgressCallback,
    SignAlgorithm,
    TokenInfo,
)
from strongroom.app.keyslots import StatusCallback
from strongroom.app.plugins import Availability
from strongroom.app.remotes.errors import RemoteAuthFailed, RemoteError, RemotePermissionDenied

from . import _transit_wire as wire
from ._transit_kind import KIND
from .client import translated

STORE = KIND.name
BATCH = 256  # signatures per HTTP request (Transit's batch_input)
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def check_cancel(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise UserCancelled()


def report(on_status: StatusCallback | None, text: str) -> None:
    if on_status is not None:
        on_status(text)


def remote_token(name: str, url: str, mount: str, namespace: str = "") -> TokenInfo:
    """One remote's Transit mount as the inventory shows a token (no server is asked); two
    remotes on one server (other credentials) are two tokens."""
    where = f"{url.rstrip('/')}/{namespace.strip('/') + '/' if namespace else ''}{mount}"
    return TokenInfo(
        store=STORE, module=where, slot=None, label=name, manufacturer="OpenBao",
        model=f"Transit at {mount}/",
        serial=hashlib.sha256(f"{name}\n{where}".encode()).hexdigest()[:16],
        flags=("token-initialized",),
    )


def _missing_key_is_404(call: Any, *args: Any, **kwargs: Any) -> Any:
    """Transit answers a sign with a key it does not have with 400 "signing key not found":
    raised as the 404 it means, so translated() says "not found" (exit 1, NotFound)."""
    try:
        return call(*args, **kwargs)
    except hvac.exceptions.InvalidRequest as e:
        if any("key not found" in str(x) for x in (e.errors or ())):
            raise hvac.exceptions.InvalidPath(errors=e.errors) from e
        raise


class TransitKeyStore:
    """A KeyStore over an authenticated ``hvac.Client`` and one Transit mount."""

    store = STORE
    kind = KIND

    def __init__(self, client: hvac.Client, mount: str = "transit",
                 token: TokenInfo | None = None, *, batch: int = BATCH) -> None:
        if not _NAME.fullmatch(mount.strip("/")):
            raise UsageError(f"{mount!r} is not a Transit mount path")
        self._client = client
        self.mount = mount.strip("/")
        self.url = str(client.url)
        self._token = token or remote_token(self.url, self.url, self.mount)
        self._batch = max(1, batch)
        self._lock = threading.Lock()
        self._closed = False

    # ----- errors ----------------------------------------------------------------------------

    def _call(self, what: str, call: Any, *args: Any, **kwargs: Any) -> Any:
        """``call`` with hvac's and requests' errors as client.translated's, one sentence each
        naming the remote (never the token); a 403 on a token OpenBao no longer knows is a
        refused credential (exit 4), not "permission denied"."""
        if self._closed:
            raise UsageError("the Transit key store is closed")
        doing = f"{what} on remote {self._token.label}"
        with self._lock:
            try:
                with translated(doing):
                    return _missing_key_is_404(call, *args, **kwargs)
            except RemotePermissionDenied:
                # 403 is also how OpenBao answers a token it does not know (revoked since login)
                if self._token_refused():
                    raise RemoteAuthFailed(f"{doing} failed: the credential was refused (wrong "
                                           "or expired)") from None
                raise

    def _token_refused(self) -> bool:
        try:
            self._client.auth.token.lookup_self()
        except hvac.exceptions.Forbidden:
            return True
        except Exception:  # noqa: BLE001 - the first refusal is what the user is told
            return False
        return False

    # ----- inventory -------------------------------------------------------------------------

    def available(self) -> Availability:
        try:
            health = self._call("checking its health", self._client.sys.read_health_status,
                                method="GET")
        except StrongroomError as e:
            return Availability(False, str(e))
        body = health if isinstance(health, dict) else _json(health)
        if body.get("sealed"):
            return Availability(False, f"OpenBao at {self.url} is sealed")
        if body.get("initialized") is False:
            return Availability(False, f"OpenBao at {self.url} is not initialised")
        return Availability(True)

    def token(self) -> TokenInfo:
        return self._token

    def check_login(self) -> None:
        """AuthenticationFailed now if OpenBao does not know the token, not at first use."""
        self._call("looking up its own token", self._client.auth.token.lookup_self)

    def _names(self) -> list[str]:
        answer = self._call(f"listing the keys of {self.mount}/", self._list_or_none)
        names = answer.get("data", {}).get("keys", []) if isinstance(answer, dict) else []
        return sorted(n for n in names if isinstance(n, str))

    def _list_or_none(self) -> object:
        try:
            return self._client.secrets.transit.list_keys(mount_point=self.mount)
        except hvac.exceptions.InvalidPath as e:
            if not e.errors:
                return None  # Transit answers an empty list with a bare 404
            raise  # "no handler for route": no Transit engine at this mount

    def _read(self, name: str) -> KeyInfo | None:
        """The key ``name`` at its latest version; None if it is not a signing key."""
        answer = self._call(f"reading transit key {name!r}", self._client.secrets.transit.read_key,
                            name=name, mount_point=self.mount)
        return self._info(name, answer.get("data") if isinstance(answer, dict) else None)

    def _info(self, name: str, data: object) -> KeyInfo | None:
        if not isinstance(data, dict):
            raise wire.MalformedAnswer(f"OpenBao sent no description of transit key {name!r}")
        transit_type = data.get("type")
        if transit_type not in wire.KEY_TYPES or not data.get("supports_signing", True):
            return None  # an encryption or HMAC key: not a signing key
        latest = data.get("latest_version")
        versions = data.get("keys")
        if not isinstance(latest, int) or not isinstance(versions, dict) or \
                not isinstance(versions.get(str(latest)), dict):
            raise wire.MalformedAnswer(f"OpenBao sent no latest version of transit key {name!r}")
        der = wire.public_key_der(transit_type, versions[str(latest)].get("public_key"))
        key_type, algorithm = wire.KEY_TYPES[transit_type]
        capabilities = {Capability.Sign, Capability.Verify}
        if data.get("supports_encryption"):
            capabilities.add(Capability.Encrypt)
        if data.get("supports_decryption"):
            capabilities.add(Capability.Decrypt)
        return KeyInfo(
            store=STORE, token_label=self._token.label, token_serial=self._token.serial,
            label=name, key_id=f"{name}@v{latest}", algorithm=algorithm, key_type=key_type,
            capabilities=frozenset(capabilities), sensitive=True,
            # a plaintext backup hands the private key out as surely as an export does
            extractable=bool(data.get("exportable")) or bool(data.get("allow_plaintext_backup")),
            public_key=der,
        )

    def list_keys(
        self, *, cancel: threading.Event | None = None, on_status: StatusCallback | None = None
    ) -> list[KeyInfo]:
        """The mount's signing keys at their latest versions (one read per key)."""
        check_cancel(cancel)
        out = []
        for name in self._names():
            check_cancel(cancel)
            with contextlib.suppress(NotFound):  # deleted between the list and the read
                info = self._read(name)
                if info is not None:
                    out.append(info)
        return out

    # ----- generation ------------------------------------------------------------------------

    def generate(
        self,
        label: str,
        key_type: KeyType,
        key_id: bytes | None = None,
        *,
        cancel: threading.Event | None = None,
        on_status: StatusCallback | None = None,
    ) -> KeyInfo:
        """A new Transit key named ``label``: not exportable, no plaintext backup."""
        if key_type not in wire.TRANSIT_TYPE:
            raise Unsupported(f"Transit does not make {key_type.value} keys")
        if key_id is not None:
            raise UsageError("a Transit key is named by its label; it takes no --id")
        if not _NAME.fullmatch(label):
            raise UsageError("a Transit key label is 1-128 letters, digits, '.', '_' or '-', "
                             "starting with a letter or digit")
        check_cancel(cancel)
        if label in self._names():
            # Transit answers a create of an existing name with success and changes nothing
            raise AlreadyExists(f"a transit key named {label!r} already exists at "
                                f"{self.mount}/")
        check_cancel(cancel)
        transit_type = wire.TRANSIT_TYPE[key_type]
        report(on_status, f"Generating a {key_type.value} key in OpenBao Transit")
        self._call(f"creating transit key {label!r}", self._client.secrets.transit.create_key,
                   name=label, key_type=transit_type, exportable=False,
                   allow_plaintext_backup=False, mount_point=self.mount)
        info = self._read(label)
        if info is None or info.key_type is not key_type or info.extractable:
            raise AlreadyExists(f"a different transit key named {label!r} appeared at "
                                f"{self.mount}/ while it was being made")
        return info

    # ----- signing ---------------------------------------------------------------------------

    def _plan(self, key: KeyInfo, algorithm: SignAlgorithm, prehashed: bool
              ) -> tuple[str, int, wire.SignPlan, object]:
        if self._closed:
            raise UsageError("the Transit key store is closed")
        name, sep, version = key.key_id.rpartition("@v")
        if not sep or not name or not version.isdigit() or key.store != STORE:
            raise NotFound(f"{key.label!r} is not a Transit key")
        plan = wire.PLANS[SignAlgorithm(algorithm)]
        public = wire.load_spki(key.public_key)
        if wire.family_of(public) != plan.family:
            raise Unsupported(f"{algorithm.value} does not apply to a {key.algorithm} key")
        if plan.family == "ecdsa" and key.algorithm == "EC P-521":
            raise Unsupported("Strongroom has no ECDSA algorithm for P-521 keys")
        if prehashed and plan.hash_name is None:
            raise Unsupported("Ed25519 signs the whole message; give the message, not a digest")
        return name, int(version), plan, public

    def sign(
        self,
        key: KeyInfo,
        data: bytes,
        algorithm: SignAlgorithm,
        *,
        prehashed: bool = False,
        cancel: threading.Event | None = None,
        on_status: StatusCallback | None = None,
    ) -> bytes:
        check_cancel(cancel)
        return next(self.sign_many(key, [data], algorithm, prehashed=prehashed, cancel=cancel,
                                   on_status=on_status))

    def sign_many(
        self,
        key: KeyInfo,
        items: Iterable[bytes],
        algorithm: SignAlgorithm,
        *,
        prehashed: bool = False,
        cancel: threading.Event | None = None,
        on_progress: ProgressCallback | None = None,
        on_status: StatusCallback | None = None,
    ) -> Generator[bytes, None, None]:
        """Sign each item, :data:`BATCH` per request, in order; ``cancel`` is honoured before
        each request and between signatures."""
        check_cancel(cancel)
        name, version, plan, public = self._plan(key, algorithm, prehashed)
        todo = list(items)
        report(on_status, f"Signing with the Transit key {name} in OpenBao")
        return self._sign_iter(name, version, plan, public, todo, prehashed, cancel, on_progress)

    def _inputs(self, chunk: list[bytes], plan: wire.SignPlan, prehashed: bool) -> list[str]:
        if plan.hash_name is None:
            return [wire.b64(m) for m in chunk]
        size = hashlib.new(plan.hash_name).digest_size
        out = []
        for item in chunk:
            if prehashed and len(item) != size:
                raise UsageError(f"a {plan.hash_name} digest is {size} bytes, not {len(item)}")
            out.append(wire.b64(item if prehashed else hashlib.new(plan.hash_name, item).digest()))
        return out

    def _sign_iter(self, name: str, version: int, plan: wire.SignPlan, public: object,
                   todo: list[bytes], prehashed: bool, cancel: threading.Event | None,
                   on_progress: ProgressCallback | None) -> Generator[bytes, None, None]:
        done = 0
        while done < len(todo):
            check_cancel(cancel)
            chunk = todo[done:done + self._batch]
            inputs = self._inputs(chunk, plan, prehashed)
            try:
                answer = self._call(
                    f"signing with transit key {name!r}", self._client.secrets.transit.sign_data,
                    name=name, key_version=version, mount_point=self.mount,
                    prehashed=plan.hash_name is not None or None, **dict(plan.options),
                    batch_input=[{"input": i} for i in inputs])
            except RemoteError as e:
                if "high complexity" not in str(e) or self._batch == 1:
                    raise
                # The server caps the strings in a request below what BATCH needs (OpenBao's
                # default allows ~490 inputs): nothing was signed, so ask again in halves.
                self._batch = max(1, self._batch // 2)
                continue
            for signature in self._batch_results(answer, name, version, public, len(chunk)):
                check_cancel(cancel)
                done += 1
                if on_progress is not None:
                    on_progress(done, len(todo))
                yield signature

    def _batch_results(self, answer: object, name: str, version: int, public: object,
                       count: int) -> list[bytes]:
        data = answer.get("data") if isinstance(answer, dict) else None
        results = data.get("batch_results") if isinstance(data, dict) else None
        if not isinstance(results, list) or len(results) != count:
            raise wire.MalformedAnswer(f"OpenBao sent {type(results).__name__} where "
                                       f"{count} signatures belong")
        out = []
        for n, result in enumerate(results):
            if not isinstance(result, dict):  # Transit answers a batch in its order
                raise wire.MalformedAnswer(f"OpenBao sent {type(result).__name__} as result {n}")
            if result.get("error"):
                message = " ".join(str(result["error"]).split())[:200]
                raise HardwareError(f"OpenBao could not sign with transit key {name!r}: "
                                    f"{message}")
            got, raw = wire.parse_signature(result.get("signature"))
            if got != version:
                raise wire.MalformedAnswer(f"OpenBao signed with version {got} of {name!r}, "
                                           f"not {version}")
            out.append(wire.check_signature(public, raw))
        return out

    # ----- life cycle ------------------------------------------------------------------------

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            with contextlib.suppress(Exception):
                self._client.adapter.close()


def _json(response: object) -> dict[str, Any]:
    try:
        body = response.json()  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 - a health answer that is not JSON says nothing
        return {}
    return body if isinstance(body, dict) else {}
