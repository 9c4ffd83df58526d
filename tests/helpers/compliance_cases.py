"""Recorded compliance evidence for the per-OS check tests (tests/fixtures/compliance/).

Each case lives in <check>/<os>/<case>/ and holds evidence.json (a bundle in the format of
app/compliance/model.py) and expected.json. Cases are judged at the fixed time NOW.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from strongroom.app.compliance.evidence_io import load_bundle

__all__ = ["CHECK_IDS", "FIXTURES", "NOW", "cases", "load_bundle"]

FIXTURES = Path(__file__).parent.parent / "fixtures" / "compliance"
NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)
CHECK_IDS = ("disk-encryption", "patch-age", "screen-lock", "firewall", "guest-account",
             "secure-boot", "auto-updates", "tpm")


def cases(os_name: str) -> list[Path]:
    """Every expected.json recorded for one OS ("linux", "macos", "windows"), sorted."""
    return sorted(FIXTURES.glob(f"*/{os_name}/*/expected.json"))
