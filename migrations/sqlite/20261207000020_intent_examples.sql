-- Intent examples learned from agents (issue 22): an agent who says which intent a
-- customer's text really was, and the suggestions to add such texts to intents.toml.

-- The intent the customer's text (the one the bot answered) should have been, when the
-- agent said so. NULL when the agent did not re-label it.
ALTER TABLE bot_feedback ADD COLUMN intent TEXT;

-- A suggestion is a knowledge file drafted from agents' answers (knowledge) or a
-- customer's text, redacted, proposed as an example of the intent an agent gave it
-- (intent_example): then `intent` and `example` say which and what.
ALTER TABLE knowledge_suggestions ADD COLUMN kind TEXT NOT NULL DEFAULT 'knowledge';
ALTER TABLE knowledge_suggestions ADD COLUMN intent TEXT;
ALTER TABLE knowledge_suggestions ADD COLUMN example TEXT;
