"""Evidence ids the macOS checks read.

The collector in backends/compliance/macos.py gathers exactly these.
"""

from __future__ import annotations

FDESETUP = "macos.fdesetup-status"
INSTALL_HISTORY = "macos.install-history"
SU_PREFS = "macos.softwareupdate-prefs"
SU_MANAGED = "macos.softwareupdate-managed"
SCREENLOCK = "macos.screenlock-status"
SS_IDLE = "macos.screensaver-idletime"
SS_MANAGED = "macos.screensaver-managed"
SS_MANAGED_USER = "macos.screensaver-managed-user"
PMSET = "macos.pmset-custom"
FW_STATE = "macos.firewall-globalstate"
FW_MANAGED = "macos.firewall-managed"
ALF_PREFS = "macos.alf-prefs"
GUEST_STATUS = "macos.guest-status"
LOGINWINDOW = "macos.loginwindow-prefs"
MCX_MANAGED = "macos.mcx-managed"
ARM64 = "macos.arm64"
IBRIDGE = "macos.ibridge"
SECUREBOOT_NVRAM = "macos.secureboot-nvram"
