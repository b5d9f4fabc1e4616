-- The audit log: every agent's and admin's action (claim, transfer, resolve, reply,
-- note, contact edits, token changes, redelivery, erasure), who did it and when.
-- Written in the same transaction as the action; no message bodies or numbers.
CREATE TABLE audit_log (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    actor_id         INTEGER,                         -- the agent; NULL for the command line
    actor            TEXT    NOT NULL,                -- their name at the time, or "cli"
    action           TEXT    NOT NULL,                -- handoff.claimed, note.added, ...
    target           TEXT    NOT NULL,                -- "handoff 12", "agent ana", ...
    conversation_id  INTEGER,
    detail           TEXT    NOT NULL,                -- JSON
    created_at       INTEGER NOT NULL
);
CREATE INDEX audit_log_time ON audit_log(created_at);
