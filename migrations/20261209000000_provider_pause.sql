-- The provider's pause, shared by every process on this database: a `429`
-- (or the app's credentials rejected) seen by one process holds back the
-- scheduled refreshes of all of them until `paused_until` (engine clock,
-- unix seconds; 0: no pause). Atlassian limits the app, not a process.
CREATE TABLE provider_pause (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    paused_until INTEGER NOT NULL
);
INSERT INTO provider_pause (id, paused_until) VALUES (1, 0);
