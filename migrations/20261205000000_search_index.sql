-- Substring search on an index. The dashboard's search box finds a piece of
-- a site name or URL, an account name or email, anywhere in them: a LIKE
-- '%text%' reads every row. FTS5's trigram tokenizer indexes every run of
-- three characters, so a search of three or more characters is an index
-- lookup (shorter ones still use LIKE). The index keeps its own copy of
-- `integrations.search_text`, rowid = the integration's id, kept in step by
-- the triggers below; each reads the row as it stands, so the order in which
-- SQLite fires them beside the `search_text` triggers does not matter.
CREATE VIRTUAL TABLE integrations_search USING fts5(search_text, tokenize = 'trigram');

INSERT INTO integrations_search (rowid, search_text) SELECT id, search_text FROM integrations;

CREATE TRIGGER integrations_search_after_insert AFTER INSERT ON integrations BEGIN
    DELETE FROM integrations_search WHERE rowid = NEW.id;
    INSERT INTO integrations_search (rowid, search_text)
        SELECT id, search_text FROM integrations WHERE id = NEW.id;
END;

CREATE TRIGGER integrations_search_after_update AFTER UPDATE OF search_text ON integrations BEGIN
    DELETE FROM integrations_search WHERE rowid = NEW.id;
    INSERT INTO integrations_search (rowid, search_text)
        SELECT id, search_text FROM integrations WHERE id = NEW.id;
END;

CREATE TRIGGER integrations_search_after_delete AFTER DELETE ON integrations BEGIN
    DELETE FROM integrations_search WHERE rowid = OLD.id;
END;
