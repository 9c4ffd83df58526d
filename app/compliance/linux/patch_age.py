"""Linux patch-age check: security updates pending longer than the policy allows (apt, dnf)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from .. import first_seen
from ..model import CheckResult, Confidence, EvidenceBundle, FileEvidence, Policy, Status
from ..parsing import command, file
from .common import LinuxCheck, _days, _Result, _text, excerpt, family, problem
from .evidence_ids import (
    APT_HISTORY,
    APT_SECURITY_SOURCES,
    APT_UPGRADABLE,
    DATE_OFFSET,
    DNF_SECURITY,
    FIRST_SEEN,
    RPM_INSTALLTIME,
)

# ===== patch-age ===============================================================================
# Method, Debian/Ubuntu: apt writes one block per run to /var/log/apt/history.log (rotated
# monthly to history.log.N.gz): "Start-Date: YYYY-MM-DD  HH:MM:SS" (strftime "%F  %T", local
# time, two spaces), Commandline/Requested-By/Install/Upgrade/Remove… lines, an "Error:" line
# when dpkg failed, and "End-Date:" (apt-pkg/deb/dpkgpm.cc, OpenLog/CloseLog). The newest block
# with an End-Date, no Error and an Upgrade line is the last successful upgrade (the machine's
# UTC offset from `date +%z` places it in time). Pending security updates: `apt list
# --upgradable` run against a sources list holding only the "-security" suites of the machine's
# own sources (so no network and no root: apt reads its local lists). RHEL/Fedora: the newest
# `rpm -qa --qf '%{INSTALLTIME} …'` and `dnf -C updateinfo list --security` (dnf4 "Sec."
# severity, dnf5 "security" type). Each pending update is remembered with the time it was first
# seen (first_seen.py); one pending longer than max_patch_age_days → FAIL.

_APT_DATE = re.compile(r"^(\d{4}-\d{2}-\d{2})\s+(\d{1,2}:\d{2}:\d{2})$")
_APT_LIST = re.compile(r"^(?P<name>[^/\s]+)/(?P<suites>\S+)\s+(?P<version>\S+)\s+(?P<arch>\S+)"
                       r"(?:\s+\[upgradable from: (?P<old>[^\]]+)\])?")
_DNF_ADVISORY = re.compile(r"^(?P<id>[A-Z][A-Za-z0-9]*-\d{4}[-:][\w:.-]+)\s+(?P<rest>.+)$")


@dataclass
class _AptRun:
    end: dt.datetime
    upgrade: bool
    lines: list[str]


def _tz(bundle: EvidenceBundle) -> tuple[dt.tzinfo, bool]:
    """The machine's UTC offset from `date +%z` (e.g. "+0100"); UTC when not known."""
    item = command(bundle, DATE_OFFSET)
    if item is not None and item.ok:
        m = re.fullmatch(r"\s*([+-])(\d{2})(\d{2})\s*", item.stdout)
        if m:
            sign = 1 if m.group(1) == "+" else -1
            return dt.timezone(sign * dt.timedelta(hours=int(m.group(2)),
                                                   minutes=int(m.group(3)))), True
    return dt.UTC, False


def parse_apt_history(text: str, tz: dt.tzinfo) -> tuple[list[_AptRun], int, int]:
    """Successful runs, the number of failed runs and of blocks with unrecognised dates."""
    runs: list[_AptRun] = []
    failed = unrecognised = 0
    for block in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        lines = [ln for ln in block.splitlines() if ln.strip()]
        for line in lines:
            key, sep, value = line.partition(": ")
            if sep and key and " " not in key:
                fields[key] = value.strip()
        if "End-Date" not in fields:
            continue
        if "Error" in fields:
            failed += 1
            continue
        m = _APT_DATE.match(fields["End-Date"])
        if not m:
            unrecognised += 1
            continue
        try:
            end = dt.datetime.strptime(f"{m.group(1)} {m.group(2)}", "%Y-%m-%d %H:%M:%S")
        except ValueError:
            unrecognised += 1
            continue
        shown = [ln for ln in lines if ln.startswith(("Start-Date", "Commandline", "End-Date"))]
        runs.append(_AptRun(end.replace(tzinfo=tz), "Upgrade" in fields, shown))
    return runs, failed, unrecognised


def _apt_logs(bundle: EvidenceBundle) -> list[tuple[str, FileEvidence]]:
    def order(key: str) -> int:
        tail = key[len(APT_HISTORY):].lstrip(".")
        return int(tail) if tail.isdigit() else 0

    keys = sorted((k for k in bundle.items if k == APT_HISTORY or
                   (k.startswith(APT_HISTORY + ".") and k[len(APT_HISTORY) + 1:].isdigit())),
                  key=order)
    return [(k, item) for k in keys if isinstance(item := bundle.items[k], FileEvidence)]


def _last_apt_upgrade(bundle: EvidenceBundle) -> tuple[_AptRun | None, list[str], str]:
    """(newest successful run that upgraded — or any, if none upgraded; notes; excerpt)."""
    tz, _ = _tz(bundle)
    runs: list[_AptRun] = []
    notes: list[str] = []
    failed = unrecognised = 0
    logs = _apt_logs(bundle)
    for _key, item in logs:
        if item.error == "missing":
            continue
        if item.error:
            notes.append(problem(item) or "")
            continue
        found, f, u = parse_apt_history(item.content or "", tz)
        runs += found
        failed += f
        unrecognised += u
    if failed:
        notes.append(f"{failed} failed apt run(s) skipped")
    if unrecognised:
        notes.append(f"{unrecognised} apt run(s) with an unrecognised date")
    if not runs:
        return None, notes, excerpt(logs[0][1]) if logs else ""
    upgrades = [r for r in runs if r.upgrade]
    best = max(upgrades or runs, key=lambda r: r.end)
    if not upgrades:
        notes.append("no run upgraded packages; the newest install is used")
    source = next((it for _k, it in logs if it.content and best.lines[-1] in it.content), None)
    return best, notes, excerpt(source, best.lines) if source else "\n".join(best.lines)


def _apt_pending(bundle: EvidenceBundle) -> tuple[list[str] | None, str, str]:
    """(pending security updates as "name version", problem, excerpt)."""
    sources = file(bundle, APT_SECURITY_SOURCES)
    item = command(bundle, APT_UPGRADABLE)
    if sources is not None and sources.error is None and not (sources.content or "").strip():
        return None, "no -security suite in the apt sources", excerpt(sources)
    why = problem(item, "apt list --upgradable")
    if (item is None or why) and sources is not None and sources.error is not None:
        return None, f"the apt sources' security suites: {problem(sources)}", excerpt(sources)
    if item is None or why:
        return None, why or "", excerpt(item)
    if item.exit_code != 0:
        return None, f"apt list exited with {item.exit_code}", excerpt(item)
    pending: list[str] = []
    shown: list[str] = []
    for line in item.stdout.splitlines():
        if not line.strip() or line.startswith(("Listing", "WARNING", "N: ", "W: ")):
            continue
        m = _APT_LIST.match(line)
        if not m:
            return None, f"unrecognised apt list line {line[:60]!r}", excerpt(item)
        if any(s.endswith("-security") or "-security" in s for s in m.group("suites").split(",")):
            pending.append(f"{m.group('name')} {m.group('version')}")
            shown.append(line)
    return pending, "", excerpt(item, shown[:8] + ([f"… {len(shown) - 8} more"]
                                                   if len(shown) > 8 else []))


def _rpm_last_install(bundle: EvidenceBundle) -> tuple[dt.datetime | None, str, str]:
    item = command(bundle, RPM_INSTALLTIME)
    why = problem(item, "rpm")
    if item is None or why or item.exit_code != 0:
        return None, why or "rpm -qa failed", excerpt(item)
    newest = 0
    newest_line = ""
    for line in item.stdout.splitlines():
        stamp, _, _name = line.strip().partition(" ")
        if stamp.isdigit() and int(stamp) > newest:
            newest, newest_line = int(stamp), line
    if not newest:
        return None, "rpm output not recognised", excerpt(item)
    return dt.datetime.fromtimestamp(newest, dt.UTC), "", excerpt(item, [newest_line])


def _dnf_pending(bundle: EvidenceBundle) -> tuple[list[str] | None, str, str]:
    item = command(bundle, DNF_SECURITY)
    why = problem(item, "dnf")
    if item is None or why:
        return None, why or "", excerpt(item)
    if item.exit_code != 0:
        msg = (item.stderr.strip().splitlines() or [f"exit {item.exit_code}"])[-1]
        return None, f"dnf updateinfo failed: {msg[:100]}", excerpt(item)
    pending: list[str] = []
    shown: list[str] = []
    for line in item.stdout.splitlines():
        m = _DNF_ADVISORY.match(line.strip())
        if not m:
            continue
        parts = m.group("rest").split()
        if not any(p.endswith("/Sec.") or p.lower() == "security" for p in parts):
            continue
        package = next((p for p in parts if re.search(r"\.(x86_64|aarch64|noarch|i686|ppc64le|"
                                                      r"s390x)$", p)), parts[-1])
        pending.append(f"{m.group('id')} {package}")
        shown.append(line)
    return pending, "", excerpt(item, shown[:8])


def pending_security_updates(bundle: EvidenceBundle) -> list[str] | None:
    """The pending security updates this bundle shows, or None when it cannot tell."""
    fam = family(bundle)
    if fam == "rhel" or (not fam and command(bundle, DNF_SECURITY) is not None
                         and command(bundle, APT_UPGRADABLE) is None):
        return _dnf_pending(bundle)[0]
    return _apt_pending(bundle)[0]


def _first_seen(bundle: EvidenceBundle) -> dict[str, str]:
    return first_seen.parse(_text(file(bundle, FIRST_SEEN)))


def _parse_iso(text: str) -> dt.datetime | None:
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _age_unknown(firsts: dict[str, dt.datetime | None], unseen: list[str],
                 since: dt.datetime | None, now: dt.datetime, limit_days: int) -> str:
    """What is known about pending updates whose age is not (one line)."""
    def names(keys: list[str]) -> str:
        keys = sorted(keys)
        return ", ".join(keys[:3]) + (f" and {len(keys) - 3} more" if len(keys) > 3 else "")

    at_start = [k for k in unseen if firsts.get(k) is not None]
    absent = [k for k in unseen if firsts.get(k) is None]
    parts = []
    if at_start and since is not None:
        parts.append(
            f"{names(at_start)} pending since at least {since:%Y-%m-%d %H:%M} UTC, when "
            f"Strongroom's memory of pending updates began ({_days(now - since)} ago); if still "
            f"pending once the memory is over {limit_days} d old, they are overdue")
    if absent:
        parts.append(f"{names(absent)} pending and not in Strongroom's first-seen memory")
    return "; ".join(parts) + ("; the package lists give no release date, so how long they "
                               "waited before is not known")


def check_patch_age(bundle: EvidenceBundle, policy: Policy, now: dt.datetime) -> CheckResult:
    fam = family(bundle) or ("rhel" if command(bundle, RPM_INSTALLTIME) and not
                             file(bundle, APT_HISTORY) else "debian")
    limit = dt.timedelta(days=policy.max_patch_age_days)
    if fam == "rhel":
        r = _Result("patch-age", "rpm -qa --qf %{INSTALLTIME} (newest install); dnf -C "
                    "updateinfo list --security (pending advisories, first-seen memory)",
                    "Install the pending security updates: sudo dnf upgrade --security")
        last, last_problem, last_ex = _rpm_last_install(bundle)
        pending, pend_problem, pend_ex = _dnf_pending(bundle)
        notes: list[str] = [last_problem] if last_problem else []
        logs_unread = False  # rpm answers whole or not at all
    else:
        r = _Result("patch-age", "/var/log/apt/history.log(.N.gz): newest successful End-Date "
                    "of an upgrade; apt list --upgradable over the -security suites only "
                    "(pending updates, first-seen memory)",
                    "Install the pending security updates: sudo apt update && sudo apt upgrade "
                    "(or let unattended-upgrades do it)")
        run, notes, last_ex = _last_apt_upgrade(bundle)
        last = run.end if run else None
        # A history log that could not be read may hold a newer upgrade.
        logs_unread = any(it.error not in (None, "missing") for _k, it in _apt_logs(bundle))
        pending, pend_problem, pend_ex = _apt_pending(bundle)
    age = now - last if last else None
    last_text = f"last upgrade {_days(age)} ago" if age is not None else "last upgrade unknown"
    excerpts = [last_ex, pend_ex]
    note = ("; " + "; ".join(n for n in notes if n)) if any(notes) else ""
    if pending:
        memory = _first_seen(bundle)
        since = _parse_iso(memory.get(first_seen.SINCE_KEY, ""))
        firsts = {k: _parse_iso(memory[k]) if k in memory else None for k in pending}
        known = {k: t for k, t in firsts.items() if t is not None}
        overdue = sorted(k for k, t in known.items() if now - t > limit)
        memory_ex = (f"first seen (Strongroom's memory since "
                     f"{since.date().isoformat() if since else 'now'}): "
                     + ", ".join(f"{k} {firsts[k] or 'now'}" for k in sorted(pending)[:3]))
        excerpts.append(memory_ex)
        if overdue:
            oldest = min(known[k] for k in overdue)
            return r.make(
                Status.Fail, f"{len(overdue)} security update(s) pending > "
                f"{policy.max_patch_age_days} d",
                f"pending since {oldest.date().isoformat()} ({_days(now - oldest)}) or longer, "
                f"over the {policy.max_patch_age_days}-day limit; e.g. {overdue[0]}{note}",
                excerpts=excerpts)
        # Seen at the memory's first run (or never): pending at least that long, maybe longer.
        unseen = [k for k, t in firsts.items() if t is None or (since is not None and t <= since)]
        if unseen and age is not None and age > limit and not logs_unread:
            return r.make(
                Status.Fail, f"{len(pending)} security update(s) pending; {last_text}",
                f"security updates are pending and nothing was upgraded for {_days(age)} "
                f"(limit {policy.max_patch_age_days} d); how long they have been pending is "
                f"not known yet{note}", Confidence.Medium, excerpts=excerpts)
        if unseen:
            # Their age is not known: no evidence of compliance, and none of a breach.
            return r.make(
                Status.Unknown, f"{len(pending)} security update(s) pending, age unknown",
                _age_unknown(firsts, unseen, since, now, policy.max_patch_age_days)
                + f"; {last_text}{note}", Confidence.Low, excerpts=excerpts)
        oldest_first = min(known.values(), default=now)
        return r.make(
            Status.Pass, f"{len(pending)} security update(s) pending, first seen "
            f"{_days(now - oldest_first)} ago",
            f"within the {policy.max_patch_age_days}-day limit; {last_text}{note}",
            excerpts=excerpts)
    if pending == []:
        stale = age is not None and age > dt.timedelta(days=30)
        return r.make(
            Status.Pass, f"no pending security updates; {last_text}",
            "the package lists show no security update to install"
            + ("; nothing upgraded for over 30 days: make sure the lists are refreshed "
               "(apt update / dnf makecache)" if stale else "") + note,
            Confidence.Medium if stale or age is None else Confidence.High, excerpts=excerpts)
    if age is not None and age <= limit:
        return r.make(Status.Pass, last_text,
                      f"upgraded within {policy.max_patch_age_days} d; pending updates not "
                      f"known ({pend_problem}){note}", Confidence.Medium, excerpts=excerpts)
    if pend_problem == "no -security suite in the apt sources":
        return r.make(Status.Fail, f"no security updates source; {last_text}",
                      "the apt sources have no -security suite, so security updates never "
                      f"arrive{note}", Confidence.Medium,
                      "Add the distribution's security suite (e.g. bookworm-security) to the "
                      "apt sources, then apt update && apt upgrade.", excerpts=excerpts)
    return r.make(Status.Unknown, last_text,
                  f"cannot list pending security updates ({pend_problem or 'no data'})"
                  + (f" and the last upgrade is older than {policy.max_patch_age_days} d"
                     if age is not None else "") + note,
                  Confidence.Low, excerpts=excerpts)


PATCH_AGE_CHECK = LinuxCheck("patch-age", check_patch_age)
