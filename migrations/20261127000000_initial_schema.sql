-- The dashboard's storage. Times are UNIX seconds (INTEGER) so that the
-- scheduler's comparisons are plain integer comparisons on an index.

-- One row per Atlassian account (one grant per app and account, per Atlassian's
-- rules): reconnecting or re-authenticating UPDATES this row, so `account_id`
-- is unique and the integration keeps its id and its event history.
CREATE TABLE integrations (
    id                      INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id              TEXT    NOT NULL UNIQUE,
    account_name            TEXT    NOT NULL,
    account_email           TEXT,
    -- Space-separated scopes as granted by the token endpoint.
    scopes                  TEXT    NOT NULL,
    -- AES-256-GCM: 12-byte random nonce || ciphertext, with the integration id
    -- as associated data. NULL once disconnected.
    access_token            BLOB,
    -- NULL when `offline_access` was not granted: such an integration cannot
    -- be refreshed and must be re-authenticated when its access token expires.
    refresh_token           BLOB,
    expires_at              INTEGER NOT NULL,
    -- Lifetime of the current access token (`expires_in`), for the progress bar.
    access_token_lifetime   INTEGER NOT NULL,
    -- The seed's contract: a refresh that cannot succeed sets is_active = 0,
    -- increments refresh_failures and stamps last_refresh_at.
    is_active               INTEGER NOT NULL DEFAULT 1,
    refresh_failures        INTEGER NOT NULL DEFAULT 0,
    last_refresh_at         INTEGER,
    last_error              TEXT,
    -- Transient failures (5xx, timeouts) in a row, and when the scheduler may
    -- retry: backoff that stays inside Atlassian's 10-minute rotation leeway.
    transient_failures      INTEGER NOT NULL DEFAULT 0,
    retry_after             INTEGER,
    -- When the current refresh token was issued: its 90-day inactivity expiry
    -- counts from here (every refresh rotates it and resets the count).
    refresh_token_issued_at INTEGER,
    -- Last consent: the refresh token family dies 365 days after it.
    consented_at            INTEGER NOT NULL,
    -- Set when the user disconnects: tokens are wiped, events are kept.
    disconnected_at         INTEGER,
    -- Lower-cased account name, email, site names and URLs, kept by the
    -- triggers below: the dashboard's search is one LIKE on one table.
    search_text             TEXT    NOT NULL DEFAULT '',
    created_at              INTEGER NOT NULL,
    updated_at              INTEGER NOT NULL
);

-- The scheduler's "due soon" query: active integrations ordered by expiry.
CREATE INDEX integrations_due_soon ON integrations (is_active, expires_at);
-- The scheduler's "idle refresh token" query (90-day inactivity expiry).
CREATE INDEX integrations_idle_refresh ON integrations (is_active, refresh_token_issued_at);

-- The Jira sites (cloud ids) a grant reaches, from accessible-resources.
CREATE TABLE integration_sites (
    integration_id INTEGER NOT NULL REFERENCES integrations (id) ON DELETE CASCADE,
    cloud_id       TEXT    NOT NULL,
    name           TEXT    NOT NULL,
    url            TEXT    NOT NULL,
    PRIMARY KEY (integration_id, cloud_id)
);

-- Keep integrations.search_text in step with the account and its sites.
CREATE TRIGGER search_text_after_insert AFTER INSERT ON integrations BEGIN
    UPDATE integrations SET search_text = lower(NEW.account_name || ' ' || coalesce(NEW.account_email, ''))
    WHERE id = NEW.id;
END;

CREATE TRIGGER search_text_after_account_update AFTER UPDATE OF account_name, account_email ON integrations BEGIN
    UPDATE integrations SET search_text = lower(NEW.account_name || ' ' || coalesce(NEW.account_email, '') || ' ' ||
        coalesce((SELECT group_concat(name || ' ' || url, ' ') FROM integration_sites WHERE integration_id = NEW.id), ''))
    WHERE id = NEW.id;
END;

CREATE TRIGGER search_text_after_site_insert AFTER INSERT ON integration_sites BEGIN
    UPDATE integrations SET search_text = search_text || ' ' || lower(NEW.name || ' ' || NEW.url)
    WHERE id = NEW.integration_id;
END;

CREATE TRIGGER search_text_after_site_delete AFTER DELETE ON integration_sites BEGIN
    UPDATE integrations SET search_text = lower(account_name || ' ' || coalesce(account_email, '') || ' ' ||
        coalesce((SELECT group_concat(name || ' ' || url, ' ') FROM integration_sites WHERE integration_id = OLD.integration_id), ''))
    WHERE id = OLD.integration_id;
END;

-- Single-use OAuth states, bound to one browser by a cookie, 10 minutes.
CREATE TABLE oauth_states (
    state           TEXT    PRIMARY KEY,
    -- Hash of the HttpOnly cookie value that the browser must present back.
    browser_binding TEXT    NOT NULL,
    pkce_verifier   TEXT    NOT NULL,
    -- Set when the flow re-authenticates an existing integration.
    integration_id  INTEGER REFERENCES integrations (id) ON DELETE CASCADE,
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    used_at         INTEGER
);

-- Every connect, re-auth, refresh attempt, deactivation and disconnect. Never a token.
CREATE TABLE token_events (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    integration_id INTEGER REFERENCES integrations (id) ON DELETE CASCADE,
    at             INTEGER NOT NULL,
    kind           TEXT    NOT NULL,
    outcome        TEXT    NOT NULL,
    http_status    INTEGER,
    error_code     TEXT,
    message        TEXT    NOT NULL
);

CREATE INDEX token_events_by_integration ON token_events (integration_id, at DESC, id DESC);
