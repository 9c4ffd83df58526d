"""Helpers for the remote tests: the CLI with its secrets on pipes, a vault's state to compare,
the KV side as the ``bao`` CLI sees it, and a team vault (alice and carol) to start from."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from strongroom.app.access import operator_admin
from strongroom.app.keyslots import PassphraseUnlocker, normalize_passphrase
from strongroom.app.model import Classification
from strongroom.app.vault import NewSecret, Vault

from helpers.openbao import BaoServer

PASSPHRASE = "correct horse battery staple 42"
CAROL = "carol pass phrase 88"
VALUES = {"app/db": b"db-password-9f3k", "app/api": b"api-key-\xff\x00binary",
          "pki/root-key": b"critical-root-7Qz", "web/token": b"web-token-x81"}
LEVELS = {"app/db": Classification.High, "app/api": Classification.Moderate,
          "pki/root-key": Classification.Critical, "web/token": Classification.Low}


def make_team_vault(path: Path, *, with_carol: bool = True) -> Path:
    """alice's vault with VALUES at LEVELS (tags: app, pki, web), and carol who may approve."""
    with Vault.create(path, normalize_passphrase(PASSPHRASE), kdf_time_ms=10,
                      actor="alice") as v:
        for name, value in VALUES.items():
            v.add_secret(NewSecret(name, value, LEVELS[name], tags=(name.split("/")[0],)))
        if with_carol:
            operator_admin.add_operator(v, "carol", CAROL.encode(),
                                        roles=["Administrator", "Custodian"], kdf_time_ms=10)
    return path


def copy_vault(template: Path, dest: Path) -> Path:
    return Path(shutil.copytree(template, dest))


def cli(*args: str, vault: Path, token: str | None = None, approver: str | None = None,
        stdin: bytes = b"", env: dict[str, str] | None = None) -> tuple[int, Any, str]:
    """``strongroom --json ARGS``: the vault passphrase, a token (``--token-fd``) and the
    approver's passphrase each on a pipe of its own. Returns (exit code, the last JSON line of
    stdout, stderr and then stdout as text)."""
    cmd = [sys.executable, "-m", "strongroom", "--vault", str(vault), "--json"]
    fds: list[int] = []
    extra: list[str] = []
    for option, text in (("--passphrase-fd", PASSPHRASE), ("--token-fd", token),
                         ("--approver-passphrase-fd", approver)):
        if text is not None:
            r, w = os.pipe()
            os.write(w, (text + "\n").encode())
            os.close(w)
            fds.append(r)
            (cmd if option != "--token-fd" else extra).extend([option, str(r)])
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("STRONGROOM_", "BAO_",
                                                                         "VAULT_"))}
    full_env.update(env or {})
    try:
        proc = subprocess.run(cmd + list(args) + extra, capture_output=True, pass_fds=tuple(fds),
                              env=full_env, timeout=180, check=False, input=stdin)
    finally:
        for fd in fds:
            os.close(fd)
    out = proc.stdout.decode()
    lines = [ln for ln in out.splitlines() if ln.strip()]
    parsed = json.loads(lines[-1]) if lines else None
    return proc.returncode, parsed, proc.stderr.decode() + "\n" + out


def open_vault(path: Path) -> Vault:
    v = Vault.open(path)
    v.unlock(PassphraseUnlocker.from_text(PASSPHRASE))
    return v


def vault_state(path: Path) -> dict[str, Any]:
    """What a failed remote command must leave as it was: secrets and their versions, remotes,
    sync rows, and the audit log apart from unlocks and credential reads."""
    with open_vault(path) as v, v._read() as conn:
        tables = {t: conn.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall()
                  for t in ("secrets", "versions", "remotes", "remote_sync")}
        events = [(e.action, e.target) for e in reversed(v.audit_events())
                  if e.action not in ("vault.unlock", "secret.read")]
    return {**{t: [tuple(bytes(c) if isinstance(c, memoryview) else c for c in row)
                   for row in rows] for t, rows in tables.items()}, "events": events}


def kv_get(server: BaoServer, path: str, *, mount: str = "secret") -> dict[str, Any] | None:
    """``bao kv get -format=json`` of ``mount/path``: {"data": ..., "metadata": ...} or None."""
    proc = server.cli("kv", "get", "-format=json", f"{mount}/{path}", check=False)
    if proc.returncode != 0:
        return None
    return dict(json.loads(proc.stdout)["data"])


def kv_tree(server: BaoServer, folder: str, *, mount: str = "secret") -> dict[str, Any]:
    """Every path under ``folder`` with its current version and data (the server's side)."""
    out: dict[str, Any] = {}
    proc = server.cli("kv", "list", "-format=json", f"{mount}/{folder}", check=False)
    if proc.returncode != 0:
        return out
    for key in json.loads(proc.stdout):
        if key.endswith("/"):
            out |= kv_tree(server, folder + key, mount=mount)
        else:
            got = kv_get(server, folder + key, mount=mount)
            assert got is not None
            out[folder + key] = (got["metadata"]["version"], got["data"])
    return out


def start_tls_dev_server(home: Path) -> tuple[BaoServer, Path]:
    """``bao server -dev -dev-tls``: its URL is https and its CA is returned; the helper in
    helpers/openbao.py polls over plain HTTP, so this one polls over TLS with that CA."""
    import secrets
    import ssl
    import time
    import urllib.request

    from helpers.openbao import BAO, free_port_pair

    certs = home / "certs"
    certs.mkdir(parents=True, exist_ok=True)
    port = free_port_pair()
    token = secrets.token_hex(24)
    env = {**os.environ, "HOME": str(home), "BAO_DEV_ROOT_TOKEN_ID": token}
    env.pop("BAO_TOKEN", None)
    with (home / "bao.log").open("wb") as log:
        proc = subprocess.Popen([str(BAO), "server", "-dev", "-dev-tls", "-dev-tls-cert-dir",
                                 str(certs), f"-dev-listen-address=127.0.0.1:{port}",
                                 "-dev-no-store-token"], env=env, stdout=log,
                                stderr=subprocess.STDOUT, cwd=home)
    server = BaoServer(f"https://127.0.0.1:{port}", token, home, proc)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:
        ca = certs / "vault-ca.pem"
        if ca.exists():
            try:
                context = ssl.create_default_context(cafile=str(ca))
                with urllib.request.urlopen(f"{server.url}/v1/sys/health",  # noqa: S310
                                            timeout=2, context=context) as r:
                    if r.status == 200:
                        return server, ca
            except (OSError, ssl.SSLError):
                pass
        time.sleep(0.1)
    server.stop()
    raise RuntimeError("bao server -dev -dev-tls did not come up:\n"
                       + (home / "bao.log").read_text(errors="replace")[-2000:])
