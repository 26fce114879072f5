-- The single-use tickets of a hop between host names (`/oauth/start?hop=`):
-- in the database, so the hop may land on another process behind a load
-- balancer. Only the SHA-256 of a ticket is kept.
CREATE TABLE hop_tickets (
    digest     BLOB    PRIMARY KEY,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE INDEX hop_tickets_expiry ON hop_tickets (expires_at);
