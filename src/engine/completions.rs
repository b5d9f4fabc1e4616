//! Group commit for the workers: outcomes finished while a commit is in flight are
//! committed together in the next transaction, on SQLite.
//!
//! SQLite has one writer, and every statement of a transaction is a hand-off to the
//! connection's thread and back while the other workers wait for their turn; a
//! transaction per text spent a `BEGIN`, a `COMMIT` and a wait for the write lock on
//! every text. Here a worker hands its outcome to the completions task and waits for
//! the answer; the task takes every outcome that is waiting and commits them in one
//! transaction ([`Store::complete_inbound_all`]). Nothing waits on purpose: a lone
//! outcome is committed at once. PostgreSQL runs transactions side by side, so there
//! each worker commits its own, as before.

use tokio::sync::{mpsc, oneshot};
use tracing::warn;

use crate::store::{Completion, Dialect, Store, StoreError};

/// The most outcomes one transaction commits: bounds how long one commit holds the
/// write lock against the webhooks.
const LARGEST_BATCH: usize = 64;

type Reply = oneshot::Sender<Result<Vec<i64>, StoreError>>;

/// Commits the workers' outcomes. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Completions {
    store: Store,
    /// The completions task, on SQLite.
    waiting: Option<mpsc::Sender<(Completion, Reply)>>,
}

impl Completions {
    /// Starts the completions task on the current runtime (SQLite only).
    pub fn start(store: Store) -> Self {
        let waiting = (store.dialect() == Dialect::Sqlite).then(|| {
            let (waiting, outcomes) = mpsc::channel(LARGEST_BATCH * 4);
            tokio::spawn(run(store.clone(), outcomes));
            waiting
        });
        Self { store, waiting }
    }

    /// Commits one text's outcome ([`Store::complete_inbound`]); returns the outbox
    /// ids of its replies once the transaction that holds it has committed.
    pub async fn commit(&self, text: Completion) -> Result<Vec<i64>, StoreError> {
        let Some(waiting) = &self.waiting else {
            return self
                .store
                .complete_inbound(&text.claim, &text.ctx, &text.outcome, text.now)
                .await;
        };
        let (reply, answer) = oneshot::channel();
        waiting
            .send((text, reply))
            .await
            .map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }
}

/// One batch at a time (SQLite has one writer): waits for an outcome, takes every
/// other one already waiting, commits them, answers each.
async fn run(store: Store, mut outcomes: mpsc::Receiver<(Completion, Reply)>) {
    let mut batch = Vec::with_capacity(LARGEST_BATCH);
    while outcomes.recv_many(&mut batch, LARGEST_BATCH).await > 0 {
        let (texts, replies): (Vec<Completion>, Vec<Reply>) = batch.drain(..).unzip();
        commit(&store, texts, replies).await;
    }
}

async fn commit(store: &Store, texts: Vec<Completion>, replies: Vec<Reply>) {
    match store.complete_inbound_all(&texts).await {
        Ok(results) => {
            for (reply, result) in replies.into_iter().zip(results) {
                let _ = reply.send(result);
            }
        }
        Err(e) if texts.len() > 1 => {
            // One outcome may be what the database refuses (a time booked meanwhile):
            // commit them one by one, so the others are not failed with it.
            warn!(error = %e, texts = texts.len(), "committing a batch of outcomes failed; committing them one by one");
            for (text, reply) in texts.iter().zip(replies) {
                let _ = reply.send(
                    store
                        .complete_inbound(&text.claim, &text.ctx, &text.outcome, text.now)
                        .await,
                );
            }
        }
        Err(e) => {
            if let Some(reply) = replies.into_iter().next() {
                let _ = reply.send(Err(e));
            }
        }
    }
}
