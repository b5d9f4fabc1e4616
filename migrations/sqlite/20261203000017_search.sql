-- Full-text search over messages and notes (FTS5, words in any script, accents folded).
-- The indexes hold no copy of the text (external content): triggers keep them in step
-- with inserts, erasure (bodies blanked) and deletes.
CREATE VIRTUAL TABLE messages_search USING fts5(
    body, content = 'messages', content_rowid = 'id', tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER messages_search_insert AFTER INSERT ON messages BEGIN
    INSERT INTO messages_search (rowid, body) VALUES (new.id, new.body);
END;
CREATE TRIGGER messages_search_update AFTER UPDATE OF body ON messages BEGIN
    INSERT INTO messages_search (messages_search, rowid, body) VALUES ('delete', old.id, old.body);
    INSERT INTO messages_search (rowid, body) VALUES (new.id, new.body);
END;
CREATE TRIGGER messages_search_delete AFTER DELETE ON messages BEGIN
    INSERT INTO messages_search (messages_search, rowid, body) VALUES ('delete', old.id, old.body);
END;
INSERT INTO messages_search (messages_search) VALUES ('rebuild');

CREATE VIRTUAL TABLE notes_search USING fts5(
    body, content = 'notes', content_rowid = 'id', tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER notes_search_insert AFTER INSERT ON notes BEGIN
    INSERT INTO notes_search (rowid, body) VALUES (new.id, new.body);
END;
CREATE TRIGGER notes_search_update AFTER UPDATE OF body ON notes BEGIN
    INSERT INTO notes_search (notes_search, rowid, body) VALUES ('delete', old.id, old.body);
    INSERT INTO notes_search (rowid, body) VALUES (new.id, new.body);
END;
CREATE TRIGGER notes_search_delete AFTER DELETE ON notes BEGIN
    INSERT INTO notes_search (notes_search, rowid, body) VALUES ('delete', old.id, old.body);
END;
INSERT INTO notes_search (notes_search) VALUES ('rebuild');
