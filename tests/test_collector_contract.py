"""The compliance Collector contract run against every OS: the Linux, macOS and Windows collectors
and their checks, fed with the recorded evidence in tests/fixtures/compliance/."""

from __future__ import annotations

import json

from strongroom.app.compliance.model import OS, CommandEvidence, Evidence
from strongroom.backends.compliance.linux import LinuxCollector
from strongroom.backends.compliance.macos import MacOSCollector
from strongroom.backends.compliance.windows import WindowsCollector

from helpers.collector_contract import CollectorContract, permission_denied

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


class TestMacOSCollector(CollectorContract):
    OS = OS.MacOS
    PLATFORM = "darwin"
    COLLECTOR = MacOSCollector
    NOT_APPLICABLE = frozenset({"tpm"})  # Macs have no TPM


class TestWindowsCollector(CollectorContract):
    OS = OS.Windows
    PLATFORM = "win32"
    COLLECTOR = WindowsCollector

    def denied(self, item: Evidence) -> Evidence:
        """PowerShell runs but its cmdlet is refused; a registry read is refused outright."""
        if isinstance(item, CommandEvidence):
            return CommandEvidence(item.argv, 1, POWERSHELL_ACCESS_DENIED, "Access is denied.")
        return permission_denied(item)


def test_a_program_first_on_the_users_path_does_not_answer_for_a_check(
        tmp_path, monkeypatch) -> None:
    """Bare command names are found on the system directories only, never the user's PATH."""
    from strongroom.backends.compliance import runner

    fake = tmp_path / "id"
    fake.write_text("#!/bin/sh\necho forged\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    result = runner.run_command(["id", "-u"])
    assert result.exit_code == 0
    assert "forged" not in result.stdout
    assert result.stdout.strip().isdigit()
