"""Linux guest-account check: a login-capable guest account or LightDM guest session."""

from __future__ import annotations

import datetime as dt

from ..model import CheckResult, Confidence, EvidenceBundle, FileEvidence, Policy, Status
from ..parsing import command, file
from .common import LinuxCheck, _bool, _ini_section, _Result, excerpt, problem
from .evidence_ids import GETENT_GUEST, LIGHTDM_DIRS, LIGHTDM_GUEST_SCRIPT, LIGHTDM_PREFIX

# ===== guest-account ===========================================================================
# Method: a "guest" account from `getent passwd guest` (NSS, so LDAP/SSSD too; exit 2 = no such
# entry) with a login shell; and LightDM's guest session: allow-guest in [Seat:*] (or the older
# [SeatDefaults]) read in LightDM's order — /usr/share/lightdm/lightdm.conf.d/*.conf, then
# /etc/lightdm/lightdm.conf.d/*.conf, then /etc/lightdm/lightdm.conf, the last value winning —
# where allow-guest defaults to true but needs the guest-account script
# (/usr/sbin/guest-account) to work. GDM has no guest session.

_NOLOGIN = ("/usr/sbin/nologin", "/sbin/nologin", "/bin/false", "/usr/bin/false", "")


def check_guest_account(bundle: EvidenceBundle, policy: Policy, now: dt.datetime) -> CheckResult:
    r = _Result(
        "guest-account",
        "getent passwd guest; LightDM allow-guest in /usr/share/lightdm/lightdm.conf.d, "
        "/etc/lightdm/lightdm.conf.d and /etc/lightdm/lightdm.conf",
        "Disable guest logins: set allow-guest=false under [Seat:*] in "
        "/etc/lightdm/lightdm.conf.d/50-no-guest.conf, and lock or remove the guest account "
        "(sudo usermod -s /usr/sbin/nologin -L guest).",
    )
    getent = command(bundle, GETENT_GUEST)
    excerpts = [excerpt(getent)]
    if getent is not None and getent.ok and getent.stdout.strip():
        fields = getent.stdout.strip().splitlines()[0].split(":")
        shell = fields[6] if len(fields) >= 7 else ""
        if shell not in _NOLOGIN:
            return r.make(Status.Fail, f"guest account with shell {shell}",
                          "an account named guest exists and can log in", excerpts=excerpts)
    elif getent is None or problem(getent) or getent.exit_code not in (0, 2):
        return r.make(Status.Unknown, "accounts not readable",
                      problem(getent, "getent") or
                      f"getent exited {getent.exit_code if getent else '?'}",
                      Confidence.Low, excerpts=excerpts)
    conf_items = sorted(
        ((k[len(LIGHTDM_PREFIX):], it) for k, it in bundle.items.items()
         if k.startswith(LIGHTDM_PREFIX) and isinstance(it, FileEvidence)),
        key=lambda kv: (
            0 if kv[0].startswith(LIGHTDM_DIRS[0]) else 1 if kv[0].startswith(LIGHTDM_DIRS[1])
            else 2, kv[0]),
    )
    present = [(p, it) for p, it in conf_items if it.error is None]
    if not present:
        return r.make(Status.Pass, "no guest account or guest session",
                      "no login-capable guest account; LightDM is not configured here",
                      excerpts=excerpts)
    allow: bool | None = True
    deciding = "allow-guest (LightDM default true)"
    decided_at = -1  # the position in LightDM's order of the file that set the value
    for position, (path, item) in enumerate(conf_items):
        if item.error is not None:
            continue
        for section in ("SeatDefaults", "Seat:*"):
            value = _ini_section(item.content or "", section).get("allow-guest")
            if value is not None:
                allow = _bool(value, True)
                deciding = f"{path}: [{section}] allow-guest={value}"
                decided_at = position
    # A file LightDM reads after the deciding one may override it; one we could not read
    # might say allow-guest=false, so a guest session it may turn off is not a FAIL.
    unread = [problem(it) or path for position, (path, it) in enumerate(conf_items)
              if it.error not in (None, "missing") and position > decided_at]
    script = file(bundle, LIGHTDM_GUEST_SCRIPT)
    has_script = script is not None and script.error is None
    excerpts.append(deciding)
    excerpts += [excerpt(it) for _path, it in conf_items if it.error not in (None, "missing")]
    if allow and has_script and unread:
        return r.make(Status.Unknown, "LightDM configuration not readable",
                      f"{deciding} and the guest-account script is installed, but a LightDM "
                      f"file read later could turn the guest session off: {'; '.join(unread)}",
                      Confidence.Low, excerpts=excerpts)
    if allow and has_script:
        return r.make(Status.Fail, "LightDM guest session enabled",
                      f"{deciding}, and the guest-account script is installed", Confidence.High,
                      excerpts=excerpts)
    if allow is None:
        return r.make(Status.Unknown, "LightDM setting not recognised", deciding, Confidence.Low,
                      excerpts=excerpts)
    return r.make(Status.Pass, "guest session off",
                  f"{deciding}" + ("" if allow is False else
                                    "; no guest-account script, so no guest session"),
                  excerpts=excerpts)


GUEST_ACCOUNT_CHECK = LinuxCheck("guest-account", check_guest_account)
