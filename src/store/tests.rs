//! The store's round trips, on SQLite by default and on PostgreSQL when
//! `TEXTDESK_TEST_POSTGRES_URL` names a throw-away cluster (`scripts/postgres.sh`):
//! every value type the schema holds comes back as it went in, on both engines.

use std::collections::HashSet;

use sqlx::{Connection, Executor};

use super::*;
use crate::sms::PhoneNumber;

/// A fresh store: a new database on the PostgreSQL test cluster when one is named,
/// otherwise a SQLite file in a temp dir (kept alive by the returned guard).
async fn fresh_store() -> (Store, Option<tempfile::TempDir>) {
    match std::env::var("TEXTDESK_TEST_POSTGRES_URL") {
        Ok(admin) if !admin.is_empty() => {
            let name = format!(
                "textdesk_unit_{}_{:016x}",
                std::process::id(),
                rand::random::<u64>()
            );
            let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
            conn.execute(format!("CREATE DATABASE {name}").as_str())
                .await
                .unwrap();
            conn.close().await.ok();
            let mut url = url::Url::parse(&admin).unwrap();
            url.set_path(&name);
            let store = Store::open(url.as_str()).await.unwrap();
            assert_eq!(store.dialect(), Dialect::Postgres);
            (store, None)
        }
        _ => {
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
            let store = Store::open(&url).await.unwrap();
            assert_eq!(store.dialect(), Dialect::Sqlite);
            (store, Some(dir))
        }
    }
}

fn inbound(from: &str, sid: &str, body: &str, at: i64) -> NewInbound {
    NewInbound {
        provider_message_id: sid.to_string(),
        from: PhoneNumber::parse(from).unwrap(),
        body: body.to_string(),
        media_urls: vec!["https://example.test/a.jpg".to_string()],
        encoding: "GSM-7",
        segments: 1,
        units: body.len() as u32,
        received_at: at,
        burst_wait_ms: 0,
    }
}

const T0: i64 = 1_795_000_000_000;

#[tokio::test]
async fn a_text_round_trips_through_queue_engine_outcome_and_outbox() {
    let (store, _dir) = fresh_store().await;
    let phone = "+15555550123";
    let Received::Queued {
        message_id,
        conversation_id,
        ..
    } = store
        .receive_inbound(&inbound(phone, "SM1", "where is my order?", T0))
        .await
        .unwrap()
    else {
        panic!("first delivery is queued");
    };
    assert_eq!(
        store
            .receive_inbound(&inbound(phone, "SM1", "where is my order?", T0))
            .await
            .unwrap(),
        Received::Duplicate { message_id },
        "a provider retry is a no-op"
    );
    assert_eq!(
        store.inbound_backlog(T0 + 500).await.unwrap(),
        (1, Some(500))
    );

    let claim = store
        .claim_next_inbound("w1", T0, 10_000)
        .await
        .unwrap()
        .expect("a row to claim");
    assert_eq!((claim.message_id, claim.attempts), (message_id, 1));
    assert!(
        store
            .claim_next_inbound("w2", T0, 10_000)
            .await
            .unwrap()
            .is_none(),
        "a leased row is not claimed twice"
    );

    let ctx = store.inbound_context(&claim).await.unwrap();
    assert_eq!(ctx.conversation_id, conversation_id);
    assert_eq!(ctx.received_at, T0);
    assert_eq!(ctx.media_urls, vec!["https://example.test/a.jpg"]);
    assert_eq!(ctx.consent, Consent::Implied);

    let outcome = InboundOutcome {
        consent_change: Some(ConsentChange {
            to: Consent::OptedIn,
            source: ConsentSource::Keyword,
            actor: None,
            detail: "START".into(),
        }),
        replies: vec![NewOutbound {
            author: Author::Bot,
            kind: OutboundKind::Reply,
            body: "It ships tomorrow.".into(),
            encoding: "GSM-7",
            segments: 1,
            units: 18,
        }],
        understanding: Some(Understood {
            intent: Some("order_status".into()),
            confidence: Some(0.1),
            sentiment: Some(-0.3),
        }),
        state_json: Some("{\"misses\":0}".into()),
        handoff: None,
        ..Default::default()
    };
    let outbox_ids = store
        .complete_inbound(&claim, &ctx, &outcome, T0 + 10)
        .await
        .unwrap();
    assert_eq!(outbox_ids.len(), 1);
    assert!(store.inbound_processed(message_id).await.unwrap());
    assert_eq!(
        store
            .understood_intent(message_id)
            .await
            .unwrap()
            .as_deref(),
        Some("order_status")
    );
    // REAL on SQLite, DOUBLE PRECISION on PostgreSQL: both give back the same f64.
    // (PostgreSQL's REAL is 4 bytes: the Any driver would widen 0.1 to 0.10000000149.)
    let (confidence, sentiment): (f64, Option<f64>) =
        sqlx::query_as("SELECT confidence, sentiment FROM messages WHERE id = $1")
            .bind(message_id)
            .fetch_one(&store.pool)
            .await
            .unwrap();
    assert_eq!((confidence, sentiment), (0.1, Some(-0.3)));
    assert_eq!(
        store.consent_events(ctx.contact_id).await.unwrap(),
        vec![("opt_in".into(), "keyword".into(), Some("START".into()))]
    );
    let (consent, _, state) = store.preview_context(phone).await.unwrap();
    assert_eq!(consent, Some(Consent::OptedIn));
    assert_eq!(state.as_deref(), Some("{\"misses\":0}"));

    assert_eq!(store.outbox_backlog().await.unwrap(), 1);
    assert!(
        store
            .claim_due_outbound("d1", T0 - 1, 10_000, 1)
            .await
            .unwrap()
            .pop()
            .is_none(),
        "not due before its time"
    );
    let out = store
        .claim_due_outbound("d1", T0 + 20, 10_000, 1)
        .await
        .unwrap()
        .pop()
        .expect("the reply is due");
    assert_eq!(out.body, "It ships tomorrow.");
    assert_eq!(out.to.as_str(), phone);
    store
        .finish_outbound(
            &out,
            &DeliveryResult::Sent {
                provider_message_id: "SMout1".into(),
            },
            T0 + 30,
        )
        .await
        .unwrap();
    let rank = |s: &str| match s {
        "sent" => 1,
        "delivered" => 2,
        _ => 0,
    };
    assert!(
        store
            .update_delivery_status("SMout1", "delivered", rank, None, T0 + 40)
            .await
            .unwrap()
    );
    assert!(
        store
            .update_delivery_status("SMout1", "sent", rank, None, T0 + 50)
            .await
            .unwrap()
    );
    assert!(
        !store
            .update_delivery_status("SMnope", "sent", rank, None, T0)
            .await
            .unwrap()
    );

    let transcript = store.transcript(phone, None).await.unwrap();
    assert_eq!(transcript.len(), 2);
    assert_eq!(transcript[1].delivery_status, "delivered");
    assert_eq!(transcript[1].segments, 1);
    assert!(!store.has_pending_outbound(phone).await.unwrap());
    assert_eq!(store.outbox_backlog().await.unwrap(), 0);
}

#[tokio::test]
async fn a_failed_send_records_the_carrier_error_code() {
    let (store, _dir) = fresh_store().await;
    let phone = "+15555550124";
    let hello = NewOutbound {
        author: Author::Bot,
        kind: OutboundKind::Compliance,
        body: "Hello!".into(),
        encoding: "GSM-7",
        segments: 1,
        units: 6,
    };
    answer_with(&store, phone, "SM2", vec![hello]).await;
    let out = store
        .claim_due_outbound("d", T0, 1000, 1)
        .await
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!(out.kind, OutboundKind::Compliance);
    // A retry keeps the row pending with a later due time (a NULL-typed bind on the
    // other branches: COALESCE must accept it on PostgreSQL).
    store
        .finish_outbound(
            &out,
            &DeliveryResult::RetryAt {
                at: T0 + 5_000,
                error: "503".into(),
            },
            T0,
        )
        .await
        .unwrap();
    assert!(
        store
            .claim_due_outbound("d", T0 + 1, 1000, 1)
            .await
            .unwrap()
            .pop()
            .is_none()
    );
    let out = store
        .claim_due_outbound("d", T0 + 5_000, 1000, 1)
        .await
        .unwrap()
        .pop()
        .expect("due again after the backoff");
    assert_eq!(out.attempts, 2);
    store
        .finish_outbound(
            &out,
            &DeliveryResult::Failed {
                code: Some(30_006),
                error: "landline".into(),
            },
            T0 + 5_001,
        )
        .await
        .unwrap();
    let transcript = store.transcript(phone, None).await.unwrap();
    assert_eq!(transcript[1].delivery_status, "failed");
    assert_eq!(transcript[1].error_code, Some(30_006));
}

/// Many workers claiming at once (PostgreSQL: `FOR UPDATE SKIP LOCKED`, SQLite: one
/// writer at a time) never hand out a row twice, and never two rows of one
/// conversation at the same time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_claims_take_each_row_once_and_conversations_one_at_a_time() {
    let (store, _dir) = fresh_store().await;
    for contact in 0..6 {
        for n in 0..3 {
            store
                .receive_inbound(&inbound(
                    &format!("+1555555{:04}", 3000 + contact),
                    &format!("SM{contact}x{n}"),
                    "hello",
                    T0 + n,
                ))
                .await
                .unwrap();
        }
    }
    let claims: Vec<_> = futures_join_all((0..8).map(|w| {
        let store = store.clone();
        async move {
            store
                .claim_next_inbound(&format!("w{w}"), T0 + 100, 60_000)
                .await
                .unwrap()
        }
    }))
    .await
    .into_iter()
    .flatten()
    .collect();
    let rows: HashSet<i64> = claims.iter().map(|c| c.queue_id).collect();
    let conversations: HashSet<i64> = claims.iter().map(|c| c.conversation_id).collect();
    assert_eq!(
        rows.len(),
        claims.len(),
        "no row claimed twice: {claims:#?}"
    );
    assert_eq!(
        conversations.len(),
        claims.len(),
        "one claim per conversation: {claims:#?}"
    );
    assert_eq!(
        claims.len(),
        6,
        "every conversation's oldest text is claimable"
    );
}

/// Runs futures concurrently on the runtime and collects their outputs in order.
async fn futures_join_all<F>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

#[tokio::test]
async fn webhook_fan_out_queues_each_event_once_per_endpoint_even_when_racing() {
    let (store, _dir) = fresh_store().await;
    let public = |e: &Event| crate::integrations::events::public_type(&e.kind).map(String::from);
    let render = crate::integrations::events::render;
    store
        .log_event(
            "flow.completed",
            None,
            serde_json::json!({"flow": "old"}),
            T0 - 1,
        )
        .await
        .unwrap();
    store
        .start_webhook_cursor("http://crm.test/a", T0, T0)
        .await
        .unwrap();
    store
        .log_event(
            "flow.completed",
            None,
            serde_json::json!({"flow": "lead"}),
            T0,
        )
        .await
        .unwrap();
    store
        .log_event("message.inbound", None, serde_json::json!({}), T0)
        .await
        .unwrap();
    store
        .log_event("handoff.created", None, serde_json::json!({}), T0)
        .await
        .unwrap();

    // Two instances at once: the cursor row serialises them, the unique key backs it up.
    let settled = T0 + 10_000;
    let (a, b) = tokio::join!(
        store.fan_out_webhooks("http://crm.test/a", settled, 100, T0, public, render),
        store.fan_out_webhooks("http://crm.test/a", settled, 100, T0, public, render),
    );
    assert_eq!(
        a.unwrap() + b.unwrap(),
        2,
        "the event before the endpoint started is not sent"
    );
    let again = store.fan_out_webhooks("http://crm.test/a", settled, 100, T0, public, render);
    assert_eq!(again.await.unwrap(), 0);

    let first = store
        .claim_webhook_delivery("http://crm.test/a", "one", T0, 1_000)
        .await
        .unwrap()
        .unwrap();
    let second = store
        .claim_webhook_delivery("http://crm.test/a", "two", T0, 1_000)
        .await
        .unwrap()
        .unwrap();
    assert_ne!(first.id, second.id);
    assert_eq!(first.event_type, "flow.completed");
    assert!(
        store
            .claim_webhook_delivery("http://crm.test/a", "three", T0, 1_000)
            .await
            .unwrap()
            .is_none()
    );

    let retry = DeliveryOutcome::RetryAt {
        at: T0 + 500,
        status_code: Some(503),
        error: "HTTP 503".into(),
    };
    store
        .finish_webhook_delivery(&first, &retry, T0)
        .await
        .unwrap();
    let stolen = ClaimedDelivery {
        lease_owner: "one".into(),
        ..second.clone()
    };
    assert!(matches!(
        store.finish_webhook_delivery(&stolen, &retry, T0).await,
        Err(StoreError::LeaseLost(_))
    ));
    assert!(
        store
            .claim_webhook_delivery("http://crm.test/a", "one", T0 + 100, 1_000)
            .await
            .unwrap()
            .is_none(),
        "not due yet"
    );
    let retried = store
        .claim_webhook_delivery("http://crm.test/a", "one", T0 + 500, 1_000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((retried.id, retried.attempts), (first.id, 2));
    store
        .finish_webhook_delivery(
            &retried,
            &DeliveryOutcome::Delivered { status_code: 204 },
            T0 + 600,
        )
        .await
        .unwrap();

    let view = store
        .webhook_deliveries("http://crm.test/a", 10)
        .await
        .unwrap();
    assert_eq!((view.pending, view.delivered, view.failed), (1, 1, 0));
    let delivered = view.recent.iter().find(|d| d.id == first.id).unwrap();
    assert_eq!(delivered.last_status_code, Some(204));
    assert_eq!(delivered.last_error.as_deref(), Some("HTTP 503"));
}

#[tokio::test]
async fn a_burst_waits_for_its_last_text_and_is_claimed_whole() {
    let (store, _dir) = fresh_store().await;
    let phone = "+15555550177";
    let text = |sid: &str, body: &str, at: i64, wait: i64| NewInbound {
        burst_wait_ms: wait,
        ..inbound(phone, sid, body, at)
    };
    store
        .receive_inbound(&text("SMb1", "hi", T0, 2000))
        .await
        .unwrap();
    store
        .receive_inbound(&text("SMb2", "my order", T0 + 1500, 2000))
        .await
        .unwrap();
    store
        .receive_inbound(&text("SMb3", "its late", T0 + 3000, 2000))
        .await
        .unwrap();
    // The first text's wait was pushed back by each later one (to T0 + 5000).
    for at in [T0 + 2000, T0 + 4999] {
        assert!(
            store
                .claim_next_inbound("w", at, 1000)
                .await
                .unwrap()
                .is_none(),
            "nothing is read while the burst goes on (at +{} ms)",
            at - T0
        );
    }
    let claim = store
        .claim_next_inbound("w", T0 + 5000, 10_000)
        .await
        .unwrap()
        .expect("the burst is ready once it has been quiet for the window");
    let ctx = store.inbound_context(&claim).await.unwrap();
    assert_eq!(ctx.body, "hi");
    let following: Vec<_> = ctx.following.iter().map(|t| t.body.as_str()).collect();
    assert_eq!(following, ["my order", "its late"]);

    let mut ctx = ctx;
    ctx.folded = std::mem::take(&mut ctx.following);
    store
        .complete_inbound(&claim, &ctx, &InboundOutcome::default(), T0 + 5100)
        .await
        .unwrap();
    assert_eq!(
        store.inbound_backlog(T0 + 5100).await.unwrap().0,
        0,
        "the folded texts were committed with the first"
    );
}

/// The webhook's group commit stores a batch with multi-row statements in rounds of
/// distinct phones: a contact's texts in one batch must still end up as if they had
/// come one by one (one conversation, the burst pushed back, a retry a duplicate).
#[tokio::test]
async fn a_batch_stores_a_contacts_texts_as_if_they_came_one_by_one() {
    let (store, _dir) = fresh_store().await;
    let phone = "+15555550179";
    let text = |sid: &str, body: &str, at: i64| NewInbound {
        burst_wait_ms: 2000,
        ..inbound(phone, sid, body, at)
    };
    let other = inbound("+15555550180", "SMo1", "hours?", T0 + 10);
    let batch = [
        text("SMc1", "hi", T0),
        other.clone(),
        text("SMc2", "my order", T0 + 1500),
        text("SMc1", "hi", T0),
        text("SMc3", "its late", T0 + 3000),
    ];
    let received = store.receive_inbound_batch(&batch).await.unwrap();
    let queued: Vec<(i64, i64)> = received
        .iter()
        .filter_map(|r| match *r {
            Received::Queued {
                message_id,
                conversation_id,
                ..
            } => Some((message_id, conversation_id)),
            Received::Duplicate { .. } => None,
        })
        .collect();
    assert_eq!(
        queued.len(),
        4,
        "four distinct texts are queued: {received:?}"
    );
    assert_eq!(
        received[3],
        Received::Duplicate {
            message_id: queued[0].0
        },
        "the retry in the same batch is the first text again"
    );
    assert_eq!(
        queued[0].1, queued[2].1,
        "one conversation for the contact's texts"
    );
    assert_eq!(queued[2].1, queued[3].1);
    assert_ne!(queued[0].1, queued[1].1, "another contact has its own");
    assert!(matches!(received[4], Received::Queued { ready_at, .. } if ready_at == T0 + 5000));

    // The other contact's text (no burst wait) is ready first; the burst waits for its
    // last text and is read whole, in arrival order.
    let claim = store
        .claim_next_inbound("w", T0 + 10, 10_000)
        .await
        .unwrap()
        .expect("the other contact's text");
    assert_eq!(store.inbound_context(&claim).await.unwrap().body, "hours?");
    assert!(
        store
            .claim_next_inbound("w", T0 + 4999, 1000)
            .await
            .unwrap()
            .is_none(),
        "the burst's first text was pushed back by the later ones"
    );
    let claim = store
        .claim_next_inbound("w", T0 + 5000, 10_000)
        .await
        .unwrap()
        .expect("the burst once quiet");
    let ctx = store.inbound_context(&claim).await.unwrap();
    assert_eq!(ctx.body, "hi");
    let following: Vec<_> = ctx.following.iter().map(|t| t.body.as_str()).collect();
    assert_eq!(following, ["my order", "its late"]);

    // A second batch for a contact with an open conversation continues it.
    let later = store
        .receive_inbound_batch(&[
            other.clone(),
            inbound("+15555550180", "SMo2", "thanks", T0 + 20),
        ])
        .await
        .unwrap();
    assert_eq!(
        later[0],
        Received::Duplicate {
            message_id: queued[1].0
        }
    );
    assert!(
        matches!(later[1], Received::Queued { conversation_id, .. } if conversation_id == queued[1].1)
    );
}

#[tokio::test]
async fn kept_texts_are_stored_in_arrival_order_once_each_and_then_forgotten() {
    let (store, _dir) = fresh_store().await;
    let phone = "+15555550181";
    let first = inbound(phone, "SMk1", "hi", T0);
    let batch = [
        first.clone(),
        inbound("+15555550182", "SMk2", "hours?", T0 + 1),
        inbound(phone, "SMk3", "my order", T0 + 2),
    ];
    store.keep_arrivals(&batch).await.unwrap();
    // The provider sends the first one again before it is stored.
    store.keep_arrivals(&[first.clone()]).await.unwrap();
    assert!(store.has_arrivals().await.unwrap());
    assert_eq!(
        store.inbound_backlog(T0 + 100).await.unwrap(),
        (4, Some(100)),
        "kept texts count in the backlog before they are stored"
    );

    let stored = store.store_arrivals(3).await.unwrap();
    let sids: Vec<&str> = stored
        .iter()
        .map(|(m, _)| m.provider_message_id.as_str())
        .collect();
    assert_eq!(
        sids,
        ["SMk1", "SMk2", "SMk3"],
        "oldest first, up to the limit"
    );
    assert_eq!(stored[0].0, first, "kept as it arrived");
    let Received::Queued {
        message_id,
        conversation_id,
        ..
    } = stored[0].1
    else {
        panic!("the first text is queued: {:?}", stored[0].1);
    };
    assert!(
        matches!(stored[2].1, Received::Queued { conversation_id: c, .. } if c == conversation_id),
        "the contact's second text joins its conversation"
    );
    let again = store.store_arrivals(3).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(
        again[0].1,
        Received::Duplicate { message_id },
        "the repeat is the stored text"
    );
    assert!(store.store_arrivals(3).await.unwrap().is_empty());
    assert!(!store.has_arrivals().await.unwrap());
    assert_eq!(store.inbound_backlog(T0 + 100).await.unwrap().0, 3);

    // A text that cannot be stored is set aside after a few tries, still kept.
    store
        .keep_arrivals(&[inbound(phone, "SMk4", "late", T0 + 3)])
        .await
        .unwrap();
    for tries in 1..=MAX_ARRIVAL_ATTEMPTS {
        let (sid, attempts) = store.count_arrival_failure().await.unwrap().unwrap();
        assert_eq!((sid.as_str(), attempts), ("SMk4", tries));
    }
    assert!(!store.has_arrivals().await.unwrap());
    assert!(store.store_arrivals(3).await.unwrap().is_empty());
    assert_eq!(store.inbound_backlog(T0 + 100).await.unwrap().0, 4);
}

#[tokio::test]
async fn a_keyword_is_read_at_once_and_so_is_the_burst_before_it() {
    let (store, _dir) = fresh_store().await;
    let phone = "+15555550178";
    let text = |sid: &str, body: &str, at: i64, wait: i64| NewInbound {
        burst_wait_ms: wait,
        ..inbound(phone, sid, body, at)
    };
    store
        .receive_inbound(&text("SMk1", "hi", T0, 2000))
        .await
        .unwrap();
    store
        .receive_inbound(&text("SMk2", "STOP", T0 + 100, 0))
        .await
        .unwrap();
    let first = store
        .claim_next_inbound("w", T0 + 100, 10_000)
        .await
        .unwrap()
        .expect("STOP flushed the burst before it");
    let ctx = store.inbound_context(&first).await.unwrap();
    assert_eq!(ctx.body, "hi");
    store
        .complete_inbound(&first, &ctx, &InboundOutcome::default(), T0 + 100)
        .await
        .unwrap();
    let stop = store
        .claim_next_inbound("w", T0 + 100, 10_000)
        .await
        .unwrap()
        .expect("the keyword itself waits for nothing");
    assert_eq!(store.inbound_context(&stop).await.unwrap().body, "STOP");
}

#[tokio::test]
async fn a_burst_that_never_ends_is_read_after_four_windows() {
    let (store, _dir) = fresh_store().await;
    let phone = "+15555550179";
    for i in 0..12 {
        let msg = NewInbound {
            burst_wait_ms: 2000,
            ..inbound(
                phone,
                &format!("SMn{i}"),
                &format!("text {i}"),
                T0 + i * 1000,
            )
        };
        store.receive_inbound(&msg).await.unwrap();
    }
    let claim = store
        .claim_next_inbound("w", T0 + 8000, 10_000)
        .await
        .unwrap()
        .expect("the first text is read 4 windows after it arrived");
    let ctx = store.inbound_context(&claim).await.unwrap();
    assert_eq!(ctx.body, "text 0");
    assert_eq!(ctx.following.len(), 7, "at most 8 texts make one turn");
}

/// Stores a text from `phone` and commits the engine's answer to it at `T0`, as a
/// worker would: the replies wait in the outbox.
async fn answer_with(store: &Store, phone: &str, sid: &str, replies: Vec<NewOutbound>) {
    store
        .receive_inbound(&inbound(phone, sid, "hi", T0))
        .await
        .unwrap();
    let claim = store
        .claim_next_inbound("w", T0, 1000)
        .await
        .unwrap()
        .unwrap();
    let ctx = store.inbound_context(&claim).await.unwrap();
    let outcome = InboundOutcome {
        replies,
        ..Default::default()
    };
    store
        .complete_inbound(&claim, &ctx, &outcome, T0)
        .await
        .unwrap();
}

/// A reply for `complete_inbound`.
fn bot_reply(body: &str) -> NewOutbound {
    NewOutbound {
        author: Author::Bot,
        kind: OutboundKind::Reply,
        body: body.into(),
        encoding: "GSM-7",
        segments: 1,
        units: body.len() as u32,
    }
}

#[tokio::test]
async fn a_claim_of_several_replies_takes_one_per_contact_oldest_first() {
    let (store, _dir) = fresh_store().await;
    for (phone, sid, replies) in [
        ("+15555550131", "SM31", vec!["first to A", "second to A"]),
        ("+15555550132", "SM32", vec!["only to B"]),
    ] {
        answer_with(
            &store,
            phone,
            sid,
            replies.into_iter().map(bot_reply).collect(),
        )
        .await;
    }

    let claims = store.claim_due_outbound("d", T0, 1000, 16).await.unwrap();
    let bodies: Vec<&str> = claims.iter().map(|c| c.body.as_str()).collect();
    assert_eq!(
        bodies,
        ["first to A", "only to B"],
        "A's second waits for its first"
    );
    assert!(
        store
            .claim_due_outbound("d", T0, 1000, 16)
            .await
            .unwrap()
            .is_empty(),
        "nothing more is claimable while those are in flight"
    );
    for claim in &claims {
        let sent = DeliveryResult::Sent {
            provider_message_id: format!("SMout{}", claim.outbox_id),
        };
        store.finish_outbound(claim, &sent, T0 + 1).await.unwrap();
    }
    let next = store
        .claim_due_outbound("d", T0 + 1, 1000, 16)
        .await
        .unwrap();
    let bodies: Vec<&str> = next.iter().map(|c| c.body.as_str()).collect();
    assert_eq!(bodies, ["second to A"]);
}

#[tokio::test]
async fn one_claim_takes_the_oldest_text_of_several_conversations_never_two_of_one() {
    let (store, _dir) = fresh_store().await;
    // Three contacts, two texts each, stored A1 B1 C1 A2 B2 C2.
    for n in 0..2 {
        for contact in 0..3 {
            store
                .receive_inbound(&inbound(
                    &format!("+1555555{:04}", 4000 + contact),
                    &format!("SMb{contact}x{n}"),
                    &format!("text {n} of contact {contact}"),
                    T0 + n,
                ))
                .await
                .unwrap();
        }
    }
    let first = store.claim_inbound("w1", T0 + 10, 10_000, 2).await.unwrap();
    let second = store
        .claim_inbound("w2", T0 + 10, 10_000, 10)
        .await
        .unwrap();
    let mut bodies = Vec::new();
    for claim in first.iter().chain(&second) {
        bodies.push(store.inbound_context(claim).await.unwrap().body);
    }
    assert_eq!(
        bodies,
        [
            "text 0 of contact 0",
            "text 0 of contact 1",
            "text 0 of contact 2"
        ],
        "the limit is kept, oldest first, and a conversation's second text waits for its first"
    );
    assert!(first.iter().all(|c| c.lease_owner == "w1"));
    assert!(
        store
            .claim_inbound("w3", T0 + 10, 10_000, 10)
            .await
            .unwrap()
            .is_empty(),
        "nothing is claimable while every conversation has a text in hand"
    );
    assert!(
        first.iter().chain(&second).all(|c| c.later_texts_pending),
        "each claim knows its conversation has a later text waiting"
    );
    for claim in first.iter().chain(&second) {
        let ctx = store.inbound_context(claim).await.unwrap();
        assert_eq!(
            ctx.following.len(),
            1,
            "the later text is the rest of its burst"
        );
        store
            .complete_inbound(claim, &ctx, &InboundOutcome::default(), T0 + 20)
            .await
            .unwrap();
    }
    let last = store
        .claim_inbound("w4", T0 + 30, 10_000, 10)
        .await
        .unwrap();
    assert_eq!(last.len(), 3);
    for claim in &last {
        assert!(
            !claim.later_texts_pending,
            "nothing follows a conversation's last text"
        );
        let ctx = store.inbound_context(claim).await.unwrap();
        assert!(ctx.body.starts_with("text 1 of contact"));
        assert!(ctx.following.is_empty());
    }
}

#[tokio::test]
async fn results_recorded_together_leave_a_lost_lease_to_its_new_owner() {
    let (store, _dir) = fresh_store().await;
    for (phone, sid) in [("+15555550141", "SM41"), ("+15555550142", "SM42")] {
        answer_with(&store, phone, sid, vec![bot_reply("on its way")]).await;
    }
    // One dispatcher holds both texts, leased until T0+1000 and T0+1500.
    let mut claims = store.claim_due_outbound("d1", T0, 1000, 1).await.unwrap();
    claims.extend(
        store
            .claim_due_outbound("d1", T0 + 500, 1000, 1)
            .await
            .unwrap(),
    );
    assert_eq!(claims.len(), 2);
    // The first lease lapses and another dispatcher takes that text over.
    let taken_over = store
        .claim_due_outbound("d2", T0 + 1200, 1000, 16)
        .await
        .unwrap();
    assert_eq!(
        taken_over.iter().map(|c| c.outbox_id).collect::<Vec<_>>(),
        [claims[0].outbox_id]
    );
    let sent = |claim: ClaimedOutbound, by: &str| {
        let result = DeliveryResult::Sent {
            provider_message_id: format!("SM{by}x{}", claim.outbox_id),
        };
        (claim, result)
    };
    let lost_id = claims[0].outbox_id;
    let results: Vec<_> = claims.into_iter().map(|c| sent(c, "d1")).collect();
    let lost = store
        .finish_outbound_all(&results, T0 + 1201)
        .await
        .unwrap();
    assert_eq!(lost, [lost_id], "the lapsed one is left to its new owner");
    assert_eq!(
        store.outbox_backlog().await.unwrap(),
        1,
        "the other is recorded"
    );

    let results: Vec<_> = taken_over.into_iter().map(|c| sent(c, "d2")).collect();
    assert!(
        store
            .finish_outbound_all(&results, T0 + 1202)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.outbox_backlog().await.unwrap(), 0);
    for phone in ["+15555550141", "+15555550142"] {
        let transcript = store.transcript(phone, None).await.unwrap();
        let sent: Vec<_> = transcript
            .iter()
            .filter(|e| e.direction == Direction::Outbound)
            .map(|e| e.delivery_status.as_str())
            .collect();
        assert_eq!(sent, ["sent"], "{phone}");
    }
}

/// The workers' group commit: outcomes committed together are each written once, and
/// one whose lease was taken over meanwhile is left to its new owner, nothing of it
/// written.
#[tokio::test]
async fn outcomes_committed_together_leave_a_lost_lease_to_its_new_owner() {
    let (store, _dir) = fresh_store().await;
    for (phone, sid) in [("+15555550141", "SM41"), ("+15555550142", "SM42")] {
        store
            .receive_inbound(&inbound(phone, sid, "where is my order?", T0))
            .await
            .unwrap();
    }
    let claims = store.claim_inbound("w1", T0, 1000, 2).await.unwrap();
    assert_eq!(claims.len(), 2);
    let mut texts = Vec::new();
    for claim in claims {
        let ctx = store.inbound_context(&claim).await.unwrap();
        let outcome = InboundOutcome {
            replies: vec![bot_reply(&format!("answer to {}", ctx.phone.as_str()))],
            ..Default::default()
        };
        texts.push(Completion {
            claim,
            ctx,
            outcome,
            now: T0 + 10,
        });
    }
    // The first text's lease ran out and another worker claimed it.
    assert!(
        store
            .renew_inbound_lease(&texts[0].claim, T0 + 5)
            .await
            .unwrap()
    );
    let taken = store.claim_inbound("w2", T0 + 6, 1000, 2).await.unwrap();
    assert_eq!(taken.len(), 1);
    assert_eq!(taken[0].queue_id, texts[0].claim.queue_id);

    let results = store.complete_inbound_all(&texts).await.unwrap();
    assert!(
        matches!(results[0], Err(StoreError::LeaseLost(id)) if id == texts[0].claim.queue_id),
        "{:?}",
        results[0]
    );
    assert_eq!(results[1].as_ref().unwrap().len(), 1);
    let due = store
        .claim_due_outbound("d", T0 + 20, 1000, 10)
        .await
        .unwrap();
    let bodies: Vec<&str> = due.iter().map(|c| c.body.as_str()).collect();
    assert_eq!(
        bodies,
        ["answer to +15555550142"],
        "only the outcome whose lease held was written"
    );
    assert_eq!(
        store.inbound_backlog(T0 + 20).await.unwrap().0,
        1,
        "the taken-over text is still its new owner's to finish"
    );
}

/// Routers on several instances filling one agent at once: with room for one, one
/// assignment wins and the others are refused, on PostgreSQL (the agent's row is
/// taken first) as on SQLite (one writer).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_assignments_never_fill_an_agent_past_capacity() {
    let (store, _dir) = fresh_store().await;
    let agent = store
        .create_agent("ana", Role::Agent, "hash-ana", T0)
        .await
        .unwrap();
    let mut handoffs = Vec::new();
    for n in 0..6 {
        let Received::Queued {
            message_id,
            conversation_id,
            ..
        } = store
            .receive_inbound(&inbound(
                &format!("+1555555{:04}", 5000 + n),
                &format!("SMroute{n}"),
                "agent please",
                T0,
            ))
            .await
            .unwrap()
        else {
            panic!("stored");
        };
        let (_writing, mut tx) = store.begin_write().await.unwrap();
        let contact_id: i64 =
            sqlx::query_scalar("SELECT contact_id FROM conversations WHERE id = $1")
                .bind(conversation_id)
                .fetch_one(&mut *tx)
                .await
                .unwrap();
        let new = NewHandoff {
            priority: 3,
            rule: "asked_for_human".into(),
            reason: "asked".into(),
            intent: None,
            summary: String::new(),
            summary_by: "local",
            headline: "Asked for a person".into(),
        };
        let id = Store::open_handoff(&mut tx, conversation_id, contact_id, message_id, &new, T0)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        handoffs.push(id);
    }
    for round in 0..5 {
        let results = futures_join_all(handoffs.clone().into_iter().map(|id| {
            let store = store.clone();
            let agent_id = agent.id;
            async move { store.assign_handoff(id, agent_id, 1, T0 + 1).await }
        }))
        .await;
        let won = results.iter().filter(|r| r.is_ok()).count();
        assert!(
            results
                .iter()
                .all(|r| matches!(r, Ok(_) | Err(StoreError::Conflict(_)))),
            "{results:?}"
        );
        assert_eq!(won, usize::from(round == 0), "round {round}: {results:?}");
        let open = store.open_handoffs_by_agent().await.unwrap();
        assert_eq!(open.get(&agent.id), Some(&1), "round {round}");
    }
}
