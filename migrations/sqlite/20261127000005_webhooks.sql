-- Outbound webhooks: the event log fanned out to the operator's configured endpoints.
-- One delivery row per (event, endpoint), leased like the outbox, retried with backoff
-- until delivered or out of attempts. Endpoints live in the configuration, so they are
-- named here by their URL. Delivery times are wall-clock epoch milliseconds.

CREATE TABLE webhook_deliveries (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id          INTEGER NOT NULL REFERENCES events(id),
    endpoint          TEXT    NOT NULL,               -- the endpoint's URL
    event_type        TEXT    NOT NULL,               -- public name, e.g. conversation.escalated
    body              TEXT    NOT NULL,               -- the JSON posted, fixed at fan-out
    status            TEXT    NOT NULL DEFAULT 'pending', -- pending | delivered | failed
    attempts          INTEGER NOT NULL DEFAULT 0,
    next_attempt_at   INTEGER NOT NULL,
    lease_owner       TEXT,
    lease_until       INTEGER,
    last_error        TEXT,
    last_status_code  INTEGER,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    delivered_at      INTEGER
);
CREATE UNIQUE INDEX webhook_deliveries_once ON webhook_deliveries(event_id, endpoint);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries(status, next_attempt_at);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries(endpoint, id);

-- How far each endpoint's fan-out has read the event log. Locked by the fan-out
-- transaction, so several instances never insert the same deliveries twice.
CREATE TABLE webhook_cursors (
    endpoint       TEXT    PRIMARY KEY,
    last_event_id  INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
);
