"""Whole-process timings for bench_compare.py: wall time, CPU (wait4) and peak RSS (GNU time) of
one child, interleaved A/B pairs, `strongroom check --json` beside Lynis, the GUI cold starts under
Xvfb.

Passphrases reach keepassxc-cli on its stdin and strongroom on a pipe named by --passphrase-fd;
never on the command line.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import bytecode
from bench_compliance import ensure_lynis
from bench_vault import PASSPHRASE

STRONGROOM = str(Path(sys.executable).with_name("strongroom"))
KEEPASSXC_CLI = "keepassxc-cli"
TIME = "/usr/bin/time"  # GNU time (Debian package time)
PASS_FD = "--passphrase-fd"


@dataclass(frozen=True)
class Run:
    wall: float
    cpu: float  # user + sys of the child
    rss_mib: float  # ru_maxrss of the child
    code: int
    out: str


@dataclass(frozen=True)
class Figure:
    """Medians of several runs of one command."""

    wall: float
    cpu: float
    rss_mib: float
    out: str

    @classmethod
    def of(cls, runs: Sequence[Run]) -> Figure:
        return cls(statistics.median(r.wall for r in runs), statistics.median(r.cpu for r in runs),
                   statistics.median(r.rss_mib for r in runs), runs[-1].out)


def private_env(root: Path) -> dict[str, str]:
    """The children's environment: own config, state and temp dirs, no STRONGROOM_* settings.

    Python's bytecode is cached (under ``root``), as in an installed wheel (bytecode.py)."""
    env = bytecode.cached({k: v for k, v in os.environ.items()
                           if not k.startswith("STRONGROOM_")}, root / "pycache")
    for name in ("config", "state", "tmp", "home"):
        (root / name).mkdir(parents=True, exist_ok=True)
    env.update(XDG_CONFIG_HOME=str(root / "config"), XDG_STATE_HOME=str(root / "state"),
               TMPDIR=str(root / "tmp"), HOME=str(root / "home"))
    return env


def run(argv: list[str], env: dict[str, str], secret: str | None = None,
        fd: bool = False) -> Run:
    """Run argv to its end. ``secret`` goes on stdin, or with ``fd`` on a pipe whose number
    replaces the ``{fd}`` in argv."""
    read_end = None
    if secret is not None:
        read_end, write_end = os.pipe()
        os.write(write_end, (secret + "\n").encode())  # a line fits in the pipe's buffer
        os.close(write_end)
    argv = [a.replace("{fd}", str(read_end)) for a in argv]
    with tempfile.TemporaryFile() as out, tempfile.NamedTemporaryFile("r") as usage_file:
        # GNU time forks the command from its own small process: the child's ru_maxrss counts
        # from there, not from this (large) process whose pages a fork here would start with.
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [TIME, "-f", "%M", "-o", usage_file.name, *argv], env=env, stdout=out,
            stderr=subprocess.DEVNULL,
            stdin=read_end if secret is not None and not fd else subprocess.DEVNULL,
            pass_fds=(read_end,) if fd and read_end is not None else (),
        )
        if read_end is not None:
            os.close(read_end)
        _, status, usage = os.wait4(proc.pid, 0)  # CPU in µs: GNU time's is in 10 ms steps
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read().decode(errors="replace")
        # the last line: "Command exited with non-zero status N" comes before it
        rss_kib = usage_file.read().split()[-1]
    return Run(wall, usage.ru_utime + usage.ru_stime, int(rss_kib) / 1024, proc.returncode, text)


def strongroom(vault: Path, *args: str) -> list[str]:
    return [STRONGROOM, "--vault", str(vault), PASS_FD, "{fd}", *args]


def interleaved(a: tuple[list[str], bool], b: tuple[list[str], bool], env: dict[str, str],
                reps: int, expect: str) -> tuple[Figure, Figure]:
    """Medians of ``reps`` runs of commands a and b taken in turns (a b, b a, a b …) after one
    untimed run of each; each (argv, by_fd) gets the passphrase; both must print ``expect``."""
    runs: tuple[list[Run], list[Run]] = ([], [])
    for rep in range(-1, reps):
        order = (0, 1) if rep % 2 == 0 else (1, 0)
        for k in order:
            argv, by_fd = (a, b)[k]
            r = run(argv, env, PASSPHRASE, fd=by_fd)
            if r.code != 0 or expect not in r.out:
                raise RuntimeError(f"{argv[0]} failed (exit {r.code}): {r.out[-500:]}")
            if rep >= 0:
                runs[k].append(r)
    return Figure.of(runs[0]), Figure.of(runs[1])


def bare_cpu(argv: list[str], env: dict[str, str], reps: int) -> Figure:
    runs = [run(argv, env) for _ in range(reps + 1)][1:]
    return Figure.of(runs)


# ----- check --json beside Lynis ---------------------------------------------------------------

SHARED = {"disk-encryption": "disk encryption", "firewall": "firewall",
          "patch-age": "pending updates"}


def lynis_audit(env: dict[str, str], work: Path) -> tuple[float, int, str, str] | None:
    """One `lynis audit system --quick`: (seconds, exit code, report text, version), or None."""
    lynis = ensure_lynis()
    if lynis is None:
        return None
    version = subprocess.run([lynis, "show", "version"], capture_output=True, text=True,
                             check=False).stdout.strip()
    report, log = work / "lynis-report.dat", work / "lynis.log"
    r = run([lynis, "audit", "system", "--quick", "--no-colors", "--logfile", str(log),
             "--report-file", str(report)], env)
    return r.wall, r.code, report.read_text(errors="replace") if report.exists() else "", version


def lynis_says(report: str) -> dict[str, tuple[str, str]]:
    """What Lynis's report file says about the checks both make, in Strongroom's terms (PASS or
    FAIL) with the report line it follows from."""
    keys: dict[str, list[str]] = {}
    for line in report.splitlines():
        key, _, value = line.partition("=")
        keys.setdefault(key, []).append(value)
    tests = set("|".join(keys.get("tests_executed", [])).split("|"))
    says = {}
    if "CRYP-7930" in tests:
        found = keys.get("encryption[]", [])
        says["disk-encryption"] = ("PASS", f"encryption[]={found[0]}") if found else (
            "FAIL", "CRYP-7930 ran, no encryption[] line")
    if "firewall_active" in keys:
        active = keys["firewall_active"][-1]
        says["firewall"] = ("PASS" if active == "1" else "FAIL", f"firewall_active={active}")
    if "PKGS-7392" in tests and "vulnerable_packages_found" in keys:
        found = keys["vulnerable_packages_found"][-1]
        says["patch-age"] = ("FAIL" if found == "1" else "PASS", f"vulnerable_packages_found="
                             f"{found}, {len(keys.get('vulnerable_package[]', []))} packages")
    return says


def agreement(ours: dict[str, tuple[str, str]],
              lynis: dict[str, tuple[str, str]] | None) -> list[str]:
    """One line per check both make: each side's verdict (and why), and whether they agree."""
    lines = []
    for check, what in SHARED.items():
        mine, why = ours.get(check, ("not reported", ""))
        theirs, their_why = ("not run", "") if lynis is None else lynis.get(
            check, ("not reported", ""))
        if {mine, theirs} <= {"PASS", "FAIL"}:
            verdict = "agree" if mine == theirs else "DISAGREE"
        else:
            verdict = "cannot compare"
        lines.append(f"{what}: Strongroom {mine}" + (f" ({why})" if why else "")
                     + f", Lynis {theirs}" + (f" ({their_why})" if their_why else "")
                     + f": {verdict}")
    return lines


# ----- GUI cold start under Xvfb ---------------------------------------------------------------


def free_display() -> int:
    return next(n for n in range(90, 200) if not Path(f"/tmp/.X11-unix/X{n}").exists()
                and not Path(f"/tmp/.X{n}-lock").exists())


def mapped_window(env: dict[str, str], title_part: str) -> bool:
    """Whether a viewable top-level window whose name holds ``title_part`` is on the display."""
    tree = subprocess.run(["xwininfo", "-root", "-children"], env=env, capture_output=True,
                          text=True, check=False).stdout
    for line in tree.splitlines():
        if title_part in line and line.strip().startswith("0x"):
            info = subprocess.run(["xwininfo", "-id", line.split()[0]], env=env,
                                  capture_output=True, text=True, check=False).stdout
            if "IsViewable" in info:
                return True
    return False


def first_window(argv: list[str], env: dict[str, str], title_part: str,
                 timeout: float = 60) -> float:
    """Seconds from starting argv to its window mapped (polled every ~20 ms); then stop it."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    try:
        while not mapped_window(env, title_part):
            if proc.poll() is not None or time.perf_counter() - t0 > timeout:
                raise RuntimeError(f"{argv[0]} showed no window (exit {proc.returncode})")
            time.sleep(0.02)
        return time.perf_counter() - t0
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def gui_cold_starts(kdbx: Path, vault: Path, env: dict[str, str],
                    reps: int) -> tuple[float, float] | str:
    """Median (keepassxc, strongroom console) time to first window, or why it was not measured."""
    if not (shutil.which("Xvfb") and shutil.which("xwininfo") and shutil.which("keepassxc")):
        return "needs Xvfb, xwininfo (x11-utils) and keepassxc"
    display = free_display()
    xvfb = subprocess.Popen(["Xvfb", f":{display}", "-screen", "0", "1280x1024x24",
                             "-nolisten", "tcp"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        genv = {**env, "DISPLAY": f":{display}", "QT_QPA_PLATFORM": "xcb"}
        for _ in range(100):
            if Path(f"/tmp/.X11-unix/X{display}").exists():
                break
            time.sleep(0.05)
        keepassxc = ["keepassxc", "--localconfig", str(Path(env["HOME"]) / "kxc.ini"), str(kdbx)]
        console = [STRONGROOM, "--vault", str(vault)]
        times: tuple[list[float], list[float]] = ([], [])
        for rep in range(-1, reps):
            for k in ((0, 1) if rep % 2 == 0 else (1, 0)):
                argv, title = ((keepassxc, "KeePassXC"), (console, "Strongroom"))[k]
                t = first_window(argv, genv, title)
                if rep >= 0:
                    times[k].append(t)
        return statistics.median(times[0]), statistics.median(times[1])
    except RuntimeError as e:
        return str(e)
    finally:
        xvfb.terminate()
        xvfb.wait()
