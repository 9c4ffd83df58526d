"""What the remotes and the audit forwarder ask of a host name: is it this machine?"""

from __future__ import annotations

import ipaddress


def is_loopback(host: str) -> bool:
    """``localhost`` or a loopback address (127.0.0.0/8, ::1): plain text may go there and
    nowhere else. Another name is not looked up, so it is never taken for this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
