-- Accounts and sign-in (DESIGN.md, "Accounts and sign-in").

-- The people who may use the dashboard. Emails are stored lower-cased;
-- passwords as Argon2id PHC strings (password-auth), never in clear.
CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    email         TEXT    NOT NULL UNIQUE,
    password_hash TEXT    NOT NULL,
    role          TEXT    NOT NULL CHECK (role IN ('admin', 'operator', 'viewer')),
    created_at    INTEGER NOT NULL
);

-- Failed sign-ins, by subject (`email:<address>` or `addr:<client ip>`), for
-- the throttle: 5 within 15 minutes and the next attempt is refused.
CREATE TABLE sign_in_failures (
    subject   TEXT    NOT NULL,
    failed_at INTEGER NOT NULL
);
CREATE INDEX sign_in_failures_by_subject ON sign_in_failures (subject, failed_at);

-- The one-time link that creates the first administrator: only its SHA-256 is
-- kept, and only while no account exists (one row at most).
CREATE TABLE setup_token (
    only_row   INTEGER PRIMARY KEY CHECK (only_row = 1),
    token_hash TEXT    NOT NULL,
    created_at INTEGER NOT NULL
);

-- Who changed what among the accounts (added, role changed, removed,
-- password changed, first administrator created).
CREATE TABLE account_events (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    at      INTEGER NOT NULL,
    actor   TEXT    NOT NULL,
    action  TEXT    NOT NULL,
    subject TEXT    NOT NULL,
    message TEXT    NOT NULL
);
CREATE INDEX account_events_by_time ON account_events (at DESC, id DESC);

-- Who caused an integration's event: `user:<email>`, `scheduler`, or NULL for
-- events older than sign-in.
ALTER TABLE token_events ADD COLUMN actor TEXT;
