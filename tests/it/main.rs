//! Every integration test in one executable: linking the whole crate (candle, qdrant-edge,
//! sqlx) once instead of once per file is most of what a test build costs.
//!
//! Run one suite with a filter on its module: `cargo test --test it core::`,
//! `cargo test --test it crash::`, `cargo test --test it core::delivery`.
//!
//! - `core`: stories about the conversation core through the real HTTP API.
//! - `crash`, `scale`: the real binary killed, restarted and scaled out (PostgreSQL).
//! - `faults`: 2,000 texts through the real binary while Twilio, the database and the
//!   process fail; 0 lost and 0 duplicated.
//! - `inbox_e2e`: the agent inbox in headless Chromium.
//! - `knowledge_index`, `qdrant_server`: the knowledge index, embedded and on a server.
//! - `embeddings_reference`, `quality`: the real local model against references and gates.
//! - `llm_client`, `twilio_provider`: the outbound clients against fakes on loopback.
//! - `llm_real`: the LLM path against a real local model server (scripts/llm-server.sh).
//! - `segments_table`: segment arithmetic, case by case.
//! - `startup`: a fresh data directory starts from the shipped `seed/`.
//! - `edge_properties`: the edge's parsers under thousands of generated inputs.

mod knowledge_cases;
mod support;

mod conversation_runner;
mod core;
mod crash;
mod edge_properties;
mod embeddings_reference;
mod faults;
mod inbox_e2e;
mod knowledge_index;
mod llm_client;
mod llm_real;
mod qdrant_server;
mod quality;
mod scale;
mod segments_table;
mod startup;
mod twilio_provider;
