"""The two stores bench_compare.py times: the same N entries as a KDBX 4 file and a Strongroom
vault, each side's KDF measured alone, the KDBX's Argon2 calibrated to Strongroom's unlock time.

Strongroom's passphrase keyslot is built at its floor (Argon2id, 64 MiB); its KDF is timed with the
project's own helper (PassphraseUnlocker.derive_kek on the vault's slot, the parameters the header
holds). The KDBX is written by pykeepass (KDBX 4, Argon2d, 64 MiB, 2 lanes as KeePassXC makes
them) with the iteration count chosen so that its Argon2 takes the same time in keepassxc-cli
here: timed as the open of an empty KDBX with those costs less the open of one with a trivial KDF.
"""

from __future__ import annotations

import shutil
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from pykeepass import PyKeePass, create_database

sys.path.insert(0, str(Path(__file__).parent))
from bench_vault import PASSPHRASE, make_vault
from compare_runs import KEEPASSXC_CLI, interleaved

from strongroom.app.entries import Entry
from strongroom.app.keyslots import PassphraseUnlocker, argon2_params_from_slot
from strongroom.app.vault import NewSecret, Vault

PER_GROUP = 100  # entries per group: 100 groups at 10k, 1,000 at 100k
BATCH = 5_000  # secrets per add_secrets transaction
ARGON2D_UUID = bytes.fromhex("ef636ddf8c29444b91f7a9a403e30a0c")


@dataclass(frozen=True)
class Kdf:
    """One side's KDF: what it is and the median time it takes alone on this machine."""

    seconds: float
    desc: str


@dataclass(frozen=True)
class Stores:
    n: int
    kdbx: Path
    vault: Path
    kdbx_kdf: Kdf
    vault_kdf: Kdf
    probe_name: str  # "group-K/entry-N": the entry searched for and read
    probe_term: str  # a term only the probe matches (its title)

    @property
    def kdbx_bytes(self) -> int:
        return self.kdbx.stat().st_size

    @property
    def vault_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.vault.rglob("*") if p.is_file())


def entries(n: int) -> Iterator[tuple[str, str, Entry]]:
    """(group, title, fields) of entry i, the same on both sides."""
    for i in range(n):
        yield (f"group-{i // PER_GROUP:04d}", f"entry-{i:06d}", Entry(
            password=f"pw-{i:06d}-Zq8!vR2#kLm9", username=f"user{i % 997:03d}@example.org",
            url=f"https://svc{i % 311:03d}.example.org/login",
            notes=f"rotated quarterly; ticket CHG{i % 5000:05d}; owner team-{i % 40:02d}",
        ))


def median_of(fn: Callable[[], object], reps: int) -> float:
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def build_vault(path: Path, n: int) -> Vault:
    """A Strongroom vault at the KDF floor holding the n entries as secrets of kind entry."""
    vault = make_vault(path)
    batch: list[NewSecret] = []
    for group, title, entry in entries(n):
        batch.append(NewSecret(name=f"{group}/{title}", value=entry.encode(), kind="entry",
                               note=entry.notes))
        if len(batch) == BATCH:
            vault.add_secrets(batch)
            batch = []
    if batch:
        vault.add_secrets(batch)
    return vault


def vault_kdf(vault: Vault, reps: int) -> Kdf:
    slot = vault.header.slots[0]
    p = argon2_params_from_slot(slot)
    unlocker = PassphraseUnlocker.from_text(PASSPHRASE)
    seconds = median_of(lambda: unlocker.derive_kek(slot), reps)
    return Kdf(seconds, f"Argon2id {p.memory_kib // 1024} MiB, t={p.iterations}, "
                        f"p={p.lanes}")


def kdbx_with_kdf(path: Path, iterations: int, memory_kib: int | None = None) -> PyKeePass:
    """A new KDBX 4 (pykeepass: Argon2d, 2 lanes) with these Argon2 costs (64 MiB unless given)."""
    kp = create_database(str(path), password=PASSPHRASE)
    params = kp.kdbx.header.value.dynamic_header.kdf_parameters.data.dict
    if params["$UUID"].value != ARGON2D_UUID:
        raise RuntimeError("pykeepass's new database does not use Argon2d")
    params["I"].value = iterations
    if memory_kib is not None:
        params["M"].value = memory_kib * 1024
    kp.save()
    return kp


def keepassxc_kdf(root: Path, iterations: int, env: dict[str, str], reps: int) -> float:
    """Argon2d at these iterations as keepassxc-cli runs it: the median time to open an empty
    KDBX with them, less that of one with a 1 MiB, 1-iteration KDF (runs taken in turns)."""
    probe, cheap = root / f"kdf-{iterations}.kdbx", root / "kdf-cheap.kdbx"
    kdbx_with_kdf(probe, iterations)
    kdbx_with_kdf(cheap, 1, memory_kib=1024)
    a, b = interleaved(([KEEPASSXC_CLI, "ls", "-q", str(probe)], False),
                       ([KEEPASSXC_CLI, "ls", "-q", str(cheap)], False), env, reps, "")
    return max(a.wall - b.wall, 0.0)


def calibrate_iterations(root: Path, target_s: float, env: dict[str, str], reps: int) -> int:
    """Argon2d iterations taking ``target_s`` in keepassxc-cli here: a least-squares line (time
    is linear in the iterations, plus a fixed cost) through probes at 1, 2, 4 and 8 (1 and 4
    with one rep: the smoke run)."""
    xs = [1, 4] if reps <= 1 else [1, 2, 4, 8]
    ys = [keepassxc_kdf(root, i, env, reps) for i in xs]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum(
        (x - mx) ** 2 for x in xs)
    slope = max(slope, 1e-3)
    return max(1, round((target_s - (my - slope * mx)) / slope))


def build_kdbx(root: Path, n: int, target_s: float, env: dict[str, str], reps: int) -> tuple[
        Path, Kdf]:
    """A KDBX 4 file (pykeepass) with the n entries, its Argon2d calibrated to ``target_s``."""
    iterations = calibrate_iterations(root, target_s, env, max(reps // 2, 1))
    path = root / f"entries-{n}.kdbx"
    kp = kdbx_with_kdf(path, iterations)
    params = kp.kdbx.header.value.dynamic_header.kdf_parameters.data.dict
    memory_kib, lanes = params["M"].value // 1024, params["P"].value
    groups: dict[str, object] = {}
    for group, title, e in entries(n):
        if group not in groups:
            groups[group] = kp.add_group(kp.root_group, group)
        kp.add_entry(groups[group], title, e.username, e.password, url=e.url, notes=e.notes,
                     force_creation=True)
    kp.save()
    seconds = keepassxc_kdf(root, iterations, env, reps)
    return path, Kdf(seconds, f"Argon2d {memory_kib // 1024} MiB, t={iterations}, p={lanes}")


def build_stores(root: Path, n: int, env: dict[str, str], kdf_reps: int) -> Stores:
    """Both stores for n entries; the vault first, since its KDF time is the KDBX's target."""
    vault_path = root / f"vault-{n}"
    shutil.rmtree(vault_path, ignore_errors=True)  # a --dir used before: build anew
    vault = build_vault(vault_path, n)
    try:
        vkdf = vault_kdf(vault, kdf_reps)
    finally:
        vault.lock()
    kdbx_path, kkdf = build_kdbx(root, n, vkdf.seconds, env, kdf_reps)
    probe = (n * 7) // 10  # deep in the file, not the first or the last entry
    group, title, _ = next(e for i, e in enumerate(entries(n)) if i == probe)
    return Stores(n, kdbx_path, vault_path, kkdf, vkdf, f"{group}/{title}", title)
