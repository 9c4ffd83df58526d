"""Evidence ids the Windows checks read.

The collector in backends/compliance/windows.py gathers exactly these.
"""

from __future__ import annotations

BITLOCKER_SHELL = "windows.bitlocker-shell"
BITLOCKER_WMI = "windows.bitlocker-wmi"
UPDATE_HISTORY = "windows.update-history"
UPDATE_PENDING = "windows.update-pending"
HOTFIX = "windows.hotfix"
POWER_VIDEOIDLE = "windows.power-videoidle"
POWER_STANDBYIDLE = "windows.power-standbyidle"
POWER_CONSOLELOCK = "windows.power-consolelock"
POWER_STATES = "windows.power-states"
FW_PROFILES = "windows.firewall-profiles"
FW_NETSH = "windows.firewall-netsh"
FW_PRODUCTS = "windows.firewall-products"
GUEST_LOCALUSER = "windows.guest-localuser"
GUEST_NETUSER = "windows.guest-netuser"
TPM_GET = "windows.tpm-get"
TPMTOOL = "windows.tpmtool"
TPM_PNP = "windows.tpm-pnp"

_DESKTOP = r"HKCU\Control Panel\Desktop"
_DESKTOP_POLICY = r"HKCU\Software\Policies\Microsoft\Windows\Control Panel\Desktop"
_AU_POLICY = r"HKLM\SOFTWARE\Policies\Microsoft\Windows\WindowsUpdate\AU"

# Registry evidence: id -> (key, value name). The collector reads exactly these.
REGISTRY: dict[str, tuple[str, str]] = {
    "windows.inactivity-timeout": (
        r"HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Policies\System", "InactivityTimeoutSecs"),
    "windows.screensaver-active": (_DESKTOP, "ScreenSaveActive"),
    "windows.screensaver-secure": (_DESKTOP, "ScreenSaverIsSecure"),
    "windows.screensaver-timeout": (_DESKTOP, "ScreenSaveTimeOut"),
    "windows.screensaver-exe": (_DESKTOP, "SCRNSAVE.EXE"),
    "windows.screensaver-policy-active": (_DESKTOP_POLICY, "ScreenSaveActive"),
    "windows.screensaver-policy-secure": (_DESKTOP_POLICY, "ScreenSaverIsSecure"),
    "windows.screensaver-policy-timeout": (_DESKTOP_POLICY, "ScreenSaveTimeOut"),
    "windows.screensaver-policy-exe": (_DESKTOP_POLICY, "SCRNSAVE.EXE"),
    "windows.secureboot-state": (
        r"HKLM\SYSTEM\CurrentControlSet\Control\SecureBoot\State", "UEFISecureBootEnabled"),
    "windows.firmware-type": (r"HKLM\SYSTEM\CurrentControlSet\Control", "PEFirmwareType"),
    "windows.au-noautoupdate": (_AU_POLICY, "NoAutoUpdate"),
    "windows.au-auoptions": (_AU_POLICY, "AUOptions"),
    "windows.au-mdm-allowautoupdate": (
        r"HKLM\SOFTWARE\Microsoft\PolicyManager\current\device\Update", "AllowAutoUpdate"),
    "windows.au-pause-expiry": (
        r"HKLM\SOFTWARE\Microsoft\WindowsUpdate\UX\Settings", "PauseUpdatesExpiryTime"),
    "windows.wuauserv-start": (r"HKLM\SYSTEM\CurrentControlSet\Services\wuauserv", "Start"),
}
