"""OpenBao Transit signing benchmark on a private ``bao server -dev`` (not a test: prints figures
and ratios, asserts nothing about speed).

    .venv/bin/python tests/bench/bench_transit.py                  # 1,000 digests, 1,000 files
    .venv/bin/python tests/bench/bench_transit.py -n 200 --files 100

(1) SHA-256 digests signed with one Transit key (EC P-256, then RSA 3072 PSS): raw ``hvac``
``sign_data`` one request per digest, raw ``hvac`` with ``batch_input`` (256 per request), and
Strongroom's ``TransitKeyStore.sign`` (one request each) and ``sign_many`` (256 per request). Each
figure is the best of 3 runs, the runs interleaved; the ratios are Strongroom's rate over raw.
(2) ``strongroom keys sign --store transit`` over N small files in one process (vault unlock,
remote credential read, an audit record per file, signature files written), against raw hvac
doing the same reading, hashing, signing and writing in a loop and in batches.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

PASSPHRASE = "correct horse battery staple 42"
REMOTE = "bench"
BATCH = 256


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def best_interleaved(runs: int, fns: dict[str, Callable[[], object]]) -> dict[str, float]:
    """The best time of each function over ``runs`` rounds, one call of each per round."""
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(runs):
        for name, fn in fns.items():
            best[name] = min(best[name], timed(fn))
    return best


def raw_sign(client: Any, name: str, options: dict[str, str], inputs: list[str]) -> list[str]:
    """Raw hvac, one request per input."""
    return [client.secrets.transit.sign_data(name, hash_input=i, prehashed=True, **options)
            ["data"]["signature"] for i in inputs]


def raw_batch(client: Any, name: str, options: dict[str, str], inputs: list[str]) -> list[str]:
    """Raw hvac, BATCH inputs per request."""
    out: list[str] = []
    for start in range(0, len(inputs), BATCH):
        answer = client.secrets.transit.sign_data(
            name, batch_input=[{"input": i} for i in inputs[start:start + BATCH]],
            prehashed=True, **options)
        out += [r["signature"] for r in answer["data"]["batch_results"]]
    return out


def bench_digests(client: Any, store: Any, key: Any, count: int, algorithm: Any,
                  options: dict[str, str]) -> None:
    digests = [hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(count)]
    inputs = [base64.b64encode(d).decode() for d in digests]
    name = key.label
    best = best_interleaved(3, {
        "raw loop": lambda: raw_sign(client, name, options, inputs),
        "raw batch": lambda: raw_batch(client, name, options, inputs),
        "sign": lambda: [store.sign(key, d, algorithm, prehashed=True) for d in digests],
        "sign_many": lambda: list(store.sign_many(key, digests, algorithm, prehashed=True)),
    })
    rate = {k: count / v for k, v in best.items()}
    label = f"{key.algorithm} {algorithm.value}"
    print(f"  {label}: raw hvac sign_data loop      {rate['raw loop']:8.0f}/s")
    print(f"  {label}: raw hvac batch_input ({BATCH})  {rate['raw batch']:8.0f}/s")
    print(f"  {label}: TransitKeyStore.sign         {rate['sign']:8.0f}/s  "
          f"ratio {rate['sign'] / rate['raw loop']:4.2f}x of the raw loop")
    print(f"  {label}: TransitKeyStore.sign_many    {rate['sign_many']:8.0f}/s  "
          f"ratio {rate['sign_many'] / rate['raw batch']:4.2f}x of raw batch, "
          f"{rate['sign_many'] / rate['raw loop']:5.1f}x of the raw loop")


def make_vault(base: Path, url: str, token: str) -> Path:
    from strongroom.app.keyslots import normalize_passphrase
    from strongroom.app.remotes import config
    from strongroom.app.vault import Vault

    path = base / "vault"
    vault = Vault.create(path, normalize_passphrase(PASSPHRASE), kdf_time_ms=10)
    try:
        remote = config.Remote(REMOTE, url, "", "secret", "transit", "token",
                               credential_secret=config.credential_name(REMOTE, "token"))
        config.add_remote(vault, remote, token.encode(), config.default_level(vault))
    finally:
        vault.lock()
    return path


def run_cli(vault: Path, *args: str) -> float:
    """The wall time of one ``strongroom`` process (bytecode cached, as an installed copy runs;
    the passphrase on a pipe)."""
    import bytecode

    read_end, write_end = os.pipe()
    os.write(write_end, PASSPHRASE.encode() + b"\n")
    os.close(write_end)
    cmd = [sys.executable, "-m", "strongroom", "--vault", str(vault), "--passphrase-fd",
           str(read_end), *args]

    def run() -> None:
        proc = subprocess.run(cmd, pass_fds=(read_end,), capture_output=True, text=True,
                              check=False, env=bytecode.cached())
        if proc.returncode != 0:
            raise SystemExit(f"strongroom {args[0]} {args[1]} failed: {proc.stderr.strip()}")

    try:
        return timed(run)
    finally:
        os.close(read_end)


def timed_cli(vault: Path, label: str, files: list[Path], out: Path) -> tuple[float, float]:
    """The best of 3 interleaved runs of ``keys sign --store transit`` over every file (into a
    new folder each time) and of ``keys list`` (the same start-up, unlock, credential read and
    login, no signing)."""
    where = ("--store", "transit", "--token", REMOTE)
    sign, listing = float("inf"), float("inf")
    for run in range(3):
        folder = out / f"run{run}"
        folder.mkdir(parents=True)
        sign = min(sign, run_cli(vault, "keys", "sign", *where, "--key", label, "--in",
                                 *map(str, files), "--out-dir", str(folder)))
        listing = min(listing, run_cli(vault, "keys", "list", *where))
    return sign, listing


def bench_files(client: Any, vault: Path, key: Any, files: list[Path], base: Path) -> None:
    options = {"hash_algorithm": "sha2-256", "marshaling_algorithm": "asn1"}
    n = len(files)

    def raw(batched: bool, out: Path) -> Callable[[], None]:
        def run() -> None:
            out.mkdir(exist_ok=True)
            inputs = [base64.b64encode(hashlib.sha256(f.read_bytes()).digest()).decode()
                      for f in files]
            sign = raw_batch if batched else raw_sign
            for f, sig in zip(files, sign(client, key.label, options, inputs), strict=True):
                raw_sig = base64.b64decode(sig.split(":", 2)[2])
                (out / (f.name + ".sig")).write_bytes(raw_sig)
        return run

    best = best_interleaved(3, {"loop": raw(False, base / "raw-loop"),
                                "batch": raw(True, base / "raw-batch")})
    cli, fixed = timed_cli(vault, key.label, files, base / "cli")
    print(f"  raw hvac loop (read, hash, sign, write):  {n} files in {best['loop']:6.2f} s "
          f"({n / best['loop']:6.0f} files/s)")
    print(f"  raw hvac batch_input ({BATCH} per request):  {n} files in {best['batch']:6.2f} s "
          f"({n / best['batch']:6.0f} files/s)")
    print(f"  strongroom keys sign --store transit (one process; vault unlock, credential read, "
          f"audit records included): {n} files in {cli:6.2f} s ({n / cli:6.0f} files/s)  "
          f"ratio {best['loop'] / cli:4.2f}x of the raw loop, {best['batch'] / cli:4.2f}x of "
          "raw batch")
    signing = cli - fixed
    print(f"  of which start-up, unlock, credential read and login (strongroom keys list "
          f"--store transit): {fixed:6.2f} s; the {n} signatures and their audit records: "
          + (f"{signing:6.2f} s ({n / signing:6.0f} files/s)" if signing > 0.01
             else "within the noise"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--digests", type=int, default=1000)
    parser.add_argument("--files", type=int, default=1000)
    args = parser.parse_args()
    import hvac

    from strongroom.app.keys.ports import KeyType, SignAlgorithm
    from strongroom.backends.openbao.transit import TransitKeyStore, remote_token

    from helpers.openbao import start_dev_server

    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        server = start_dev_server(base / "openbao")
        try:
            server.cli("secrets", "enable", "transit")
            client = hvac.Client(url=server.url, token=server.root_token, timeout=60)
            store = TransitKeyStore(hvac.Client(url=server.url, token=server.root_token,
                                                timeout=60), "transit",
                                    remote_token(REMOTE, server.url, "transit"))
            ec_key = store.generate("bench-ec", KeyType.EcP256)
            rsa_key = store.generate("bench-rsa", KeyType.Rsa3072)
            version = server.cli("version").stdout.decode().split(" (")[0]
            print(f"(1) {args.digests} SHA-256 digests, {version} dev server on loopback "
                  f"(same machine)")
            bench_digests(client, store, ec_key, args.digests, SignAlgorithm.EcdsaSha256,
                          {"hash_algorithm": "sha2-256", "marshaling_algorithm": "asn1"})
            bench_digests(client, store, rsa_key, args.digests, SignAlgorithm.RsaPssSha256,
                          {"hash_algorithm": "sha2-256", "signature_algorithm": "pss",
                           "salt_length": "hash"})
            files_dir = base / "files"
            files_dir.mkdir()
            files = []
            for i in range(args.files):
                f = files_dir / f"file-{i:05}.txt"
                f.write_bytes(f"small file {i}\n".encode() * 8)
                files.append(f)
            print(f"(2) signing {args.files} small files, EC P-256 (ecdsa-sha256)")
            vault = make_vault(base, server.url, server.root_token)
            bench_files(client, vault, ec_key, files, base)
            store.close()
        finally:
            server.stop()


if __name__ == "__main__":
    main()
