-- The changes each server process publishes, for the others sharing this
-- database: every process follows the feed and tells its own open
-- dashboards about the changes another process made. `origin` is the
-- publishing process (its refresh lease owner id). Only the newest rows are
-- kept; a follower that falls further behind tells its dashboards to re-read.
CREATE TABLE integration_changes (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    integration_id INTEGER NOT NULL,
    origin         TEXT    NOT NULL
);
