-- Webhooks: endpoints, an outbox written in the same transaction as the change
-- it reports, one delivery per (message, endpoint), and every attempt.

-- What the notifications need to know about an integration's past:
-- when its current streak of failed refreshes began (NULL: not failing),
-- whether that streak was announced (integration.refresh_failing, once per
-- streak), and the smallest "days before the consent ends" already announced
-- for the current consent (integration.consent_expiring at 30, 7 and 1 days).
ALTER TABLE integrations ADD COLUMN failing_since INTEGER;
ALTER TABLE integrations ADD COLUMN failing_announced INTEGER NOT NULL DEFAULT 0;
ALTER TABLE integrations ADD COLUMN consent_warned_days INTEGER;

CREATE TABLE webhook_endpoints (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    url              TEXT    NOT NULL,
    -- The signing secret (whsec_...), sealed by the token vault.
    secret           BLOB    NOT NULL,
    -- Space-separated event types; empty means every type.
    event_types      TEXT    NOT NULL DEFAULT '',
    enabled          INTEGER NOT NULL DEFAULT 1,
    -- The endpoint of WEBHOOK_URL / WEBHOOK_SECRET (at most one; kept in step
    -- with the environment at every start).
    from_environment INTEGER NOT NULL DEFAULT 0,
    -- Why it was disabled by the server (failing for a day); NULL otherwise.
    disabled_reason  TEXT,
    -- When its current run of failed attempts began; NULL after a success.
    failing_since    INTEGER,
    created_by       TEXT,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);
CREATE UNIQUE INDEX webhook_endpoints_environment ON webhook_endpoints (from_environment)
    WHERE from_environment = 1;

-- One event, signed and sent as is (its id is the webhook-id header).
CREATE TABLE webhook_messages (
    id             TEXT    PRIMARY KEY,
    type           TEXT    NOT NULL,
    integration_id INTEGER,
    created_at     INTEGER NOT NULL,
    body           TEXT    NOT NULL
);

CREATE TABLE webhook_deliveries (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id      TEXT    NOT NULL REFERENCES webhook_messages (id) ON DELETE CASCADE,
    endpoint_id     INTEGER NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    -- pending, delivered, failed (gave up after 24 hours or endpoint disabled)
    state           TEXT    NOT NULL DEFAULT 'pending',
    attempts        INTEGER NOT NULL DEFAULT 0,
    -- When the next attempt may start. A worker that takes a delivery moves
    -- this past its attempt's timeout first: a worker that dies mid-attempt
    -- leaves it to be retried, never lost.
    next_attempt_at INTEGER NOT NULL,
    give_up_at      INTEGER NOT NULL,
    last_status     INTEGER,
    last_error      TEXT,
    delivered_at    INTEGER,
    created_at      INTEGER NOT NULL,
    UNIQUE (message_id, endpoint_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_by_endpoint ON webhook_deliveries (endpoint_id, id DESC);

CREATE TABLE webhook_attempts (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id INTEGER NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    at          INTEGER NOT NULL,
    -- The receiver's HTTP status; NULL when none came (refused, timed out).
    status      INTEGER,
    duration_ms INTEGER NOT NULL,
    error       TEXT
);
CREATE INDEX webhook_attempts_by_delivery ON webhook_attempts (delivery_id, id DESC);

-- Administrators' webhook settings (one row).
CREATE TABLE webhook_settings (
    id                      INTEGER PRIMARY KEY CHECK (id = 1),
    -- Whether endpoints added in the UI may be on loopback or private addresses.
    allow_private_addresses INTEGER NOT NULL DEFAULT 0
);
INSERT INTO webhook_settings (id) VALUES (1);

-- The scheduler's consent-warning query: connected integrations by consent date.
CREATE INDEX integrations_consent ON integrations (consented_at)
    WHERE is_active = 1 AND disconnected_at IS NULL;
