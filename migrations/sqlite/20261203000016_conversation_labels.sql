-- Labels agents put on conversations ("vip", "refund"), to filter the queue, split the
-- analytics and tell the business's other systems. One row per label on a conversation.
CREATE TABLE conversation_labels (
    conversation_id  INTEGER NOT NULL REFERENCES conversations(id),
    label            TEXT    NOT NULL,
    added_by         INTEGER REFERENCES agents(id),
    created_at       INTEGER NOT NULL,
    PRIMARY KEY (conversation_id, label)
);
CREATE INDEX conversation_labels_label ON conversation_labels(label);
