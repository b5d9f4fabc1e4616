-- Conversation flows: the contact's own time zone (for quiet hours), booked
-- appointment slots (one booking per slot), and flows the business started for a
-- contact that wait for the contact's quiet hours to end.

ALTER TABLE contacts ADD COLUMN timezone TEXT;        -- IANA name; NULL: from the area code

CREATE TABLE bookings (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    slot             TEXT    NOT NULL UNIQUE,        -- local start, e.g. 2026-12-08T10:00
    label            TEXT    NOT NULL,               -- as offered: "Tue Dec 8, 10:00 AM"
    flow             TEXT    NOT NULL,
    contact_id       BIGINT  NOT NULL REFERENCES contacts(id),
    conversation_id  BIGINT  NOT NULL REFERENCES conversations(id),
    created_at       BIGINT  NOT NULL
);

CREATE TABLE flow_starts (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    flow        TEXT    NOT NULL,
    contact_id  BIGINT  NOT NULL REFERENCES contacts(id),
    status      TEXT    NOT NULL DEFAULT 'pending',  -- pending | sent | cancelled
    send_at     BIGINT  NOT NULL,
    detail      TEXT,                                -- why it was cancelled
    created_at  BIGINT  NOT NULL,
    done_at     BIGINT
);
CREATE INDEX flow_starts_due ON flow_starts(status, send_at);
