"""macOS patch-age check: OS patches installed within the policy window."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from ..model import CheckResult, Confidence, EvidenceBundle, Policy, Status
from ..parsing import (
    FunctionCheck,
    Verdict,
    as_utc,
    file,
    load_plist,
    unavailable,
)
from ..patch_age import PatchFacts, PendingUpdate, first_seen, judge_patch_age, remembered
from .common import _plist_dict
from .evidence_ids import INSTALL_HISTORY, SU_PREFS

# --- patch age -------------------------------------------------------------------------------
#
# Method: /Library/Receipts/InstallHistory.plist (the record behind System Information >
# Installations and `softwareupdate --history`), an array of dicts with date, displayName,
# displayVersion, packageIdentifiers, processName and, for background data updates,
# contentType = "config-data" (XProtectPlistConfigData, MRTConfigData, Gatekeeper
# Configuration Data ...: Apple marks these ConfigData in its catalog, see Der Flounder,
# "Managing automatic installation of ConfigData and security software updates", 2014).
# OS patches are processName softwareupdated / "Software Update" / macOS installer entries
# that are not config data (older records lack contentType, so known config-data names are
# matched too) and not developer tools (Command Line Tools).
# Pending updates: /Library/Preferences/com.apple.SoftwareUpdate.plist (world-readable):
# RecommendedUpdates (Display Name, Display Version, Identifier, Product Key) from the last
# background scan, LastSuccessfulDate (that scan), and FirstOfferDateDictionary (Identifier
# -> when this Mac was first offered the update). Major upgrades ("_major") are not patches.
# An update with no offer date is dated by Strongroom's own first-seen memory, when present.

_PATCH_TITLE = "OS patch age"
_PATCH_FIX = ("Install the pending updates in System Settings > General > Software Update "
              "(or `softwareupdate --install --all --restart`).")
_OS_PATCH_PROCESSES = {"softwareupdated", "software update", "macos installer",
                       "os x installer", "system installer"}
_CONFIG_DATA = re.compile(r"XProtect|MRT|Gatekeeper|ConfigData|Configuration Data|"
                          r"Compatibility Data|KEXT Exclude|Word List|Core Suggestions|LSKD",
                          re.IGNORECASE)
_NOT_OS = re.compile(r"^Command Line Tools", re.IGNORECASE)


def _is_os_patch(entry: dict[str, Any]) -> bool:
    process = str(entry.get("processName", "")).strip().lower()
    name = str(entry.get("displayName", ""))
    packages = " ".join(str(p) for p in entry.get("packageIdentifiers") or [])
    if process not in _OS_PATCH_PROCESSES:
        return False
    if str(entry.get("contentType", "")).lower() == "config-data":
        return False
    if _CONFIG_DATA.search(name) or _CONFIG_DATA.search(packages):
        return False
    return not _NOT_OS.search(name)


def _label(entry: dict[str, Any]) -> str:
    name = str(entry.get("displayName", "")).strip()
    version = str(entry.get("displayVersion", "")).strip()
    return f"{name} {version}" if version and version not in name else name


def _install_history(bundle: EvidenceBundle) -> tuple[list[dict[str, Any]] | None, str | None]:
    item = file(bundle, INSTALL_HISTORY)
    why = unavailable(item, "/Library/Receipts/InstallHistory.plist")
    if why or item is None:
        return None, why
    data = load_plist(item.content)
    if not isinstance(data, list):
        return None, "InstallHistory.plist is not a readable plist array (truncated?)"
    return [e for e in data if isinstance(e, dict)], None


def _recommended(prefs: dict[str, Any] | None) -> list[tuple[str, str, str]] | None:
    """Pending patches from RecommendedUpdates: (key, label, version); None if unknown."""
    if prefs is None:
        return None
    found: list[tuple[str, str, str]] = []
    for entry in prefs.get("RecommendedUpdates") or []:
        if not isinstance(entry, dict):
            continue
        ident = str(entry.get("Identifier", "")).strip()
        product = str(entry.get("Product Key", "")).strip()
        name = str(entry.get("Display Name", "")).strip() or ident or product or "update"
        version = str(entry.get("Display Version", "")).strip()
        if "_major" in ident or "_major" in product or _NOT_OS.search(name):
            continue  # an optional major upgrade or developer tools, not a patch
        label = f"{name} {version}" if version and version not in name else name
        found.append((ident or product or label, label, version))
    return found


def _pending_updates(bundle: EvidenceBundle, prefs: dict[str, Any] | None,
                     installed: list[dict[str, Any]]
                     ) -> tuple[list[PendingUpdate] | None, dt.datetime | None]:
    recommended = _recommended(prefs)
    if prefs is None or recommended is None:
        return None, None
    last_check = prefs.get("LastSuccessfulDate") or prefs.get("LastFullSuccessfulDate")
    checked = as_utc(last_check) if isinstance(last_check, dt.datetime) else None
    offers = prefs.get("FirstOfferDateDictionary")
    offers = offers if isinstance(offers, dict) else {}
    memory = first_seen(bundle)
    pending: list[PendingUpdate] = []
    for key, label, version in recommended:
        offered = offers.get(key)
        since, exact = (as_utc(offered), True) if isinstance(offered, dt.datetime) \
            else remembered(memory, key)
        # The list is from the last scan: an update installed since then is no longer pending.
        done = bool(version) and any(
            str(e.get("displayVersion", "")).strip() == version
            and isinstance(e.get("date"), dt.datetime)
            and (since is None or as_utc(e["date"]) >= since) for e in installed)
        if not done:
            pending.append(PendingUpdate(label, since, exact))
    return pending, checked


def pending_security_updates(bundle: EvidenceBundle) -> list[str] | None:
    """Keys of the pending patches, for Strongroom's first-seen memory; None if unknown."""
    prefs, _ = _plist_dict(bundle, SU_PREFS)
    recommended = _recommended(prefs)
    return None if recommended is None else [key for key, _, _ in recommended]


def _patch_age(bundle: EvidenceBundle, policy: Policy, now: dt.datetime) -> CheckResult:
    v = Verdict("patch-age", _PATCH_TITLE, "/Library/Receipts/InstallHistory.plist, "
                "/Library/Preferences/com.apple.SoftwareUpdate.plist")
    history, why = _install_history(bundle)
    prefs, prefs_why = _plist_dict(bundle, SU_PREFS)
    if history is None and prefs is None:
        return v(Status.Unknown, "not determined", "; ".join(w for w in (why, prefs_why) if w)
                 or "no evidence", remediation="Run the check on macOS.")
    patches = sorted((e for e in history or [] if _is_os_patch(e)
                      and isinstance(e.get("date"), dt.datetime)), key=lambda e: e["date"])
    config = [e for e in history or [] if not _is_os_patch(e)
              and str(e.get("processName", "")).lower() == "softwareupdated"]
    last = patches[-1] if patches else None
    pending, checked = _pending_updates(bundle, prefs, patches)
    excerpt_lines = [f"{e['date']:%Y-%m-%d} {_label(e)}" for e in patches[-3:]]
    if config:
        newest = max((e for e in config if isinstance(e.get("date"), dt.datetime)),
                     key=lambda e: e["date"], default=None)
        if newest is not None:
            excerpt_lines.append(f"(config data, not an OS patch: {newest['date']:%Y-%m-%d} "
                                 f"{newest.get('displayName', '')})")
    if pending:
        excerpt_lines += [f"pending: {p.name}" + (f" offered {p.since:%Y-%m-%d}" if p.since
                                                   else "") for p in pending[:3]]
    if checked:
        excerpt_lines.append(f"last update check: {checked:%Y-%m-%d %H:%M} UTC")
    facts = PatchFacts(
        last_patch=as_utc(last["date"]) if last else None,
        last_patch_name=str(last.get("displayName", "")) if last else "",
        pending=pending, last_check=checked, excerpt="\n".join(excerpt_lines),
        confidence=Confidence.High if history is not None else Confidence.Medium,
        pending_problem=prefs_why or "com.apple.SoftwareUpdate.plist does not exist"
        if pending is None else "",
        history_problem=why or "")
    return judge_patch_age(facts, policy, now, v, _PATCH_FIX)


PATCH_AGE_CHECK = FunctionCheck("patch-age", _PATCH_TITLE, _patch_age)
