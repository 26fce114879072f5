-- The throttle sweeps old failures on every sign-in (`DELETE ... WHERE
-- failed_at <= ?`): PostgreSQL's schema has had this index from its start
-- (found by engine/tests/schema_parity.rs).
CREATE INDEX sign_in_failures_by_time ON sign_in_failures (failed_at);
