"""Roles: named sets of permissions, kept as data in the vault and shipped with these defaults.

A role says what kind of work an operator may do; a grant (grants.py) says on what. Secrets and
keys need both: the Custodian role and a grant on the secret, tag, level, key or token.
"""

from __future__ import annotations

from collections.abc import Mapping

# Role permissions (what kind of work), as stored in the vault's roles table.
OPERATORS_MANAGE = "operators.manage"
GRANTS_MANAGE = "grants.manage"
ROLES_MANAGE = "roles.manage"
POLICY_MANAGE = "policy.manage"
SECRETS_CUSTODY = "secrets.custody"
KEYS_CUSTODY = "keys.custody"
AUDIT_READ = "audit.read"
REPORTS_READ = "reports.read"
REVIEWS_MANAGE = "reviews.manage"
REVIEWS_DECIDE = "reviews.decide"
CEREMONY_RUN = "ceremony.run"
CEREMONY_OFFICER = "ceremony.officer"
CEREMONY_WITNESS = "ceremony.witness"

ADMINISTRATOR = "Administrator"
CUSTODIAN = "Custodian"
AUDITOR = "Auditor"
REVIEWER = "Reviewer"
CEREMONY_ADMINISTRATOR = "Ceremony Administrator"
CRYPTO_OFFICER = "Crypto Officer"
WITNESS = "Witness"

SHIPPED_ROLES: Mapping[str, tuple[str, ...]] = {
    ADMINISTRATOR: (OPERATORS_MANAGE, GRANTS_MANAGE, ROLES_MANAGE, POLICY_MANAGE,
                    REVIEWS_MANAGE, AUDIT_READ, REPORTS_READ),
    CUSTODIAN: (SECRETS_CUSTODY, KEYS_CUSTODY),
    AUDITOR: (AUDIT_READ, REPORTS_READ),
    REVIEWER: (REVIEWS_DECIDE, REPORTS_READ),
    CEREMONY_ADMINISTRATOR: (CEREMONY_RUN,),
    CRYPTO_OFFICER: (CEREMONY_OFFICER, KEYS_CUSTODY),
    WITNESS: (CEREMONY_WITNESS,),
}

# The first operator of a vault: everything a vault with one user could do before operators.
CREATOR_ROLES = (ADMINISTRATOR, CUSTODIAN, AUDITOR, REVIEWER)
