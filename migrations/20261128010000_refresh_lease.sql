-- A refresh's lock lives in the database, so that every process sharing this
-- file (a rolling restart, a second instance) agrees on who may send a
-- refresh token, and a refresh whose outcome is unknown survives a crash.

-- When the stored refresh token was first sent in an attempt whose outcome is
-- still unknown (set, durably, before the token request; cleared when the
-- provider's answer is stored). Atlassian may have rotated already: the sent
-- token works only 10 more minutes, so the scheduler retries such rows with
-- the same token inside that leeway, after a restart too.
ALTER TABLE integrations ADD COLUMN refresh_sent_at INTEGER;

-- The refresh lease: who holds it (a random id per process), until when
-- (renewed while the token request runs; a dead holder's lease simply
-- expires), and a fencing counter bumped at every claim. A write of the
-- refresh's outcome names the fence it claimed with, so a holder whose lease
-- expired and was taken over can no longer store anything.
ALTER TABLE integrations ADD COLUMN lease_owner TEXT;
ALTER TABLE integrations ADD COLUMN lease_expires_at INTEGER;
ALTER TABLE integrations ADD COLUMN lease_fence INTEGER NOT NULL DEFAULT 0;

-- The scheduler's third look: refreshes whose outcome is unknown.
CREATE INDEX integrations_unresolved ON integrations (refresh_sent_at)
    WHERE refresh_sent_at IS NOT NULL;
