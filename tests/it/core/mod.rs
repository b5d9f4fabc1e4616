//! Stories about the conversation core, told through the real HTTP API against a real
//! SQLite file: what Twilio posts, what the customer gets back.

mod admin;
mod analytics;
mod audit;
mod brain;
mod bursts;
mod compliance;
mod consent;
mod delivery;
mod floods;
mod flows;
mod gaps;
mod handoff;
mod hardening;
mod integrations;
mod labels;
mod llm;
mod lookups;
mod memory;
mod ops;
mod reload;
mod replies;
mod retention;
mod routing;
mod search;
mod sla;
mod webhook;
