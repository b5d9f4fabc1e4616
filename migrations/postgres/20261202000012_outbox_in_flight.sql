-- When the attempt whose outcome is still unknown began: set when a row is claimed,
-- cleared once the provider's answer is recorded. A row claimed while it is set (the
-- provider timed out, or the process died mid-send) is reconciled with the provider
-- before it is sent again, so a text is never sent twice.
ALTER TABLE outbox ADD COLUMN in_flight_since BIGINT;
