-- Human handoff: the agents who take conversations over, the queue of handoffs, the
-- agents' private notes, and an append-only event log that feeds the agents' live
-- stream (Server-Sent Events, resumable by event id).

CREATE TABLE agents (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name          TEXT    NOT NULL UNIQUE,
    role          TEXT    NOT NULL,                  -- agent | admin
    token_hash    TEXT    NOT NULL UNIQUE,           -- SHA-256 of the bearer token, hex
    created_at    BIGINT  NOT NULL,
    revoked_at    BIGINT,
    last_seen_at  BIGINT
);

-- One row per escalation. At most one open (not resolved) handoff per conversation.
CREATE TABLE handoffs (
    id                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    conversation_id     BIGINT  NOT NULL REFERENCES conversations(id),
    contact_id          BIGINT  NOT NULL REFERENCES contacts(id),
    status              TEXT    NOT NULL DEFAULT 'waiting', -- waiting | assigned | resolved
    priority            BIGINT  NOT NULL,            -- 1 urgent, 2 high, 3 normal, 4 low
    rule                TEXT    NOT NULL,            -- which escalation rule fired
    reason              TEXT    NOT NULL,            -- why, in words
    intent              TEXT,
    summary             TEXT    NOT NULL,
    summary_by          TEXT    NOT NULL,            -- llm | local
    trigger_message_id  BIGINT  REFERENCES messages(id),
    assignee_id         BIGINT  REFERENCES agents(id),
    hand_back           BIGINT,                     -- 1: resolved back to the bot
    created_at          BIGINT  NOT NULL,
    claimed_at          BIGINT,
    first_response_at   BIGINT,                     -- the first agent reply
    holding_sent_at     BIGINT,                     -- the one "still waiting" text
    resolved_at         BIGINT,
    updated_at          BIGINT  NOT NULL
);
CREATE INDEX handoffs_queue ON handoffs(status, priority, created_at);
CREATE UNIQUE INDEX handoffs_one_open ON handoffs(conversation_id) WHERE status <> 'resolved';

CREATE TABLE notes (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    conversation_id  BIGINT  NOT NULL REFERENCES conversations(id),
    handoff_id       BIGINT  REFERENCES handoffs(id),
    agent_id         BIGINT  NOT NULL REFERENCES agents(id),
    body             TEXT    NOT NULL,
    created_at       BIGINT  NOT NULL
);
CREATE INDEX notes_conversation ON notes(conversation_id, id);

CREATE TABLE events (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind             TEXT    NOT NULL,               -- handoff.created, message.inbound, ...
    handoff_id       BIGINT,
    conversation_id  BIGINT,
    payload          TEXT    NOT NULL,               -- JSON
    created_at       BIGINT  NOT NULL
);

ALTER TABLE messages ADD COLUMN agent_id BIGINT  REFERENCES agents(id);
