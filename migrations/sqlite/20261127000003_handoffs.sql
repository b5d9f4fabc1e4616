-- Human handoff: the agents who take conversations over, the queue of handoffs, the
-- agents' private notes, and an append-only event log that feeds the agents' live
-- stream (Server-Sent Events, resumable by event id).

CREATE TABLE agents (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    name          TEXT    NOT NULL UNIQUE,
    role          TEXT    NOT NULL,                  -- agent | admin
    token_hash    TEXT    NOT NULL UNIQUE,           -- SHA-256 of the bearer token, hex
    created_at    INTEGER NOT NULL,
    revoked_at    INTEGER,
    last_seen_at  INTEGER
);

-- One row per escalation. At most one open (not resolved) handoff per conversation.
CREATE TABLE handoffs (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id     INTEGER NOT NULL REFERENCES conversations(id),
    contact_id          INTEGER NOT NULL REFERENCES contacts(id),
    status              TEXT    NOT NULL DEFAULT 'waiting', -- waiting | assigned | resolved
    priority            INTEGER NOT NULL,            -- 1 urgent, 2 high, 3 normal, 4 low
    rule                TEXT    NOT NULL,            -- which escalation rule fired
    reason              TEXT    NOT NULL,            -- why, in words
    intent              TEXT,
    summary             TEXT    NOT NULL,
    summary_by          TEXT    NOT NULL,            -- llm | local
    trigger_message_id  INTEGER REFERENCES messages(id),
    assignee_id         INTEGER REFERENCES agents(id),
    hand_back           INTEGER,                     -- 1: resolved back to the bot
    created_at          INTEGER NOT NULL,
    claimed_at          INTEGER,
    first_response_at   INTEGER,                     -- the first agent reply
    holding_sent_at     INTEGER,                     -- the one "still waiting" text
    resolved_at         INTEGER,
    updated_at          INTEGER NOT NULL
);
CREATE INDEX handoffs_queue ON handoffs(status, priority, created_at);
CREATE UNIQUE INDEX handoffs_one_open ON handoffs(conversation_id) WHERE status <> 'resolved';

CREATE TABLE notes (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id  INTEGER NOT NULL REFERENCES conversations(id),
    handoff_id       INTEGER REFERENCES handoffs(id),
    agent_id         INTEGER NOT NULL REFERENCES agents(id),
    body             TEXT    NOT NULL,
    created_at       INTEGER NOT NULL
);
CREATE INDEX notes_conversation ON notes(conversation_id, id);

CREATE TABLE events (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    kind             TEXT    NOT NULL,               -- handoff.created, message.inbound, ...
    handoff_id       INTEGER,
    conversation_id  INTEGER,
    payload          TEXT    NOT NULL,               -- JSON
    created_at       INTEGER NOT NULL
);

ALTER TABLE messages ADD COLUMN agent_id INTEGER REFERENCES agents(id);
