"""`strongroom remote` against a real OpenBao dev server: add/test/list/remove, publish to KV v2,
pull a change made with `bao kv put`, conflicts, dry runs, the audit trail, the two-person rule
and AppRole. One server serves the module; each test works under a path prefix of its own."""

from __future__ import annotations

import base64
import json
import os
import sys
from pathlib import Path

import pytest

from helpers.openbao import BaoServer, module_bao  # noqa: F401 - the fixture bao
from helpers.remotes import (
    CAROL,
    VALUES,
    cli,
    copy_vault,
    kv_get,
    kv_tree,
    make_team_vault,
    open_vault,
    vault_state,
)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_team_vault(tmp_path_factory.mktemp("team") / "v")


@pytest.fixture(scope="module")
def solo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_team_vault(tmp_path_factory.mktemp("solo") / "v", with_carol=False)


def add(vault: Path, bao: BaoServer, prefix: str, *extra: str, name: str = "dev") -> None:
    code, _out, err = cli("remote", "add", name, "--url", bao.url, "--auth", "token",
                         "--prefix", prefix, *extra, vault=vault, token=bao.root_token)
    assert code == 0, err


@pytest.fixture
def solo(solo_template: Path, tmp_path: Path, bao: BaoServer, request: pytest.FixtureRequest
         ) -> tuple[Path, str]:
    """A one-operator vault with remote "dev" at a prefix of the test's own."""
    vault = copy_vault(solo_template, tmp_path / "v")
    prefix = f"t-{request.node.name[:40].replace('[', '-').replace(']', '')}/"
    add(vault, bao, prefix)
    return vault, prefix


def test_add_list_show_test_remove_and_the_token_is_a_vault_secret(
        solo_template: Path, tmp_path: Path, bao: BaoServer) -> None:
    vault = copy_vault(solo_template, tmp_path / "v")
    add(vault, bao, "t-add/", "--level", "moderate")
    code, listed, err = cli("remote", "list", vault=vault)
    assert code == 0 and [r["name"] for r in listed] == ["dev"], err
    assert listed[0]["urls"] == [bao.url] and listed[0]["credential_secret"] == "remote/dev/token"
    code, shown, err = cli("remote", "show", "dev", vault=vault)
    assert code == 0 and shown["settings"]["prefix"] == "t-add/" and shown["auth"] == "token"
    code, tested, err = cli("remote", "test", "dev", vault=vault)
    assert code == 0 and tested == {"remote": "dev", "ok": True}, err
    with open_vault(vault) as v:
        info = v.secret_info("remote/dev/token")
        assert info.classification.value == "moderate"
        assert v.get_secret("remote/dev/token") == bao.root_token.encode()
        reads = [e for e in v.audit_events() if e.target == "remote/dev/token"
                 and e.action == "secret.read"]
        assert reads, "the test's credential read is an audited read"
        assert not any(bao.root_token in json.dumps(e.details) for e in v.audit_events())
    code, _again, err = cli("remote", "add", "dev", "--url", bao.url, "--auth", "token",
                           vault=vault, token=bao.root_token)
    assert code == 1 and "already exists" in err
    code, removed, err = cli("remote", "remove", "dev", vault=vault)
    assert code == 0 and removed["removed"] is True, err
    code, listed, err = cli("remote", "list", vault=vault)
    assert code == 0 and listed == []
    with open_vault(vault) as v:
        assert not [s for s in v.list_secrets() if s.name.startswith("remote/")]


def test_the_token_never_goes_through_argv_and_a_pipe_without_one_is_refused(
        solo_template: Path, tmp_path: Path, bao: BaoServer) -> None:
    vault = copy_vault(solo_template, tmp_path / "v")
    before = vault_state(vault)
    code, out, err = cli("remote", "add", "dev", "--url", bao.url, "--auth", "token", vault=vault)
    assert code == 2 and out["message"] == "no terminal to ask for the token; use --token-fd N"
    code, out, err = cli("remote", "add", "dev", "--url", bao.url, "--auth", "token",
                         "--token", bao.root_token, vault=vault)
    assert code == 2 and bao.root_token not in err
    assert vault_state(vault) == before


def test_publish_creates_kv_v2_versions_that_bao_reads(solo: tuple[Path, str], bao: BaoServer
                                                       ) -> None:
    vault, prefix = solo
    code, result, err = cli("remote", "publish", "dev", "--all", vault=vault)
    assert code == 0 and result["counts"]["create"] == 4, err
    for name, value in VALUES.items():
        got = kv_get(bao, prefix + name)
        assert got is not None and got["metadata"]["version"] == 1
        data = got["data"]
        stored = (data["value"].encode() if "value" in data
                  else base64.b64decode(data["value_base64"]))
        assert stored == value
        custom = got["metadata"]["custom_metadata"]
        assert custom["strongroom-name"] == name and custom["strongroom-version"] == "1"
        assert not any(value.decode("latin-1") in v for v in custom.values())
    code, result, err = cli("remote", "publish", "dev", "--all", vault=vault)
    assert code == 0 and result["counts"] == {"create": 0, "update": 0, "skip": 4,
                                              "conflict": 0, "invalid": 0}, err
    with open_vault(vault) as v:
        v.update_secret("app/db", b"db-password-rotated")
    code, result, err = cli("remote", "publish", "dev", "--name", "app/db", "app/api",
                            vault=vault)
    assert code == 0 and result["counts"]["update"] == 1 and result["counts"]["skip"] == 1, err
    got = kv_get(bao, prefix + "app/db")
    assert got is not None and got["metadata"]["version"] == 2
    assert got["data"] == {"value": "db-password-rotated"}


def test_a_bao_kv_put_is_pulled_as_a_new_local_version(solo: tuple[Path, str], bao: BaoServer
                                                       ) -> None:
    vault, prefix = solo
    assert cli("remote", "publish", "dev", "--name", "app/db", vault=vault)[0] == 0
    bao.cli("kv", "put", f"secret/{prefix}app/db", "value=changed-on-the-server")
    code, status, err = cli("remote", "status", "dev", vault=vault)
    assert code == 0 and status["items"][0]["state"] == "remote-changed", err
    code, result, err = cli("remote", "pull", "dev", "--name", "app/db", vault=vault)
    assert code == 0 and result["counts"]["update"] == 1, err
    [item] = result["items"]
    assert (item["local_version"], item["remote_version"]) == (2, 2)
    with open_vault(vault) as v:
        assert v.get_secret("app/db") == b"changed-on-the-server"
        assert v.get_secret("app/db", version=1) == VALUES["app/db"]
        [pulled] = [e for e in v.audit_events() if e.action == "remote.pull"]
    assert pulled.target == "app/db" and pulled.details["remote"] == "dev"
    assert pulled.details["path"] == f"secret/{prefix}app/db"
    assert (pulled.details["remote_version"], pulled.details["local_version"],
            pulled.details["previous_local_version"]) == (2, 2, 1)
    code, result, err = cli("remote", "pull", "dev", "--name", "app/db", vault=vault)
    assert code == 0 and result["counts"]["skip"] == 1, err
    code, status, err = cli("remote", "status", "dev", vault=vault)
    assert status["items"][0]["state"] == "in-sync"


def test_both_sides_changed_is_a_conflict_and_neither_is_overwritten(
        solo: tuple[Path, str], bao: BaoServer) -> None:
    vault, prefix = solo
    assert cli("remote", "publish", "dev", "--name", "app/db", vault=vault)[0] == 0
    bao.cli("kv", "put", f"secret/{prefix}app/db", "value=theirs")
    with open_vault(vault) as v:
        v.update_secret("app/db", b"ours")
    before_remote = kv_tree(bao, prefix)
    before = vault_state(vault)
    for verb in ("publish", "pull"):
        code, result, err = cli("remote", verb, "dev", "--name", "app/db", vault=vault)
        assert code == 1 and result["counts"]["conflict"] == 1, err
        assert "changed on both sides" in result["items"][0]["reason"]
        assert "not synced (conflict" in err
    assert kv_tree(bao, prefix) == before_remote
    after = vault_state(vault)
    assert {k: after[k] for k in ("secrets", "versions", "remote_sync")} == \
        {k: before[k] for k in ("secrets", "versions", "remote_sync")}
    with open_vault(vault) as v:
        assert v.get_secret("app/db") == b"ours"
    code, status, err = cli("remote", "status", "dev", vault=vault)
    assert status["items"][0]["state"] == "conflict"
    code, result, err = cli("remote", "pull", "dev", "--name", "app/db", "--prefer", "remote",
                            vault=vault)
    assert code == 0 and result["counts"]["update"] == 1, err
    with open_vault(vault) as v:
        assert v.get_secret("app/db") == b"theirs"


def test_prefer_local_publishes_over_a_remote_change(solo: tuple[Path, str], bao: BaoServer
                                                     ) -> None:
    vault, prefix = solo
    assert cli("remote", "publish", "dev", "--name", "web/token", vault=vault)[0] == 0
    bao.cli("kv", "put", f"secret/{prefix}web/token", "value=theirs")
    with open_vault(vault) as v:
        v.update_secret("web/token", b"ours-wins")
    code, result, err = cli("remote", "publish", "dev", "--name", "web/token", "--prefer",
                            "local", vault=vault)
    assert code == 0 and result["counts"]["update"] == 1, err
    got = kv_get(bao, prefix + "web/token")
    assert got is not None and got["data"] == {"value": "ours-wins"}
    assert got["metadata"]["version"] == 3


def test_a_dry_run_changes_nothing_on_either_side(solo: tuple[Path, str], bao: BaoServer
                                                  ) -> None:
    vault, prefix = solo
    assert cli("remote", "publish", "dev", "--name", "app/db", vault=vault)[0] == 0
    bao.cli("kv", "put", f"secret/{prefix}app/db", "value=remote-side")
    before, before_remote = vault_state(vault), kv_tree(bao, prefix)
    code, result, err = cli("remote", "publish", "dev", "--all", "--dry-run", vault=vault)
    assert code == 0 and result["dry_run"] is True, err
    actions = {i["name"]: i["action"] for i in result["items"]}
    assert actions == {"app/db": "skip", "app/api": "create", "pki/root-key": "create",
                       "web/token": "create"}
    code, result, err = cli("remote", "pull", "dev", "--all", "--dry-run", vault=vault)
    assert code == 0 and {i["name"]: i["action"] for i in result["items"]}["app/db"] == "update"
    assert vault_state(vault) == before and kv_tree(bao, prefix) == before_remote


def test_audit_events_name_remote_path_and_versions_never_the_value(
        solo: tuple[Path, str], bao: BaoServer) -> None:
    vault, prefix = solo
    code, _result, err = cli("remote", "publish", "dev", "--all", vault=vault)
    assert code == 0, err
    bao.cli("kv", "put", f"secret/{prefix}web/token", "value=pulled-value-77")
    code, _pulled, err2 = cli("remote", "pull", "dev", "--all", vault=vault)
    assert code == 0, err2
    with open_vault(vault) as v:
        events = v.audit_events()
        with v._read() as conn:
            raw = b"".join(repr(tuple(r)).encode() for r in conn.execute("SELECT * FROM audit"))
    published = {e.target: e.details for e in events if e.action == "remote.publish"}
    assert set(published) == set(VALUES)
    assert published["app/db"]["path"] == f"secret/{prefix}app/db"
    assert (published["app/db"]["local_version"], published["app/db"]["remote_version"]) == (1, 1)
    assert all(d["remote"] == "dev" for d in published.values())
    for value in [*VALUES.values(), b"pulled-value-77"]:
        assert value not in raw and value not in (err + err2).encode()
        text = value.decode("latin-1")
        assert not any(text in json.dumps(e.details) for e in events)


def test_a_critical_secret_needs_an_approval_and_nothing_is_published_without(
        template: Path, tmp_path: Path, bao: BaoServer) -> None:
    vault = copy_vault(template, tmp_path / "v")
    add(vault, bao, "t-critical/")
    before = vault_state(vault)
    code, result, err = cli("remote", "publish", "dev", "--all", vault=vault)
    assert code == 6 and result["error"] == "AccessDenied", err
    assert "Publishing pki/root-key (1 secret(s)) is a two-person operation" in err
    assert "carol" in err
    assert kv_tree(bao, "t-critical/") == {}
    after = vault_state(vault)
    assert {k: after[k] for k in ("secrets", "versions", "remote_sync")} == \
        {k: before[k] for k in ("secrets", "versions", "remote_sync")}
    assert [a for a, _ in after["events"][len(before["events"]):]] == ["access.denied"]
    code, result, err = cli("--approver", "carol", "remote", "publish", "dev", "--all",
                            vault=vault, approver=CAROL)
    assert code == 0 and result["counts"]["create"] == 4, err
    assert kv_get(bao, "t-critical/pki/root-key")["data"] == {"value": "critical-root-7Qz"}
    # pulling a change into the Critical secret needs one too
    bao.cli("kv", "put", "secret/t-critical/pki/root-key", "value=new-root-value")
    code, result, err = cli("remote", "pull", "dev", "--all", vault=vault)
    assert code == 6 and "Pulling pki/root-key" in err
    code, result, err = cli("--approver", "carol", "remote", "pull", "dev", "--all",
                            vault=vault, approver=CAROL)
    assert code == 0 and result["counts"]["update"] == 1, err
    with open_vault(vault) as v:
        [pulled] = [e for e in v.audit_events() if e.action == "remote.pull"]
        assert pulled.details["approval"]["approver"] == "carol"


def test_approle_auth_works(solo_template: Path, tmp_path: Path, bao: BaoServer) -> None:
    bao.cli("auth", "enable", "approle", check=False)
    bao.cli("policy", "write", "sr-kv", "-", stdin=b'path "secret/*" '
            b'{ capabilities = ["create", "read", "update", "list"] }\n'
            b'path "sys/internal/ui/mounts/*" { capabilities = ["read"] }\n')
    bao.cli("write", "auth/approle/role/strongroom", "token_policies=sr-kv", "token_ttl=10m")
    role_id = json.loads(bao.cli("read", "-format=json", "auth/approle/role/strongroom/role-id"
                                 ).stdout)["data"]["role_id"]
    secret_id = json.loads(bao.cli("write", "-format=json", "-f",
                                   "auth/approle/role/strongroom/secret-id").stdout
                           )["data"]["secret_id"]
    vault = copy_vault(solo_template, tmp_path / "v")
    code, out, err = cli("remote", "add", "ar", "--url", bao.url, "--auth", "approle",
                         "--role-id", role_id, "--prefix", "t-approle/", vault=vault,
                         token=secret_id)
    assert code == 0 and out["credential_secret"] == "remote/ar/secret-id", err
    code, result, err = cli("remote", "publish", "ar", "--tag", "web", vault=vault)
    assert code == 0 and result["counts"]["create"] == 1, err
    assert kv_get(bao, "t-approle/web/token")["data"] == {"value": "web-token-x81"}
    code, out, err = cli("remote", "add", "ar2", "--url", bao.url, "--auth", "approle",
                         "--role-id", role_id, vault=vault, token="not-the-secret-id")
    assert code == 4 and "refused" in err and "not-the-secret-id" not in err


def test_without_hvac_the_remote_commands_say_so_in_one_sentence(
        solo: tuple[Path, str], tmp_path: Path) -> None:
    vault, _ = solo
    blocker = tmp_path / "nohvac"
    (blocker / "hvac").mkdir(parents=True)
    (blocker / "hvac" / "__init__.py").write_text("raise ImportError('hvac is not here')\n")
    env = {"PYTHONPATH": os.pathsep.join([str(blocker), *sys.path])}
    before = vault_state(vault)
    code, out, _err = cli("remote", "publish", "dev", "--all", vault=vault, env=env)
    assert code == 1 and out["error"] == "BackendUnavailable"
    assert "strongroom[openbao]" in out["message"] and out["message"].count(".") <= 2
    after = vault_state(vault)
    assert {k: after[k] for k in ("secrets", "versions", "remote_sync")} == \
        {k: before[k] for k in ("secrets", "versions", "remote_sync")}


def test_selection_is_required_and_names_are_checked(solo: tuple[Path, str]) -> None:
    vault, _ = solo
    code, _out, err = cli("remote", "publish", "dev", vault=vault)
    assert code == 2 and "--name N" in err
    code, _out, err = cli("remote", "publish", "dev", "--name", "nope", vault=vault)
    assert code == 1 and "no secret named 'nope'" in err
    code, _out, err = cli("remote", "show", "other", vault=vault)
    assert code == 1 and "no remote named 'other'" in err


def test_a_second_vault_pulls_what_the_first_published(solo: tuple[Path, str], bao: BaoServer,
                                                       tmp_path: Path) -> None:
    alice, prefix = solo
    assert cli("remote", "publish", "dev", "--all", vault=alice)[0] == 0
    bob = tmp_path / "bob"
    from strongroom.app.keyslots import normalize_passphrase
    from strongroom.app.vault import NewSecret, Vault

    from helpers.remotes import PASSPHRASE
    with Vault.create(bob, normalize_passphrase(PASSPHRASE), kdf_time_ms=10, actor="bob") as v:
        v.add_secret(NewSecret("app/db", b"bob's own db password"))
    add(bob, bao, prefix)
    code, result, err = cli("remote", "pull", "dev", "--all", "--dry-run", vault=bob)
    assert code == 0, err
    planned = {i["name"]: (i["action"], i["classification"]) for i in result["items"]}
    assert planned == {"app/db": ("conflict", "moderate"), "app/api": ("create", "moderate"),
                       "pki/root-key": ("create", "critical"), "web/token": ("create", "low")}
    code, result, err = cli("remote", "pull", "dev", "--all", vault=bob)
    assert code == 1 and result["counts"] == {"create": 3, "update": 0, "skip": 0,
                                              "conflict": 1, "invalid": 0}, err
    with open_vault(bob) as v:
        for name in ("app/api", "pki/root-key", "web/token"):
            assert v.get_secret(name) == VALUES[name]
        assert v.secret_info("pki/root-key").classification.value == "critical"
        assert v.get_secret("app/db") == b"bob's own db password"
    with open_vault(alice) as v:
        v.update_secret("web/token", b"rotated-by-alice")
    assert cli("remote", "publish", "dev", "--all", vault=alice)[0] == 0
    code, result, err = cli("remote", "pull", "dev", "--tag", "web", vault=bob)
    assert code == 0 and result["counts"]["update"] == 1, err
    with open_vault(bob) as v:
        assert v.get_secret("web/token") == b"rotated-by-alice"
