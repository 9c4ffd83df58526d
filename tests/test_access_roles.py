"""Every shipped role against every kind of operation, through the app layer: what each role may
do with a grant covering the target, and that without one nobody reads a value."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from strongroom.app.access import access_changes, operator_admin, policy, reviews
from strongroom.app.access.grants import Scope
from strongroom.app.access.roles import SHIPPED_ROLES
from strongroom.app.errors import AccessDenied
from strongroom.app.keyslots import PassphraseUnlocker, normalize_passphrase
from strongroom.app.model import Classification
from strongroom.app.vault import NewSecret, Vault

ADMIN = "admin pass phrase 1"
USER = "role user pass phrase"

Operation = Callable[[Vault], object]
OPERATIONS: dict[str, Operation] = {
    "list secrets": lambda v: v.secret_info("s"),
    "reveal a value": lambda v: v.get_secret("s"),
    "change a secret": lambda v: v.update_secret("s", note="changed"),
    "read the audit log": lambda v: v.audit_events(limit=1),
    "add an operator": lambda v: operator_admin.add_operator(v, "zed", b"zed pass phrase 9",
                                                             roles=["Auditor"],
                                                             kdf_time_ms=10),
    "give a grant": lambda v: access_changes.add_grant(v, "admin", Scope.parse("tag:t"), "list",
                                                        justification="x"),
    "read review reports": lambda v: reviews.list_campaigns(v),
    "create a review": lambda v: reviews.create_campaign(v, "q", scope={"all": True},
                                                         reviewers=["admin"], due="2099-01-01"),
}
# With a manage grant on the secret's level: what each role may do.
ALLOWED = {
    "Administrator": {"list secrets", "read the audit log", "add an operator", "give a grant",
                      "read review reports", "create a review"},
    "Custodian": {"list secrets", "reveal a value", "change a secret"},
    "Auditor": {"list secrets", "read the audit log", "read review reports"},
    "Reviewer": {"list secrets", "read review reports"},
    "Ceremony Administrator": {"list secrets"},
    "Crypto Officer": {"list secrets"},
    "Witness": {"list secrets"},
}


@pytest.fixture(scope="module")
def vaults(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One vault per role: 'admin' (the creator) and a user holding only that role, with a
    manage grant on the level of the one secret."""
    out = {}
    for role in SHIPPED_ROLES:
        path = tmp_path_factory.mktemp("roles") / "v"
        with Vault.create(path, normalize_passphrase(ADMIN), kdf_time_ms=10,
                          actor="admin") as v:
            v.add_secret(NewSecret("s", b"value", Classification.High, tags=("t",)))
            # Roles alone here: the two-person rule is tested in test_access.py.
            access_changes.set_policy(v, policy.Policy(operations=()))
            operator_admin.add_operator(v, "user", USER.encode(), roles=[role], kdf_time_ms=10)
            access_changes.add_grant(v, "user", Scope.parse("level:high"), "manage",
                                     justification="role matrix")
        out[role] = path
    return out


def test_the_shipped_roles_are_the_ones_tested() -> None:
    assert set(ALLOWED) == set(SHIPPED_ROLES)


@pytest.mark.parametrize("role", sorted(ALLOWED))
@pytest.mark.parametrize("operation", sorted(OPERATIONS))
def test_what_each_role_may_do(vaults: dict[str, Path], role: str, operation: str) -> None:
    v = Vault.open(vaults[role])
    v.unlock(PassphraseUnlocker.from_text(USER), operator="user")
    with v:
        if operation in ALLOWED[role]:
            OPERATIONS[operation](v)
        else:
            with pytest.raises(AccessDenied) as e:
                OPERATIONS[operation](v)
            assert e.value.exit_code == 6 and "user" in str(e.value)


def test_without_a_grant_not_even_a_custodian_lists_or_reads(tmp_path: Path) -> None:
    path = tmp_path / "v"
    with Vault.create(path, normalize_passphrase(ADMIN), kdf_time_ms=10, actor="admin") as v:
        v.add_secret(NewSecret("s", b"value", Classification.Low))
        operator_admin.add_operator(v, "user", USER.encode(), roles=["Custodian"], kdf_time_ms=10)
    v = Vault.open(path)
    v.unlock(PassphraseUnlocker.from_text(USER))
    with v:
        assert v.list_secrets() == [] and v.count_secrets() == 0
        for operation in ("list secrets", "reveal a value", "change a secret"):
            with pytest.raises(AccessDenied):
                OPERATIONS[operation](v)
