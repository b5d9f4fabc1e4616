//! A Qdrant server of a test's own, for stories that stop and restart it: the binary
//! named by `QDRANT_BIN` (scripts/test.sh sets it to the shared v1.18.3 build), on
//! free loopback ports, with storage in a temp dir that outlives a restart.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::process::free_port;

pub struct QdrantProcess {
    bin: PathBuf,
    dir: tempfile::TempDir,
    http_port: u16,
    grpc_port: u16,
    api_key: Option<String>,
    child: Option<Child>,
}

impl QdrantProcess {
    /// Starts one when `QDRANT_BIN` names a binary; `None` (the test says SKIPPED)
    /// otherwise.
    pub async fn start(api_key: Option<&str>) -> Option<Self> {
        let bin = std::env::var_os("QDRANT_BIN")
            .map(PathBuf::from)
            .filter(|p| p.is_file())?;
        let mut server = QdrantProcess {
            bin,
            dir: tempfile::tempdir().unwrap(),
            http_port: free_port(),
            grpc_port: free_port(),
            api_key: api_key.map(String::from),
            child: None,
        };
        server.run().await;
        Some(server)
    }

    /// The gRPC address textdesk connects to.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.grpc_port)
    }

    /// SIGKILL: no goodbye to the clients.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().ok();
            child.wait().ok();
        }
    }

    /// Starts it again on the same ports and storage, and waits until it answers.
    pub async fn restart(&mut self) {
        self.kill();
        self.run().await;
    }

    async fn run(&mut self) {
        let storage = self.dir.path();
        let mut cmd = Command::new(&self.bin);
        cmd.current_dir(storage)
            .env("QDRANT__SERVICE__HOST", "127.0.0.1")
            .env("QDRANT__SERVICE__HTTP_PORT", self.http_port.to_string())
            .env("QDRANT__SERVICE__GRPC_PORT", self.grpc_port.to_string())
            .env("QDRANT__STORAGE__STORAGE_PATH", storage.join("storage"))
            .env("QDRANT__STORAGE__SNAPSHOTS_PATH", storage.join("snapshots"))
            .env("QDRANT__TELEMETRY_DISABLED", "true")
            .env("QDRANT__LOG_LEVEL", "WARN")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(key) = &self.api_key {
            cmd.env("QDRANT__SERVICE__API_KEY", key);
        }
        self.child = Some(cmd.spawn().expect("QDRANT_BIN starts"));
        let client = crate::support::http_client();
        let ready = format!("http://127.0.0.1:{}/readyz", self.http_port);
        for _ in 0..200 {
            let mut request = client.get(&ready);
            if let Some(key) = &self.api_key {
                request = request.header("api-key", key);
            }
            // textdesk talks gRPC, which qdrant binds apart from HTTP and may bind
            // later: a test that connected on HTTP's readiness alone was refused.
            if matches!(request.send().await, Ok(r) if r.status().is_success())
                && tokio::net::TcpStream::connect(("127.0.0.1", self.grpc_port))
                    .await
                    .is_ok()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "qdrant did not become ready on ports {} (HTTP) and {} (gRPC)",
            self.http_port, self.grpc_port
        );
    }
}

impl Drop for QdrantProcess {
    fn drop(&mut self) {
        self.kill();
    }
}
