//! Another connection holding the database's write lock, as a long migration, a backup
//! or a stuck transaction would: reads go on, writes wait until it is released.

use sqlx::Connection;

pub struct WriteLock(sqlx::AnyConnection);

impl WriteLock {
    /// Takes the lock on the database at `url` (SQLite: an exclusive transaction;
    /// PostgreSQL: the webhook's journal and the inbound queue locked against writers).
    pub async fn take(url: &str) -> Self {
        sqlx::any::install_default_drivers();
        let mut conn = sqlx::AnyConnection::connect(url).await.unwrap();
        let statements: &[&str] = if url.starts_with("postgres") {
            &[
                "BEGIN",
                "LOCK TABLE arrivals, inbound_queue IN EXCLUSIVE MODE",
            ]
        } else {
            &["BEGIN EXCLUSIVE"]
        };
        for statement in statements {
            sqlx::query(statement).execute(&mut conn).await.unwrap();
        }
        Self(conn)
    }

    pub async fn release(mut self) {
        sqlx::query("ROLLBACK").execute(&mut self.0).await.unwrap();
    }
}
