//! Restarting the real textdesk on the same data (database and knowledge index), as
//! after a deploy or a crash: what must survive lives in the database.

use std::sync::Arc;

use textdesk::app;
use textdesk::clock::Clock;

use super::TestApp;

impl TestApp {
    /// Shuts textdesk down gracefully and starts it again on the same data dir and
    /// database, on a new port, with `clock`.
    pub async fn restart(self, clock: Arc<dyn Clock>) -> TestApp {
        let TestApp {
            running,
            mut config,
            http,
            _dir,
            ..
        } = self;
        running.shutdown().await;
        // The public URL follows the new port (Twilio signs the URL it calls).
        config.public_url = None;
        let running = app::start_with_clock(&config, clock)
            .await
            .expect("textdesk restarts");
        let base_url = format!("http://{}", running.addr);
        config.public_url = Some(base_url.clone());
        TestApp {
            running,
            base_url,
            config,
            http,
            _dir,
        }
    }
}
