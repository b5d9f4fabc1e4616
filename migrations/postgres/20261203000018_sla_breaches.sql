-- Each SLA target a handoff missed (first response, next response, resolution), once
-- per due time: the sweep records it with the sla.breached event.
CREATE TABLE sla_breaches (
    handoff_id       BIGINT  NOT NULL REFERENCES handoffs(id),
    metric           TEXT    NOT NULL,                -- first_response | next_response | resolution
    due_at           BIGINT  NOT NULL,
    breached_at      BIGINT  NOT NULL,
    PRIMARY KEY (handoff_id, metric, due_at)
);
