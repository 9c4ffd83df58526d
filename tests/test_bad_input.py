"""Bad input: its exit code, one clear line on stderr, and every existing file left as it was.

Each test snapshots (SHA-256 of every file) the folders involved before and after the failing
command. The one file a failure may legitimately write is ``unlock-backoff.json``: a wrong
passphrase is recorded there so the next attempt can be delayed; the tests that expect it say so
and exclude only that file.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from strongroom.app.model import Classification
from strongroom.app.vault import BACKOFF_FILE, NewSecret, Vault
from strongroom.app.vault.backup import create_backup

from conftest import OTHER_PASSPHRASE, PASSPHRASE, make_vault, run_cli, snapshot, unlocker
from helpers import cli_checks
from helpers.cli_checks import one_line_error, run_argv

# conftest's vault_dir, copied from an empty vault made once per module
empty_template = cli_checks.empty_template
vault_dir = cli_checks.vault_dir

PAGE = 4096  # SQLCipher 4's default page size


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A locked vault with enough secrets to span many database pages, made once per module."""
    path = tmp_path_factory.mktemp("template") / "vault"
    with make_vault(path) as vault:
        for i in range(12):
            vault.add_secret(
                NewSecret(name=f"secret-{i:02d}", value=os.urandom(3000),
                          classification=list(Classification)[i % 5], tags=(f"t{i % 3}",))
            )
    return path


@pytest.fixture
def full_vault(template: Path, tmp_path: Path) -> Path:
    """A private copy of the template vault."""
    path = tmp_path / "vault"
    shutil.copytree(template, path)
    return path


def _without_backoff(snap: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in snap.items() if k != BACKOFF_FILE}


def _wait_seconds(line: str) -> int:
    match = re.search(r"wait (\d+) s", line)
    assert match, f"the message does not say how long to wait: {line!r}"
    return int(match.group(1))


def _flip_bit(path: Path, offset: int, bit: int = 0) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 1 << bit
    path.write_bytes(bytes(data))


# ----- authentication --------------------------------------------------------------------------


def test_wrong_passphrase(vault_dir: Path) -> None:
    before = snapshot(vault_dir)
    assert BACKOFF_FILE not in before
    result = run_cli("secret", "list", vault=vault_dir, passphrases=[OTHER_PASSPHRASE])
    one_line_error(result, 4, "the passphrase does not open this vault")
    after = snapshot(vault_dir)
    # Only the failure record is new (excluded on purpose: it is how the delay is enforced).
    assert BACKOFF_FILE in after
    assert _without_backoff(after) == before
    assert json.loads((vault_dir / BACKOFF_FILE).read_text())["failures"] == 1


def test_backoff_after_repeated_failures_refuses_even_the_right_passphrase(
    vault_dir: Path,
) -> None:
    """The schedule is 0, 0, 2, 4, 8 ... s; this waits the real 2 s after the third failure."""
    before = snapshot(vault_dir)
    for attempt in (1, 2, 3):
        result = run_cli("secret", "list", vault=vault_dir, passphrases=[OTHER_PASSPHRASE])
        line = one_line_error(result, 4, "does not open")
        assert ("wait 2 s" in line) == (attempt == 3), line
    third_failure = time.monotonic()
    assert _without_backoff(snapshot(vault_dir)) == before
    while_failing = snapshot(vault_dir)

    refused = run_cli("secret", "list", vault=vault_dir, passphrases=[PASSPHRASE])
    line = one_line_error(refused, 4, "3 failed unlock attempts")
    assert "before trying again" in line
    assert 1 <= _wait_seconds(line) <= 2, line
    # Backing off writes nothing at all, not even the failure record.
    assert snapshot(vault_dir) == while_failing

    time.sleep(max(0.0, 2.2 - (time.monotonic() - third_failure)))
    result = run_cli("--json", "audit", "show", "--action", "vault.unlock", "--limit", "2",
                     vault=vault_dir, passphrases=[PASSPHRASE])
    assert result.code == 0, result.err
    newest, failed = json.loads(result.out)
    assert newest["outcome"] == "ok"
    assert failed["outcome"] == "failed" and failed["details"]["failures"] == 3
    assert not (vault_dir / BACKOFF_FILE).exists()


def test_backoff_long_delay_from_the_record_and_an_unreadable_record(vault_dir: Path) -> None:
    """A recorded run of 12 failures means a 1024 s wait; the message says so, before any KDF."""
    now = dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z")
    record = {"failures": 12, "first_failure": now, "last_failure": now}
    (vault_dir / BACKOFF_FILE).write_text(json.dumps(record))
    before = snapshot(vault_dir)
    for passphrase in (PASSPHRASE, OTHER_PASSPHRASE):
        line = one_line_error(
            run_cli("secret", "list", vault=vault_dir, passphrases=[passphrase]),
            4, "12 failed unlock attempts",
        )
        assert 1000 <= _wait_seconds(line) <= 1024, line
    assert snapshot(vault_dir) == before

    # A record that cannot be read refuses the attempt (fails closed): the passphrase, even the
    # right one, is not tried, and nothing is written.
    (vault_dir / BACKOFF_FILE).write_bytes(b"\x00not json")
    before = snapshot(vault_dir)
    one_line_error(run_cli("secret", "list", vault=vault_dir, passphrases=[PASSPHRASE]),
                   4, "passphrase was not tried")
    assert snapshot(vault_dir) == before


# ----- a damaged database ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "keep",
    [
        pytest.param(lambda size: size // 2, id="half"),
        pytest.param(lambda size: size - 100, id="last-page-partial"),
        pytest.param(lambda size: 0, id="empty"),
    ],
)
def test_truncated_database(full_vault: Path, keep: Callable[[int], int]) -> None:
    db = full_vault / "vault.db"
    db.write_bytes(db.read_bytes()[: keep(db.stat().st_size)])
    before = snapshot(full_vault)
    result = run_cli("secret", "list", vault=full_vault, passphrases=[PASSPHRASE])
    line = one_line_error(result, 3)
    assert re.search(r"integrity check|truncated|corrupt", line), line
    assert snapshot(full_vault) == before


def test_bit_flipped_database_page_the_unlock_reads(full_vault: Path) -> None:
    """SQLCipher keeps an HMAC per page and checks it whenever the page is read: a flip in page 1,
    which the key check reads, is refused at unlock with exit 3 before anything is written."""
    db = full_vault / "vault.db"
    _flip_bit(db, 100, bit=3)
    before = snapshot(full_vault)
    line = one_line_error(run_cli("secret", "list", vault=full_vault, passphrases=[PASSPHRASE]), 3)
    assert re.search(r"integrity check|corrupt|does not open", line), line
    assert snapshot(full_vault) == before


@pytest.mark.parametrize(
    ("where", "command"),
    [
        ("middle", ("audit", "verify")),
        ("middle", ("vault", "check")),
        ("middle", ("backup", "create", "{tmp}/b.srbk")),
        ("last", ("audit", "verify")),
        ("free", ("audit", "verify")),
        ("free", ("vault", "check")),
    ],
)
def test_bit_flipped_database_anywhere_is_found_by_a_full_check(
    full_vault: Path, tmp_path: Path, where: str, command: tuple[str, ...]
) -> None:
    """Unlock no longer reads every page (README, Integrity): ``audit verify``, ``vault check``
    and ``backup create`` check the whole file, so a flip in any page, even one no query reads
    (a free page appended to the file), is refused with exit 3; the damaged page stays damaged
    (the unlock's audit event may have been written) and the next full check refuses it too."""
    db = full_vault / "vault.db"
    if where == "free":
        vault = Vault.open(full_vault)
        vault.unlock(unlocker(PASSPHRASE))
        with vault:
            vault.add_secret(NewSecret("scratch/big", os.urandom(64 * 1024)))
            vault.delete_secret("scratch/big")
    pages = db.stat().st_size // PAGE
    offset = {"middle": (pages // 2) * PAGE + 1500, "last": db.stat().st_size - 60,
              "free": (pages - 3) * PAGE + 2000}
    _flip_bit(db, offset[where], bit=3)
    flipped = db.read_bytes()[offset[where]]
    args = [a.replace("{tmp}", str(tmp_path)) for a in command]
    for _ in range(2):
        line = one_line_error(run_cli(*args, vault=full_vault, passphrases=[PASSPHRASE]), 3)
        assert re.search(r"integrity check|corrupt|does not open|DAMAGED", line), line
        assert db.read_bytes()[offset[where]] == flipped
    assert not (tmp_path / "b.srbk").exists()


# ----- a damaged or foreign header -------------------------------------------------------------


def _edit_label(path: Path) -> None:
    header = json.loads(path.read_text())
    header["slots"][0]["label"] = "Relabelled"
    path.write_text(json.dumps(header))


@pytest.mark.parametrize(
    ("damage", "phrase"),
    [
        pytest.param(lambda p: p.write_bytes(p.read_bytes()[:60]), "corrupt", id="truncated"),
        pytest.param(lambda p: p.write_bytes(b"\x00\xff garbage"), "corrupt", id="not-json"),
        pytest.param(lambda p: p.write_text('{"magic": "other"}'), "not a strongroom",
                     id="foreign-json"),
        pytest.param(lambda p: p.unlink(), "missing", id="missing"),
        pytest.param(_edit_label, "modified outside strongroom", id="mac-mismatch"),
    ],
)
def test_corrupted_header(
    full_vault: Path, damage: Callable[[Path], object], phrase: str
) -> None:
    damage(full_vault / "header.json")
    before = snapshot(full_vault)
    result = run_cli("secret", "list", vault=full_vault, passphrases=[PASSPHRASE])
    one_line_error(result, 3, phrase)
    assert snapshot(full_vault) == before


def test_header_swapped_in_from_another_vault(vault_dir: Path, tmp_path: Path) -> None:
    """Same passphrase on both, so the foreign header unwraps: the database must still refuse."""
    other = tmp_path / "other"
    make_vault(other).lock()
    shutil.copy(other / "header.json", vault_dir / "header.json")
    before = snapshot(vault_dir)
    result = run_cli("secret", "list", vault=vault_dir, passphrases=[PASSPHRASE])
    one_line_error(result, 3, "another vault")
    assert snapshot(vault_dir) == before


def test_header_with_edited_argon2_params_reads_as_a_wrong_passphrase(vault_dir: Path) -> None:
    """The wrap's AAD binds the slot's parameters, so edited parameters fail to unwrap: that is
    indistinguishable from a wrong passphrase (4), and is counted as one (the backoff record,
    excluded, is the only file written)."""
    path = vault_dir / "header.json"
    header = json.loads(path.read_text())
    header["slots"][0]["params"]["iterations"] += 1
    path.write_text(json.dumps(header))
    before = snapshot(vault_dir)
    result = run_cli("secret", "list", vault=vault_dir, passphrases=[PASSPHRASE])
    one_line_error(result, 4, "does not open")
    assert _without_backoff(snapshot(vault_dir)) == before


# ----- backups ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def good_backup(template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A backup of a copy of the template vault (the template itself stays untouched)."""
    folder = tmp_path_factory.mktemp("backup")
    source = folder / "source"
    shutil.copytree(template, source)
    with Vault.open(source) as vault:
        vault.unlock(unlocker())
        create_backup(vault, folder / "good.srbk")
    return folder / "good.srbk"


def test_backup_of_another_vault_is_refused(
    vault_dir: Path, good_backup: Path, tmp_path: Path
) -> None:
    foreign = tmp_path / "foreign.srbk"
    shutil.copy(good_backup, foreign)
    before, before_file = snapshot(vault_dir), foreign.read_bytes()
    result = run_cli("backup", "verify", str(foreign), vault=vault_dir, passphrases=[PASSPHRASE])
    one_line_error(result, 3, "backup of another vault")
    assert snapshot(vault_dir) == before and foreign.read_bytes() == before_file


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda b: b[: len(b) // 2], id="truncated-half"),
        pytest.param(lambda b: b[:-1], id="truncated-checksum"),
        pytest.param(lambda b: b + b"\x00", id="trailing-byte"),
        pytest.param(lambda b: b[: len(b) // 2] + bytes([b[len(b) // 2] ^ 0x10])
                     + b[len(b) // 2 + 1:], id="flip-database"),
        pytest.param(lambda b: b[:-1] + bytes([b[-1] ^ 0x01]), id="flip-checksum"),
    ],
)
def test_damaged_backup_fails_verify_and_restore(
    good_backup: Path,
    tmp_path: Path,
    damage: Callable[[bytes], bytes],
    request: pytest.FixtureRequest,
) -> None:
    bad = tmp_path / "bad.srbk"
    bad.write_bytes(damage(good_backup.read_bytes()))
    bad_bytes = bad.read_bytes()
    one_line_error(run_cli("backup", "verify", str(bad), passphrases=[PASSPHRASE]), 3)

    # Restore into a new path must not create it; into an empty folder must leave it empty.
    target = tmp_path / "restored"
    premade = "flip" in request.node.callspec.id
    if premade:
        target.mkdir()
    one_line_error(
        run_cli("backup", "restore", str(bad), "--to", str(target), passphrases=[PASSPHRASE]), 3
    )
    if premade:
        assert list(target.iterdir()) == []
    else:
        assert not target.exists()
    assert bad.read_bytes() == bad_bytes


def test_restore_into_a_non_empty_directory_touches_nothing(
    good_backup: Path, tmp_path: Path
) -> None:
    target = tmp_path / "occupied"
    target.mkdir()
    (target / "notes.txt").write_text("keep me")
    before = snapshot(target)
    result = run_cli("backup", "restore", str(good_backup), "--to", str(target),
                     passphrases=[PASSPHRASE])
    one_line_error(result, 1, "not an empty directory")
    assert snapshot(target) == before


# ----- places ----------------------------------------------------------------------------------


def test_missing_vault_directory(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    line = one_line_error(run_cli("secret", "list", vault=missing, passphrases=[PASSPHRASE]),
                          1, "no vault at")
    assert str(missing) in line
    assert not missing.exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    one_line_error(run_cli("audit", "verify", vault=empty, passphrases=[PASSPHRASE]),
                   1, "no vault at")
    assert list(empty.iterdir()) == []


def test_init_where_a_vault_exists(vault_dir: Path) -> None:
    before = snapshot(vault_dir)
    result = run_cli("init", "--kdf-time-ms", "10", vault=vault_dir, passphrases=[PASSPHRASE])
    one_line_error(result, 1, "already exists")
    assert snapshot(vault_dir) == before


# ----- a full disk -----------------------------------------------------------------------------


def _fill(folder: Path) -> None:
    fd = os.open(folder / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(fd, b"\0" * 65536)
    except OSError:
        pass
    try:
        while True:
            os.write(fd, b"\0" * 512)
    except OSError:
        pass
    finally:
        os.close(fd)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs (we run as root); unmounted afterwards."""
    if os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("mounting a tmpfs needs root")
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", str(mnt)],
        capture_output=True, check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield mnt
    finally:
        if subprocess.run(["umount", str(mnt)], check=False).returncode != 0:
            subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_full_disk_refuses_a_write_and_loses_nothing(small_disk: Path) -> None:
    path = small_disk / "vault"
    with make_vault(path) as vault:
        vault.add_secret(NewSecret(name="existing", value=b"still here"))
    _fill(small_disk)
    assert os.statvfs(small_disk).f_bavail == 0
    before = snapshot(path)

    result = run_cli("secret", "add", "new", vault=path, passphrases=[PASSPHRASE],
                     stdin=os.urandom(20000))
    one_line_error(result, 1, "disk is full")
    after = snapshot(path)
    assert {k: after[k] for k in before} == before, "an existing file changed"
    # SQLite may leave its (empty) WAL and shared-memory index; nothing else may appear.
    assert set(after) - set(before) <= {"vault.db-wal", "vault.db-shm"}
    wal = path / "vault.db-wal"
    assert not wal.exists() or wal.stat().st_size == 0

    (small_disk / "filler").unlink()
    verified = run_cli("audit", "verify", vault=path, passphrases=[PASSPHRASE])
    assert verified.code == 0 and b"Audit log intact" in verified.out, verified.err
    got = run_cli("secret", "get", "existing", vault=path, passphrases=[PASSPHRASE])
    assert (got.code, got.out) == (0, b"still here")
    one_line_error(run_cli("secret", "get", "new", vault=path, passphrases=[PASSPHRASE]),
                   1, "no secret named")


def test_backup_to_a_full_disk_leaves_no_partial_file(
    vault_dir: Path, small_disk: Path
) -> None:
    _fill(small_disk)
    dest = small_disk / "vault.srbk"
    result = run_cli("backup", "create", str(dest), vault=vault_dir, passphrases=[PASSPHRASE])
    one_line_error(result, 1, "disk is full")
    assert not dest.exists()
    assert [p.name for p in small_disk.iterdir()] == ["filler"]
    assert not list(vault_dir.glob(".backup-*")), "the working copy was left behind"

    result = run_cli("backup", "create", "/dev/full", vault=vault_dir, passphrases=[PASSPHRASE])
    one_line_error(result, 1, "disk is full")
    assert not list(vault_dir.glob(".backup-*"))


# ----- usage errors ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "stdin", "phrase"),
    [
        (("secret", "add", "x", "--classification", "secret"), b"v", "unknown classification"),
        (("secret", "list", "--classification", "nope"), b"", "unknown classification"),
        (("secret", "add", "x", "--expires", "2024-13-01"), b"v", "use yyyy-mm-dd"),
        (("audit", "show", "--limit", "0"), b"", "--limit must be at least 1"),
        (("backup", "restore", "some.srbk"), b"", "required: --to"),
        (("secret", "frobnicate"), b"", "invalid choice"),
        (("init", "--kdf-time-ms", "5"), b"", "unlock time"),
    ],
)
def test_bad_option_values_are_usage_errors(
    full_vault: Path, args: tuple[str, ...], stdin: bytes, phrase: str
) -> None:
    fresh = full_vault.parent / "fresh"
    before = snapshot(full_vault)
    result = run_cli(*args, vault=fresh if args[0] == "init" else full_vault,
                     passphrases=[PASSPHRASE], stdin=stdin)
    one_line_error(result, 2, phrase)
    assert snapshot(full_vault) == before
    assert not fresh.exists()


def test_empty_stdin_for_secret_add(vault_dir: Path) -> None:
    result = run_cli("secret", "add", "empty", vault=vault_dir, passphrases=[PASSPHRASE],
                     stdin=b"")
    one_line_error(result, 2, "no secret value on standard input")
    # The unlock before it succeeded (and is audited); the secret must not exist.
    listed = run_cli("--json", "secret", "list", vault=vault_dir, passphrases=[PASSPHRASE])
    assert listed.code == 0 and json.loads(listed.out) == []


def test_passphrase_fd_that_is_not_open(vault_dir: Path) -> None:
    before = snapshot(vault_dir)
    # subprocess closes every inherited descriptor but 0-2, so 97 is closed in the child.
    result = run_argv(["--vault", str(vault_dir), "--passphrase-fd", "97", "secret", "list"])
    one_line_error(result, 2, "file descriptor 97 is not open")
    assert snapshot(vault_dir) == before


def test_no_terminal_and_no_passphrase_fd(vault_dir: Path) -> None:
    before = snapshot(vault_dir)
    # A new session has no controlling terminal, so /dev/tty cannot be opened; stdin is a pipe.
    result = run_argv(["--vault", str(vault_dir), "secret", "list"], new_session=True)
    one_line_error(result, 2, "no terminal", "--passphrase-fd")
    assert snapshot(vault_dir) == before
