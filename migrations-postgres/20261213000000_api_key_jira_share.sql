-- Each API key's share of Jira's rate-limit quota (issue 31), set by an
-- admin in Settings: `jira_weight` weighs its fair share while a pool paces
-- (1 by default: equal shares), `jira_points_per_hour` caps the points its
-- calls may spend in any hour (NULL: no cap).
ALTER TABLE api_keys ADD COLUMN jira_weight BIGINT NOT NULL DEFAULT 1;
ALTER TABLE api_keys ADD COLUMN jira_points_per_hour BIGINT;
