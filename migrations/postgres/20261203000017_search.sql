-- Full-text search over messages and notes: GIN indexes on their words ('simple'
-- configuration: no stemming, any language), which queries match with
-- to_tsvector('simple', body) @@ plainto_tsquery('simple', $1).
CREATE INDEX messages_search ON messages USING GIN (to_tsvector('simple', body));
CREATE INDEX notes_search ON notes USING GIN (to_tsvector('simple', body));
