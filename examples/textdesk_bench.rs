//! `textdesk-bench`: posts N signed webhooks over loopback and prints how fast they
//! were acknowledged and how fast their replies left the outbox.
//!
//! Usage: `cargo run --release --example textdesk-bench -- --messages 2000`.
//!
//! By default it starts textdesk in-process on a temporary SQLite file with the log
//! provider. With `--url` (repeatable) it targets running servers instead, spreading
//! texts over them; pass `--database-url` so replies can be counted.
//!
//! Bounded by design: at most `--messages` requests, and it gives up waiting for
//! replies after `--timeout-secs`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use textdesk::config::Config;
use textdesk::sms::twilio::compute_signature;
use textdesk::store::Store;
use tokio::sync::Semaphore;

#[derive(Parser, Debug)]
#[command(about = "Load-test the webhook path over loopback")]
struct Args {
    /// Texts to post.
    #[arg(long, default_value_t = 2000)]
    messages: usize,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Texts per contact (each contact is one conversation, processed in order).
    #[arg(long, default_value_t = 1)]
    per_contact: usize,
    /// Target a running server (repeat for several); default: start one in-process.
    #[arg(long)]
    url: Vec<String>,
    /// Auth token the targets verify signatures with.
    #[arg(long, default_value = "bench-auth-token")]
    auth_token: String,
    /// Database of the targets, to count replies (in-process mode knows it).
    #[arg(long)]
    database_url: Option<String>,
    /// Stop waiting for replies after this long.
    #[arg(long, default_value_t = 120)]
    timeout_secs: u64,
    /// Write `--messages` signed webhooks for the one `--url` to this file, one per line
    /// as `signature<TAB>form body`, and exit (scripts/bench.sh feeds them to wrk).
    #[arg(long)]
    write_requests: Option<std::path::PathBuf>,
    /// Post nothing: wait until `--database-url` has no text left to answer or send,
    /// then exit (how scripts/bench.sh times replies).
    #[arg(long)]
    drain: bool,
}

/// The form Twilio would post for text `i` from `phone`, with its signature for `url`.
fn signed_webhook(
    token: &str,
    url: &str,
    phone: String,
    i: usize,
) -> (String, Vec<(String, String)>) {
    let params: Vec<(String, String)> = vec![
        (
            "MessageSid".into(),
            format!("SM{:032x}", rand::random::<u128>()),
        ),
        ("AccountSid".into(), "ACbench".into()),
        ("From".into(), phone),
        ("To".into(), "+15555550100".into()),
        ("Body".into(), format!("bench text {i}: where is my order?")),
        ("NumMedia".into(), "0".into()),
    ];
    (compute_signature(token, url, &params), params)
}

/// Waits until nothing is pending in the inbound queue or the outbox; false on timeout.
async fn drained(store: &Store, timeout: Duration) -> anyhow::Result<bool> {
    let deadline = Instant::now() + timeout;
    loop {
        let (inbound, _) = store.inbound_backlog(0).await?;
        let outbound = store.outbox_backlog().await?;
        if inbound == 0 && outbound == 0 {
            return Ok(true);
        }
        if Instant::now() > deadline {
            println!(
                "replies: gave up after {} s with {inbound} inbound and {outbound} outbound pending",
                timeout.as_secs()
            );
            return Ok(false);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// `--write-requests`: pre-signed webhooks for wrk, each from its own contact.
fn write_requests(args: &Args, path: &std::path::Path) -> anyhow::Result<()> {
    use std::io::Write;
    let [target] = args.url.as_slice() else {
        anyhow::bail!(
            "--write-requests needs exactly one --url (the server the signatures are for)"
        );
    };
    let url = format!("{}/webhooks/twilio", target.trim_end_matches('/'));
    let run_id: u32 = rand::random::<u32>() % 800;
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    for i in 0..args.messages {
        let phone = format!("+1{:03}{:07}", 200 + run_id, i % 10_000_000);
        let (signature, params) = signed_webhook(&args.auth_token, &url, phone, i);
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&params)
            .finish();
        writeln!(out, "{signature}\t{body}")?;
    }
    out.flush()?;
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if let Some(path) = &args.write_requests {
        return write_requests(&args, path);
    }
    if args.drain {
        let url = args
            .database_url
            .as_deref()
            .context("--drain needs --database-url")?;
        let store = Store::open(url).await?;
        drained(&store, Duration::from_secs(args.timeout_secs)).await?;
        return Ok(());
    }
    let _dir;
    let mut _running = None;
    let (targets, store) = if args.url.is_empty() {
        let dir = tempfile::tempdir()?;
        let mut config = Config::default();
        config.listen = "127.0.0.1:0".parse()?;
        config.data_dir = dir.path().to_path_buf();
        config.prompts_dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("prompts");
        config.twilio.auth_token = Some(args.auth_token.clone());
        config.worker.poll_ms = 50;
        // Bursts off: the bench counts per-text work, and its contacts text fast.
        config.worker.burst_ms = 0;
        let running = textdesk::app::start(&config)
            .await
            .context("starting textdesk in-process")?;
        let url = format!("http://{}", running.addr);
        let store = running.engine.store.clone();
        _dir = dir;
        _running = Some(running);
        (vec![url], Some(store))
    } else {
        let store = match &args.database_url {
            Some(url) => Some(Store::open(url).await?),
            None => None,
        };
        (args.url.clone(), store)
    };

    let client = textdesk::http::client_builder()
        .pool_max_idle_per_host(args.concurrency)
        .build()?;
    let run_id: u32 = rand::random::<u32>() % 10_000;
    let permits = Arc::new(Semaphore::new(args.concurrency));
    let started = Instant::now();
    let mut handles = Vec::with_capacity(args.messages);
    for i in 0..args.messages {
        let permit = permits.clone().acquire_owned().await?;
        let client = client.clone();
        let target = targets[i % targets.len()].clone();
        let token = args.auth_token.clone();
        let contact = i / args.per_contact.max(1);
        let phone = format!("+1{:03}{:07}", 200 + run_id % 800, contact % 10_000_000);
        handles.push(tokio::spawn(async move {
            let _permit = permit;
            let url = format!("{target}/webhooks/twilio");
            let (signature, params) = signed_webhook(&token, &url, phone, i);
            let sent = Instant::now();
            let ok = client
                .post(&url)
                .header("X-Twilio-Signature", signature)
                .form(&params)
                .send()
                .await
                .map(|r| r.status().is_success())
                .unwrap_or(false);
            (ok, sent.elapsed())
        }));
    }
    let mut latencies = Vec::with_capacity(args.messages);
    let mut failures = 0;
    for handle in handles {
        let (ok, latency) = handle.await?;
        if ok {
            latencies.push(latency);
        } else {
            failures += 1;
        }
    }
    let ack_elapsed = started.elapsed();
    latencies.sort();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    println!(
        "targets: {}  messages: {}  concurrency: {}  per contact: {}",
        targets.len(),
        args.messages,
        args.concurrency,
        args.per_contact
    );
    println!(
        "acknowledged: {} ({} failed) in {:.2} s = {:.0} acks/s; latency p50 {:.1} ms, p99 {:.1} ms",
        latencies.len(),
        failures,
        ack_elapsed.as_secs_f64(),
        latencies.len() as f64 / ack_elapsed.as_secs_f64(),
        pct(0.50).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3,
    );

    let Some(store) = store else {
        println!("replies: not measured (pass --database-url)");
        return Ok(());
    };
    if !drained(&store, Duration::from_secs(args.timeout_secs)).await? {
        return Ok(());
    }
    let replied = started.elapsed();
    println!(
        "replied: all {} processed and sent in {:.2} s = {:.0} replies/s",
        latencies.len(),
        replied.as_secs_f64(),
        latencies.len() as f64 / replied.as_secs_f64()
    );
    if let Some(running) = _running {
        running.shutdown().await;
    }
    Ok(())
}
