"""Evidence ids the Linux checks read, and which check reads which.

Shared with strongroom.backends.compliance.linux: the collector gathers exactly these.
"""

from __future__ import annotations

from .. import first_seen

OS_RELEASE = "linux.os-release"
CONTAINER_FILES = {
    "linux.container.dockerenv": "/.dockerenv",
    "linux.container.containerenv": "/run/.containerenv",
    "linux.container.systemd": "/run/systemd/container",
}
FINDMNT_ROOT = "linux.findmnt-root"
LSBLK = "linux.lsblk"
ROOT_UEVENT = "linux.sysfs.root-uevent"
APT_HISTORY = "linux.apt-history"  # rotated logs: linux.apt-history.1, .2, … (newest first)
APT_SECURITY_SOURCES = "linux.apt-security-sources"
APT_UPGRADABLE = "linux.apt-upgradable"
RPM_INSTALLTIME = "linux.rpm-installtime"
DNF_SECURITY = "linux.dnf-security"
DATE_OFFSET = "linux.date-offset"
FIRST_SEEN = first_seen.EVIDENCE_ID
LOGIN_SESSION = "linux.loginctl-session"
UID = "linux.uid"
GS_IDLE = "linux.gsettings-idle-delay"
GS_SCREENSAVER = "linux.gsettings-screensaver"
GS_LOCKDOWN = "linux.gsettings-lockdown"
DCONF_USER = "linux.dconf-user"
KSCREENLOCKERRC = "linux.kscreenlockerrc"
SYSTEMD_UNITS = "linux.systemctl-units"
UFW_CONF = "linux.ufw-conf"
NFTABLES_CONF = "linux.nftables-conf"
GETENT_GUEST = "linux.getent-guest"
LIGHTDM_PREFIX = "linux.lightdm:"  # + the config file's path
LIGHTDM_GUEST_SCRIPT = "linux.lightdm-guest-account-script"
EFI_DIR = "linux.efi-dir"
EFIVARS_DIR = "linux.efivars-dir"
EFI_SECUREBOOT = "linux.efivar-secureboot"
APT_PERIODIC = "linux.apt-config-periodic"
DPKG_UNATTENDED = "linux.dpkg-unattended-upgrades"
DNF_AUTOMATIC_CONF = "linux.dnf-automatic-conf"
DNF5_AUTOMATIC_CONF = "linux.dnf5-automatic-conf"
TPM_CLASS = "linux.tpm-class"
TPM_VERSION = "linux.tpm0-version-major"

SECUREBOOT_VAR = "SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c"
FIREWALL_UNITS = ("ufw.service", "firewalld.service", "nftables.service",
                  "netfilter-persistent.service")
UPDATE_UNITS = ("apt-daily.timer", "apt-daily-upgrade.timer", "dnf-automatic.timer",
                "dnf-automatic-install.timer", "dnf5-automatic.timer")
SYSTEMD_PROPERTIES = ("Id", "LoadState", "ActiveState", "UnitFileState")
LIGHTDM_DIRS = ("/usr/share/lightdm/lightdm.conf.d", "/etc/lightdm/lightdm.conf.d")
LIGHTDM_MAIN = "/etc/lightdm/lightdm.conf"

# Which evidence each check reads (prefixes end in "." or ":"); the collector gathers these.
EVIDENCE: dict[str, tuple[str, ...]] = {
    "disk-encryption": (FINDMNT_ROOT, LSBLK, ROOT_UEVENT, "linux.sysfs.", *CONTAINER_FILES),
    "patch-age": (OS_RELEASE, APT_HISTORY, APT_SECURITY_SOURCES, APT_UPGRADABLE, RPM_INSTALLTIME,
                  DNF_SECURITY, DATE_OFFSET, FIRST_SEEN),
    "screen-lock": (LOGIN_SESSION, UID, GS_IDLE, GS_SCREENSAVER, GS_LOCKDOWN, DCONF_USER,
                    KSCREENLOCKERRC),
    "firewall": (SYSTEMD_UNITS, UFW_CONF, NFTABLES_CONF),
    "guest-account": (GETENT_GUEST, LIGHTDM_PREFIX, LIGHTDM_GUEST_SCRIPT),
    "secure-boot": (EFI_DIR, EFIVARS_DIR, EFI_SECUREBOOT, FINDMNT_ROOT, *CONTAINER_FILES),
    "auto-updates": (OS_RELEASE, APT_PERIODIC, DPKG_UNATTENDED, SYSTEMD_UNITS, DNF_AUTOMATIC_CONF,
                     DNF5_AUTOMATIC_CONF),
    "tpm": (TPM_CLASS, TPM_VERSION, FINDMNT_ROOT, *CONTAINER_FILES),
}
