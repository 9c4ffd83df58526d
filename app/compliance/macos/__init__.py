"""macOS checks: pure judgements over evidence gathered by backends/compliance/macos.py.

One module per check (secure boot and TPM share platform_security.py); evidence ids in
evidence_ids.py, the plist helper in common.py. Each parser names the method it relies on and
where that method is documented. Plists are read as files (XML as text, binary as hex) and
parsed with plistlib; commands that answer on stderr (sysadminctl) are read from both streams.
"""

from __future__ import annotations

from ..model import Check
from ..parsing import checks_table
from .accounts import GUEST_ACCOUNT_CHECK
from .disk_encryption import DISK_ENCRYPTION_CHECK
from .firewall import FIREWALL_CHECK
from .patch_age import PATCH_AGE_CHECK, pending_security_updates
from .platform_security import SECURE_BOOT_CHECK, TPM_CHECK
from .screen_lock import SCREEN_LOCK_CHECK
from .updates import AUTO_UPDATES_CHECK

__all__ = ["CHECKS", "pending_security_updates"]

CHECKS: dict[str, Check] = checks_table(
    DISK_ENCRYPTION_CHECK,
    PATCH_AGE_CHECK,
    SCREEN_LOCK_CHECK,
    FIREWALL_CHECK,
    GUEST_ACCOUNT_CHECK,
    SECURE_BOOT_CHECK,
    AUTO_UPDATES_CHECK,
    TPM_CHECK,
)
