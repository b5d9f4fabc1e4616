//! The command-line interface: argument parsing and one module per command. Commands
//! are thin: they open what they need and call the same library code the server runs.

pub mod agent;
pub mod ask;
pub mod audit;
pub mod chat;
pub mod classify;
pub mod consent;
pub mod contact;
pub mod eval_report;
pub mod export;
pub mod gaps;
pub mod knowledge;
pub mod report;
pub mod retrieval_report;
pub mod segments;
pub mod test;
pub mod transcript;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::config::LogFormat;

#[derive(Debug, Parser)]
#[command(
    name = "textdesk",
    version,
    about = "Two-way SMS customer service: bot answers, human handoff, compliance."
)]
pub struct Cli {
    /// Configuration file (default: ./textdesk.toml when present).
    #[arg(long, global = true, env = "TEXTDESK_CONFIG")]
    pub config: Option<PathBuf>,
    /// Log format on stderr.
    #[arg(long, global = true, value_enum)]
    pub log_format: Option<LogFormatArg>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum LogFormatArg {
    Text,
    Json,
}

impl From<LogFormatArg> for LogFormat {
    fn from(value: LogFormatArg) -> Self {
        match value {
            LogFormatArg::Text => LogFormat::Text,
            LogFormatArg::Json => LogFormat::Json,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (the default command).
    Serve,
    /// Play the customer in the terminal, through the same engine and database.
    Chat {
        /// The phone number you are texting from (E.164).
        #[arg(long, default_value = "+15555550123")]
        from: String,
    },
    /// Count SMS segments: JSON lines {"text": …} on stdin, one result per line on stdout.
    Segments {
        /// Apply smart encoding (GSM-7 look-alikes) before counting, as bot replies do.
        #[arg(long)]
        smart: bool,
    },
    /// Label texts with intents: JSON lines {"text"} on stdin → {"text","intent","confidence"}.
    Classify {
        /// The intents file (default: intents.toml in the prompts directory).
        #[arg(long)]
        intents: Option<PathBuf>,
        /// Minimum confidence for an intent; below it the text is out_of_scope.
        #[arg(long)]
        threshold: Option<f32>,
        /// Score a labelled file ({"text","intent"} lines) instead of reading stdin.
        #[arg(long)]
        eval: Option<PathBuf>,
        /// With --eval: also write an HTML page (confusion matrix, worst confusions,
        /// threshold curve) to this file.
        #[arg(long, requires = "eval")]
        report: Option<PathBuf>,
    },
    /// Explain what the bot would do with a text: intent, retrieval, decision, reply.
    /// Nothing is stored or sent.
    Ask {
        /// The customer's text.
        text: String,
        /// Preview as this contact (E.164): their consent, history and state.
        #[arg(long)]
        from: Option<String>,
        /// Print the preview as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print a contact's conversation from the database.
    Transcript {
        /// The contact's phone number (E.164).
        phone: String,
        /// One JSON object per message instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Check, search and evaluate the knowledge base.
    Knowledge {
        #[command(subcommand)]
        command: knowledge::KnowledgeCommand,
    },
    /// Support figures for recent conversations: response rate and times, containment,
    /// escalations, handoff waits, completion, CSAT, opt-outs, segments, LLM fallbacks.
    Report {
        /// How far back conversations started: a number and m, h, d or w.
        #[arg(long, default_value = "7d")]
        since: String,
        /// Also one column per day, intent, agent or label.
        #[arg(long)]
        group_by: Option<String>,
        /// The report as JSON (the same document as GET /api/v1/analytics).
        #[arg(long)]
        json: bool,
    },
    /// The consent ledger: export it for an audit, import consent gathered elsewhere,
    /// or show one contact's.
    Consent {
        #[command(subcommand)]
        command: consent::ConsentCommand,
    },
    /// A contact's data: `textdesk contact forget PHONE` erases it on request.
    Contact {
        #[command(subcommand)]
        command: contact::ContactCommand,
    },
    /// Every message (or conversation) of a period as CSV or JSON lines on stdout.
    Export(export::ExportArgs),
    /// What customers asked that the bot could not handle, grouped by meaning, most
    /// customers first; `--suggest` drafts knowledge from the agents' answers.
    Gaps(gaps::GapsArgs),
    /// Who did what and when: claims, replies, notes, resolutions, contact edits and
    /// erasures, tokens added and revoked, webhook redeliveries.
    Audit(audit::AuditArgs),
    /// Manage the agents who use the agent API and inbox (bearer tokens).
    Agent {
        #[command(subcommand)]
        command: agent::AgentCommand,
    },
    /// Test the bot: `textdesk test conversations [PATH]`.
    Test {
        #[command(subcommand)]
        command: test::TestCommand,
    },
}
