"""PKCS#11 signing benchmark on a private SoftHSM2 (not a test: prints figures and ratios).

    .venv/bin/python tests/bench/bench_signing.py                 # 1,000 digests, 1,000 files
    .venv/bin/python tests/bench/bench_signing.py --files 200     # fewer pkcs11-tool runs

(1) Throughput of 1,000 SHA-256 digests signed by Strongroom's KeyStore.sign and sign_many
against a raw python-pkcs11 loop on the same SoftHSM2 key (goal: ≥ 0.9× the raw rate).
(2) Batch-signing small files: Strongroom against a shell loop of ``pkcs11-tool --sign``, one
process per file (goal: ≥ 50×): KeyStore.sign_many over the files in this process, and one run of
``strongroom keys sign … --pin-fd`` (when app/cli/keys.py exists; it unlocks a vault and writes
an audit record per file, so both figures are printed).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from strongroom.app.keys.ports import KeyInfo, SignAlgorithm
    from strongroom.backends.pkcs11 import Pkcs11KeyStore

PIN = "246810"
PASSPHRASE = "correct horse battery staple 42"
SO_PIN = "13572468"
LABEL = "bench"


def setup_softhsm(base: Path) -> str:
    """Private SoftHSM2 config and token; must run before the library is loaded."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from helpers.softhsm import softhsm_module, write_conf

    module = softhsm_module()
    if module is None:
        raise SystemExit("SoftHSM2 is not installed")
    tokens = base / "tokens"
    tokens.mkdir()
    write_conf(base / "softhsm2.conf", tokens)
    os.environ["SOFTHSM2_CONF"] = str(base / "softhsm2.conf")
    subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", LABEL,
                    "--so-pin", SO_PIN, "--pin", PIN], check=True, capture_output=True)
    return module


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def best_of(n: int, fn: Callable[[], object]) -> float:
    return min(timed(fn) for _ in range(n))


def bench_digests(store: Pkcs11KeyStore, key: KeyInfo, module: str, count: int,
                  algorithm: SignAlgorithm) -> None:
    from pkcs11 import Attribute, Mechanism, ObjectClass

    from strongroom.backends.pkcs11._module import loaded
    from strongroom.backends.pkcs11._worker import worker_for

    digests = [hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(count)]
    mechanism = {"ecdsa-sha256": (Mechanism.ECDSA, None),
                 "rsa-pss-sha256": (Mechanism.RSA_PKCS_PSS, (Mechanism.SHA256, 0x2, 32))}[
        algorithm.value]
    slot = store.token().slot

    def raw_loop() -> None:
        # the raw python-pkcs11 loop, run on the module's worker in one go (one thread hop)
        def work() -> None:
            session = loaded(module).slot(slot).get_token().open()
            try:
                priv = next(session.get_objects({Attribute.CLASS: ObjectClass.PRIVATE_KEY,
                                                 Attribute.ID: bytes.fromhex(key.key_id)}))
                for d in digests:
                    priv.sign(d, mechanism=mechanism[0], mechanism_param=mechanism[1])
            finally:
                session.close()
        worker_for(module).run(work)

    def one_by_one() -> None:
        for d in digests:
            store.sign(key, d, algorithm, prehashed=True)

    def many() -> None:
        for _ in store.sign_many(key, digests, algorithm, prehashed=True):
            pass

    raw = best_of(3, raw_loop)
    single = best_of(3, one_by_one)
    batch = best_of(3, many)
    print(f"  {key.algorithm:9} raw python-pkcs11 loop: {count / raw:8.0f}/s")
    print(f"  {key.algorithm:9} KeyStore.sign:          {count / single:8.0f}/s  "
          f"ratio {raw / single:4.2f}x (goal >= 0.9x)")
    print(f"  {key.algorithm:9} KeyStore.sign_many:     {count / batch:8.0f}/s  "
          f"ratio {raw / batch:4.2f}x (goal >= 0.9x)")


def bench_files(store: Pkcs11KeyStore, key: KeyInfo, module: str, files: list[Path],
                out: Path) -> None:
    from strongroom.app.keys.ports import SignAlgorithm

    n = len(files)
    tool = shutil.which("pkcs11-tool")
    if tool is None:
        print("  pkcs11-tool missing: no shell-loop baseline")
        return
    script = (
        'for f in "$@"; do openssl dgst -sha256 -binary "$f" > "$f.dgst" && '
        f'"{tool}" --module "{module}" --token-label {LABEL} --login --pin "$PIN" --sign '
        f'--id {key.key_id} -m ECDSA --signature-format openssl --input-file "$f.dgst" '
        '--output-file "$f.tool.sig" >/dev/null 2>&1 || exit 1; done'
    )
    env = {**os.environ, "PIN": PIN}
    shell = timed(lambda: subprocess.run(["bash", "-c", script, "bench", *map(str, files)],
                                         env=env, check=True))
    print(f"  shell loop of pkcs11-tool --sign: {n} files in {shell:6.2f} s "
          f"({n / shell:6.0f} files/s)")

    def sign_files() -> None:
        for f, sig in zip(files, store.sign_many(key, (f.read_bytes() for f in files),
                                                 SignAlgorithm.EcdsaSha256), strict=True):
            (out / (f.name + ".sig")).write_bytes(sig)

    ours = timed(sign_files)
    print(f"  KeyStore.sign_many in-process (read files, write .sig): {n} files in "
          f"{ours:6.3f} s ({n / ours:6.0f} files/s)  ratio {shell / ours:5.0f}x (goal >= 50x)")
    if not (Path(__file__).resolve().parents[2] / "app" / "cli" / "keys.py").exists():
        print("  strongroom keys sign: app/cli/keys.py not present yet")
        return
    cli = timed_cli(key, module, files, out)
    print(f"  strongroom keys sign (one process; vault unlock and audit records included): "
          f"{n} files in {cli:6.3f} s ({n / cli:6.0f} files/s)  ratio {shell / cli:5.0f}x "
          "(goal >= 50x)")


def timed_cli(key: KeyInfo, module: str, files: list[Path], out: Path) -> float:
    """Time one `strongroom keys sign` run; it is audited, so it opens a vault (fast KDF)."""
    from strongroom.app.keyslots import normalize_passphrase
    from strongroom.app.vault import Vault

    vault_dir = out.parent / "vault"
    Vault.create(vault_dir, normalize_passphrase(PASSPHRASE), kdf_time_ms=10).lock()
    fds = []
    for secret in (PASSPHRASE, PIN):
        read_end, write_end = os.pipe()
        os.write(write_end, secret.encode() + b"\n")
        os.close(write_end)
        fds.append(read_end)
    sys.path.insert(0, str(Path(__file__).parent))
    import bytecode  # the child runs as an installed copy: bytecode cached

    cmd = [sys.executable, "-m", "strongroom", "--vault", str(vault_dir),
           "--passphrase-fd", str(fds[0]), "--pin-fd", str(fds[1]), "keys", "sign",
           "--module", module, "--token", LABEL, "--key", key.label,
           "--in", *map(str, files), "--out-dir", str(out / "cli")]
    (out / "cli").mkdir()

    def run() -> None:
        proc = subprocess.run(cmd, pass_fds=tuple(fds), capture_output=True, text=True,
                              check=False, env=bytecode.cached())
        if proc.returncode != 0:
            raise SystemExit(f"strongroom keys sign failed: {proc.stderr.strip()}")

    try:
        return timed(run)
    finally:
        for fd in fds:
            os.close(fd)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--digests", type=int, default=1000)
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--only", choices=("digests", "files"), help="run one part only")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        module = setup_softhsm(base)
        from strongroom.app.keys.ports import KeyType, SignAlgorithm
        from strongroom.backends.pkcs11 import provider

        p11 = provider()
        token = next(t for t in p11.tokens(module) if t.label == LABEL)
        store = p11.open(token, PIN)
        try:
            ec_key = store.generate("bench-ec", KeyType.EcP256)
            rsa_key = store.generate("bench-rsa", KeyType.Rsa3072) if args.only != "files" \
                else ec_key
            if args.only != "files":
                print(f"(1) {args.digests} SHA-256 digests on SoftHSM2 ({module})")
                bench_digests(store, ec_key, module, args.digests, SignAlgorithm.EcdsaSha256)
                bench_digests(store, rsa_key, module, args.digests, SignAlgorithm.RsaPssSha256)
            if args.only == "digests":
                return
            files_dir, out = base / "files", base / "sigs"
            files_dir.mkdir()
            out.mkdir()
            files = []
            for i in range(args.files):
                f = files_dir / f"file-{i:05}.txt"
                f.write_bytes(f"small file {i}\n".encode() * 8)
                files.append(f)
            print(f"(2) batch-signing {args.files} small files, EC P-256")
            bench_files(store, ec_key, module, files, out)
        finally:
            store.close()


if __name__ == "__main__":
    main()
