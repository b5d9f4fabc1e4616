-- The consent ledger: who recorded a change (an agent's or admin's name; NULL for the
-- customer's own texts and the carrier), and an index for exports by time.
ALTER TABLE consent_events ADD COLUMN actor TEXT;
CREATE INDEX consent_events_time ON consent_events(created_at);
