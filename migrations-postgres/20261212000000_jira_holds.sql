-- Jira's rate-limit holds, shared by every process on this database: a `429`
-- one process saw holds its scope (`app`, a tenant, a tenant's endpoint and
-- method, one issue) for all of them until `held_until` (engine clock, unix
-- seconds). `scope` is the scope's key (`app`, `tenant <cloudId>`,
-- `endpoint <cloudId> <METHOD> <path>`, `issue <cloudId> <issue>`).
CREATE TABLE jira_holds (
    scope TEXT PRIMARY KEY,
    reason TEXT NOT NULL,
    held_until BIGINT NOT NULL
);
