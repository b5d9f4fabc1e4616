//! The bot answers from the knowledge base, asks when it is unsure, understands a
//! numbered menu, and never cuts a reply mid-word.

use crate::support::{TestApp, sid};
use textdesk::sms::segments;

#[tokio::test]
async fn a_common_question_is_answered_from_the_knowledge_base_within_two_segments() {
    let app = TestApp::spawn().await;
    app.wait_for_knowledge().await;
    let phone = "+15555550301";
    app.text(phone, "what time do u guys open on saturday?", &sid())
        .await;
    app.settle().await;

    let reply = &app.outbound(phone).await[0];
    assert!(reply.segments <= 2, "{reply:?}");
    // The operator-approved answer of knowledge/stores/store-hours.md.
    let hours =
        std::fs::read_to_string(crate::support::repo_path("knowledge/stores/store-hours.md"))
            .unwrap();
    let sms_line = hours.lines().find(|l| l.starts_with("sms:")).unwrap();
    let first_words: String = reply
        .body
        .split_whitespace()
        .take(4)
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        sms_line.contains(&first_words),
        "reply {:?} is not the store-hours answer",
        reply.body
    );
}

#[tokio::test]
async fn texts_that_arrive_while_the_knowledge_base_is_indexed_are_answered_from_it() {
    // No wait_for_knowledge: the texts come in the first moments after the start.
    let app = TestApp::spawn().await;
    let phone = "+15555550302";
    let questions = [
        "do you ship to canada",
        "what time do u guys open on saturday?",
    ];
    for question in questions {
        assert_eq!(app.text(phone, question, &sid()).await.status(), 200);
    }
    app.settle().await;
    let replies = app.outbound(phone).await;
    assert_eq!(replies.len(), 2, "{replies:#?}");
    assert!(
        replies[0].body.contains("Canada"),
        "answered by the full brain: {:?}",
        replies[0].body
    );
    for reply in &replies {
        assert!(!reply.body.contains("didn't quite get"), "{:?}", reply.body);
    }
}

#[tokio::test]
async fn a_greeting_opens_a_conversation_and_reactions_and_a_second_thanks_get_nothing() {
    let app = TestApp::spawn().await;
    app.wait_for_knowledge().await;
    let phone = "+15555550303";
    let (mut replies, mut sent) = (Vec::new(), 0);
    for text in [
        "hi",
        "do you ship to canada",
        "Liked “We ship to Canada”",
        "hello??",
        "thanks",
        "thank you",
    ] {
        app.text(phone, text, &sid()).await;
        app.settle().await;
        let now_sent = app.outbound(phone).await.len();
        replies.push(now_sent - sent);
        sent = now_sent;
    }
    let outbound: Vec<String> = app
        .outbound(phone)
        .await
        .into_iter()
        .map(|e| e.body)
        .collect();
    // One reply each, but none for the reaction and none for the second thanks.
    assert_eq!(replies, [1, 1, 0, 1, 1, 0], "{outbound:#?}");
    assert!(
        outbound[0].starts_with("Hi! This is Trailhead"),
        "{outbound:#?}"
    );
    assert!(outbound[1].contains("Canada"), "{outbound:#?}");
    // Mid-conversation, "hello??" is not greeted as a stranger.
    assert_eq!(outbound[2], "I'm here! What else can I help you with?");
    assert!(outbound[3].starts_with("You're welcome"), "{outbound:#?}");
}

#[tokio::test]
async fn an_out_of_scope_text_gets_a_clarifying_question_not_an_answer() {
    let app = TestApp::spawn().await;
    app.wait_for_knowledge().await;
    let phone = "+15555550302";
    app.text(phone, "who won the football game yesterday", &sid())
        .await;
    app.settle().await;
    let reply = &app.outbound(phone).await[0];
    assert!(
        reply
            .body
            .starts_with("Sorry, I didn't quite get that. Reply 1 for"),
        "{}",
        reply.body
    );
    assert!(reply.body.contains("AGENT"));
}

#[tokio::test]
async fn a_lone_digit_answers_the_numbered_menu() {
    let app = TestApp::spawn().await;
    app.wait_for_knowledge().await;
    let phone = "+15555550303";
    app.text(phone, "hmm the thing", &sid()).await;
    app.settle().await;
    let menu = app.outbound(phone).await[0].body.clone();
    assert!(menu.contains("Reply 1 for"), "{menu}");
    // Option 2 as the menu named it, e.g. "2 for returns".
    let option_two = menu
        .split("2 for ")
        .nth(1)
        .unwrap()
        .split([',', '.'])
        .next()
        .unwrap()
        .trim()
        .to_string();

    app.text(phone, "2", &sid()).await;
    app.settle().await;
    let answer = &app.outbound(phone).await[1];
    assert!(
        !answer.body.starts_with("Sorry"),
        "the digit was understood: {}",
        answer.body
    );
    let transcript = app.transcript(phone).await;
    let stored_intent = app
        .store()
        .understood_intent(transcript.iter().rev().find(|e| e.body == "2").unwrap().id)
        .await
        .unwrap();
    assert_eq!(
        stored_intent.as_deref(),
        Some(option_two.replace(' ', "_").as_str())
    );
}

#[tokio::test]
async fn a_second_misunderstanding_hands_over_instead_of_looping() {
    let app = TestApp::spawn().await;
    app.wait_for_knowledge().await;
    let phone = "+15555550304";
    app.text(phone, "blorp zzz", &sid()).await;
    app.settle().await;
    app.text(phone, "what is the meaning of life", &sid()).await;
    app.settle().await;
    let outbound = app.outbound(phone).await;
    assert!(outbound[0].body.starts_with("Sorry"));
    assert!(
        outbound[1].body.contains("our team"),
        "{}",
        outbound[1].body
    );
    assert!(handed_over(&app, phone).await);
}

#[test]
fn a_reply_that_had_to_be_shortened_still_ends_on_a_whole_sentence() {
    use textdesk::brain::compose::{Source, compose};
    let text = "Returns are free within 60 days of delivery for unused items with tags. \
        Summit Club members get 90 days. Start a return online and drop the parcel at any carrier location. \
        Refunds reach your card within 5 to 7 business days after we receive the item. \
        Store credit is instant if you return in person at Denver, Boulder or Portland.";
    let out = compose(
        "how long do refunds take",
        Source {
            text,
            sms: None,
            url: None,
        },
        1,
    );
    assert!(out.shortened);
    assert!(segments::count(&out.text).segments <= 1);
    assert!(out.text.ends_with('.'), "{}", out.text);
    assert!(
        out.text.contains("Refunds reach your card"),
        "the most relevant sentence is kept: {}",
        out.text
    );
}

#[tokio::test]
async fn a_long_answer_is_shortened_by_whole_sentences_to_the_budget() {
    let kb = tempfile::tempdir().unwrap();
    // No operator `sms` answer: the composer must pick and trim sentences itself.
    let sentences = [
        "Refunds go back to the card you paid with within 5 to 7 business days after we receive your return.",
        "Store credit is issued instantly when you return in person at any of our stores.",
        "Gift card purchases are refunded to a new gift card, never to cash or a bank card.",
        "Shipping costs are refunded only when the item arrived damaged or we sent the wrong item.",
        "If your refund has not shown up after ten business days, contact your bank first and then us.",
        "Partial refunds apply to items returned used, without tags, or missing parts such as tent stakes.",
    ];
    std::fs::write(
        kb.path().join("refunds.md"),
        format!(
            "---\ntitle: Refunds\n---\n# Refunds\n\n## How refunds work\n\n{}\n",
            sentences.join(" ")
        ),
    )
    .unwrap();
    let kb_dir = kb.path().to_path_buf();
    let app = TestApp::spawn_with(move |c| c.knowledge_dir = kb_dir).await;
    app.wait_for_knowledge().await;

    let phone = "+15555550305";
    app.text(
        phone,
        "how long until my refund shows up on my card",
        &sid(),
    )
    .await;
    app.settle().await;
    let reply = &app.outbound(phone).await[0];
    assert!(reply.segments <= 2, "{reply:?}");
    assert!(
        reply.body.len() < sentences.join(" ").len(),
        "the answer was shortened: {}",
        reply.body
    );
    assert!(
        reply.body.ends_with('.'),
        "ends on a whole sentence: {}",
        reply.body
    );
    // Every sentence in the reply is one of the passage's sentences, whole.
    let mut rest = reply.body.as_str();
    while !rest.is_empty() {
        let sentence = sentences
            .iter()
            .find(|s| rest.starts_with(*s))
            .unwrap_or_else(|| panic!("cut sentence in {rest:?}"));
        rest = rest[sentence.len()..].trim_start();
    }
}

#[tokio::test]
async fn an_angry_text_is_handed_over_and_a_happy_one_is_not() {
    let app = TestApp::spawn().await;
    app.wait_for_knowledge().await;
    let angry = "+15555550306";
    app.text(angry, "this is ridiculous, 3rd time I'm asking!!!", &sid())
        .await;
    let happy = "+15555550307";
    app.text(happy, "thanks!!! you guys are great", &sid())
        .await;
    app.settle().await;
    let told = &app.outbound(angry).await[0].body;
    assert!(told.contains("our team"), "{told}");
    assert!(handed_over(&app, angry).await);
    assert!(!handed_over(&app, happy).await);
    let thanked = &app.outbound(happy).await[0].body;
    assert!(!thanked.contains("our team"), "{thanked}");
}

/// Whether the contact's conversation is waiting for a person.
async fn handed_over(app: &TestApp, phone: &str) -> bool {
    app.store()
        .list_handoffs(Some(textdesk::store::HandoffStatus::Waiting), None)
        .await
        .unwrap()
        .iter()
        .any(|h| h.phone.as_str() == phone)
}
