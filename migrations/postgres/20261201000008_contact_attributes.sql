-- What the team and the bot know about a contact (name, preferred store, …): a JSON
-- object of strings, read by templates ("Thanks, {{ contact.name }}") and edited
-- through the agent API. NULL means none.
ALTER TABLE contacts ADD COLUMN attributes TEXT;
