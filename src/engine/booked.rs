//! The appointment times already booked, as a turn sees them: read from the store the
//! first time the turn needs them. Only a turn inside a flow or starting one does, and
//! most turns are neither, so most turns never read them.

use std::collections::HashSet;

use tokio::sync::OnceCell;

use super::Engine;

/// One turn's view of the booked times, read at most once.
pub struct BookedSlots<'a> {
    engine: &'a Engine,
    read: OnceCell<HashSet<String>>,
}

impl<'a> BookedSlots<'a> {
    pub fn new(engine: &'a Engine) -> Self {
        BookedSlots {
            engine,
            read: OnceCell::new(),
        }
    }

    /// The times booked from today on. A store that cannot say offers times as if
    /// none were booked: the booking itself is still refused for a time already taken
    /// (one booking per time in the database), and the customer is offered others.
    pub async fn get(&self) -> &HashSet<String> {
        self.read
            .get_or_init(|| async {
                self.engine.booked_slots().await.unwrap_or_else(|e| {
                    tracing::error!(error = %e, "could not read the booked appointment times; offering times as if none were booked");
                    HashSet::new()
                })
            })
            .await
    }
}
