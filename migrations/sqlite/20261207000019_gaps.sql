-- Learning from the people (issue 22): which customer texts the bot could not handle,
-- what agents said about the bot's answers, and the knowledge drafted from their replies.

-- Why the bot could not handle this customer text (out_of_scope, low_retrieval,
-- not_understood, repeated_question, complex, not_helped), and the intents it was torn
-- between (a JSON array, best first). NULL for every text the bot handled.
ALTER TABLE messages ADD COLUMN gap TEXT;
ALTER TABLE messages ADD COLUMN gap_intents TEXT;
CREATE INDEX messages_gap ON messages(created_at) WHERE gap IS NOT NULL;

-- An agent's verdict on one bot text: a wrong answer, or one a person should have given.
-- One verdict per agent and text; marking again replaces it.
CREATE TABLE bot_feedback (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id       INTEGER NOT NULL REFERENCES messages(id),  -- the bot's text
    conversation_id  INTEGER NOT NULL REFERENCES conversations(id),
    agent_id         INTEGER NOT NULL REFERENCES agents(id),
    kind             TEXT    NOT NULL,               -- wrong_answer | should_have_handed_over
    correction       TEXT,                           -- what the bot should have said
    created_at       INTEGER NOT NULL,
    UNIQUE (message_id, agent_id)
);
CREATE INDEX bot_feedback_time ON bot_feedback(created_at);

-- Knowledge drafted from agents' answers to a cluster of gaps. The draft itself is a
-- file under knowledge/_suggested/ (never indexed); this row keeps its review status and
-- the conversations it came from, so a rejected or accepted topic is not drafted again.
CREATE TABLE knowledge_suggestions (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    slug             TEXT    NOT NULL UNIQUE,        -- the file name without .md
    title            TEXT    NOT NULL,
    status           TEXT    NOT NULL DEFAULT 'pending', -- pending | accepted | rejected
    sources          TEXT    NOT NULL,               -- JSON array of conversation ids
    customers        INTEGER NOT NULL,               -- customers the cluster cost
    published_as     TEXT,                           -- the knowledge file, once accepted
    decided_by       TEXT,
    created_at       INTEGER NOT NULL,
    decided_at       INTEGER
);
