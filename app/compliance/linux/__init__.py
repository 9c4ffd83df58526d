"""Linux checks: pure judgements over the evidence ``LinuxCollector`` gathers (evidence_ids.py).

One module per check (secure boot and TPM share platform_security.py), helpers in common.py.
Each check documents its method beside its parser: which commands and files, what their
formats are according to the tools' own sources or manuals, and how the status follows. The
general rule: a missing tool, a denied permission, a timeout or output we do not recognise is
UNKNOWN with the reason, never FAIL. Nothing here touches the machine.
"""

from __future__ import annotations

from .accounts import GUEST_ACCOUNT_CHECK
from .common import LinuxCheck
from .disk_encryption import DISK_ENCRYPTION_CHECK
from .firewall import FIREWALL_CHECK
from .patch_age import PATCH_AGE_CHECK, pending_security_updates
from .platform_security import SECURE_BOOT_CHECK, TPM_CHECK
from .screen_lock import SCREEN_LOCK_CHECK
from .updates import AUTO_UPDATES_CHECK

__all__ = ["CHECKS", "LinuxCheck", "pending_security_updates"]

CHECKS: dict[str, LinuxCheck] = {
    "disk-encryption": DISK_ENCRYPTION_CHECK,
    "patch-age": PATCH_AGE_CHECK,
    "screen-lock": SCREEN_LOCK_CHECK,
    "firewall": FIREWALL_CHECK,
    "guest-account": GUEST_ACCOUNT_CHECK,
    "secure-boot": SECURE_BOOT_CHECK,
    "auto-updates": AUTO_UPDATES_CHECK,
    "tpm": TPM_CHECK,
}
