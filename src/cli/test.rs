//! `textdesk test conversations [PATH]`: the operator's scripted conversations, run
//! against the real engine (see [`crate::conversation_tests`]).

use std::path::{Path, PathBuf};

use clap::Subcommand;

use crate::config::Config;

#[derive(Debug, Subcommand)]
pub enum TestCommand {
    /// Run scripted conversations (TOML) against the real engine on a temporary
    /// database, with a pinned clock and a fake lookup server; prints each turn with
    /// the bot's reply and fails if any expectation does not hold.
    Conversations {
        /// A conversation file or a folder of them.
        #[arg(default_value = "tests/conversations")]
        path: PathBuf,
    },
}

pub async fn run(config: &Config, command: TestCommand) -> anyhow::Result<()> {
    match command {
        TestCommand::Conversations { path } => conversations(config, &path).await,
    }
}

async fn conversations(config: &Config, path: &Path) -> anyhow::Result<()> {
    let files = crate::conversation_tests::file::discover(path)
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    anyhow::ensure!(
        !files.is_empty(),
        "{}: no conversation files (*.toml)",
        path.display()
    );
    let mut out = std::io::stdout().lock();
    let summary = crate::conversation_tests::run(config, &files, &mut out).await?;
    anyhow::ensure!(
        summary.passed(),
        "{} of {} conversations failed",
        summary.failed_conversations,
        summary.conversations
    );
    Ok(())
}
