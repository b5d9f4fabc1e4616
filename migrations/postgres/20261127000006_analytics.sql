-- Analytics and CSAT: how each inbound text was understood (so LLM fallbacks can be
-- counted from the database, not only from one process's counters), and the one
-- satisfaction survey a conversation may get, with the customer's answer.

ALTER TABLE messages ADD COLUMN understood_by TEXT;   -- llm | local | rule
ALTER TABLE messages ADD COLUMN llm_fallback BIGINT;   -- 1: the LLM failed, the local brain answered

-- At most one survey per conversation (the unique index is the "never twice" rule).
CREATE TABLE csat_surveys (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    conversation_id  BIGINT NOT NULL UNIQUE REFERENCES conversations(id),
    contact_id       BIGINT NOT NULL REFERENCES contacts(id),
    handoff_id       BIGINT REFERENCES handoffs(id),
    message_id       BIGINT NOT NULL REFERENCES messages(id),
    trigger_kind     TEXT    NOT NULL,               -- handoff | bot
    thanks           TEXT    NOT NULL,               -- the thank-you sent with an answer
    sent_at          BIGINT NOT NULL
);
CREATE INDEX csat_surveys_contact ON csat_surveys(contact_id, id);

-- One answer per survey: a second "5" is an ordinary text.
CREATE TABLE csat_responses (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    survey_id        BIGINT NOT NULL UNIQUE REFERENCES csat_surveys(id),
    conversation_id  BIGINT NOT NULL REFERENCES conversations(id),
    contact_id       BIGINT NOT NULL REFERENCES contacts(id),
    message_id       BIGINT NOT NULL REFERENCES messages(id),
    score            BIGINT NOT NULL,                  -- 1..5
    created_at       BIGINT NOT NULL
);
