-- The usual wait quoted in handoff texts reads the most recent answered handoffs on
-- every escalation-capable inbound text; this keeps that an index range scan of at
-- most 50 entries instead of a scan of every handoff ever made.
CREATE INDEX handoffs_answered ON handoffs(created_at) WHERE first_response_at IS NOT NULL;
