//! Conversation tests: scripted conversations (`tests/conversations/*.toml`, or an
//! operator's own) run against the real engine on a temporary database, with a
//! pinned clock and a fake of the business's system for lookups, and reported turn
//! by turn with the bot's actual replies (`textdesk test conversations [PATH]`).

pub mod fake_api;
pub mod file;
pub mod run;

pub use fake_api::{FakeApi, FakeCall, FakeRoute};
pub use file::ConversationFile;
pub use run::{RunSummary, run};
