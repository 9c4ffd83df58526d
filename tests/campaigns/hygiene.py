"""Secret-hygiene campaign: canaries (a secret's two values, three passphrases, a token PIN) go
through everything a user does with a secret, then every place they must not be is searched for
them, raw, in hex, in base64 (any alignment) and in UTF-16.

What is done, each command a real ``strongroom`` process: create the secret, reveal it (``secret
get``, whose stdout is the one place the value belongs), change it, copy it in the console
(offscreen, until the clipboard guard wipes it), export it (``backup create``, ``verify``,
``restore``), sign it (the value's file signed on a SoftHSM2 token whose PIN is a canary), rotate
the keys, change the passphrase; and every error path that can be triggered with the canaries in
play (wrong passphrase and PIN, damaged files, refused requests, back-off, a value too large).

Where it is searched: every file in the vault folder, the restored vault, the backup and
signature files, the config, state and temp dirs (temp files are also read while the commands
run, every few milliseconds); every audit row; stdout (but the reveal's) and stderr of every
command (Strongroom logs to stderr); the argv and environment of every running command, and
``ps`` of all processes while each command runs.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from campaigns.common import table
from conftest import secret_pipes
from helpers.leaks import forms, found

VALUE = b"hygiene-canary-value-6c1f0e93b7d2\n"  # as a script would pipe it, newline and all
VALUE_2 = b"hygiene-canary-second-a84d27f5e019"
PASSPHRASE = "Hygiene canary passphrase 5e90c1 marmoset"
NEW_PASSPHRASE = "Hygiene canary new passphrase 77ab3d quokka"
WRONG_PASSPHRASE = "Hygiene canary wrong guess 13f9e2 pangolin"
PIN = "hygiene-canary-pin-48213"
CANARIES = {"value": VALUE, "second value": VALUE_2, "passphrase": PASSPHRASE.encode(),
            "new passphrase": NEW_PASSPHRASE.encode(), "wrong passphrase":
            WRONG_PASSPHRASE.encode(), "token PIN": PIN.encode()}
NEEDLES = {name: forms(secret) for name, secret in CANARIES.items()}
CONSOLE_CHILD = Path(__file__).resolve().parent.parent / "helpers" / "console_copy_child.py"


@dataclass(frozen=True)
class Hsm:
    """A SoftHSM2 token for the campaign: its PIN is :data:`PIN`."""

    env: dict[str, str]
    token: str


@dataclass
class HygieneReport:
    places: collections.Counter[str] = field(default_factory=collections.Counter)
    hits: list[str] = field(default_factory=list)
    commands: int = 0
    error_paths: list[str] = field(default_factory=list)
    surprises: list[str] = field(default_factory=list)  # an unexpected exit code or message
    skipped: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def scan(self, category: str, place: str, data: bytes) -> None:
        self.places[category] += 1
        self.hits += [f"{category}: {place}: the {name}" for name in found(data, NEEDLES)]

    def table(self) -> str:
        hits = collections.Counter(h.split(":", 1)[0] for h in self.hits)
        rows: list[list[object]] = [[c, n, hits[c]] for c, n in sorted(self.places.items())]
        rows.append(["all", sum(self.places.values()), len(self.hits)])
        return table(["place", "scanned", "hits"], rows)


class TempWatch:
    """Reads files that appear under ``roots`` while commands run (temp files, work folders)."""

    def __init__(self, report: HygieneReport, roots: list[Path], live: list[Path]) -> None:
        self.report, self.roots, self.live = report, roots, live
        self.seen: set[tuple[str, int, int]] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> TempWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _watch(self) -> None:
        while not self._stop.wait(0.005):
            for root in self.roots:
                for path in _files(root):
                    if path.name.startswith("vault.db") and path.parent in self.live:
                        continue  # a live database: searched once at the end
                    try:
                        st = path.stat()
                        key = (str(path), st.st_size, st.st_mtime_ns)
                        if key in self.seen:
                            continue
                        data = path.read_bytes()
                    except OSError:
                        continue  # gone already
                    self.seen.add(key)
                    self.report.scan("temp and work files, while running", str(path), data)


def _files(root: Path) -> list[Path]:
    try:
        return [p for p in root.rglob("*") if p.is_file()]
    except OSError:
        return []


class Campaign:
    def __init__(self, work: Path, hsm: Hsm | None, report: HygieneReport) -> None:
        self.work, self.hsm, self.report = work, hsm, report
        self.vault = work / "vault"
        self.tmp = work / "tmp"
        self.tmp.mkdir()
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("STRONGROOM_")}
        self.env["TMPDIR"] = str(self.tmp)
        self.env["QT_QPA_PLATFORM"] = "offscreen"
        if hsm is not None:
            self.env.update(hsm.env)

    def run(self, *args: str, pp: list[str] | None = None, pins: list[str] | None = None,
            stdin: bytes = b"", codes: tuple[int, ...] = (0,), vault: Path | None = None,
            reveal: bool = False, error: str = "") -> subprocess.CompletedProcess[bytes]:
        """One command as a real process; its argv, environment, ``ps``, stdout (unless it is
        a reveal) and stderr are searched. ``error`` names an error path."""
        cmd = [sys.executable, "-m", "strongroom", "--vault", str(vault or self.vault)]
        options, fds = secret_pipes(pp, pins)
        try:
            proc = subprocess.Popen(cmd + options + list(args), stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    pass_fds=tuple(fds), env=self.env)
        finally:
            for fd in fds:
                os.close(fd)
        self._scan_process(proc.pid, " ".join(args[:2]))
        out, err = proc.communicate(stdin, timeout=300)
        self.report.commands += 1
        what = " ".join(args[:3])
        if not reveal:
            self.report.scan("stdout of every command", what, out)
        category = "stderr of error paths" if error else "stderr of commands that succeed"
        self.report.scan(category, what, err)
        if error:
            self.report.error_paths.append(error)
        if proc.returncode not in codes or b"internal error" in err or b"Traceback" in err:
            self.report.surprises.append(f"{what}: exit {proc.returncode} (expected {codes}): "
                                         f"{err.decode(errors='replace').strip()[:300]}")
        return subprocess.CompletedProcess(args, proc.returncode, out, err)

    def _scan_process(self, pid: int, what: str) -> None:
        proc = Path(f"/proc/{pid}")
        for _ in range(200):  # until the child has exec'd Python with its own argv
            try:
                if b"strongroom" in (proc / "cmdline").read_bytes():
                    break
            except OSError:
                return
            time.sleep(0.005)
        for name in ("cmdline", "environ"):
            with contextlib.suppress(OSError):  # it may have finished already
                self.report.scan(f"argv and environment of each command ({name})", what,
                                 (proc / name).read_bytes())
        listing = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, check=False)
        self.report.scan("ps -eo args while each command runs", what, listing.stdout)

    # ----- the steps -----------------------------------------------------------------------

    def use_the_secret(self, full: bool) -> None:
        pp = [PASSPHRASE]
        self.run("init", "--kdf-time-ms", "10", pp=pp)
        self.run("secret", "add", "canary", "--classification", "critical", "--note",
                 "hygiene campaign", pp=pp, stdin=VALUE)
        got = self.run("secret", "get", "canary", pp=pp, reveal=True)
        if got.stdout != VALUE:
            self.report.surprises.append("secret get did not print the value")
        if full:
            self.run("--json", "secret", "get", "canary", pp=pp, reveal=True)
            self.run("secret", "list", "--search", "canary", pp=pp)
            self.run("secret", "history", "canary", pp=pp)
        self.run("secret", "update", "canary", pp=pp, stdin=VALUE_2)
        self.copy_in_the_console()
        backup = self.work / "hygiene.srbk"
        self.run("backup", "create", str(backup), pp=pp)
        self.run("backup", "verify", str(backup), pp=pp)
        self.run("backup", "restore", str(backup), "--to", str(self.work / "restored"), pp=pp)
        self.sign_it(full)
        self.run("rotate", pp=pp)
        self.run("passphrase", "change", pp=[PASSPHRASE, NEW_PASSPHRASE])

    def copy_in_the_console(self) -> None:
        proc = subprocess.run([sys.executable, str(CONSOLE_CHILD), str(self.vault), "canary"],
                              input=PASSPHRASE.encode() + b"\n", capture_output=True,
                              env=self.env, timeout=120, check=False)
        self.report.commands += 1
        self.report.scan("stdout of every command", "console copy", proc.stdout)
        self.report.scan("stderr of commands that succeed", "console copy", proc.stderr)
        if proc.returncode != 0 or proc.stdout.split() != [b"copied", b"cleared"]:
            self.report.surprises.append(f"console copy: exit {proc.returncode}: "
                                         f"{proc.stderr.decode(errors='replace')[-300:]}")

    def sign_it(self, full: bool) -> None:
        if self.hsm is None:
            self.report.skipped.append("keys sign (no SoftHSM2)")
            return
        pp, pins, token = [PASSPHRASE], [PIN], self.hsm.token
        data = self.work / "inputs" / "canary-value.txt"  # the user's own file: not searched
        data.parent.mkdir()
        data.write_bytes(VALUE_2)
        signed = self.work / "signed"
        signed.mkdir()
        self.run("keys", "generate", "--token", token, "--label", "hygiene", "--type",
                 "ec-p256", pp=pp, pins=pins)
        self.run("keys", "sign", "--token", token, "--key", "hygiene", "--in", str(data),
                 "--out", str(signed / "canary.sig"), pp=pp, pins=pins)
        if full:
            self.run("keys", "export-pub", "--token", token, "--key", "hygiene", "--out",
                     str(signed / "hygiene.pem"), pp=pp, pins=pins)
            self.run("keys", "verify", "--pubkey", str(signed / "hygiene.pem"), "--in",
                     str(data), "--sig", str(signed / "canary.sig"))
            self.run("keys", "list", "--token", token, pp=pp, pins=pins)

    def error_paths(self, full: bool) -> None:
        """Each refusal with the canaries in play; ``full`` adds the rarer ones."""
        pp, new = [PASSPHRASE], [NEW_PASSPHRASE]
        backup = self.work / "hygiene.srbk"
        self.run("secret", "get", "canary", pp=[WRONG_PASSPHRASE], codes=(4,),
                 error="wrong passphrase")
        self.run("passphrase", "change", pp=[WRONG_PASSPHRASE, PASSPHRASE], codes=(4,),
                 error="passphrase change with a wrong current passphrase")
        self.run("secret", "add", "canary", pp=new, stdin=VALUE, codes=(1,),
                 error="secret add of a name that exists, the value on stdin")
        self.run("backup", "verify", str(backup), pp=[WRONG_PASSPHRASE], codes=(4,),
                 error="backup verify with a wrong passphrase")
        damaged = self.work / "damaged.srbk"
        data = bytearray(backup.read_bytes())
        data[len(data) // 2] ^= 0x40
        damaged.write_bytes(bytes(data))
        self.run("backup", "verify", str(damaged), pp=pp, codes=(3,),
                 error="backup verify of a damaged file")
        tampered = self.work / "tampered"
        shutil.copytree(self.vault, tampered)
        db = bytearray((tampered / "vault.db").read_bytes())
        db[len(db) // 2] ^= 0x08
        (tampered / "vault.db").write_bytes(bytes(db))
        self.run("audit", "verify", pp=new, vault=tampered, codes=(3,),
                 error="audit verify of a tampered database")
        if self.hsm is not None:
            self.run("keys", "sign", "--token", self.hsm.token, "--key", "hygiene", "--in",
                     str(self.work / "inputs" / "canary-value.txt"), "--out",
                     str(self.work / "signed" / "wrong-pin.sig"), pp=new,
                     pins=["wrong-" + PIN], codes=(4,), error="keys sign with a wrong PIN")
        if not full:
            return
        self.run("secret", "get", "no-such-secret", pp=new, codes=(1,), error="secret not found")
        self.run("secret", "get", "canary", "--version", "99", pp=new, codes=(1,),
                 error="a version that does not exist")
        self.run("secret", "add", "other", "--classification", "bogus", pp=new, stdin=VALUE,
                 codes=(2,), error="a bad classification, the value on stdin")
        self.run("secret", "update", "canary", pp=new, codes=(2,),
                 error="secret update with nothing on stdin")
        self.run("secret", "add", "huge", pp=new, stdin=VALUE * (16 * 1024 * 1024 // len(VALUE)
                                                               + 1),
                 codes=(2,), error="a value over 16 MiB made of the canary")
        self.run("backup", "create", str(backup), pp=new, codes=(1,),
                 error="backup create over an existing file")
        self.run("backup", "restore", str(backup), "--to", str(self.vault), pp=pp, codes=(1,),
                 error="backup restore into a folder that is not empty")
        self.run("rotate", "--level", "bogus", pp=new, codes=(2,), error="rotate a bad level")
        self.run("init", "--kdf-time-ms", "10", pp=[PASSPHRASE, PASSPHRASE], codes=(1,),
                 error="init where a vault exists")
        self.run("secret", "get", "canary", "--passphrase-fd", "97", codes=(2,),
                 error="a passphrase fd that is not open")
        self.run("--unlock", "keyring", "secret", "get", "canary", codes=(1, 2, 4),
                 error="--unlock with a method the vault does not have")
        if self.hsm is not None:
            self.run("keys", "sign", "--token", self.hsm.token, "--key", "no-such-key", "--in",
                     str(self.work / "inputs" / "canary-value.txt"), "--out",
                     str(self.work / "signed" / "x.sig"), pp=new, pins=[PIN], codes=(1,),
                     error="keys sign with a key that does not exist")
            self.run("keys", "verify", "--pubkey", str(self.work / "signed" / "hygiene.pem"),
                     "--in", str(backup), "--sig", str(self.work / "signed" / "canary.sig"),
                     codes=(3,), error="keys verify of a signature over other data")
        foreign = self.work / "foreign"
        shutil.copytree(self.vault, foreign)
        (foreign / "vault.db").unlink()
        self.run("secret", "get", "canary", pp=new, vault=foreign, codes=(3,),
                 error="a vault folder without its database")
        for _ in range(3):  # the third failure says how long to wait
            self.run("secret", "list", pp=[WRONG_PASSPHRASE], codes=(4,),
                     error="wrong passphrase, again (then a wait)")
        # Refused while the wait lasts (2 s after the third failure), else it opens.
        self.run("secret", "get", "canary", pp=new, codes=(0, 4), reveal=True,
                 error="the right passphrase while backing off")
        time.sleep(2.5)  # let the wait pass: the audit log is read next

    def search_everything(self, full: bool) -> None:
        for name, vault, pp in (("the vault", self.vault, NEW_PASSPHRASE),
                                ("the restored vault", self.work / "restored", PASSPHRASE)):
            if vault != self.vault and not full:
                continue
            shown = self.run("--json", "audit", "show", "--limit", "100000", pp=[pp],
                             vault=vault)
            rows = json.loads(shown.stdout) if shown.returncode == 0 else []
            if not rows:
                self.report.surprises.append(f"no audit rows read from {name}")
            for row in rows:
                self.report.scan("audit rows", f"{name} #{row['seq']}",
                                 json.dumps(row, ensure_ascii=False).encode())
            actions = {row["action"] for row in rows}
            if vault == self.vault and "secret.copy" not in actions:
                self.report.surprises.append("the console's copy is not in the audit log")
        inputs = self.work / "inputs"
        groups = {
            "files in the vault folder (database, header, backups, locks)": [self.vault],
            "files of the restored vault": [self.work / "restored"],
            "backup, signature and key files written": [self.work / "hygiene.srbk",
                                                        self.work / "signed"],
            "config dir (XDG_CONFIG_HOME)": [Path(self.env["XDG_CONFIG_HOME"])],
            "state dir (XDG_STATE_HOME)": [Path(self.env["XDG_STATE_HOME"])],
            "temp dir, left after the commands": [self.tmp],
        }
        for category, roots in groups.items():
            self.report.places[category] += 0  # listed even when it holds no file
            for root in roots:
                paths = [root] if root.is_file() else _files(root)
                for path in paths:
                    if inputs in path.parents:
                        continue
                    self.report.scan(category, str(path), path.read_bytes())


def run_hygiene_campaign(work: Path, *, full: bool, hsm: Hsm | None) -> HygieneReport:
    """Use the canaries (everything, and every error path when ``full``), then search."""
    started = time.monotonic()
    report = HygieneReport()
    campaign = Campaign(work, hsm, report)
    live = [campaign.vault, work / "restored"]
    with TempWatch(report, [campaign.tmp, *live], live):
        campaign.use_the_secret(full)
        campaign.error_paths(full)
    campaign.search_everything(full)
    report.seconds = time.monotonic() - started
    return report
