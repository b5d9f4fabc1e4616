//! Conversation flows: scripted exchanges an operator writes in
//! `prompts/flows/<name>.toml` — book an appointment, qualify a lead, confirm an
//! order. A flow is a list of steps; each sends a text and expects a kind of answer
//! (a numbered choice, YES/NO, a date, a number, an e-mail, free text, an appointment
//! slot), stores it as a named slot and leads to the next step.
//!
//! This folder owns the files ([`file`]), reading answers ([`answer`], [`when`]), the
//! step machine ([`run`]), appointment times ([`availability`]) and the contact's
//! quiet hours ([`quiet`]). It is pure: the engine passes in the time, the booked
//! slots and the running flow (kept in the conversation's state), and stores what
//! comes out. It lives beside `brain/` rather than in it because a flow does not
//! understand text, it follows a script; the brain only decides to start one.

pub mod answer;
pub mod availability;
pub mod file;
pub mod quiet;
pub mod run;
pub mod when;

pub use file::{Flow, FlowError, FlowSet, Step, StepKind};
pub use run::{Completion, Env, LookupAnswer, RunningFlow, Turn};
