"""Linux firewall check: a firewall service (ufw, firewalld, nftables, netfilter-persistent)
that loads a ruleset. The systemctl reader here is shared with the auto-updates check.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable

from ..model import CheckResult, Confidence, EvidenceBundle, FileEvidence, Policy, Status
from ..parsing import command, file, joined
from .common import LinuxCheck, _ini_section, _Result, _text, excerpt, problem
from .evidence_ids import FIREWALL_UNITS, NFTABLES_CONF, SYSTEMD_UNITS, UFW_CONF, UPDATE_UNITS

# ===== firewall ================================================================================
# Method: reading the live ruleset needs CAP_NET_ADMIN, so this judges the services that load one:
# `systemctl show -p Id,LoadState,ActiveState,UnitFileState ufw.service firewalld.service
# nftables.service netfilter-persistent.service` (blocks of Key=Value separated by blank lines;
# an absent unit has LoadState=not-found). ufw counts only with ENABLED=yes in /etc/ufw/ufw.conf
# (what `ufw enable` writes and the boot script reads: ufw.service stays active even when ufw is
# disabled). nftables.service loads /etc/nftables.conf: it counts when that file's input hook has
# "policy drop" or a drop/reject rule (Debian's default file accepts everything).


def parse_systemctl_show(text: str) -> dict[str, dict[str, str]]:
    units: dict[str, dict[str, str]] = {}
    for block in re.split(r"\n\s*\n", text.strip()):
        props: dict[str, str] = {}
        for line in block.splitlines():
            key, sep, value = line.partition("=")
            if sep:
                props[key.strip()] = value.strip()
        if props.get("Id"):
            units[props["Id"]] = props
    return units


def _units(bundle: EvidenceBundle) -> tuple[dict[str, dict[str, str]] | None, str, str]:
    item = command(bundle, SYSTEMD_UNITS)
    why = problem(item, "systemctl")
    if item is None or why:
        return None, why or "", excerpt(item)
    if item.exit_code != 0 or not item.stdout.strip():
        msg = (item.stderr.strip().splitlines() or [f"exit {item.exit_code}"])[0]
        return None, f"systemd is not usable here ({msg[:90]})", excerpt(item)
    units = parse_systemctl_show(item.stdout)
    # systemctl show prints a block for every unit asked for, loaded or not-found.
    if not any(u in units for u in (*FIREWALL_UNITS, *UPDATE_UNITS)):
        return None, "systemctl output not recognised", excerpt(item)
    return units, "", ""


def _unit_lines(units: dict[str, dict[str, str]], names: Iterable[str]) -> list[str]:
    return [f"{n}: {units[n].get('LoadState', '?')}, {units[n].get('ActiveState', '?')}, "
            f"{units[n].get('UnitFileState') or '-'}" for n in names if n in units]


def _nft_restrictive(text: str) -> bool:
    """An input-hook chain with policy drop, or a drop/reject rule in such a chain."""
    for chain in re.finditer(r"chain\s+\S+\s*\{(?P<body>[^{}]*)\}", text):
        body = re.sub(r"#[^\n]*", "", chain.group("body"))
        if re.search(r"hook\s+input", body) and (
            re.search(r"policy\s+drop", body) or re.search(r"\b(drop|reject)\b", body)
        ):
            return True
    return False


def _unreadable(item: FileEvidence | None, unit: str) -> str:
    """Why ``unit``'s configuration file gives no answer ("" when it was read)."""
    if item is not None and item.error is None and item.content is not None:
        return ""
    what = {"ufw.service": "whether ufw is enabled (ENABLED= in /etc/ufw/ufw.conf)",
            "nftables.service": "whether its ruleset filters input (/etc/nftables.conf)"}[unit]
    return f"{unit} is active but {what} is not known: {problem(item, what) or 'no content'}"


def check_firewall(bundle: EvidenceBundle, policy: Policy, now: dt.datetime) -> CheckResult:
    r = _Result(
        "firewall",
        "systemctl show ufw/firewalld/nftables/netfilter-persistent (ActiveState); "
        "/etc/ufw/ufw.conf ENABLED; /etc/nftables.conf input policy",
        "Turn on a host firewall: sudo ufw enable (Debian/Ubuntu) or sudo systemctl enable "
        "--now firewalld (Fedora/RHEL).",
    )
    units, units_problem, units_ex = _units(bundle)
    ufw_item = file(bundle, UFW_CONF)
    ufw_conf = _ini_section("[x]\n" + (_text(ufw_item) or ""), "x")
    ufw_enabled = None if _text(ufw_item) is None else ufw_conf.get("ENABLED", "").lower() == "yes"
    nft_item = file(bundle, NFTABLES_CONF)
    nft_text = _text(nft_item)
    ufw_ex = excerpt(ufw_item, [ln for ln in (_text(ufw_item) or "").splitlines()
                                if ln.startswith("ENABLED")]) if ufw_item else ""
    if units is None:
        if ufw_enabled:
            return r.make(Status.Pass, "ufw enabled (service state unknown)",
                          f"ENABLED=yes in ufw.conf; {units_problem}", Confidence.Low,
                          excerpts=[ufw_ex, units_ex])
        return r.make(Status.Unknown, "firewall state unknown",
                      f"cannot see which firewall service runs: {units_problem}", Confidence.Low,
                      excerpts=[units_ex, ufw_ex])
    active = [u for u in FIREWALL_UNITS if units.get(u, {}).get("ActiveState") == "active"]
    item = command(bundle, SYSTEMD_UNITS)
    ex = excerpt(item, _unit_lines(units, FIREWALL_UNITS))
    if "firewalld.service" in active:
        return r.make(Status.Pass, "firewalld running", "firewalld.service is active",
                      excerpts=[ex])
    if "ufw.service" in active and ufw_enabled:
        return r.make(Status.Pass, "ufw enabled", "ufw.service is active and ENABLED=yes",
                      excerpts=[ex, ufw_ex])
    if "nftables.service" in active:
        nft_ex = excerpt(nft_item)
        if nft_text is not None and _nft_restrictive(nft_text):
            return r.make(Status.Pass, "nftables ruleset loaded",
                          "nftables.service is active and /etc/nftables.conf filters input",
                          Confidence.Medium, excerpts=[ex, nft_ex])
        if nft_text is not None:
            return r.make(Status.Fail, "nftables accepts all input",
                          "nftables.service is active but /etc/nftables.conf drops nothing on "
                          "input", Confidence.Medium, excerpts=[ex, nft_ex])
    if "netfilter-persistent.service" in active:
        return r.make(Status.Pass, "iptables rules restored at boot",
                      "netfilter-persistent.service is active (rules not readable without root)",
                      Confidence.Medium, excerpts=[ex])
    # An active service whose configuration could not be read may well be filtering: the
    # verdict would rest on the missing file, so it is not a FAIL.
    unread = [why for unit, it in (("ufw.service", ufw_item), ("nftables.service", nft_item))
              if unit in active and (why := _unreadable(it, unit))]
    if unread:
        return r.make(Status.Unknown, f"{joined([u.split(' ')[0] for u in unread])} active, "
                      "configuration not readable", "; ".join(unread), Confidence.Low,
                      excerpts=[ex, ufw_ex, excerpt(nft_item) if nft_item else ""])
    if ufw_enabled:
        return r.make(Status.Fail, "ufw enabled but not running",
                      "ENABLED=yes in ufw.conf but ufw.service is not active", Confidence.Medium,
                      excerpts=[ex, ufw_ex])
    return r.make(Status.Fail, "no firewall active",
                  "none of ufw, firewalld, nftables or netfilter-persistent is active"
                  + (" (ufw.conf has ENABLED=no)" if ufw_enabled is False else ""),
                  excerpts=[ex, ufw_ex])


FIREWALL_CHECK = LinuxCheck("firewall", check_firewall)
