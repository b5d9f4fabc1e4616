//! `textdesk agent add|list|revoke`: the people who may use the agent API and inbox.
//! A new token is printed once; only its hash is stored.

use std::io::Write;

use anyhow::{Context, bail};
use clap::Subcommand;

use crate::api::auth::{generate_token, hash_token};
use crate::clock::format_ms;
use crate::store::{Role, Store, StoreError};

#[derive(Debug, Subcommand)]
pub enum AgentCommand {
    /// Add an agent and print their bearer token (shown only this once).
    Add {
        #[arg(long)]
        name: String,
        /// `agent` works the queue; `admin` also reaches the admin API and may act on
        /// anyone's conversation.
        #[arg(long, default_value = "agent", value_parser = ["agent", "admin"])]
        role: String,
    },
    /// List agents (never their tokens).
    List,
    /// Revoke an agent's token at once.
    Revoke { name: String },
}

pub async fn run(store: &Store, command: AgentCommand, mut out: impl Write) -> anyhow::Result<()> {
    let now = jiff::Timestamp::now().as_millisecond();
    match command {
        AgentCommand::Add { name, role } => {
            let name = name.trim();
            if name.is_empty() || name.len() > 64 {
                bail!("--name must be 1 to 64 characters");
            }
            let role = Role::parse(&role).context("--role must be agent or admin")?;
            let token = generate_token();
            match store
                .create_agent(name, role, &hash_token(&token), now)
                .await
            {
                Ok(agent) => {
                    writeln!(
                        out,
                        "added {} ({}), id {}",
                        agent.name,
                        agent.role.as_str(),
                        agent.id
                    )?;
                    writeln!(
                        out,
                        "token (shown only now; store it in a password manager):"
                    )?;
                    writeln!(out, "{token}")?;
                }
                Err(StoreError::Conflict(why)) => {
                    bail!(
                        "{why}; pick another name (revoked names stay taken so history stays clear)"
                    )
                }
                Err(e) => return Err(e.into()),
            }
        }
        AgentCommand::List => {
            let agents = store.list_agents().await?;
            if agents.is_empty() {
                writeln!(
                    out,
                    "no agents yet; add one with `textdesk agent add --name NAME`"
                )?;
            }
            for a in agents {
                let state = match a.revoked_at {
                    Some(t) => format!("revoked {}", format_ms(t)),
                    None => "active".into(),
                };
                let seen = a
                    .last_seen_at
                    .map(format_ms)
                    .unwrap_or_else(|| "never".into());
                writeln!(
                    out,
                    "{:>4}  {:<24} {:<6} {:<32} last seen {seen}",
                    a.id,
                    a.name,
                    a.role.as_str(),
                    state
                )?;
            }
        }
        AgentCommand::Revoke { name } => {
            if !store.revoke_agent(&name, now).await? {
                bail!("no active agent named {name:?} (`textdesk agent list` shows them)");
            }
            writeln!(out, "revoked {name}; their token no longer works")?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn add_prints_a_working_token_once_and_revoke_disables_it() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/t.db?mode=rwc", dir.path().display());
        let store = Store::open(&url).await.unwrap();

        let mut out = Vec::new();
        let add = AgentCommand::Add {
            name: "ana".into(),
            role: "admin".into(),
        };
        run(&store, add, &mut out).await.unwrap();
        let printed = String::from_utf8(out).unwrap();
        let token = printed.lines().last().unwrap();
        assert!(token.starts_with("tdk_"), "{printed}");
        let found = store.agent_credential(&hash_token(token)).await.unwrap();
        assert_eq!(found.unwrap().agent.role, Role::Admin);

        let again = AgentCommand::Add {
            name: "ana".into(),
            role: "agent".into(),
        };
        let err = run(&store, again, Vec::new()).await.unwrap_err();
        assert!(err.to_string().contains("already exists"), "{err}");

        let mut out = Vec::new();
        run(&store, AgentCommand::List, &mut out).await.unwrap();
        let listed = String::from_utf8(out).unwrap();
        assert!(
            listed.contains("ana") && !listed.contains(token),
            "{listed}"
        );

        let revoke = AgentCommand::Revoke { name: "ana".into() };
        run(&store, revoke, Vec::new()).await.unwrap();
        assert!(
            store
                .agent_credential(&hash_token(token))
                .await
                .unwrap()
                .is_none()
        );
    }
}
