-- The built-in sandbox keeps its state in a SQLite file of its own
-- (`<database>-sandbox.db` beside this one; its tables are created by
-- sandbox/migrations), so the dashboard's schema no longer holds them.
--
-- Safe to drop: before this database is migrated, the server copies any rows
-- these tables hold into the sandbox's own file
-- (`sandbox::persist::carry_over`, called by the server's `open_store` on every
-- SQLite database, sandbox mode or not), so a demo's tokens survive the move.
-- Children first: foreign keys are on.
DROP TABLE sandbox_access_tokens;
DROP TABLE sandbox_refresh_tokens;
DROP TABLE sandbox_grant_sites;
DROP TABLE sandbox_families;
DROP TABLE sandbox_grants;
DROP TABLE sandbox_clock;
