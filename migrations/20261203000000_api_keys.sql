-- The service API's keys (DESIGN.md, "The service API"). A key is shown once
-- when it is created; only its SHA-256 is kept (the key is 32 random bytes, so
-- a fast hash is enough: nothing to guess). `prefix` is the start of the key,
-- shown in lists so people can tell their keys apart.
CREATE TABLE api_keys (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    name           TEXT    NOT NULL,
    prefix         TEXT    NOT NULL,
    key_hash       BLOB    NOT NULL UNIQUE,
    scopes         TEXT    NOT NULL,
    created_at     INTEGER NOT NULL,
    created_by     TEXT    NOT NULL,
    last_used_at   INTEGER,
    revoked_at     INTEGER,
    -- What the key did: access tokens handed out, Jira calls proxied.
    token_handouts INTEGER NOT NULL DEFAULT 0,
    proxied_calls  INTEGER NOT NULL DEFAULT 0
);
