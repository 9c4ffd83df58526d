"""Linux auto-updates check: unattended-upgrades (Debian/Ubuntu) or dnf-automatic (RHEL)."""

from __future__ import annotations

import datetime as dt
import re

from ..model import CheckResult, Confidence, EvidenceBundle, Policy, Status
from ..parsing import command, file
from .common import LinuxCheck, _bool, _ini_section, _Result, _text, excerpt, family, problem
from .evidence_ids import (
    APT_PERIODIC,
    DNF5_AUTOMATIC_CONF,
    DNF_AUTOMATIC_CONF,
    DPKG_UNATTENDED,
    OS_RELEASE,
    SYSTEMD_UNITS,
    UPDATE_UNITS,
)
from .firewall import _unit_lines, _units

# ===== auto-updates ============================================================================
# Method, Debian/Ubuntu: unattended-upgrades installed (`dpkg-query -W -f='${Status}'
# unattended-upgrades` = "install ok installed"), APT::Periodic::Unattended-Upgrade non-zero
# (`apt-config shell`, the merged apt.conf.d; apt's apt.systemd.daily reads the same key, a
# number of days, 0 = off) and apt-daily-upgrade.timer not disabled/masked (it runs
# apt.systemd.daily). RHEL/Fedora: dnf-automatic-install.timer enabled, or dnf-automatic.timer
# (dnf5-automatic.timer) enabled with apply_updates = yes in /etc/dnf/automatic.conf
# (/etc/dnf/dnf5-plugins/automatic.conf for dnf5) — dnf-automatic(8).


def _apt_config(stdout: str) -> dict[str, str]:
    out = {}
    for line in stdout.splitlines():
        m = re.match(r"^(\w+)='(.*)'$", line.strip())
        if m:
            out[m.group(1)] = m.group(2)
    return out


def check_auto_updates(bundle: EvidenceBundle, policy: Policy, now: dt.datetime) -> CheckResult:
    fam = family(bundle)
    units, units_problem, units_ex = _units(bundle)
    sysd = command(bundle, SYSTEMD_UNITS)
    if fam == "rhel":
        r = _Result("auto-updates", "systemctl show dnf-automatic*.timer (UnitFileState); "
                    "/etc/dnf/automatic.conf apply_updates",
                    "Install dnf-automatic, set apply_updates = yes in /etc/dnf/automatic.conf "
                    "and run: sudo systemctl enable --now dnf-automatic.timer")
        if units is None:
            return r.make(Status.Unknown, "timers unknown", units_problem, Confidence.Low,
                          excerpts=[units_ex])
        enabled = [u for u in UPDATE_UNITS[2:]
                   if units.get(u, {}).get("UnitFileState") in ("enabled", "static")]
        ex = excerpt(sysd, _unit_lines(units, UPDATE_UNITS[2:]))
        if "dnf-automatic-install.timer" in enabled:
            return r.make(Status.Pass, "dnf-automatic-install.timer enabled",
                          "updates are downloaded and installed on a timer", excerpts=[ex])
        for timer, key in (("dnf-automatic.timer", DNF_AUTOMATIC_CONF),
                           ("dnf5-automatic.timer", DNF5_AUTOMATIC_CONF)):
            if timer in enabled:
                conf_item = file(bundle, key)
                conf = _ini_section(_text(conf_item) or "", "commands")
                apply = _bool(conf.get("apply_updates"), False)
                shown = conf.get("apply_updates", "(unset)")
                cex = excerpt(conf_item, [f"apply_updates = {shown}"])
                if apply:
                    return r.make(Status.Pass, f"{timer} enabled, apply_updates = yes",
                                  "updates are installed on a timer", excerpts=[ex, cex])
                return r.make(Status.Fail, f"{timer} enabled, downloads only",
                              "apply_updates is not yes, so updates are not installed",
                              excerpts=[ex, cex])
        return r.make(Status.Fail, "no dnf-automatic timer enabled",
                      "no automatic update timer is enabled", excerpts=[ex])
    r = _Result("auto-updates", "dpkg-query unattended-upgrades; apt-config shell "
                "APT::Periodic::Unattended-Upgrade / Update-Package-Lists; systemctl show "
                "apt-daily(-upgrade).timer",
                "sudo apt install unattended-upgrades && sudo dpkg-reconfigure -plow "
                "unattended-upgrades (writes APT::Periodic::Unattended-Upgrade \"1\" to "
                "/etc/apt/apt.conf.d/20auto-upgrades)")
    if fam != "debian":
        release = file(bundle, OS_RELEASE)
        unread = problem(release, "/etc/os-release") if release is None or release.error \
            else None
        return r.make(Status.Unknown, "distribution not recognised",
                      f"the distribution family is not known: {unread}" if unread else
                      "neither a Debian nor a Red Hat family system (/etc/os-release)",
                      Confidence.Low, "", excerpts=[excerpt(release)])
    dpkg = command(bundle, DPKG_UNATTENDED)
    why = problem(dpkg, "dpkg-query")
    if dpkg is None or why:
        return r.make(Status.Unknown, "packages not readable", why or "", Confidence.Low,
                      excerpts=[excerpt(dpkg)])
    installed = dpkg.exit_code == 0 and dpkg.stdout.strip() == "install ok installed"
    if not installed:
        if dpkg.exit_code not in (0, 1):
            return r.make(Status.Unknown, "dpkg-query failed", f"exit {dpkg.exit_code}",
                          Confidence.Low, excerpts=[excerpt(dpkg)])
        return r.make(Status.Fail, "unattended-upgrades not installed",
                      "no automatic installation of updates", excerpts=[excerpt(dpkg)])
    apt = command(bundle, APT_PERIODIC)
    why = problem(apt, "apt-config")
    if apt is None or why or apt.exit_code != 0:
        return r.make(Status.Unknown, "apt configuration not readable",
                      why or f"apt-config exited {apt.exit_code if apt else '?'}",
                      Confidence.Low, excerpts=[excerpt(apt)])
    conf = _apt_config(apt.stdout)
    uu, upl = conf.get("UU", "0"), conf.get("UPL", "0")
    exs = [excerpt(dpkg), excerpt(apt)]
    if uu in ("", "0") or upl in ("", "0"):
        return r.make(Status.Fail, f"unattended-upgrades installed but off (Unattended-Upgrade="
                      f"{uu or 'unset'}, Update-Package-Lists={upl or 'unset'})",
                      "APT::Periodic does not run it", excerpts=exs)
    if units is not None:
        upgrade_timer = units.get("apt-daily-upgrade.timer", {})
        exs.append(excerpt(sysd, _unit_lines(units, UPDATE_UNITS[:2])))
        if upgrade_timer.get("UnitFileState") in ("disabled", "masked") or \
                upgrade_timer.get("LoadState") in ("masked", "not-found"):
            return r.make(Status.Fail, "apt-daily-upgrade.timer off",
                          f"the timer that runs unattended-upgrades is "
                          f"{upgrade_timer.get('UnitFileState') or upgrade_timer.get('LoadState')}",
                          excerpts=exs)
        return r.make(Status.Pass, f"unattended-upgrades on (every {uu} day(s))",
                      "installed, enabled in APT::Periodic, timer enabled", excerpts=exs)
    return r.make(Status.Pass, f"unattended-upgrades on (every {uu} day(s))",
                  f"installed and enabled in APT::Periodic; timer state unknown ({units_problem})",
                  Confidence.Medium, excerpts=exs)


AUTO_UPDATES_CHECK = LinuxCheck("auto-updates", check_auto_updates)
