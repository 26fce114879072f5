-- The token key's check value: one value sealed with the newest configured
-- key. Start-up refuses a key list that cannot open it (a wrong
-- TOKEN_ENCRYPTION_KEY), instead of letting every refresh fail later.
CREATE TABLE token_key_check (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    check_value BLOB    NOT NULL,
    written_at  INTEGER NOT NULL
);
