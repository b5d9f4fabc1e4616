-- When a queued text may be read (ms): a few seconds after it arrived, pushed back by
-- each further text of the same burst, so "hi" / "my order" / "its late" is read as
-- one turn. Compliance keywords and texts to a person's conversation are ready at once.
-- 0 (rows queued before this column existed) means ready.
ALTER TABLE inbound_queue ADD COLUMN ready_at INTEGER NOT NULL DEFAULT 0;
