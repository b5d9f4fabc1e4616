-- Claims stay cheap behind a backlog (a marketing blast, a restart after an outage).
-- Without these, finding the oldest claimable text sorted every pending row, and
-- checking that a contact has no earlier reply pending scanned every pending reply:
-- with 15,000 texts waiting, each claim held the write lock for 9.5 ms instead of
-- 0.02 ms, so the backlog drained ever more slowly.

-- Pending texts in arrival order: the claim walks it from the front and stops at
-- the first text whose conversation has nothing earlier pending.
CREATE INDEX inbound_queue_claim ON inbound_queue(status, id);

-- A contact's pending replies in order: replies go out one at a time per contact.
CREATE INDEX outbox_contact_pending ON outbox(contact_id, id) WHERE status = 'pending';
