-- A conversation whose handoff waits for an agent is 'waiting', as the handoff is:
-- one word for one state ('queued' was the conversation's name for it).
UPDATE conversations SET status = 'waiting' WHERE status = 'queued';
