-- The queue card's line for each handoff, in an agent's words ("Upset: third time
-- asking about order #48213"); empty for handoffs opened before it existed, which
-- show their reason instead.
ALTER TABLE handoffs ADD COLUMN headline TEXT NOT NULL DEFAULT '';
