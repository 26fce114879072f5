-- An active integration is always connected: a disconnect sets
-- is_active = 0 in the same statement, and a reconnect clears
-- disconnected_at with is_active = 1. The dashboard's index walks and the
-- fleet counts rely on it, so the database refuses any write that breaks it.
CREATE TRIGGER integrations_active_means_connected_insert
BEFORE INSERT ON integrations
WHEN NEW.is_active != 0 AND NEW.disconnected_at IS NOT NULL BEGIN
    SELECT RAISE(ABORT, 'an active integration cannot be disconnected');
END;

CREATE TRIGGER integrations_active_means_connected_update
BEFORE UPDATE OF is_active, disconnected_at ON integrations
WHEN NEW.is_active != 0 AND NEW.disconnected_at IS NOT NULL BEGIN
    SELECT RAISE(ABORT, 'an active integration cannot be disconnected');
END;
