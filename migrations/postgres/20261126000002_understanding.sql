-- What the brain understood of each inbound text, and the little state a conversation
-- carries between texts (a pending numbered menu, consecutive misunderstandings).

ALTER TABLE messages ADD COLUMN intent TEXT;
ALTER TABLE messages ADD COLUMN confidence DOUBLE PRECISION;
ALTER TABLE messages ADD COLUMN sentiment DOUBLE PRECISION;

-- JSON object; see engine::state::ConversationState.
ALTER TABLE conversations ADD COLUMN state TEXT;
