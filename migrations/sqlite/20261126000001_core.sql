-- The conversation core: contacts and their consent, conversations, every message in
-- and out, the inbound processing queue and the outbound outbox.
-- Times are Unix epoch milliseconds (INTEGER) so the same queries run on SQLite and
-- PostgreSQL without dialect-specific date functions.

CREATE TABLE contacts (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    phone         TEXT    NOT NULL UNIQUE,           -- E.164
    display_name  TEXT,
    consent       TEXT    NOT NULL DEFAULT 'implied', -- implied | opted_in | opted_out
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);

CREATE TABLE consent_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    contact_id  INTEGER NOT NULL REFERENCES contacts(id),
    kind        TEXT    NOT NULL,                    -- opt_out | opt_in
    source      TEXT    NOT NULL,                    -- keyword | carrier | agent | api
    detail      TEXT,                                -- the keyword or carrier error
    message_id  INTEGER,
    created_at  INTEGER NOT NULL
);
CREATE INDEX consent_events_contact ON consent_events(contact_id, id);

CREATE TABLE conversations (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    contact_id       INTEGER NOT NULL REFERENCES contacts(id),
    status           TEXT    NOT NULL DEFAULT 'bot', -- bot | queued | assigned | resolved
    assignee         TEXT,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    last_inbound_at  INTEGER,
    resolved_at      INTEGER
);
CREATE INDEX conversations_contact ON conversations(contact_id, id);

CREATE TABLE messages (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id      INTEGER NOT NULL REFERENCES conversations(id),
    contact_id           INTEGER NOT NULL REFERENCES contacts(id),
    direction            TEXT    NOT NULL,           -- inbound | outbound
    author               TEXT    NOT NULL,           -- customer | bot | agent | system
    body                 TEXT    NOT NULL,
    provider_message_id  TEXT    UNIQUE,             -- Twilio MessageSid; NULL until sent
    encoding             TEXT    NOT NULL,           -- GSM-7 | UCS-2
    segments             INTEGER NOT NULL,
    units                INTEGER NOT NULL,
    media_urls           TEXT,                       -- JSON array, inbound MMS only
    delivery_status      TEXT    NOT NULL,           -- received | queued | sent | delivered | failed | ...
    error_code           INTEGER,
    error_message        TEXT,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL
);
CREATE INDEX messages_conversation ON messages(conversation_id, id);
CREATE INDEX messages_contact ON messages(contact_id, id);

-- One row per inbound message to process. Claimed with a lease so a crashed worker's
-- row is picked up again; only the oldest pending row of a conversation is claimable,
-- which keeps each conversation in arrival order.
CREATE TABLE inbound_queue (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id       INTEGER NOT NULL UNIQUE REFERENCES messages(id),
    conversation_id  INTEGER NOT NULL REFERENCES conversations(id),
    status           TEXT    NOT NULL DEFAULT 'pending', -- pending | done
    lease_owner      TEXT,
    lease_until      INTEGER,
    attempts         INTEGER NOT NULL DEFAULT 0,
    last_error       TEXT,
    created_at       INTEGER NOT NULL,
    done_at          INTEGER
);
CREATE INDEX inbound_queue_pending ON inbound_queue(status, conversation_id, id);

-- One row per outbound text. `kind` = compliance marks the few texts that may reach an
-- opted-out contact (the opt-out confirmation itself, HELP answers, START confirmations).
CREATE TABLE outbox (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id       INTEGER NOT NULL UNIQUE REFERENCES messages(id),
    contact_id       INTEGER NOT NULL REFERENCES contacts(id),
    kind             TEXT    NOT NULL,               -- reply | compliance
    status           TEXT    NOT NULL DEFAULT 'pending', -- pending | sent | failed | canceled
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL,
    lease_owner      TEXT,
    lease_until      INTEGER,
    last_error       TEXT,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);
CREATE INDEX outbox_due ON outbox(status, next_attempt_at);
