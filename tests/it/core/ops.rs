//! What an on-call engineer relies on: `/metrics` in Prometheus text format with the
//! engine's counters and gauges, and `/readyz` naming the part that is down.

use std::time::Duration;

use serde_json::Value;

use crate::support::{TestApp, sid};

#[tokio::test]
async fn metrics_parse_as_prometheus_text_and_count_the_traffic() {
    let app = TestApp::spawn().await;
    let phone = "+13035550301";
    app.text(phone, "Hi, where is my order #48213?", &sid())
        .await;
    app.settle().await;

    let response = app.get("/metrics").await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let body = response.text().await.unwrap();
    let scrape = prometheus_parse::Scrape::parse(body.lines().map(|l| Ok(l.to_string())))
        .unwrap_or_else(|e| panic!("not Prometheus text format: {e}\n{body}"));
    let value = |name: &str| -> f64 {
        scrape
            .samples
            .iter()
            .filter(|s| s.metric == name)
            .map(|s| match s.value {
                prometheus_parse::Value::Counter(v)
                | prometheus_parse::Value::Gauge(v)
                | prometheus_parse::Value::Untyped(v) => v,
                _ => 0.0,
            })
            .sum()
    };
    // The recorder is per process (other tests add to the counters), so at least.
    assert!(value("textdesk_messages_inbound_total") >= 1.0, "{body}");
    assert!(value("textdesk_messages_outbound_total") >= 1.0, "{body}");
    assert!(value("textdesk_segments_sent_total") >= 1.0, "{body}");
    for gauge in [
        "textdesk_inbound_queue_depth",
        "textdesk_inbound_queue_oldest_seconds",
        "textdesk_outbox_pending",
        "textdesk_handoffs_waiting",
    ] {
        assert!(
            scrape.samples.iter().any(|s| s.metric == gauge),
            "{gauge} missing:\n{body}"
        );
    }
    let histogram = scrape
        .samples
        .iter()
        .find(|s| s.metric == "textdesk_processing_seconds")
        .unwrap_or_else(|| panic!("no processing histogram:\n{body}"));
    assert!(
        matches!(histogram.value, prometheus_parse::Value::Histogram(_)),
        "{histogram:?}"
    );
}

#[tokio::test]
async fn readyz_names_a_stopped_database() {
    let app = TestApp::spawn().await;
    let url = format!("{}/readyz", app.base_url);
    let mut ready = None;
    for _ in 0..200 {
        let response = app.http.get(&url).send().await.unwrap();
        if response.status() == 200 {
            ready = Some(response.json::<Value>().await.unwrap());
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let ready = ready.expect("textdesk becomes ready");
    assert_eq!(ready["checks"]["database"], "ok", "{ready:#}");
    assert_eq!(ready["checks"]["knowledge"], "ok", "{ready:#}");
    assert_eq!(ready["checks"]["workers"], "ok", "{ready:#}");

    app.store().close().await;
    let response = app.http.get(&url).send().await.unwrap();
    assert_eq!(response.status(), 503);
    let why: Value = response.json().await.unwrap();
    assert_eq!(why["failing"], serde_json::json!(["database"]), "{why:#}");
    // Liveness is not readiness: the process still serves.
    let alive = app.get("/healthz").await;
    assert_eq!(alive.status(), 200);
}
