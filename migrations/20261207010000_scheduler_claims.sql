-- The scheduler's claim on a due integration: which process listed it for
-- its tick (the refresh lease's owner id) and until when. Several processes
-- sharing the database each claim their own batch, so every due integration
-- is refreshed by exactly one of them, and a backlog spreads over all. A
-- claim lives a couple of minutes (a tick's length at most): a process that
-- dies holding one only delays those rows, well inside Atlassian's leeway.
ALTER TABLE integrations ADD COLUMN scheduled_by TEXT;
ALTER TABLE integrations ADD COLUMN scheduled_until INTEGER;
