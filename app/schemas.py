"""The text of the schema migrations 2 to 8 (pure data; database.py runs them)."""

# Schema 2: endpoint compliance runs and results, accepted-risk exceptions, and the first time each
# pending security update was seen (so "critical within N days" can be judged across runs).
COMPLIANCE_SCHEMA = """
CREATE TABLE compliance_runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts TEXT NOT NULL,
    host TEXT NOT NULL,
    os TEXT NOT NULL,
    source TEXT NOT NULL,
    policy TEXT NOT NULL,
    counts TEXT NOT NULL,
    exit_code INTEGER NOT NULL
);
CREATE INDEX compliance_runs_ts ON compliance_runs (ts);
CREATE TABLE compliance_results (
    run_id INTEGER NOT NULL REFERENCES compliance_runs (id) ON DELETE CASCADE,
    check_id TEXT NOT NULL,
    status TEXT NOT NULL,
    result TEXT NOT NULL,
    PRIMARY KEY (run_id, check_id)
);
CREATE TABLE compliance_exceptions (
    check_id TEXT PRIMARY KEY,
    reason TEXT NOT NULL,
    until TEXT NOT NULL,
    created TEXT NOT NULL,
    actor TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE compliance_first_seen (
    key TEXT PRIMARY KEY,
    first_seen TEXT NOT NULL
) WITHOUT ROWID;
"""


# Schema 3: device keys whose blobs live in the vault (a TPM key's public and TPM-wrapped private
# parts; only that TPM can load them). Opaque to the vault; the backend defines the bytes.
DEVICE_KEYS_SCHEMA = """
CREATE TABLE device_keys (
    store TEXT NOT NULL,
    key_id TEXT NOT NULL,
    label TEXT NOT NULL,
    data BLOB NOT NULL,
    created TEXT NOT NULL,
    PRIMARY KEY (store, key_id)
) WITHOUT ROWID;
"""


# Schema 4: a vault shared by a team. Operators (their X25519 public keys; the private key is
# wrapped under each of their own keyslots in the header), roles as data, grants, each level's
# data key wrapped to each operator who holds it, the policy (two-person rule, device-health
# gate), approvals already spent, and access-review campaigns with their items.
ACCESS_SCHEMA = """
CREATE TABLE operators (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE COLLATE NOCASE,
    contact TEXT NOT NULL,
    roles TEXT NOT NULL,
    status TEXT NOT NULL,
    public_key BLOB NOT NULL,
    created TEXT NOT NULL,
    updated TEXT NOT NULL,
    pending_nonce BLOB,
    pending_wrapped BLOB
) WITHOUT ROWID;
CREATE TABLE roles (
    name TEXT PRIMARY KEY,
    permissions TEXT NOT NULL,
    shipped INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE grants (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    operator_id TEXT NOT NULL REFERENCES operators (id),
    scope_kind TEXT NOT NULL,
    scope TEXT NOT NULL,
    permission TEXT NOT NULL,
    grantor TEXT NOT NULL,
    created TEXT NOT NULL,
    justification TEXT NOT NULL,
    expires TEXT,
    revoked TEXT,
    revoked_by TEXT,
    revoke_reason TEXT
);
CREATE INDEX grants_operator ON grants (operator_id, revoked);
CREATE TABLE dek_wraps (
    level TEXT NOT NULL,
    generation INTEGER NOT NULL,
    operator_id TEXT NOT NULL,
    ephemeral BLOB NOT NULL,
    nonce BLOB NOT NULL,
    wrapped BLOB NOT NULL,
    PRIMARY KEY (level, generation, operator_id)
) WITHOUT ROWID;
CREATE TABLE policy (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE approvals_spent (digest TEXT PRIMARY KEY, ts TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE review_campaigns (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    scope TEXT NOT NULL,
    reviewers TEXT NOT NULL,
    created TEXT NOT NULL,
    created_by TEXT NOT NULL,
    starts TEXT NOT NULL,
    due TEXT NOT NULL,
    recurrence TEXT,
    default_decision TEXT NOT NULL,
    justification_required INTEGER NOT NULL,
    unused_days INTEGER NOT NULL,
    status TEXT NOT NULL,
    closed TEXT,
    closed_by TEXT,
    outcome TEXT
);
CREATE TABLE review_items (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    campaign_id INTEGER NOT NULL REFERENCES review_campaigns (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    grant_id INTEGER,
    subject TEXT NOT NULL,
    recommendation TEXT NOT NULL,
    reason TEXT NOT NULL,
    decision TEXT,
    decided_by TEXT,
    decided TEXT,
    justification TEXT,
    change TEXT,
    flags TEXT NOT NULL
);
CREATE INDEX review_items_campaign ON review_items (campaign_id);
"""


# Schema 5: key ceremonies (the run's state and its hash-chained records, so a ceremony resumes
# after a crash at its last confirmed step) and SLIP-39 share sets (a salted commitment per share,
# never a share) with their possession drills.
CEREMONY_SCHEMA = """
CREATE TABLE ceremonies (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    script TEXT NOT NULL,
    script_sha256 TEXT NOT NULL,
    roles TEXT NOT NULL,
    folder TEXT NOT NULL,
    status TEXT NOT NULL,
    started TEXT NOT NULL,
    finished TEXT,
    head TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE ceremony_records (
    ceremony_id TEXT NOT NULL REFERENCES ceremonies (id),
    seq INTEGER NOT NULL,
    record TEXT NOT NULL,
    hash TEXT NOT NULL,
    PRIMARY KEY (ceremony_id, seq)
) WITHOUT ROWID;
CREATE TABLE share_sets (
    id TEXT PRIMARY KEY,
    purpose TEXT NOT NULL,
    threshold INTEGER NOT NULL,
    count INTEGER NOT NULL,
    created TEXT NOT NULL,
    ceremony_id TEXT,
    slot_id TEXT,
    drill_days INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE share_holders (
    set_id TEXT NOT NULL REFERENCES share_sets (id),
    idx INTEGER NOT NULL,
    custodian TEXT NOT NULL,
    salt BLOB NOT NULL,
    commitment BLOB NOT NULL,
    last_drill TEXT,
    PRIMARY KEY (set_id, idx)
) WITHOUT ROWID;
"""


# Schema 6: a secret's kind (app/entries.py): its value is raw bytes, a TOTP seed, or an entry with
# fields (imports from KeePass and Bitwarden). Existing secrets are values.
KIND_SCHEMA = """
ALTER TABLE secrets ADD COLUMN kind TEXT NOT NULL DEFAULT 'value';
"""


# Schema 7: a smaller file (issue 17: 161 MB at 100k secrets, a third of it the trigram index).
# The index keeps which rows hold each trigram, not where (detail=none, no column sizes): a search
# ANDs its term's trigrams and checks the rows found (vault/secrets.py). Two indexes no query uses
# go, and a version's metadata stops repeating its level (a column) and empty dates, and is ''
# while it is the secret's metadata now (vault/version_meta.py).
COMPACT_SCHEMA = """
DROP TABLE secrets_fts;
-- the triggers on secrets (database.SCHEMA) name secrets_fts and keep serving the new one
CREATE VIRTUAL TABLE secrets_fts USING fts5 (
    name, tags, note, owner, content='secrets', content_rowid='id', tokenize='trigram',
    detail=none, columnsize=0
);
INSERT INTO secrets_fts (secrets_fts) VALUES ('rebuild');
DROP INDEX secrets_updated;
DROP INDEX versions_level;
UPDATE versions SET meta = json_remove(meta, '$.classification')
    WHERE CASE WHEN json_valid(meta) THEN json_type(meta, '$.classification') IS NOT NULL END;
UPDATE versions SET meta = json_remove(meta, '$.expires')
    WHERE CASE WHEN json_valid(meta) THEN json_type(meta, '$.expires') = 'null' END;
UPDATE versions SET meta = json_remove(meta, '$.rotation_due')
    WHERE CASE WHEN json_valid(meta) THEN json_type(meta, '$.rotation_due') = 'null' END;
UPDATE versions SET meta = '' WHERE json_valid(meta) AND EXISTS (
    SELECT 1 FROM secrets s WHERE s.id = versions.secret_id
    AND CASE WHEN json_valid(versions.meta) THEN
        json_extract(versions.meta, '$.kind') IS s.kind
        AND json_extract(versions.meta, '$.owner') IS s.owner
        AND json_extract(versions.meta, '$.note') IS s.note
        AND json_extract(versions.meta, '$.tags') IS json(s.tags)
        AND json_extract(versions.meta, '$.expires') IS s.expires
        AND json_extract(versions.meta, '$.rotation_due') IS s.rotation_due END
);
"""

# Schema 8: team scale. Remote engines (OpenBao / HashiCorp Vault) and what was last synced with
# each, and where the audit log is forwarded with the last event the receiver took. Credentials
# never sit here in clear: `credential_secret` names the vault secret that holds a remote's token
# or AppRole secret-id, so reading it is a reveal like any other (grants, two-person, audit).
REMOTE_SCHEMA = """
CREATE TABLE remotes (
    name TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    namespace TEXT NOT NULL,
    kv_mount TEXT NOT NULL,
    transit_mount TEXT NOT NULL,
    auth TEXT NOT NULL,
    settings TEXT NOT NULL,
    credential_secret TEXT NOT NULL,
    created TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE remote_sync (
    remote TEXT NOT NULL REFERENCES remotes (name) ON DELETE CASCADE,
    secret_id INTEGER NOT NULL REFERENCES secrets (id) ON DELETE CASCADE,
    path TEXT NOT NULL,
    local_version INTEGER NOT NULL,
    remote_version INTEGER NOT NULL,
    synced TEXT NOT NULL,
    PRIMARY KEY (remote, secret_id)
) WITHOUT ROWID;
"""
FORWARD_SCHEMA = """
-- app/forwarding/store.py: one row per named syslog destination. target is HOST:PORT, settings
-- the transport (tls/tcp), CA and client-certificate paths (never key material), timeout,
-- APP-NAME and facility as JSON; last_seq/last_hash the last event the receiver acknowledged
-- (0/NULL: none yet), moved only forward after a batch's clean close.
CREATE TABLE audit_forwards (
    name TEXT PRIMARY KEY,
    target TEXT NOT NULL,
    settings TEXT NOT NULL,
    last_seq INTEGER NOT NULL,
    last_hash BLOB,
    updated TEXT NOT NULL
) WITHOUT ROWID;
"""
