"""The Windows evidence collector: PowerShell, built-in tools and registry reads, in parallel.

It gathers exactly the evidence ids ``strongroom.app.compliance.windows`` reads (the
method of each check is documented there) and judges nothing. Tools run by their full path under
%SystemRoot%\\System32 (Sysnative from a 32-bit Python), never through a shell, so a same-named
program elsewhere on PATH is never run. Each PowerShell script prints one JSON object; if it
throws, the wrapper prints {"error", "hresult", "message"} and exits 1, so "access denied" is
evidence, not a crash. Registry values come from ``runner.read_registry`` (winreg is imported
only there, only on Windows), so this module imports cleanly anywhere.
"""

from __future__ import annotations

import datetime as dt
import ntpath
import os
import socket
import sys
from collections.abc import Callable

from strongroom.app.compliance.model import OS, CommandEvidence, Evidence, EvidenceBundle
from strongroom.app.compliance.windows import evidence_ids as ids
from strongroom.app.plugins import Availability

from .runner import gather_parallel, read_registry, run_command


def system32() -> str:
    """The real System32 folder: a 32-bit process on 64-bit Windows reaches it as Sysnative."""
    root = os.environ.get("SYSTEMROOT") or r"C:\Windows"  # Windows env names are case-blind
    folder = "Sysnative" if os.environ.get("PROCESSOR_ARCHITEW6432") else "System32"
    return ntpath.join(root, folder)


def tool(*parts: str) -> str:
    return ntpath.join(system32(), *parts)


# Scripts use single quotes only: the argv goes through CreateProcess quoting as one argument.
_PRELUDE = (
    "$ErrorActionPreference = 'Stop'; $ProgressPreference = 'SilentlyContinue'; "
    "try { [Console]::OutputEncoding = [Text.Encoding]::UTF8 } catch { }; "
    "function iso($d) { if ($d -is [DateTime]) { [DateTime]::SpecifyKind($d, 'Utc')"
    ".ToString('o') } else { $null } }; "
)
_CATCH = (
    " } catch { [pscustomobject]@{ error = $_.Exception.GetType().FullName; "
    "hresult = $_.Exception.HResult; message = $_.Exception.Message } | ConvertTo-Json "
    "-Compress; exit 1 }"
)

SCRIPTS: dict[str, str] = {
    ids.BITLOCKER_SHELL: (
        "$d = $env:SystemDrive; $v = (New-Object -ComObject Shell.Application).NameSpace($d)"
        ".Self.ExtendedProperty('System.Volume.BitLockerProtection'); "
        "[pscustomobject]@{ drive = $d; value = $v } | ConvertTo-Json -Compress"
    ),
    ids.BITLOCKER_WMI: (
        "$d = $env:SystemDrive; $v = Get-CimInstance -Namespace "
        "'root/CIMV2/Security/MicrosoftVolumeEncryption' -ClassName Win32_EncryptableVolume "
        "-Filter ('DriveLetter = ''' + $d + ''''); "
        "if ($null -eq $v) { throw ('no encryptable volume for ' + $d) }; "
        "$p = Invoke-CimMethod -InputObject $v -MethodName GetProtectionStatus; "
        "$c = Invoke-CimMethod -InputObject $v -MethodName GetConversionStatus; "
        "[pscustomobject]@{ drive = $d; ProtectionStatus = $p.ProtectionStatus; "
        "ConversionStatus = $c.ConversionStatus; EncryptionPercentage = "
        "$c.EncryptionPercentage } | ConvertTo-Json -Compress"
    ),
    ids.UPDATE_HISTORY: (
        "$q = (New-Object -ComObject Microsoft.Update.Session).CreateUpdateSearcher(); "
        "$n = $q.GetTotalHistoryCount(); $h = @(); "
        "if ($n -gt 0) { $h = @($q.QueryHistory(0, [Math]::Min($n, 1000)) | ForEach-Object { "
        "[pscustomobject]@{ Date = (iso $_.Date); Title = $_.Title; "
        "Operation = [int]$_.Operation; ResultCode = [int]$_.ResultCode; HResult = $_.HResult; "
        "ClientApplicationID = $_.ClientApplicationID; "
        "Categories = @($_.Categories | ForEach-Object { $_.Name }) } }) }; "
        "$r = (New-Object -ComObject Microsoft.Update.AutoUpdate).Results; "
        "[pscustomobject]@{ total = $n; history = $h; "
        "lastInstallationSuccess = (iso $r.LastInstallationSuccessDate) } "
        "| ConvertTo-Json -Depth 4 -Compress"
    ),
    ids.UPDATE_PENDING: (
        "$q = (New-Object -ComObject Microsoft.Update.Session).CreateUpdateSearcher(); "
        "$q.Online = $false; "
        "$res = $q.Search('IsInstalled=0 and IsHidden=0 and Type=''Software'''); "
        "$u = @($res.Updates | ForEach-Object { [pscustomobject]@{ Title = $_.Title; "
        "KB = @($_.KBArticleIDs); MsrcSeverity = $_.MsrcSeverity; "
        "Published = (iso $_.LastDeploymentChangeTime); BrowseOnly = $_.BrowseOnly; "
        "Categories = @($_.Categories | ForEach-Object { $_.Name }) } }); "
        "$r = (New-Object -ComObject Microsoft.Update.AutoUpdate).Results; "
        "[pscustomobject]@{ online = $false; lastSearchSuccess = (iso $r.LastSearchSuccessDate); "
        "pending = $u } | ConvertTo-Json -Depth 4 -Compress"
    ),
    ids.HOTFIX: (
        "$c = Get-Culture; $h = @(Get-CimInstance -ClassName Win32_QuickFixEngineering | "
        "ForEach-Object { [pscustomobject]@{ HotFixID = $_.HotFixID; "
        "Description = $_.Description; InstalledOn = [string]$_.InstalledOn } }); "
        "[pscustomobject]@{ culture = $c.Name; shortDatePattern = "
        "$c.DateTimeFormat.ShortDatePattern; hotfixes = $h } | ConvertTo-Json -Depth 3 -Compress"
    ),
    ids.FW_PROFILES: (
        "$p = @(Get-NetFirewallProfile -PolicyStore ActiveStore | ForEach-Object { "
        "[pscustomobject]@{ Name = [string]$_.Name; Enabled = [string]$_.Enabled } }); "
        "[pscustomobject]@{ profiles = $p } | ConvertTo-Json -Depth 3 -Compress"
    ),
    ids.FW_PRODUCTS: (
        "$p = @(Get-CimInstance -Namespace 'root/SecurityCenter2' -ClassName FirewallProduct | "
        "ForEach-Object { [pscustomobject]@{ displayName = $_.displayName; "
        "productState = $_.productState } }); "
        "[pscustomobject]@{ products = $p } | ConvertTo-Json -Depth 3 -Compress"
    ),
    ids.GUEST_LOCALUSER: (
        "$a = @(Get-LocalUser | Where-Object { $_.SID.Value -like 'S-1-5-21-*-501' } | "
        "ForEach-Object { [pscustomobject]@{ Name = $_.Name; Enabled = [bool]$_.Enabled; "
        "SID = $_.SID.Value } }); "
        "[pscustomobject]@{ accounts = $a } | ConvertTo-Json -Depth 3 -Compress"
    ),
    ids.TPM_GET: (
        "$t = Get-Tpm; [pscustomobject]@{ TpmPresent = $t.TpmPresent; TpmReady = $t.TpmReady; "
        "TpmEnabled = $t.TpmEnabled; TpmActivated = $t.TpmActivated; "
        "ManufacturerIdTxt = $t.ManufacturerIdTxt; ManufacturerVersion = "
        "$t.ManufacturerVersion } | ConvertTo-Json -Compress"
    ),
    ids.TPM_PNP: (
        "$d = @(Get-CimInstance -ClassName Win32_PnPEntity | Where-Object { "
        r"$_.PNPDeviceID -like 'ACPI\MSFT0101*' -or $_.PNPDeviceID -like 'ACPI\PNP0C31*' } | "
        "ForEach-Object { [pscustomobject]@{ Name = $_.Name; PNPDeviceID = $_.PNPDeviceID; "
        "Status = $_.Status } }); "
        "[pscustomobject]@{ devices = $d } | ConvertTo-Json -Depth 3 -Compress"
    ),
}

TIMEOUTS = {ids.UPDATE_HISTORY: 60.0, ids.UPDATE_PENDING: 120.0, ids.HOTFIX: 30.0,
            ids.TPM_PNP: 30.0}


def powershell(evidence_id: str) -> CommandEvidence:
    """Run one of SCRIPTS with Windows PowerShell, no profile, no prompts."""
    script = _PRELUDE + "try { " + SCRIPTS[evidence_id] + _CATCH
    return run_command([tool("WindowsPowerShell", "v1.0", "powershell.exe"), "-NoProfile",
                        "-NonInteractive", "-ExecutionPolicy", "Bypass", "-Command", script],
                       timeout=TIMEOUTS.get(evidence_id, 20.0))


def _powercfg(*args: str) -> CommandEvidence:
    return run_command([tool("powercfg.exe"), *args])


COMMANDS: dict[str, Callable[[], CommandEvidence]] = {
    ids.POWER_VIDEOIDLE: lambda: _powercfg("/q", "SCHEME_CURRENT", "SUB_VIDEO", "VIDEOIDLE"),
    ids.POWER_STANDBYIDLE: lambda: _powercfg("/q", "SCHEME_CURRENT", "SUB_SLEEP",
                                             "STANDBYIDLE"),
    ids.POWER_CONSOLELOCK: lambda: _powercfg("/q", "SCHEME_CURRENT", "SUB_NONE", "CONSOLELOCK"),
    ids.POWER_STATES: lambda: _powercfg("/a"),
    ids.FW_NETSH: lambda: run_command([tool("netsh.exe"), "advfirewall", "show", "allprofiles",
                                       "state"]),
    ids.GUEST_NETUSER: lambda: run_command([tool("net.exe"), "user", "guest"]),
    ids.TPMTOOL: lambda: run_command([tool("tpmtool.exe"), "getdeviceinformation"], timeout=20),
}

_SCREEN_REGISTRY = tuple(k for k in ids.REGISTRY if k.startswith(("windows.screensaver",
                                                                   "windows.inactivity")))
_AU_REGISTRY = tuple(k for k in ids.REGISTRY if k.startswith(("windows.au-", "windows.wuauserv")))

# check id -> the evidence ids it needs; the slowest first so they start early.
EVIDENCE: dict[str, tuple[str, ...]] = {
    "patch-age": (ids.UPDATE_PENDING, ids.UPDATE_HISTORY, ids.HOTFIX),
    "disk-encryption": (ids.BITLOCKER_WMI, ids.BITLOCKER_SHELL),
    "screen-lock": (*_SCREEN_REGISTRY, ids.POWER_CONSOLELOCK, ids.POWER_STANDBYIDLE,
                    ids.POWER_VIDEOIDLE, ids.POWER_STATES),
    "firewall": (ids.FW_PROFILES, ids.FW_NETSH, ids.FW_PRODUCTS),
    "guest-account": (ids.GUEST_LOCALUSER, ids.GUEST_NETUSER),
    "secure-boot": ("windows.secureboot-state", "windows.firmware-type"),
    "auto-updates": _AU_REGISTRY,
    "tpm": (ids.TPM_GET, ids.TPMTOOL, ids.TPM_PNP),
}


def gather(evidence_id: str) -> Evidence:
    if evidence_id in SCRIPTS:
        return powershell(evidence_id)
    if evidence_id in COMMANDS:
        return COMMANDS[evidence_id]()
    key, name = ids.REGISTRY[evidence_id]
    return read_registry(key, name)


class WindowsCollector:
    """Gathers the Windows checks' evidence; ``only`` is a set of check ids (None = all)."""

    os = OS.Windows

    def __init__(self, workers: int = 8) -> None:
        self.workers = workers

    @staticmethod
    def available() -> Availability:
        if sys.platform != "win32":
            return Availability(False, "Windows required")
        return Availability(True)

    def collect(self, only: set[str] | None = None) -> EvidenceBundle:
        collected = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        wanted: list[str] = []
        for check_id, evidence_ids in EVIDENCE.items():
            if only is None or check_id in only:
                wanted += [e for e in evidence_ids if e not in wanted]
        def read(evidence_id: str) -> Callable[[], dict[str, Evidence]]:
            return lambda: {evidence_id: gather(evidence_id)}

        items = gather_parallel([(e, read(e)) for e in wanted], self.workers)
        return EvidenceBundle(os=OS.Windows, collected=collected, items=items,
                              host=socket.gethostname())
