"""Per-OS evidence collectors. Importing this package never fails on another OS.

``collector()`` is the one place that chooses by platform: Linux → ``linux.LinuxCollector``,
macOS → ``macos.MacOSCollector``, Windows → ``windows.WindowsCollector``, each imported only when
chosen. Anywhere else (or while an OS's collector is not written yet) it returns an
``UnsupportedCollector`` that says why, and raises ``NotImplementedError`` only when used.
The CLI finds this function through the ``strongroom.backends`` entry point ``compliance``.
"""

from __future__ import annotations

import sys

from strongroom.app.compliance.model import OS, Collector, EvidenceBundle
from strongroom.app.plugins import Availability


class UnsupportedCollector:
    """A stand-in for a platform without a collector: says why, and raises only when used."""

    def __init__(self, platform: str, reason: str, os_: OS = OS.Linux) -> None:
        self.platform = platform
        self.reason = reason
        self.os = os_

    def available(self) -> Availability:
        return Availability(False, self.reason)

    def collect(self, only: set[str] | None = None) -> EvidenceBundle:
        raise NotImplementedError(f"no compliance collector for {self.platform}: {self.reason}")


def platform_os(platform: str | None = None) -> OS | None:
    platform = platform or sys.platform
    if platform.startswith("linux"):
        return OS.Linux
    if platform == "darwin":
        return OS.MacOS
    if platform in ("win32", "cygwin"):
        return OS.Windows
    return None


def collector(platform: str | None = None) -> Collector:
    """The evidence collector for this platform."""
    platform = platform or sys.platform
    os_ = platform_os(platform)
    try:
        if os_ is OS.Linux:
            from .linux import LinuxCollector

            return LinuxCollector()
        if os_ is OS.MacOS:
            from .macos import MacOSCollector  # type: ignore[import-not-found, unused-ignore]

            return MacOSCollector()
        if os_ is OS.Windows:
            from .windows import WindowsCollector  # type: ignore[import-not-found, unused-ignore]

            return WindowsCollector()
    except ImportError as e:
        return UnsupportedCollector(platform, f"the {os_.value if os_ else platform} collector "
                                    f"is not available ({e})", os_ or OS.Linux)
    return UnsupportedCollector(platform, "only Linux, macOS and Windows are supported")
