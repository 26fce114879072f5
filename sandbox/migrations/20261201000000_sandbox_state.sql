-- The built-in sandbox's state (crate `sandbox`, module `persist`), kept in the
-- dashboard's own database in sandbox mode so that a restart of `scripts/run`
-- keeps every demo integration alive, as the real Atlassian would: the
-- dashboard holds refresh and access tokens that the sandbox must still know.
-- Unused outside sandbox mode (the tables stay empty).
--
-- Ids are the sandbox's in-memory indices. The sandbox writes its changes in
-- the order it made them, each commit a prefix of that order, so parents are
-- always written before their children and the ids stay dense.
--
-- Not stored, on purpose: authorization codes (single-use, 10 minutes, in
-- flight for the seconds between the consent page and the callback: a restart
-- then fails that one callback, like an expired code), the per-grant request
-- counters of /control/stats and pending injected faults (test knobs that count
-- from the start of the process), and the /control/settings switches (the
-- start-up configuration, SANDBOX_ACCESS_TOKEN_SECS and
-- SANDBOX_WITHHOLD_REFRESH_TOKENS, decides them at every start).

-- One grant per (app, Atlassian account), as Atlassian's rules say.
CREATE TABLE sandbox_grants (
    id         INTEGER PRIMARY KEY,
    client_id  TEXT    NOT NULL,
    account_id TEXT    NOT NULL,
    UNIQUE (client_id, account_id)
);

-- The sites a grant reaches: consenting again for more sites adds rows, never
-- removes them. accessible-resources and the Jira `myself` check read these.
CREATE TABLE sandbox_grant_sites (
    grant_id INTEGER NOT NULL REFERENCES sandbox_grants (id),
    cloud_id TEXT    NOT NULL,
    PRIMARY KEY (grant_id, cloud_id)
) WITHOUT ROWID;

-- One consent flow's chain of rotating refresh tokens.
CREATE TABLE sandbox_families (
    id           INTEGER PRIMARY KEY,
    grant_id     INTEGER NOT NULL REFERENCES sandbox_grants (id),
    -- Space-separated scopes granted by this consent (what /me checks for
    -- read:me and what every token response repeats).
    scopes       TEXT    NOT NULL,
    -- The 365-day absolute expiry counts from here.
    consented_at INTEGER NOT NULL,
    -- 1 once revoked ("Connected apps", reuse outside the leeway, a replayed
    -- code): every token of the family then fails. Never goes back to 0.
    revoked      INTEGER NOT NULL DEFAULT 0
);

-- Every refresh token the sandbox issued, including rotated-away ones: reusing
-- one after the 10-minute leeway must still revoke its family. Keyed by the
-- SHA-256 of the token: the sandbox only has to recognise a token it is shown,
-- so this file holds no usable token. One indexed insert per refresh.
CREATE TABLE sandbox_refresh_tokens (
    token_hash    BLOB    PRIMARY KEY,
    family_id     INTEGER NOT NULL REFERENCES sandbox_families (id),
    -- The 90-day inactivity expiry counts from here.
    issued_at     INTEGER NOT NULL,
    -- When a newer token of the family replaced this one; the leeway counts
    -- from here. NULL for the family's current token (at most one per family).
    superseded_at INTEGER
) WITHOUT ROWID;

-- Access tokens, so that /me, accessible-resources and Jira's `myself` (the
-- dashboard's "Test connection") keep answering with a token issued before the
-- restart. Same hashing as above. Expired rows are deleted at start-up.
CREATE TABLE sandbox_access_tokens (
    token_hash BLOB    PRIMARY KEY,
    family_id  INTEGER NOT NULL REFERENCES sandbox_families (id),
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;

-- How far /control/clock/advance has moved the sandbox's clock: every time
-- above was taken on that clock, so it must not jump back at a restart.
-- A single row.
CREATE TABLE sandbox_clock (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    offset_secs INTEGER NOT NULL
);
