//! Group commit for the webhook: texts that arrive while a commit is in flight are
//! kept together in the next transaction.
//!
//! A webhook's `200` must mean its text is durable, so each request waits for a commit.
//! One transaction per request makes that commit (and on SQLite, the turn at the one
//! write lock) the ceiling on acknowledgements per second. Here a request hands its
//! text to the intake task and waits for the answer; the task takes every text that is
//! waiting, keeps them in one transaction with one insert ([`Store::keep_arrivals`])
//! and answers each, then tells [`super::arrivals`] to store them as messages. Nothing
//! waits on purpose: a lone text is committed at once, and a burst shares commits as
//! long as commits are the bottleneck.

use std::sync::Arc;

use tokio::sync::{Notify, Semaphore, mpsc, oneshot};
use tracing::warn;

use crate::store::{NewInbound, Store, StoreError};

/// The most texts one transaction stores: bounds how long one commit holds the
/// write lock against the workers.
const LARGEST_BATCH: usize = 256;

/// Texts waiting for the intake task; beyond this a webhook waits to hand its text
/// over (and its own timeout decides what happens next).
const QUEUE: usize = 4096;

type Reply = oneshot::Sender<Result<(), StoreError>>;

/// Hands texts to the intake task. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Intake {
    texts: mpsc::Sender<(NewInbound, Reply)>,
    store: Store,
    /// Told after each commit: there are kept texts to store.
    kept: Arc<Notify>,
}

impl Intake {
    /// Starts the intake task on the current runtime. SQLite has one writer, so one
    /// batch commits at a time; PostgreSQL takes a few at once.
    pub fn start(store: Store) -> Self {
        let (texts, waiting) = mpsc::channel(QUEUE);
        let parallel = match store.dialect() {
            crate::store::Dialect::Sqlite => 1,
            crate::store::Dialect::Postgres => 4,
        };
        let kept = Arc::new(Notify::new());
        tokio::spawn(run(store.clone(), waiting, parallel, Arc::clone(&kept)));
        Self { texts, store, kept }
    }

    /// Keeps one text; returns once the transaction that holds it has committed (or
    /// failed).
    pub async fn receive(&self, msg: NewInbound) -> Result<(), StoreError> {
        // Background writers wait while it is on its way (Store::text_arriving).
        let _arriving = self.store.text_arriving();
        let (reply, answer) = oneshot::channel();
        self.texts
            .send((msg, reply))
            .await
            .map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    /// Resolves after a commit of kept texts (at once if one happened since the last
    /// call).
    pub async fn kept(&self) {
        self.kept.notified().await;
    }
}

async fn run(
    store: Store,
    mut waiting: mpsc::Receiver<(NewInbound, Reply)>,
    parallel: usize,
    kept: Arc<Notify>,
) {
    let commits = Arc::new(Semaphore::new(parallel));
    loop {
        // Take a commit slot first: while every slot is busy, texts pile up and the
        // next batch takes them all.
        let Ok(slot) = Arc::clone(&commits).acquire_owned().await else {
            return;
        };
        // Waits for one text, then takes every other one already waiting.
        let mut batch = Vec::with_capacity(LARGEST_BATCH);
        if waiting.recv_many(&mut batch, LARGEST_BATCH).await == 0 {
            return;
        }
        let store = store.clone();
        let kept = Arc::clone(&kept);
        tokio::spawn(async move {
            commit(&store, batch).await;
            drop(slot);
            kept.notify_one();
        });
    }
}

async fn commit(store: &Store, batch: Vec<(NewInbound, Reply)>) {
    let (msgs, replies): (Vec<NewInbound>, Vec<Reply>) = batch.into_iter().unzip();
    match store.keep_arrivals(&msgs).await {
        Ok(()) => {
            for reply in replies {
                let _ = reply.send(Ok(()));
            }
        }
        Err(e) if msgs.len() > 1 => {
            // One text may be what the database refuses: store them one by one, so
            // the others are not failed with it.
            warn!(error = %e, texts = msgs.len(), "keeping a batch of texts failed; keeping them one by one");
            for (msg, reply) in msgs.iter().zip(replies) {
                let _ = reply.send(store.keep_arrivals(std::slice::from_ref(msg)).await);
            }
        }
        Err(e) => {
            if let Some(reply) = replies.into_iter().next() {
                let _ = reply.send(Err(e));
            }
        }
    }
}
