#!/usr/bin/env python3
"""osquery extension: the ``strongroom_checks`` table, one row per Strongroom endpoint check.

It reads the file a scheduled ``strongroom check --format osquery-json --output FILE`` writes
(default /var/lib/strongroom/checks.json, or $STRONGROOM_CHECKS_FILE) and never runs Strongroom
or opens a vault itself. It needs only the ``osquery`` package (osquery-python), not Strongroom.
A missing, oversized or unreadable file gives no rows: write policies so that no rows fails
(docs/fleet.md). Install it as an executable ``.ext`` file owned by root, listed in the file
osqueryd's ``--extensions_autoload`` names. COLUMNS is kept equal to Strongroom's own list by
a test (tests/test_check_formats.py).
"""

import json
import os
import sys

import osquery

TABLE = "strongroom_checks"
COLUMNS = (
    "id", "title", "status", "required", "severity", "platform", "observed", "reason",
    "method", "evidence", "fix", "confidence", "exception", "expires", "checked_at",
    "hostname", "strongroom_version",
)
RESULTS_FILE = os.environ.get("STRONGROOM_CHECKS_FILE", "/var/lib/strongroom/checks.json")
MAX_BYTES = 4 * 1024 * 1024


def read_rows(path=RESULTS_FILE):
    """The rows in the results file, every value a string; [] when it cannot be read."""
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_BYTES + 1)
        if len(data) > MAX_BYTES:
            raise ValueError(f"larger than {MAX_BYTES} bytes")
        rows = json.loads(data.decode("utf-8"))
        if not isinstance(rows, list):
            raise ValueError("not a JSON array")
    except (OSError, ValueError) as e:
        print(f"strongroom_checks: cannot read {path}: {e}", file=sys.stderr)
        return []
    return [{name: str(row.get(name, "")) for name in COLUMNS}
            for row in rows if isinstance(row, dict)]


@osquery.register_plugin
class StrongroomChecksTable(osquery.TablePlugin):
    def name(self):
        return TABLE

    def columns(self):
        return [osquery.TableColumn(name=name, type=osquery.STRING) for name in COLUMNS]

    def generate(self, context):
        return read_rows()


if __name__ == "__main__":
    # osqueryd passes --socket, --timeout and --interval; start_extension reads them.
    osquery.start_extension(name="strongroom_checks", version="1.0.0")
