"""Windows guest-account check: the built-in Guest account (RID 501) disabled."""

from __future__ import annotations

import datetime as dt
import re

from ..model import CheckResult, Confidence, EvidenceBundle, Policy, Status
from ..parsing import (
    FunctionCheck,
    Verdict,
    as_bool,
    as_list,
    command,
    joined,
    lines_matching,
    unavailable,
)
from .common import _command_why, _ps_json
from .evidence_ids import GUEST_LOCALUSER, GUEST_NETUSER

# --- guest account ---------------------------------------------------------------------------
#
# Method: Get-LocalUser, selecting the built-in guest by its well-known RID 501 (SID
# S-1-5-21-…-501) so a renamed guest account is still found; Enabled must be false. Fallback:
# `net user guest` ("Account active               No"; English output only; finds the account
# only under its default name).

_GUEST_TITLE = "Guest account"
_GUEST_FIX = "Disable the built-in Guest account (`net user guest /active:no` as administrator)."


def _guest_account(bundle: EvidenceBundle, policy: Policy, now: dt.datetime) -> CheckResult:
    v = Verdict("guest-account", _GUEST_TITLE, "Get-LocalUser (SID ending -501)")
    payload, why = _ps_json(bundle, GUEST_LOCALUSER, "Get-LocalUser")
    accounts = [a for a in as_list(payload.get("accounts") if isinstance(payload, dict) else None)
                if isinstance(a, dict)]
    if accounts:
        enabled = [str(a.get("Name", "Guest")) for a in accounts if as_bool(a.get("Enabled"))]
        excerpt = "\n".join(f"{a.get('Name')} (RID 501) Enabled = {a.get('Enabled')}"
                            for a in accounts)
        if enabled:
            return v(Status.Fail, "guest enabled", f"the built-in guest account "
                     f"({joined(enabled)}) is enabled", excerpt, _GUEST_FIX)
        return v(Status.Pass, "guest disabled", "the built-in guest account is disabled",
                 excerpt)
    if isinstance(payload, dict):
        why = "Get-LocalUser found no account with RID 501"
    item = command(bundle, GUEST_NETUSER)
    net_why = unavailable(item, "net user guest")
    if item is not None and net_why is None:
        m = re.search(r"^Account active\s+(Yes|No)\b", item.stdout, re.MULTILINE | re.IGNORECASE)
        nv = Verdict("guest-account", _GUEST_TITLE, "net user guest")
        if m:
            excerpt = lines_matching(item.stdout, r"^(User name|Account active)")
            if m.group(1).lower() == "yes":
                return nv(Status.Fail, "guest enabled", "the Guest account is active", excerpt,
                          _GUEST_FIX, Confidence.Medium)
            return nv(Status.Pass, "guest disabled", "the Guest account is not active", excerpt,
                      confidence=Confidence.Medium)
        net_why = _command_why(bundle, GUEST_NETUSER, "net user guest")
    return v(Status.Unknown, "not determined", "; ".join(w for w in (why, net_why) if w),
             remediation=_GUEST_FIX, confidence=Confidence.Low)


GUEST_ACCOUNT_CHECK = FunctionCheck("guest-account", _GUEST_TITLE, _guest_account)
