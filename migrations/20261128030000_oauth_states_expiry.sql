-- /oauth/start sweeps expired states on every call: an index keeps that sweep
-- from scanning the table when many flows are started (or a flood of them).
CREATE INDEX oauth_states_expiry ON oauth_states (expires_at);
