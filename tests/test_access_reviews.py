"""Access reviews: campaigns, recommendations from the audit log, decisions, close (grants revoked,
reduced, extended; level keys rotated), reports in CSV and PDF, recurrence, and the CLI."""

from __future__ import annotations

import csv
import datetime as dt
import json
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from strongroom.app.access import access_changes, operator_admin, reviews
from strongroom.app.access.grants import Scope
from strongroom.app.access.review_report import write_report_csv, write_report_pdf
from strongroom.app.access.review_store import add_months
from strongroom.app.access.workstation_parsers import parse_etc_group
from strongroom.app.cli.reviews import parse_scope
from strongroom.app.errors import AccessDenied, NotFound, Refused, UsageError
from strongroom.app.keyslots import normalize_passphrase
from strongroom.app.model import Classification
from strongroom.app.vault import NewSecret, Vault

from conftest import PASSPHRASE, run_cli, unlocker

T0 = dt.datetime(2026, 1, 1, 9, 0, tzinfo=dt.UTC)
VALUE = b"prod-db-password"
PASSPHRASES = {"admin": PASSPHRASE, "alice": "alice passphrase", "bob": "bob passphrase",
               "carol": "carol passphrase", "rita": "rita passphrase", "otto": "otto passphrase"}
WORKSTATION = parse_etc_group("sudo:x:27:mallory\n")


class FakeClock:
    def __init__(self) -> None:
        self.t = T0

    def now(self) -> dt.datetime:
        return self.t

    def day(self, n: int) -> None:
        self.t = T0 + dt.timedelta(days=n)


@dataclass
class World:
    path: Path
    clock: FakeClock

    @contextmanager
    def login(self, name: str) -> Iterator[Vault]:
        v = Vault.open(self.path, clock=self.clock)
        v.unlock(unlocker(PASSPHRASES[name]))
        assert v.actor == name
        try:
            yield v
        finally:
            v.lock()

    def ids(self) -> dict[str, str]:
        with self.login("otto") as v, v._read() as conn:
            return {str(r[1]): str(r[0]) for r in conn.execute("SELECT id, name FROM operators")}


@pytest.fixture
def world(tmp_path: Path) -> World:
    """Day 0: admin makes the vault, db/prod (high, tag payments) and web/token (moderate), and
    gives alice and bob read on level high, carol read on tag payments, alice read on web/token
    until June. Day 1 bob reveals db/prod; day 95 alice does; day 96 carol is suspended. The
    clock then stands at day 100."""
    clock = FakeClock()
    path = tmp_path / "vault"
    v = Vault.create(path, normalize_passphrase(PASSPHRASE), kdf_time_ms=10, clock=clock,
                     actor="admin")
    v.add_secret(NewSecret("db/prod", VALUE, Classification.High, tags=("payments",)))
    v.add_secret(NewSecret("web/token", b"token", Classification.Moderate))
    for name, roles in (("alice", ["Custodian"]), ("bob", ["Custodian"]),
                        ("carol", ["Custodian"]), ("rita", ["Reviewer"]),
                        ("otto", ["Auditor"])):
        operator_admin.add_operator(v, name, PASSPHRASES[name].encode(), roles=roles,
                                    kdf_time_ms=10)
    for name, scope in (("alice", "level:high"), ("bob", "level:high"),
                        ("carol", "tag:payments")):
        access_changes.add_grant(v, name, Scope.parse(scope), "read", justification="on call")
    access_changes.add_grant(v, "alice", Scope.parse("secret:web/token"), "read",
                             justification="deploys", expires="2026-06-01T00:00:00.000000Z")
    v.lock()
    w = World(path, clock)
    clock.day(1)
    with w.login("bob") as bob:
        assert bob.get_secret("db/prod", purpose="reveal") == VALUE
    clock.day(95)
    with w.login("alice") as alice:
        assert alice.get_secret("db/prod", purpose="reveal") == VALUE
    clock.day(96)
    with w.login("admin") as admin:
        operator_admin.set_status(admin, "carol", "suspended")
    clock.day(100)
    return w


def by_operator(view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {i["subject"]["operator"]: i for i in view["items"] if i["kind"] == "grant"}


def review_events(v: Vault, action: str) -> list[Any]:
    return [e for e in v.audit_events() if e.action == action]


def table_rows(v: Vault, table: str) -> int:
    with v._read() as conn:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


# ----- recommendations --------------------------------------------------------------------------


def test_recommendations_come_from_the_audit_log(world: World) -> None:
    with world.login("admin") as admin:
        c = reviews.create_campaign(admin, "Q2 high", scope={"levels": ["high"]},
                                    reviewers=["rita"], due="2026-04-21")
        items = by_operator(reviews.show(admin, c.id))
        # the level scope takes in carol's tag grant (db/prod is high) and not web/token
        assert sorted(items) == ["admin", "alice", "bob", "carol"]
        assert {i["subject"]["scope"] for i in items.values()} == {"level:high", "tag:payments"}
        alice, bob, carol, mine = items["alice"], items["bob"], items["carol"], items["admin"]
        assert alice["recommendation"] == "keep"
        assert alice["subject"]["last_used"].startswith("2026-04-06")  # day 95
        assert "5 days ago" in alice["reason"]
        assert bob["recommendation"] == "revoke"
        assert bob["subject"]["last_used"].startswith("2026-01-02")
        assert "Unused for 99 days" in bob["reason"]
        assert carol["recommendation"] == "revoke"
        assert carol["subject"]["operator_status"] == "suspended"
        assert "suspended" in carol["reason"]
        # admin created the secrets but never read them: age counts from the grant
        assert mine["recommendation"] == "revoke" and "Never used" in mine["reason"]
        assert mine["subject"]["last_used"] is None and mine["subject"]["age_days"] == 100
        assert bob["subject"]["grantor"] == "admin" and bob["subject"]["permission"] == "read"

        looser = reviews.create_campaign(admin, "Q2 high, 120 days", scope={"levels": ["high"]},
                                         reviewers=["rita"], due="2026-04-21", unused_days=120)
        items = by_operator(reviews.show(admin, looser.id))
        assert items["bob"]["recommendation"] == "keep"
        assert items["admin"]["recommendation"] == "keep"
        assert items["carol"]["recommendation"] == "revoke"  # suspended, whatever the age

        only = reviews.create_campaign(admin, "alice", scope={"operators": ["alice"]},
                                       reviewers=["rita"], due="2026-04-21")
        scopes = sorted(i["subject"]["scope"] for i in reviews.show(admin, only.id)["items"])
        assert scopes == ["level:high", "secret:web/token"]
        tagged = reviews.create_campaign(admin, "payments", scope={"tags": ["payments"]},
                                         reviewers=["rita"], due="2026-04-21")
        assert [i["subject"]["operator"] for i in reviews.show(admin, tagged.id)["items"]] \
            == ["carol"]


def test_a_campaign_is_refused_with_nothing_written(world: World) -> None:
    with world.login("admin") as admin:
        before = len(admin.audit_events(limit=10**6))
        attempts = [
            (UsageError, {"reviewers": []}),
            (NotFound, {"reviewers": ["nobody"]}),
            (Refused, {"reviewers": ["alice"]}),  # no Reviewer role
            (Refused, {"reviewers": ["rita", "carol"]}),  # carol has no role and is suspended
            (UsageError, {"reviewers": ["rita"], "due": "2026-04-01"}),  # before the start
            (UsageError, {"reviewers": ["rita"], "starts": "2026-05-01"}),
            (UsageError, {"reviewers": ["rita"], "scope": {"levels": ["nope"]}}),
            (UsageError, {"reviewers": ["rita"], "scope": {"colours": ["red"]}}),
            (NotFound, {"reviewers": ["rita"], "scope": {"operators": ["zed"]}}),
            (UsageError, {"reviewers": ["rita"], "workstation_items": WORKSTATION}),
        ]
        for error, overrides in attempts:
            kwargs: dict[str, Any] = {"scope": {"all": True}, "due": "2026-04-20", **overrides}
            with pytest.raises(error):
                reviews.create_campaign(admin, "refused", **kwargs)
        assert table_rows(admin, "review_campaigns") == 0
        assert table_rows(admin, "review_items") == 0
        assert len(admin.audit_events(limit=10**6)) == before
    with world.login("rita") as rita, pytest.raises(AccessDenied):
        reviews.create_campaign(rita, "mine", scope={"all": True}, reviewers=["rita"],
                                due="2026-04-20")
    with world.login("otto") as otto:
        assert table_rows(otto, "review_campaigns") == 0
        assert review_events(otto, "access.denied")[0].actor == "rita"


# ----- the whole life of a campaign -------------------------------------------------------------


def test_lifecycle_decisions_close_rotation_and_report(world: World, tmp_path: Path) -> None:
    ids = world.ids()
    with world.login("admin") as admin:
        c = reviews.create_campaign(
            admin, "Q2 high", scope={"levels": ["high"], "workstation": True},
            reviewers=["rita", "admin"], due="2026-04-20", workstation_items=WORKSTATION)
        view = reviews.show(admin, c.id)
        assert view["due"] == "2026-04-20" and view["overdue"] is False
        assert view["progress"] == {"decided": 0, "total": 5}
        assert not any(i["overdue"] for i in view["items"])
        items = by_operator(view)
        [machine] = [i for i in view["items"] if i["kind"] == "workstation"]
        assert machine["subject"]["principal"] == "mallory"
        assert machine["recommendation"] == "keep" and machine["reason"] == "review manually"
        assert machine["subject"]["remediation"] == WORKSTATION[0].remediation
        # no self-review: admin holds the first level:high grant
        with pytest.raises(AccessDenied, match="own grant"):
            reviews.decide(admin, c.id, items["admin"]["id"], "keep", justification="mine")
        assert review_events(admin, "access.denied")[0].details["rule"] == "no self-review"
        # admin gave bob his grant: allowed, flagged
        decided = reviews.decide(admin, c.id, items["bob"]["id"], "revoke",
                                 justification="moved to sales")
        assert decided.flags == ("reviewer-is-grantor",) and decided.decided_by == "admin"
    with world.login("rita") as rita:
        with pytest.raises(UsageError, match="justification"):
            reviews.decide(rita, c.id, items["admin"]["id"], "keep")
        with pytest.raises(UsageError):
            reviews.decide(rita, c.id, machine["id"], "reduce", permission="list",
                           justification="x")
        reviews.decide(rita, c.id, items["admin"]["id"], "revoke", justification="first")
        changed = reviews.decide(rita, c.id, items["admin"]["id"], "keep",
                                 justification="runs the vault")
        assert changed.decision == "keep" and changed.flags == ()
        reviews.decide(rita, c.id, machine["id"], "revoke", justification="not an admin")
    with world.login("alice") as alice, pytest.raises(AccessDenied):
        reviews.decide(alice, c.id, items["alice"]["id"], "keep", justification="me")
    world.clock.day(105)
    with world.login("bob") as bob:  # decisions are recorded only: bob still reads
        assert bob.get_secret("db/prod") == VALUE

    world.clock.day(115)  # after the due date
    with world.login("otto") as otto:
        view = reviews.show(otto, c.id)
        assert view["overdue"] is True and view["progress"] == {"decided": 3, "total": 5}
        late = {i["id"] for i in view["items"] if i["overdue"]}
        assert late == {items["alice"]["id"], items["carol"]["id"]}
        changes = [(e.actor, e.details["decision"], e.details["previous"])
                   for e in review_events(otto, "review.decide")
                   if e.details["item"] == items["admin"]["id"]]
        assert changes == [("rita", "keep", "revoke"), ("rita", "revoke", None)]
        with otto._read() as conn:
            generation = conn.execute(
                "SELECT max(generation) FROM deks WHERE level = 'high'").fetchone()[0]
    with world.login("rita") as rita, pytest.raises(AccessDenied):
        reviews.close(rita, c.id)
    with world.login("admin") as admin:
        outcome = reviews.close(admin, c.id)
        assert outcome["decisions"] == {"keep": 2, "revoke": 3, "reduce": 0, "extend": 0}
        assert outcome["defaulted"] == 2 and outcome["overdue"] == 2
        assert outcome["applied"] == 2  # bob and carol; the workstation is never changed
        assert outcome["levels_rotated"] == ["high"] and outcome["rotation_pending"] == []
        assert outcome["remediation"][0]["command"] == WORKSTATION[0].remediation
        assert outcome["next_campaign"] is None
        view = reviews.show(admin, c.id)
        assert view["status"] == "closed" and view["overdue"] is False
        items = by_operator(view)
        assert (items["alice"]["decision"], items["alice"]["decided_by"]) == ("keep", "default")
        assert items["alice"]["flags"] == ["overdue"]
        assert (items["carol"]["decision"], items["carol"]["decided_by"]) == ("revoke",
                                                                              "default")
        assert items["bob"]["change"]["applied"] is True
        assert items["bob"]["change"]["keys"]["levels_rotated"] == ["high"]
        assert items["admin"]["change"] is None
        grants = {g.operator_id: g for g, _ in access_changes.list_grants(
            admin, include_revoked=True) if g.scope == Scope("level", "high")}
        assert grants[ids["bob"]].revoked is not None
        assert grants[ids["bob"]].revoke_reason == "access review Q2 high"
        assert grants[ids["bob"]].revoked_by == "admin"
        assert grants[ids["alice"]].revoked is None
        with admin._read() as conn:
            now_gen = conn.execute(
                "SELECT max(generation) FROM deks WHERE level = 'high'").fetchone()[0]
            holders = {str(r[0]) for r in conn.execute(
                "SELECT operator_id FROM dek_wraps WHERE level = 'high' AND generation = ?",
                (now_gen,))}
            bob_wraps = conn.execute("SELECT count(*) FROM dek_wraps WHERE level = 'high' AND "
                                     "operator_id = ?", (ids["bob"],)).fetchone()[0]
        assert now_gen == generation + 1
        assert ids["bob"] not in holders and ids["carol"] not in holders and bob_wraps == 0
        assert {ids["alice"], ids["admin"]} <= holders
        [closed] = review_events(admin, "review.close")
        assert closed.details["decisions"]["revoke"] == 3 and closed.details["past_due"] is True
        assert closed.details["overdue"] == 2 and closed.details["levels_rotated"] == ["high"]
        revoked = [e for e in review_events(admin, "grant.revoke")
                   if e.details.get("review") == c.id]
        assert {e.target for e in revoked} == {"bob:level:high", "carol:tag:payments"}
        assert review_events(admin, "dek.rotate")[0].details["generation"] == now_gen
        with pytest.raises(Refused):
            reviews.close(admin, c.id)
        for e in admin.audit_events(limit=10**6):
            assert VALUE.decode() not in json.dumps(e.details)
    with world.login("bob") as bob:
        with pytest.raises(AccessDenied):
            bob.get_secret("db/prod")
        with bob._read(), pytest.raises(AccessDenied):
            bob._deks.get("high", now_gen)  # no wrap of the new key for bob
    with world.login("alice") as alice:
        assert alice.get_secret("db/prod") == VALUE  # re-encrypted under the new key
    with world.login("rita") as rita:
        with pytest.raises(Refused):
            reviews.decide(rita, c.id, items["alice"]["id"], "revoke", justification="late")
        report = reviews.report(rita, c.id)  # a Reviewer may read reports
    with world.login("alice") as alice, pytest.raises(AccessDenied):
        reviews.report(alice, c.id)
    with world.login("otto") as otto:
        report = reviews.report(otto, c.id)  # so may an Auditor
    check_report(report, items, tmp_path)


def check_report(report: dict[str, Any], items: dict[str, Any], tmp_path: Path) -> None:
    assert report["reviewers"] == ["rita", "admin"] and report["scope"]["levels"] == ["high"]
    assert sorted(report["overdue_items"]) == sorted([items["alice"]["id"],
                                                      items["carol"]["id"]])
    assert report["remediation"][0]["principal"] == "mallory"
    write_report_csv(report, tmp_path / "review.csv")
    with open(tmp_path / "review.csv", newline="", encoding="utf-8") as f:
        rows = {r["who"]: r for r in csv.DictReader(f)}
    assert set(rows) == {"admin", "alice", "bob", "carol", "mallory"}
    bob = rows["bob"]
    assert (bob["decision"], bob["decided_by"], bob["flags"]) == ("revoke", "admin",
                                                                 "reviewer-is-grantor")
    assert bob["justification"] == "moved to sales" and bob["overdue"] == "no"
    assert json.loads(bob["change"])["keys"]["levels_rotated"] == ["high"]
    assert bob["recommendation"] == "revoke" and bob["last_used"].startswith("2026-01-02")
    assert (rows["alice"]["decided_by"], rows["alice"]["overdue"]) == ("default", "yes")
    assert rows["mallory"]["remediation"] == "sudo gpasswd -d mallory sudo"
    assert rows["carol"]["campaign_status"] == "closed"

    write_report_pdf(report, tmp_path / "review.pdf")
    data = (tmp_path / "review.pdf").read_bytes()
    assert data.startswith(b"%PDF-")
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    text = subprocess.run(["pdftotext", "-layout", str(tmp_path / "review.pdf"), "-"],
                          capture_output=True, check=True, text=True).stdout
    flat = " ".join(text.split())
    for words in ("Access review", "Q2 high", "rita, admin", "moved to sales",
                  "reviewer-is-grantor", "Overdue items", "sudo gpasswd -d mallory sudo",
                  "Level keys rotated", "mallory"):
        assert words in flat, words


# ----- reduce, extend, a grant revoked meanwhile, recurrence -----------------------------------


def test_reduce_and_extend_are_applied_at_close(world: World) -> None:
    with world.login("admin") as admin:
        c = reviews.create_campaign(admin, "alice", scope={"operators": ["alice"]},
                                    reviewers=["rita"], due="2026-04-30",
                                    justification_required=False)
    with world.login("rita") as rita:
        items = {i["subject"]["scope"]: i["id"] for i in reviews.show(rita, c.id)["items"]}
        level, token = items["level:high"], items["secret:web/token"]
        for bad in ({"decision": "reduce"}, {"decision": "reduce", "permission": "manage"},
                    {"decision": "reduce", "permission": "read"},
                    {"decision": "extend"}, {"decision": "extend", "expires": "2026-05-01"},
                    {"decision": "keep", "permission": "list"}):
            target = token if bad["decision"] == "extend" else level
            with pytest.raises(UsageError):
                reviews.decide(rita, c.id, target, **bad)
        with pytest.raises(UsageError, match="does not expire"):
            reviews.decide(rita, c.id, level, "extend", expires="2026-12-31")
        reviews.decide(rita, c.id, level, "reduce", permission="list")
        reviews.decide(rita, c.id, token, "extend", expires=dt.date(2026, 12, 31))
    world.clock.day(102)
    with world.login("admin") as admin:
        outcome = reviews.close(admin, c.id)
        assert outcome["decisions"]["reduce"] == 1 and outcome["decisions"]["extend"] == 1
        assert outcome["levels_rotated"] == ["high"] and outcome["applied"] == 2
        grants = {str(g.scope): g for g, name in access_changes.list_grants(admin)
                  if name == "alice"}
        assert grants["level:high"].permission == "list"
        assert grants["secret:web/token"].expires == "2026-12-31T23:59:59.999999Z"
    with world.login("alice") as alice:
        with pytest.raises(AccessDenied):
            alice.get_secret("db/prod")
        assert alice.get_secret("web/token") == b"token"


def test_recurrence_defaults_and_a_grant_revoked_meanwhile(world: World) -> None:
    with world.login("admin") as admin:
        c = reviews.create_campaign(admin, "quarterly", scope={"levels": ["high"]},
                                    reviewers=["rita"], due="2026-04-20",
                                    recurrence="quarterly", default_decision="keep")
        items = by_operator(reviews.show(admin, c.id))
    with world.login("rita") as rita:
        reviews.decide(rita, c.id, items["bob"]["id"], "revoke", justification="unused")
    with world.login("admin") as admin:
        bob_grant = items["bob"]["grant"]
        access_changes.revoke_grant(admin, bob_grant, reason="left")
        outcome = reviews.close(admin, c.id)  # day 100: before the due date
        assert outcome["already_revoked"] == 1 and outcome["applied"] == 0
        assert outcome["defaulted"] == 3 and outcome["overdue"] == 0
        view = reviews.show(admin, c.id)
        done = by_operator(view)
        assert done["bob"]["flags"] == ["already-revoked"]
        assert done["bob"]["change"]["applied"] is False
        assert "already revoked" in done["bob"]["change"]["note"]
        # the default is keep, whatever the recommendation (carol's is revoke)
        assert (done["carol"]["decision"], done["carol"]["flags"]) == ("keep", [])
        nxt = reviews.show(admin, outcome["next_campaign"])
        assert (nxt["starts"], nxt["due"], nxt["status"]) == ("2026-04-20", "2026-07-20",
                                                              "open")
        assert nxt["scope"] == view["scope"] and nxt["reviewers"] == ["rita"]
        assert (nxt["default_decision"], nxt["recurrence"]) == ("keep", "quarterly")
        assert sorted(by_operator(nxt)) == ["admin", "alice", "carol"]  # bob's is gone
        assert [c["status"] for c in reviews.list_campaigns(admin)] == ["closed", "open"]
        assert review_events(admin, "review.create")[0].details["follows"] == c.id


def test_add_months_keeps_to_the_month() -> None:
    assert add_months(dt.date(2026, 1, 31), 1) == dt.date(2026, 2, 28)
    assert add_months(dt.date(2028, 1, 31), 1) == dt.date(2028, 2, 29)
    assert add_months(dt.date(2026, 11, 30), 3) == dt.date(2027, 2, 28)
    assert add_months(dt.date(2028, 2, 29), 12) == dt.date(2029, 2, 28)
    assert add_months(dt.date(2026, 4, 20), 3) == dt.date(2026, 7, 20)


# ----- the command line ---------------------------------------------------------------------------


def test_parse_scope() -> None:
    assert parse_scope(None) == {"all": True}
    assert parse_scope(["level:HIGH", "tag:pay", "operator:bob", "workstation"]) == {
        "levels": ["high"], "tags": ["pay"], "operators": ["bob"], "workstation": True}
    for bad in ("level:", "colour:red", "high"):
        with pytest.raises(UsageError):
            parse_scope([bad])


def test_cli_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "vault"
    v = Vault.create(path, normalize_passphrase(PASSPHRASE), kdf_time_ms=10, actor="admin")
    v.add_secret(NewSecret("db/prod", VALUE, Classification.High))
    operator_admin.add_operator(v, "bob", b"bob passphrase", roles=["Custodian"],
                                kdf_time_ms=10)
    access_changes.add_grant(v, "bob", Scope.parse("level:high"), "read", justification="x")
    v.lock()
    due = (dt.date.today() + dt.timedelta(days=30)).isoformat()

    def cli(*args: str) -> tuple[int, Any]:
        r = run_cli("review", *args, "--json", vault=path, passphrases=[PASSPHRASE])
        assert len(r.err.strip().splitlines()) <= 1, r.err
        return r.code, json.loads(r.text) if r.text.strip() else None

    code, out = cli("create", "Q2", "--due", due)  # no reviewer: refused before the unlock
    assert code == 2 and out["error"] == "UsageError"
    code, made = cli("create", "Q2", "--reviewer", "admin", "--due", due, "--scope", "level:high")
    assert code == 0, made
    cid = str(made["id"])
    items = by_operator(made)
    assert sorted(items) == ["admin", "bob"] and made["progress"] == {"decided": 0, "total": 2}
    code, listed = cli("list")
    assert code == 0 and [c["id"] for c in listed] == [made["id"]]
    code, out = cli("decide", cid, str(items["admin"]["id"]), "keep", "--justification", "me")
    assert code == 6 and out["error"] == "AccessDenied" and out["exit_code"] == 6
    code, out = cli("decide", cid, str(items["bob"]["id"]), "revoke")
    assert code == 2 and out["error"] == "UsageError"
    code, out = cli("decide", cid, str(items["bob"]["id"]), "revoke", "--justification",
                    "left the team")
    assert code == 0 and out["decision"] == "revoke" and out["flags"] == ["reviewer-is-grantor"]
    code, shown = cli("show", cid)
    assert code == 0 and shown["progress"] == {"decided": 1, "total": 2}
    code, closed = cli("close", cid)
    assert code == 0, closed
    assert closed["decisions"]["revoke"] == 1 and closed["decisions"]["keep"] == 1
    assert closed["levels_rotated"] == ["high"] and closed["defaulted"] == 1
    code, out = cli("decide", cid, str(items["bob"]["id"]), "keep", "--justification", "x")
    assert code == 1 and out["error"] == "Refused"
    code, out = cli("report", cid, "--csv", str(tmp_path / "r.csv"))
    assert code == 0 and out["items"] == 2
    with open(tmp_path / "r.csv", newline="", encoding="utf-8") as f:
        rows = {r["who"]: r for r in csv.DictReader(f)}
    assert rows["bob"]["decision"] == "revoke" and rows["admin"]["decided_by"] == "default"
    code, out = cli("report", cid, "--pdf", str(tmp_path / "r.pdf"))
    assert code == 0 and (tmp_path / "r.pdf").read_bytes().startswith(b"%PDF-")
    code, out = cli("show", "999")
    assert code == 1 and out["error"] == "NotFound"
    r = run_cli("review", "show", cid, vault=path, passphrases=[PASSPHRASE])
    assert r.code == 0 and "reviewer-is-grantor" in r.text and "closed" in r.text
