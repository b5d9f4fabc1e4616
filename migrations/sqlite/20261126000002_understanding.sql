-- What the brain understood of each inbound text, and the little state a conversation
-- carries between texts (a pending numbered menu, consecutive misunderstandings).

ALTER TABLE messages ADD COLUMN intent TEXT;
ALTER TABLE messages ADD COLUMN confidence REAL;
ALTER TABLE messages ADD COLUMN sentiment REAL;

-- JSON object; see engine::state::ConversationState.
ALTER TABLE conversations ADD COLUMN state TEXT;
