//! STOP / START / HELP: consent is recorded, confirmed once, and honoured by everyone.

use crate::support::{TestApp, sid};
use textdesk::store::Consent;

const CUSTOMER: &str = "+15555550142";

/// The contact's consent now, and its changes as (change, source, the words).
async fn consent_of(
    app: &TestApp,
    phone: &str,
) -> (Consent, Vec<(String, String, Option<String>)>) {
    let consent = app.store().consent_by_phone(phone).await.unwrap().unwrap();
    let events = app
        .store()
        .consent_events(consent.contact_id)
        .await
        .unwrap();
    (consent.consent, events)
}

#[tokio::test]
async fn stop_is_confirmed_once_and_then_nothing_more_is_sent() {
    let app = TestApp::spawn().await;
    app.text(CUSTOMER, "hello", &sid()).await;
    app.settle().await;
    assert_eq!(app.outbound(CUSTOMER).await.len(), 1);

    assert_eq!(app.text(CUSTOMER, "Stop.", &sid()).await.status(), 200);
    app.settle().await;
    let outbound = app.outbound(CUSTOMER).await;
    assert_eq!(outbound.len(), 2);
    assert!(
        outbound[1].body.contains("unsubscribed"),
        "{}",
        outbound[1].body
    );

    for text in ["are you there?", "STOP", "unsubscribe", "where is my order"] {
        assert_eq!(app.text(CUSTOMER, text, &sid()).await.status(), 200);
    }
    app.settle().await;
    assert_eq!(
        app.outbound(CUSTOMER).await.len(),
        2,
        "nothing after the confirmation"
    );
    // Everything the customer sent is still stored.
    assert_eq!(app.transcript(CUSTOMER).await.len(), 2 + 4 + 2);

    let (consent, events) = consent_of(&app, CUSTOMER).await;
    assert_eq!(consent, Consent::OptedOut);
    assert_eq!(
        events,
        vec![(
            "opt_out".to_string(),
            "keyword".to_string(),
            Some("Stop.".to_string())
        )]
    );
}

#[tokio::test]
async fn start_resumes_and_the_next_text_is_answered() {
    let app = TestApp::spawn().await;
    app.text(CUSTOMER, "STOP", &sid()).await;
    app.settle().await;
    app.text(CUSTOMER, "START", &sid()).await;
    app.settle().await;
    let outbound = app.outbound(CUSTOMER).await;
    assert_eq!(outbound.len(), 2);
    assert!(
        outbound[1].body.contains("resubscribed"),
        "{}",
        outbound[1].body
    );

    app.text(CUSTOMER, "What are your store hours?", &sid())
        .await;
    app.settle().await;
    assert_eq!(app.outbound(CUSTOMER).await.len(), 3);
    let consent = app
        .store()
        .consent_by_phone(CUSTOMER)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(consent.consent, Consent::OptedIn);
}

#[tokio::test]
async fn yes_opts_back_in_only_while_opted_out() {
    let app = TestApp::spawn().await;
    app.text(CUSTOMER, "yes", &sid()).await;
    app.settle().await;
    let first = app.outbound(CUSTOMER).await;
    assert!(
        !first[0].body.contains("resubscribed"),
        "an ordinary yes is an ordinary text"
    );

    app.text(CUSTOMER, "end", &sid()).await;
    app.text(CUSTOMER, "YES", &sid()).await;
    app.settle().await;
    let outbound = app.outbound(CUSTOMER).await;
    assert!(outbound.last().unwrap().body.contains("resubscribed"));
}

#[tokio::test]
async fn help_is_answered_even_while_opted_out() {
    let app = TestApp::spawn().await;
    app.text(CUSTOMER, "help", &sid()).await;
    app.settle().await;
    let outbound = app.outbound(CUSTOMER).await;
    assert!(
        outbound[0].body.contains("Reply STOP to opt out"),
        "{}",
        outbound[0].body
    );

    app.text(CUSTOMER, "quit", &sid()).await;
    app.text(CUSTOMER, "INFO", &sid()).await;
    app.settle().await;
    let outbound = app.outbound(CUSTOMER).await;
    assert_eq!(outbound.len(), 3);
    assert!(outbound[2].body.contains("Reply STOP to opt out"));
}

#[tokio::test]
async fn a_keyword_inside_a_sentence_is_an_ordinary_message() {
    let app = TestApp::spawn().await;
    app.text(
        CUSTOMER,
        "please stop sending me coupons, but where is my order?",
        &sid(),
    )
    .await;
    app.settle().await;
    let consent = app
        .store()
        .consent_by_phone(CUSTOMER)
        .await
        .unwrap()
        .unwrap();
    assert_ne!(consent.consent, Consent::OptedOut);
}

#[tokio::test]
async fn an_opt_out_in_plain_words_is_confirmed_once_and_recorded_with_its_words() {
    let app = TestApp::spawn().await;
    app.wait_for_knowledge().await;
    let phone = "+15555550143";
    app.text(phone, "Stop. Thank you", &sid()).await;
    app.settle().await;
    let outbound = app.outbound(phone).await;
    assert_eq!(outbound.len(), 1, "{outbound:?}");
    assert!(
        outbound[0].body.contains("unsubscribed"),
        "{}",
        outbound[0].body
    );

    app.text(phone, "where is my order", &sid()).await;
    app.settle().await;
    assert_eq!(
        app.outbound(phone).await.len(),
        1,
        "silence after the opt-out"
    );

    let (consent, events) = consent_of(&app, phone).await;
    assert_eq!(consent, Consent::OptedOut);
    assert_eq!(
        events,
        vec![(
            "opt_out".to_string(),
            "plain_language".to_string(),
            Some("Stop. Thank you".to_string())
        )]
    );
}

#[tokio::test]
async fn an_unclear_opt_out_gets_one_question_and_a_look_alike_a_normal_answer() {
    let app = TestApp::spawn().await;
    app.wait_for_knowledge().await;
    let phone = "+15555550144";
    app.text(phone, "how do I stop getting these texts?", &sid())
        .await;
    app.settle().await;
    let outbound = app.outbound(phone).await;
    assert_eq!(outbound.len(), 1);
    assert!(
        outbound[0].body.starts_with("Reply STOP"),
        "{}",
        outbound[0].body
    );
    let consent = app.store().consent_by_phone(phone).await.unwrap().unwrap();
    assert_eq!(
        consent.consent,
        Consent::Implied,
        "nothing changes until STOP"
    );

    let other = "+15555550145";
    app.text(other, "can I cancel my order", &sid()).await;
    app.settle().await;
    let outbound = app.outbound(other).await;
    assert_eq!(outbound.len(), 1);
    assert!(!outbound[0].body.contains("STOP"), "{}", outbound[0].body);
    assert!(
        !outbound[0].body.contains("unsubscribed"),
        "{}",
        outbound[0].body
    );
    assert_eq!(consent_of(&app, other).await.0, Consent::Implied);
}

#[tokio::test]
async fn alto_is_answered_in_spanish_and_so_are_ayuda_and_iniciar() {
    let app = TestApp::spawn().await;
    let phone = "+15555550177";
    app.text(phone, "ALTO", &sid()).await;
    app.settle().await;
    let out = app.outbound(phone).await;
    assert_eq!(out.len(), 1, "one confirmation");
    assert!(
        out[0]
            .body
            .starts_with("Ya no recibirá mensajes de Trailhead Outfitters"),
        "{}",
        out[0].body
    );
    let (consent, events) = consent_of(&app, phone).await;
    assert_eq!(consent, Consent::OptedOut);
    assert_eq!(
        events,
        vec![("opt_out".into(), "keyword".into(), Some("ALTO".into()))]
    );

    // Then silence, in any language.
    app.text(phone, "¿Dónde está mi pedido?", &sid()).await;
    app.text(phone, "where is my order", &sid()).await;
    app.settle().await;
    assert_eq!(app.outbound(phone).await.len(), 1);

    // HELP is answered even while opted out, in the language it was asked in.
    app.text(phone, "Ayuda", &sid()).await;
    app.settle().await;
    let help = app.outbound(phone).await.last().unwrap().body.clone();
    assert!(help.contains("Responda ALTO para cancelar"), "{help}");

    app.text(phone, "iniciar", &sid()).await;
    app.settle().await;
    let back = app.outbound(phone).await.last().unwrap().body.clone();
    assert!(back.starts_with("Se ha vuelto a suscribir"), "{back}");
    assert_eq!(consent_of(&app, phone).await.0, Consent::OptedIn);

    // English keywords keep English answers, and a Spanish sentence that starts
    // with a keyword is an ordinary text.
    app.text(phone, "alto ahí, ¿cuándo abren el sábado?", &sid())
        .await;
    app.settle().await;
    assert_eq!(consent_of(&app, phone).await.0, Consent::OptedIn);
    app.text(phone, "STOP", &sid()).await;
    app.settle().await;
    let stop = app.outbound(phone).await.last().unwrap().body.clone();
    assert!(stop.starts_with("You're unsubscribed"), "{stop}");
}

#[tokio::test]
async fn an_auto_responder_texting_help_or_start_gets_two_answers_not_fifteen() {
    let app = TestApp::spawn().await;
    let machine = "+15555550188";
    for _ in 0..15 {
        app.text(machine, "HELP", &sid()).await;
    }
    app.settle().await;
    let out = app.outbound(machine).await;
    assert_eq!(out.len(), 2, "{out:?}");
    assert!(out.iter().all(|m| m.body.contains("Reply STOP to opt out")));
    assert_eq!(
        app.transcript(machine).await.len(),
        17,
        "every text is stored"
    );

    // START from a contact who never opted out: the same cap.
    let starter = "+15555550189";
    for _ in 0..10 {
        app.text(starter, "START", &sid()).await;
    }
    app.settle().await;
    assert_eq!(app.outbound(starter).await.len(), 2);
    // STOP is always confirmed, and START after it is answered again.
    app.text(starter, "STOP", &sid()).await;
    app.settle().await;
    app.text(starter, "START", &sid()).await;
    app.settle().await;
    let out = app.outbound(starter).await;
    assert_eq!(out.len(), 4, "{out:?}");
    assert!(out[3].body.contains("resubscribed"), "{}", out[3].body);
}
