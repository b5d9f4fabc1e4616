-- The conversation core: contacts and their consent, conversations, every message in
-- and out, the inbound processing queue and the outbound outbox.
-- Times are Unix epoch milliseconds (BIGINT) so the same queries run on SQLite and
-- PostgreSQL without dialect-specific date functions.

CREATE TABLE contacts (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    phone         TEXT    NOT NULL UNIQUE,           -- E.164
    display_name  TEXT,
    consent       TEXT    NOT NULL DEFAULT 'implied', -- implied | opted_in | opted_out
    created_at    BIGINT  NOT NULL,
    updated_at    BIGINT  NOT NULL
);

CREATE TABLE consent_events (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    contact_id  BIGINT  NOT NULL REFERENCES contacts(id),
    kind        TEXT    NOT NULL,                    -- opt_out | opt_in
    source      TEXT    NOT NULL,                    -- keyword | carrier | agent | api
    detail      TEXT,                                -- the keyword or carrier error
    message_id  BIGINT,
    created_at  BIGINT  NOT NULL
);
CREATE INDEX consent_events_contact ON consent_events(contact_id, id);

CREATE TABLE conversations (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    contact_id       BIGINT  NOT NULL REFERENCES contacts(id),
    status           TEXT    NOT NULL DEFAULT 'bot', -- bot | queued | assigned | resolved
    assignee         TEXT,
    created_at       BIGINT  NOT NULL,
    updated_at       BIGINT  NOT NULL,
    last_inbound_at  BIGINT,
    resolved_at      BIGINT
);
CREATE INDEX conversations_contact ON conversations(contact_id, id);

CREATE TABLE messages (
    id                   BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    conversation_id      BIGINT  NOT NULL REFERENCES conversations(id),
    contact_id           BIGINT  NOT NULL REFERENCES contacts(id),
    direction            TEXT    NOT NULL,           -- inbound | outbound
    author               TEXT    NOT NULL,           -- customer | bot | agent | system
    body                 TEXT    NOT NULL,
    provider_message_id  TEXT    UNIQUE,             -- Twilio MessageSid; NULL until sent
    encoding             TEXT    NOT NULL,           -- GSM-7 | UCS-2
    segments             BIGINT  NOT NULL,
    units                BIGINT  NOT NULL,
    media_urls           TEXT,                       -- JSON array, inbound MMS only
    delivery_status      TEXT    NOT NULL,           -- received | queued | sent | delivered | failed | ...
    error_code           BIGINT,
    error_message        TEXT,
    created_at           BIGINT  NOT NULL,
    updated_at           BIGINT  NOT NULL
);
CREATE INDEX messages_conversation ON messages(conversation_id, id);
CREATE INDEX messages_contact ON messages(contact_id, id);

-- One row per inbound message to process. Claimed with a lease so a crashed worker's
-- row is picked up again; only the oldest pending row of a conversation is claimable,
-- which keeps each conversation in arrival order.
CREATE TABLE inbound_queue (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    message_id       BIGINT  NOT NULL UNIQUE REFERENCES messages(id),
    conversation_id  BIGINT  NOT NULL REFERENCES conversations(id),
    status           TEXT    NOT NULL DEFAULT 'pending', -- pending | done
    lease_owner      TEXT,
    lease_until      BIGINT,
    attempts         BIGINT  NOT NULL DEFAULT 0,
    last_error       TEXT,
    created_at       BIGINT  NOT NULL,
    done_at          BIGINT
);
CREATE INDEX inbound_queue_pending ON inbound_queue(status, conversation_id, id);

-- One row per outbound text. `kind` = compliance marks the few texts that may reach an
-- opted-out contact (the opt-out confirmation itself, HELP answers, START confirmations).
CREATE TABLE outbox (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    message_id       BIGINT  NOT NULL UNIQUE REFERENCES messages(id),
    contact_id       BIGINT  NOT NULL REFERENCES contacts(id),
    kind             TEXT    NOT NULL,               -- reply | compliance
    status           TEXT    NOT NULL DEFAULT 'pending', -- pending | sent | failed | canceled
    attempts         BIGINT  NOT NULL DEFAULT 0,
    next_attempt_at  BIGINT  NOT NULL,
    lease_owner      TEXT,
    lease_until      BIGINT,
    last_error       TEXT,
    created_at       BIGINT  NOT NULL,
    updated_at       BIGINT  NOT NULL
);
CREATE INDEX outbox_due ON outbox(status, next_attempt_at);
