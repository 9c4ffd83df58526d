"""The compliance Collector contract run against every OS: the Linux, macOS and Windows collectors
and their checks, fed with the recorded evidence in tests/fixtures/compliance/."""

from __future__ import annotations

import json

import pytest

from strongroom.app.compliance.model import OS, CommandEvidence, Evidence
from strongroom.backends.compliance.linux import LinuxCollector
from strongroom.backends.compliance.macos import MacOSCollector
from strongroom.backends.compliance.windows import WindowsCollector

from helpers.collector_contract import CollectorContract, permission_denied

# The contract found these; strict, so each marker fails once the OS's checks are fixed.
LOST_READ_FAILS = (
    "bug: on {os}, one refused read (or missing tool, or timeout) in a recorded case turns a "
    "PASS or UNKNOWN into FAIL ({examples}); model.py says such evidence is UNKNOWN, never FAIL"
)


def lost_read_xfail(os_name: str, examples: str) -> pytest.MarkDecorator:
    return pytest.mark.xfail(strict=True, raises=AssertionError,
                             reason=LOST_READ_FAILS.format(os=os_name, examples=examples))


# What the collector's PowerShell wrapper prints when a cmdlet is refused (it exits 1).
POWERSHELL_ACCESS_DENIED = json.dumps({
    "error": "System.UnauthorizedAccessException", "hresult": -2147024891,
    "message": "Access is denied.",
}, separators=(",", ":"))


class TestLinuxCollector(CollectorContract):
    OS = OS.Linux
    PLATFORM = "linux"
    COLLECTOR = LinuxCollector
    MIN_CASES = 4

    @lost_read_xfail("Linux", "firewall when ufw.conf or nftables.conf is unreadable: 'none of "
                     "ufw, firewalld, nftables … is active'; guest-account when a LightDM "
                     "drop-in is unreadable")
    def test_losing_one_read_never_turns_a_result_into_fail(self, table, recorded) -> None:
        super().test_losing_one_read_never_turns_a_result_into_fail(table, recorded)


class TestMacOSCollector(CollectorContract):
    OS = OS.MacOS
    PLATFORM = "darwin"
    COLLECTOR = MacOSCollector
    NOT_APPLICABLE = frozenset({"tpm"})  # Macs have no TPM

    @lost_read_xfail("macOS", "patch-age when the SoftwareUpdate prefs are unreadable; "
                     "auto-updates and guest-account when a managed profile is unreadable")
    def test_losing_one_read_never_turns_a_result_into_fail(self, table, recorded) -> None:
        super().test_losing_one_read_never_turns_a_result_into_fail(table, recorded)


class TestWindowsCollector(CollectorContract):
    OS = OS.Windows
    PLATFORM = "win32"
    COLLECTOR = WindowsCollector

    def denied(self, item: Evidence) -> Evidence:
        """PowerShell runs but its cmdlet is refused; a registry read is refused outright."""
        if isinstance(item, CommandEvidence):
            return CommandEvidence(item.argv, 1, POWERSHELL_ACCESS_DENIED, "Access is denied.")
        return permission_denied(item)

    @lost_read_xfail("Windows", "firewall with a third-party product when the product list is "
                     "unreadable; patch-age when the update history or pending list is; "
                     "screen-lock when a screen-saver or power value is")
    def test_losing_one_read_never_turns_a_result_into_fail(self, table, recorded) -> None:
        super().test_losing_one_read_never_turns_a_result_into_fail(table, recorded)
