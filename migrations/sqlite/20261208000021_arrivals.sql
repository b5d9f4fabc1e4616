-- The webhook's journal (issue 20): a text is acknowledged once it is kept here, in one
-- short insert per group commit; the engine then stores it as a message of its
-- conversation and queues it (engine/arrivals.rs), and deletes it from here in the same
-- transaction. A text sent twice by the provider may be here twice: storing it finds
-- the provider id taken the second time.
CREATE TABLE arrivals (
    id                   INTEGER PRIMARY KEY,            -- arrival order
    provider_message_id  TEXT    NOT NULL,
    phone                TEXT    NOT NULL,               -- E.164, the sender
    body                 TEXT    NOT NULL,
    media_urls           TEXT,                           -- JSON array, NULL = none
    encoding             TEXT    NOT NULL,
    segments             INTEGER NOT NULL,
    units                INTEGER NOT NULL,
    received_at          INTEGER NOT NULL,
    burst_wait_ms        INTEGER NOT NULL,
    -- Times storing it failed; past a few it is set aside (kept, counted in the backlog).
    attempts             INTEGER NOT NULL DEFAULT 0
);
