"""Preflight on real network namespaces (``unshare -n``, as root): a fresh namespace with only
loopback is offline; one with a live interface and a default route is not, and says which."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from strongroom.app.ceremony import preflight
from strongroom.app.ceremony.script import Preflight

PROBE = ("import json; from strongroom.app.ceremony import preflight; "
         "print(json.dumps(preflight.offline().to_json()))")


def in_namespace(setup: str) -> dict:
    assert shutil.which("unshare") and shutil.which("ip"), "util-linux and iproute2 are needed"
    shell = f"{setup} {sys.executable} -c {json.dumps(PROBE)}"
    done = subprocess.run(["unshare", "-n", "sh", "-c", shell], capture_output=True, text=True,
                          check=False, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_a_namespace_with_only_loopback_is_offline() -> None:
    found = in_namespace("ip link set lo up &&")
    assert found["ok"] is True and found["evidence"]["interfaces"] == ["lo"]


def test_a_live_interface_and_a_default_route_are_reported() -> None:
    found = in_namespace("ip link add v0 type veth peer name v1 && ip link set v0 up && "
                         "ip route add default dev v0 &&")
    assert found["ok"] is False
    assert found["detail"] == ("the machine is not offline: interfaces up: v0; default routes "
                               "via: v0 (IPv4)")
    assert found["evidence"]["interfaces"] == ["lo", "v0", "v1"]


def test_the_other_checks(tmp_path: Path) -> None:
    assert preflight.clock(dt.datetime(1999, 1, 1, tzinfo=dt.UTC)).ok is False
    assert preflight.endpoint({"disk-encryption": "PASS", "screen-lock": "FAIL"},
                              ["disk-encryption", "screen-lock"]).detail == (
        "endpoint checks do not pass: screen-lock FAIL")
    assert preflight.endpoint({"disk-encryption": "EXCEPTED"}, ["disk-encryption"]).ok
    assert preflight.output(tmp_path / "new" / "out").ok
    blocked = tmp_path / "file"
    blocked.write_text("x")
    assert preflight.output(blocked / "out").ok is False

    class Token:
        label, serial = "root-hsm", "abc123"

    spec = Preflight(token_label="root-hsm")
    assert preflight.token(spec, lambda: [Token()]).ok
    missing = preflight.token(Preflight(token_serial="zzz"), lambda: [Token()])
    assert missing.ok is False and "present: root-hsm (abc123)" in missing.detail


@pytest.mark.parametrize("route", ["eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000"])
def test_a_default_route_alone_is_not_offline(tmp_path: Path, route: str) -> None:
    (tmp_path / "net").mkdir()
    (tmp_path / "net" / "route").write_text("Iface\tDestination\n" + route + "\n")
    found = preflight.offline(tmp_path, interfaces=lambda: [("lo", 0x9)])
    assert found.ok is False and found.evidence["default_routes"] == ["eth0 (IPv4)"]
