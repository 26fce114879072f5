-- Connect links (DESIGN.md, "Connect links"): a company's own customers
-- connect their Jira through a link a service creates for them.
--
-- * integrations: who the integration belongs to in the calling product
--   (`end_user_id`, `end_user_name`: NULL for a connection made on the
--   dashboard) and its tags, a JSON object of strings (`{}` without any);
-- * integration_tags: the same tags, one row each, so a listing filtered by
--   tags (or an API key confined to them) is an index lookup;
-- * api_keys.tags: the tags a key is confined to (`{}`: the whole fleet);
-- * connect_sessions: the links. Only the SHA-256 of a link's token is kept;
--   a link works once (`opened_at` is set when it starts the flow), until
--   `expires_at`; `integration_id` is the integration it re-authenticates,
--   or the one it connected once it finished;
-- * oauth_states.connect_session_id: the flow a link started (no dashboard
--   session is needed at the callback then).
-- Times are UNIX seconds.

ALTER TABLE integrations ADD COLUMN end_user_id TEXT;
ALTER TABLE integrations ADD COLUMN end_user_name TEXT;
ALTER TABLE integrations ADD COLUMN tags TEXT NOT NULL DEFAULT '{}';
CREATE INDEX integrations_end_user ON integrations (end_user_id, id) WHERE end_user_id IS NOT NULL;

CREATE TABLE integration_tags (
    integration_id INTEGER NOT NULL REFERENCES integrations (id) ON DELETE CASCADE,
    key            TEXT    NOT NULL,
    value          TEXT    NOT NULL,
    PRIMARY KEY (integration_id, key)
);
CREATE INDEX integration_tags_by_value ON integration_tags (key, value, integration_id);

ALTER TABLE api_keys ADD COLUMN tags TEXT NOT NULL DEFAULT '{}';

CREATE TABLE connect_sessions (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    token_hash     BLOB    NOT NULL UNIQUE,
    -- NULL: a webhook's reconnectUrl for an integration made on the dashboard.
    end_user_id    TEXT,
    end_user_name  TEXT,
    tags           TEXT    NOT NULL DEFAULT '{}',
    integration_id INTEGER REFERENCES integrations (id) ON DELETE CASCADE,
    return_url     TEXT,
    -- The API key that made it (NULL: the product made it for a webhook's
    -- reconnectUrl), and the actor the account log names.
    api_key_id     INTEGER REFERENCES api_keys (id),
    created_by     TEXT    NOT NULL,
    created_at     INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL,
    opened_at      INTEGER,
    finished_at    INTEGER,
    -- connected | reauthenticated | declined | failed
    outcome        TEXT
);
CREATE INDEX connect_sessions_by_key ON connect_sessions (api_key_id, created_at);
CREATE INDEX connect_sessions_by_integration ON connect_sessions (integration_id, created_at);
CREATE INDEX connect_sessions_expiry ON connect_sessions (expires_at);

ALTER TABLE oauth_states ADD COLUMN connect_session_id INTEGER REFERENCES connect_sessions (id) ON DELETE CASCADE;

-- The search box finds an integration by its end user's id and name too:
-- the search_text triggers of 20261127000000_initial_schema, again, with
-- them (account name, email, end user id and name, then the sites).
DROP TRIGGER search_text_after_insert;
DROP TRIGGER search_text_after_account_update;
DROP TRIGGER search_text_after_site_delete;

CREATE TRIGGER search_text_after_insert AFTER INSERT ON integrations BEGIN
    UPDATE integrations SET search_text = lower(NEW.account_name || ' ' || coalesce(NEW.account_email, '')
        || coalesce(' ' || NEW.end_user_id, '') || coalesce(' ' || NEW.end_user_name, ''))
    WHERE id = NEW.id;
END;

CREATE TRIGGER search_text_after_account_update
AFTER UPDATE OF account_name, account_email, end_user_id, end_user_name ON integrations BEGIN
    UPDATE integrations SET search_text = lower(NEW.account_name || ' ' || coalesce(NEW.account_email, '')
        || coalesce(' ' || NEW.end_user_id, '') || coalesce(' ' || NEW.end_user_name, '') || ' ' ||
        coalesce((SELECT group_concat(name || ' ' || url, ' ') FROM integration_sites WHERE integration_id = NEW.id), ''))
    WHERE id = NEW.id;
END;

CREATE TRIGGER search_text_after_site_delete AFTER DELETE ON integration_sites BEGIN
    UPDATE integrations SET search_text = lower(account_name || ' ' || coalesce(account_email, '')
        || coalesce(' ' || end_user_id, '') || coalesce(' ' || end_user_name, '') || ' ' ||
        coalesce((SELECT group_concat(name || ' ' || url, ' ') FROM integration_sites WHERE integration_id = OLD.integration_id), ''))
    WHERE id = OLD.integration_id;
END;
