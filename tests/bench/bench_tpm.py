"""TPM benchmark: signing rate (ECDSA P-256, RSA 3072), keyslot seal/unseal times and the vault
counter's NV increment (what every vault write adds once the counter is enabled) on swtpm.

Not part of the pass/fail suite. Run it by hand:

    .venv/bin/python tests/bench/bench_tpm.py             # 200 signatures per key type
    .venv/bin/python tests/bench/bench_tpm.py -n 1000
    STRONGROOM_TPM_TCTI=device:/dev/tpmrm0 .venv/bin/python tests/bench/bench_tpm.py --tcti-env

Without ``--tcti-env`` it starts its own swtpm in a temporary directory. It prints figures and
asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from strongroom.app.keys.ports import KeyType, SignAlgorithm
from strongroom.app.unlock_methods import SlotRef
from strongroom.backends.tpm import TpmCounter, TpmKeyProvider, TpmSealSource, default_tcti

from helpers.swtpm import DictBlobStore, start_swtpm


def bench_signing(tcti: str, n: int) -> None:
    provider = TpmKeyProvider(tcti)
    store = provider.open(provider.tokens()[0], None, blobs=DictBlobStore())
    try:
        for key_type, algorithm in (
            (KeyType.EcP256, SignAlgorithm.EcdsaSha256),
            (KeyType.Rsa3072, SignAlgorithm.RsaPssSha256),
            (KeyType.Rsa3072, SignAlgorithm.RsaPkcs1Sha256),
        ):
            t0 = time.perf_counter()
            key = store.generate(f"bench {algorithm.value}", key_type)
            keygen = time.perf_counter() - t0
            items = [b"bench message %d" % i for i in range(n)]
            t0 = time.perf_counter()
            count = sum(1 for _ in store.sign_many(key, items, algorithm))
            batch = time.perf_counter() - t0
            singles = []
            for item in items[: min(n, 50)]:
                t1 = time.perf_counter()
                store.sign(key, item, algorithm)
                singles.append(time.perf_counter() - t1)
            print(
                f"{algorithm.value:<18} keygen {keygen * 1000:7.1f} ms   "
                f"sign_many {count / batch:7.1f} sig/s ({n} sigs, {batch:.2f} s)   "
                f"sign() median {statistics.median(singles) * 1000:6.2f} ms"
            )
    finally:
        store.close()


def bench_slot(tcti: str, rounds: int = 20) -> None:
    src = TpmSealSource(tcti)
    enrol, recover = [], []
    for _ in range(rounds):
        t0 = time.perf_counter()
        e = src.enrol(vault_id="bench", label="TPM", options={"pcrs": [7]}, prompts=None)
        t1 = time.perf_counter()
        src.recover([SlotRef("s", "TPM", e.params)], vault_id="bench", prompts=None)
        t2 = time.perf_counter()
        enrol.append(t1 - t0)
        recover.append(t2 - t1)
    print(f"keyslot seal (PCR 7)   median {statistics.median(enrol) * 1000:6.2f} ms   "
          f"unseal median {statistics.median(recover) * 1000:6.2f} ms ({rounds} rounds)")


def bench_counter(tcti: str, rounds: int = 100) -> None:
    counter, auth = TpmCounter(tcti), b"bench counter authorisation 32 b"
    t0 = time.perf_counter()
    ref = counter.create(auth=auth)
    made = time.perf_counter() - t0
    try:
        increments, reads = [], []
        for _ in range(rounds):
            t1 = time.perf_counter()
            counter.increment(ref, auth=auth)
            t2 = time.perf_counter()
            counter.read(ref, auth=auth)
            increments.append(t2 - t1)
            reads.append(time.perf_counter() - t2)
    finally:
        counter.forget(ref, auth=auth)
    print(f"vault counter (NV)     create {made * 1000:6.2f} ms   increment median "
          f"{statistics.median(increments) * 1000:6.2f} ms   read median "
          f"{statistics.median(reads) * 1000:6.2f} ms ({rounds} rounds)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=200, help="signatures per algorithm")
    parser.add_argument("--tcti-env", action="store_true",
                        help="use STRONGROOM_TPM_TCTI (or /dev/tpmrm0) instead of a new swtpm")
    args = parser.parse_args()
    if args.tcti_env:
        tcti = default_tcti()
        print(f"TPM: {tcti}")
        bench_signing(tcti, args.n)
        bench_slot(tcti)
        bench_counter(tcti)
        return
    with tempfile.TemporaryDirectory(prefix="bench-swtpm-") as tmp:
        tpm = start_swtpm(Path(tmp))
        try:
            print(f"TPM: swtpm ({tpm.tcti})")
            bench_signing(tpm.tcti, args.n)
            bench_slot(tpm.tcti)
            bench_counter(tpm.tcti)
        finally:
            tpm.stop()


if __name__ == "__main__":
    main()
