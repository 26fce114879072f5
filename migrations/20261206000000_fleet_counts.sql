-- The fleet's size at a million integrations. The dashboard's counts by
-- status read one pass over every row (half a second at a million); a page's
-- total did too. Instead:
-- * `fleet_counts` holds how many connected integrations are active and how
--   many inactive, kept by the triggers below (a refresh, which leaves both
--   as they were, passes the triggers' WHEN and writes nothing);
-- * the statuses that depend on the clock are ranges of the
--   `(is_active, expires_at)` index, and the rare active integration without
--   a refresh token has a partial index of its own;
-- so each count walks at most one range of an index (engine::db::dashboard_page).
CREATE TABLE fleet_counts (
    is_active INTEGER PRIMARY KEY CHECK (is_active IN (0, 1)),
    connected INTEGER NOT NULL
);

INSERT INTO fleet_counts (is_active, connected)
    SELECT 1, count(*) FROM integrations WHERE disconnected_at IS NULL AND is_active != 0;
INSERT INTO fleet_counts (is_active, connected)
    SELECT 0, count(*) FROM integrations WHERE disconnected_at IS NULL AND is_active = 0;

CREATE TRIGGER fleet_counts_after_insert AFTER INSERT ON integrations
WHEN NEW.disconnected_at IS NULL BEGIN
    UPDATE fleet_counts SET connected = connected + 1 WHERE is_active = (NEW.is_active != 0);
END;

CREATE TRIGGER fleet_counts_after_delete AFTER DELETE ON integrations
WHEN OLD.disconnected_at IS NULL BEGIN
    UPDATE fleet_counts SET connected = connected - 1 WHERE is_active = (OLD.is_active != 0);
END;

CREATE TRIGGER fleet_counts_after_update AFTER UPDATE OF is_active, disconnected_at ON integrations
WHEN (OLD.is_active != 0) IS NOT (NEW.is_active != 0)
  OR (OLD.disconnected_at IS NULL) IS NOT (NEW.disconnected_at IS NULL) BEGIN
    UPDATE fleet_counts SET connected = connected - 1
        WHERE OLD.disconnected_at IS NULL AND is_active = (OLD.is_active != 0);
    UPDATE fleet_counts SET connected = connected + 1
        WHERE NEW.disconnected_at IS NULL AND is_active = (NEW.is_active != 0);
END;

CREATE INDEX integrations_without_refresh_token ON integrations (expires_at)
    WHERE is_active = 1 AND refresh_token IS NULL;

-- "Needs re-auth", oldest first: the connected inactive integrations in id
-- order (a table walk would cross every active row to find them).
CREATE INDEX integrations_inactive ON integrations (id)
    WHERE is_active = 0 AND disconnected_at IS NULL;
