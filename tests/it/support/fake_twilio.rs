//! A fake Twilio Messages API on loopback that keeps what it was sent, so tests can
//! count texts a customer would have received: every POST it takes is listed on GET
//! (newest first, filtered by `To`), as Twilio's message list is, which is what
//! textdesk reads to reconcile a send that timed out.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// What the fake does with one POST.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Takes the text and answers 201 at once.
    Accept,
    /// Takes the text and answers 201 after the delay (late past a client's timeout:
    /// the text went, but the client does not know).
    AcceptAfter(Duration),
    /// Answers 503 without taking the text.
    Unavailable,
}

type Plan = dyn Fn(usize) -> Fault + Send + Sync;

/// The fake; clones share what was taken.
#[derive(Clone)]
pub struct FakeTwilio {
    taken: Arc<Mutex<Vec<(String, String)>>>,
    posts: Arc<AtomicUsize>,
    plan: Arc<Plan>,
}

impl FakeTwilio {
    /// Mounts the fake on `server`; `plan` decides each POST by its index (from 0).
    pub async fn mount(
        server: &MockServer,
        plan: impl Fn(usize) -> Fault + Send + Sync + 'static,
    ) -> Self {
        let fake = Self {
            taken: Default::default(),
            posts: Default::default(),
            plan: Arc::new(plan),
        };
        Mock::given(method("POST"))
            .and(path_regex(r"/Messages\.json$"))
            .respond_with(fake.clone())
            .mount(server)
            .await;
        let listing = fake.clone();
        Mock::given(method("GET"))
            .and(path_regex(r"/Messages\.json$"))
            .respond_with(move |request: &Request| listing.list(request))
            .mount(server)
            .await;
        fake
    }

    /// How many texts it took for `to`.
    pub fn taken_for(&self, to: &str) -> usize {
        self.taken
            .lock()
            .unwrap()
            .iter()
            .filter(|(number, _)| number == to)
            .count()
    }

    /// POSTs answered so far, taken or not.
    pub fn posts(&self) -> usize {
        self.posts.load(Ordering::SeqCst)
    }

    fn list(&self, request: &Request) -> ResponseTemplate {
        let to = request
            .url
            .query_pairs()
            .find(|(k, _)| k == "To")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default();
        let taken = self.taken.lock().unwrap();
        let messages: Vec<serde_json::Value> = taken
            .iter()
            .enumerate()
            .rev()
            .filter(|(_, (number, _))| *number == to)
            .map(|(i, (_, body))| {
                serde_json::json!({ "sid": sid_of(i), "body": body, "status": "sent" })
            })
            .collect();
        ResponseTemplate::new(200).set_body_json(serde_json::json!({ "messages": messages }))
    }
}

fn sid_of(index: usize) -> String {
    format!("SMtaken{index:08}")
}

impl Respond for FakeTwilio {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let index = self.posts.fetch_add(1, Ordering::SeqCst);
        let delay = match (self.plan)(index) {
            Fault::Unavailable => return ResponseTemplate::new(503),
            Fault::Accept => Duration::ZERO,
            Fault::AcceptAfter(delay) => delay,
        };
        let form: std::collections::HashMap<String, String> =
            url::form_urlencoded::parse(&request.body)
                .into_owned()
                .collect();
        let mut taken = self.taken.lock().unwrap();
        taken.push((form["To"].clone(), form["Body"].clone()));
        let sid = sid_of(taken.len() - 1);
        ResponseTemplate::new(201)
            .set_body_json(serde_json::json!({ "sid": sid, "status": "queued" }))
            .set_delay(delay)
    }
}
