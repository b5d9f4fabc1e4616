//! The handoff note names what the agent needs and stays short.

use super::*;

fn turn(role: TurnRole, text: &str, intent: Option<&str>) -> SummaryTurn {
    SummaryTurn {
        role,
        text: text.to_string(),
        intent: intent.map(str::to_string),
    }
}

fn customer(text: &str, intent: &str) -> SummaryTurn {
    turn(TurnRole::Customer, text, Some(intent))
}

fn bot(text: &str, intent: &str) -> SummaryTurn {
    turn(TurnRole::Bot, text, Some(intent))
}

fn angry_thread() -> Vec<SummaryTurn> {
    vec![
        customer(
            "hi this is Dana Reyes, where is order #48213?",
            "order_status",
        ),
        bot(
            "You can track your order at trailhead.example/track. Orders ship in 1-2 days.",
            "order_status",
        ),
        customer(
            "it was due March 3 and I paid $129.99 for it",
            "order_status",
        ),
        customer("this is ridiculous, 3rd time I'm asking!!!", "complaint"),
    ]
}

fn summary_of(turns: &[SummaryTurn], rule: &str, detail: &str) -> String {
    local_summary(&SummaryInput {
        turns,
        reason_rule: rule,
        reason_detail: detail,
        intents: None,
    })
}

#[test]
fn the_summary_names_the_order_number_given_earlier_in_the_thread() {
    let text = summary_of(
        &angry_thread(),
        "negative_emotion",
        "angry: VADER -0.56, '!!!'",
    );
    assert!(text.contains("#48213"), "{text}");
    // In an agent's words: the score is for operators, not for the note.
    assert!(
        text.starts_with("Why: Upset: third time asking about order #48213."),
        "{text}"
    );
    assert!(!text.contains("VADER"), "{text}");
    assert!(text.contains("Bot said: order_status."), "{text}");
    assert!(text.contains("Next: "), "{text}");
}

#[test]
fn the_summary_reports_how_the_mood_moved() {
    let text = summary_of(&angry_thread(), "negative_emotion", "angry");
    let mood = text.lines().find(|l| l.starts_with("Mood: ")).unwrap();
    assert!(
        mood.starts_with("Mood: calm, then upset (")
            || mood.starts_with("Mood: calm, then angry ("),
        "{mood}"
    );
    assert!(mood.contains(" → -0."), "{mood}");
}

#[test]
fn the_summary_says_what_the_customer_wants_from_the_intent_description() {
    let set = crate::brain::intents::IntentSet::load(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("prompts"),
    )
    .unwrap();
    let text = local_summary(&SummaryInput {
        turns: &angry_thread(),
        reason_rule: "negative_emotion",
        reason_detail: "angry",
        intents: Some(&set),
    });
    let wants = text.lines().find(|l| l.starts_with("Wants: ")).unwrap();
    assert!(wants.contains("where their order is"), "{wants}");
    assert!(
        wants.contains("March 3"),
        "the latest text on the topic: {wants}"
    );
}

#[test]
fn a_complaint_is_quoted_not_described() {
    let set = crate::brain::intents::IntentSet::load(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("prompts"),
    )
    .unwrap();
    let turns = [customer(
        "Where is my order #48213? this is ridiculous!!!",
        "complaint",
    )];
    let text = local_summary(&SummaryInput {
        turns: &turns,
        reason_rule: "negative_emotion",
        reason_detail: "angry",
        intents: Some(&set),
    });
    let wants = text.lines().find(|l| l.starts_with("Wants: ")).unwrap();
    assert_eq!(
        wants, "Wants: \"Where is my order #48213? this is ridiculous!!!\"",
        "the mood line covers the feeling"
    );
}

#[test]
fn a_long_thread_stays_within_600_characters_and_ends_on_a_line() {
    let mut turns = Vec::new();
    for i in 0..40 {
        turns.push(customer(
            &format!(
                "order #{} is late, my email is buyer{i}@example.com and I paid ${i}0.00 on 3/{}",
                48000 + i,
                i % 28 + 1
            ),
            "order_status",
        ));
        turns.push(bot(
            &format!("Reply number {i} about shipping times and tracking links"),
            &format!("intent_{i}"),
        ));
    }
    let text = summary_of(&turns, "complex", &"a very long reason ".repeat(5));
    assert!(
        text.chars().count() <= MAX_CHARS,
        "{} chars: {text}",
        text.chars().count()
    );
    assert!(text.starts_with("Why: Several questions at once"), "{text}");
    assert!(!text.ends_with(' '), "{text:?}");
}

#[test]
fn facts_are_order_numbers_emails_amounts_dates_and_names() {
    let turns = [
        customer(
            "my name is Sam Ortiz, order 48213 and TH-4821937",
            "order_status",
        ),
        turn(
            TurnRole::Bot,
            "Order TH-0000000 is ours, not a customer fact",
            None,
        ),
        customer(
            "email sam@example.com, charged $49.99 twice on Jan 5th and 2025-01-06",
            "billing_dispute",
        ),
        customer("order #48213 again", "order_status"),
    ];
    assert_eq!(
        facts(&turns),
        vec![
            "order #48213",
            "order TH-4821937",
            "name Sam Ortiz",
            "email sam@example.com",
            "amount $49.99",
            "date Jan 5th",
            "date 2025-01-06",
        ]
    );
    let quiet = [customer(
        "this is ridiculous, where is my stuff",
        "complaint",
    )];
    assert!(facts(&quiet).is_empty(), "{:?}", facts(&quiet));
}

#[test]
fn trimming_ends_on_a_sentence_or_a_whole_word() {
    let text = "First sentence here. Second sentence is a little longer. Third.";
    assert_eq!(trim_to(text, 40), "First sentence here.");
    let words = "word ".repeat(50);
    let trimmed = trim_to(&words, 23);
    assert!(trimmed.ends_with("word…"), "{trimmed}");
    assert!(trimmed.chars().count() <= 23);
    assert_eq!(trim_to("short", 600), "short");
}

#[test]
fn without_an_intent_the_summary_quotes_the_customer() {
    let turns = [turn(TurnRole::Customer, "AGENT", None)];
    let text = summary_of(&turns, "asked_for_human", "asked for a person: \"agent\"");
    assert!(text.contains("Wants: \"AGENT\""), "{text}");
    assert!(!text.contains("Bot said"), "{text}");
}

#[test]
fn mood_keeps_the_low_point_after_the_customer_calms_down() {
    let turns: Vec<SummaryTurn> = [
        "where is my order",
        "this is ridiculous, worst service ever, I hate this!!!",
        "hello?",
    ]
    .iter()
    .map(|t| SummaryTurn {
        role: TurnRole::Customer,
        text: t.to_string(),
        intent: None,
    })
    .collect();
    let customer: Vec<&SummaryTurn> = turns.iter().collect();
    let mood = mood_movement(&customer).unwrap();
    assert!(mood.starts_with("calm, then angry, now calm"), "{mood}");
}
