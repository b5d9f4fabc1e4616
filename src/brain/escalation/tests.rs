//! Each rule with texts that must fire it and texts that must not.

use super::*;
use crate::brain::intents::IntentName;

fn settings() -> EscalationSettings {
    EscalationSettings::default()
}

/// The first rule that fires before understanding, for a text with no history.
fn early(text: &str) -> Option<Rule> {
    let s = settings();
    let mood = sentiment::read(text, &s);
    before_understanding(text, &mood, &[], &s).map(|e| e.rule)
}

fn customer(text: &str) -> Turn {
    Turn {
        role: TurnRole::Customer,
        text: text.to_string(),
    }
}

fn intent(name: &str, action: Action, sensitive: bool) -> Intent {
    Intent {
        name: IntentName::parse(name).unwrap(),
        description: String::new(),
        examples: Vec::new(),
        action,
        reply_mid_conversation: None,
        reply_returning: None,
        sensitive,
    }
}

fn answered(intent: &str, question: &str) -> ConversationState {
    ConversationState {
        last_intent: Some(intent.to_string()),
        last_question: Some(question.to_string()),
        ..Default::default()
    }
}

#[test]
fn asked_for_human_fires_on_requests_for_a_person_not_on_the_word() {
    let fire = [
        "can I talk to someone",
        "AGENT",
        "agent please",
        "CALL",
        "CALL me",
        "i want a real person",
        "get me a human",
        "representative",
        "Can a supervisor call me back?",
    ];
    for text in fire {
        assert_eq!(early(text), Some(Rule::AskedForHuman), "{text}");
    }
    let quiet = [
        "do you offer a travel agent discount?",
        "where is my order",
        "is the person who ordered it allowed to return it",
        "did UPS call about the delivery",
        "human sized tent?",
    ];
    for text in quiet {
        assert_eq!(early(text), None, "{text}");
    }
}

#[test]
fn negative_emotion_fires_on_anger_not_on_excitement_or_plain_questions() {
    let fire = [
        "this is ridiculous, 3rd time I'm asking!!!",
        "this is terrible, worst service ever, I hate this",
        "WHY IS THIS SO HARD, it is awful",
        "this is so bad wtf",
        "where the fuck is my stupid order",
    ];
    for text in fire {
        assert_eq!(early(text), Some(Rule::NegativeEmotion), "{text}");
    }
    let quiet = [
        "thanks!!! you guys are great",
        "where is my order",
        "WHERE IS MY ORDER",
        "no worries, take your time",
        "my tent pole is broken, can I get a new one?",
    ];
    for text in quiet {
        assert_eq!(early(text), None, "{text}");
    }
}

#[test]
fn the_detail_names_the_score_and_the_amplifiers() {
    let s = settings();
    let text = "this is ridiculous, 3rd time I'm asking!!!";
    let mood = sentiment::read(text, &s);
    let e = before_understanding(text, &mood, &[], &s).unwrap();
    assert_eq!(e.priority, Priority::Urgent);
    assert!(e.detail.starts_with("angry: VADER -0."), "{}", e.detail);
    assert!(e.detail.contains("'!!!'"), "{}", e.detail);
}

#[test]
fn negative_emotion_fires_on_a_falling_trend_of_mildly_unhappy_texts() {
    let s = settings();
    let history = [
        customer("hi, my order hasn't arrived"),
        customer("still nothing, this is disappointing"),
    ];
    let text = "honestly this is bad and frustrating";
    let mood = sentiment::read(text, &s);
    assert!(mood.compound > s.angry_compound, "{}", mood.compound);
    let e = before_understanding(text, &mood, &history, &s).unwrap();
    assert_eq!(e.rule, Rule::NegativeEmotion);
    assert!(e.detail.starts_with("mood falling"), "{}", e.detail);

    // The same texts, improving: not falling, no escalation.
    let history = [
        customer("honestly this is bad and frustrating"),
        customer("still nothing, this is disappointing"),
    ];
    let text = "ok thanks, that helps";
    let mood = sentiment::read(text, &s);
    assert_eq!(before_understanding(text, &mood, &history, &s), None);
}

#[test]
fn threat_fires_on_leaving_suing_and_charging_back() {
    let fire = [
        "cancel my account",
        "I'm switching to REI",
        "my lawyer will hear about this",
        "I'll file a chargeback",
        "I will report you to the BBB",
        "going to sue",
    ];
    for text in fire {
        assert_eq!(early(text), Some(Rule::Threat), "{text}");
    }
    let quiet = [
        "cancel my order please",
        "can I switch the size",
        "this is Sue, where is my order",
        "how do I report a lost package",
    ];
    for text in quiet {
        assert_ne!(early(text), Some(Rule::Threat), "{text}");
    }
}

#[test]
fn complex_fires_on_many_questions_or_a_very_long_text() {
    let long = "I ordered a tent and a stove last month and ".repeat(12);
    let fire = [
        "where is my order? can I change the address? and do you price match?",
        "what sizes do you have. when do you restock. how much is shipping",
        long.as_str(),
    ];
    for text in fire {
        assert_eq!(early(text), Some(Rule::Complex), "{text}");
    }
    let quiet = [
        "where is my order??",
        "where is my order? it was due monday",
        "can I return it. thanks",
    ];
    for text in quiet {
        assert_eq!(early(text), None, "{text}");
    }
}

#[test]
fn sensitive_and_escalate_intents_fire_by_the_intent_file() {
    let s = settings();
    let none = ConversationState::default();
    let billing = intent("billing_dispute", Action::Escalate, true);
    let human = intent("human", Action::Escalate, false);
    let status = intent("order_status", Action::Answer, false);
    let e = after_understanding("i was charged twice", Some(&billing), &none, &s).unwrap();
    assert_eq!(
        (e.rule, e.priority),
        (Rule::SensitiveIntent, Priority::High)
    );
    let e = after_understanding("is this a bot", Some(&human), &none, &s).unwrap();
    assert_eq!(e.rule, Rule::EscalateIntent);
    assert_eq!(
        after_understanding("where is my order", Some(&status), &none, &s),
        None
    );
    assert_eq!(after_understanding("blorp", None, &none, &s), None);
}

#[test]
fn repeated_question_fires_on_the_same_question_after_an_answer() {
    let s = settings();
    let status = intent("order_status", Action::Answer, false);
    let returns = intent("returns", Action::Answer, false);
    let greeting = intent("greeting", Action::Reply("Hi!".into()), false);
    let after_status = answered("order_status", "where is my order");

    let fire = [
        ("where's my order??", &status),
        ("where is my order again", &status),
        ("I already asked, how do returns work", &returns),
        ("3rd time: when do you open", &returns),
    ];
    for (text, i) in fire {
        let e = after_understanding(text, Some(i), &after_status, &s);
        assert_eq!(e.map(|e| e.rule), Some(Rule::RepeatedQuestion), "{text}");
    }
    let quiet = [
        ("how do returns work", &returns, after_status.clone()),
        (
            "has order TH-48213 shipped yet, it is a tent",
            &status,
            after_status.clone(),
        ),
        ("hi", &greeting, answered("greeting", "hi")),
        // Nothing answered yet: the anger rules judge "3rd time" on a first text.
        (
            "3rd time asking where is my order",
            &status,
            ConversationState::default(),
        ),
    ];
    for (text, i, state) in quiet {
        assert_eq!(
            after_understanding(text, Some(i), &state, &s),
            None,
            "{text}"
        );
    }
}

#[test]
fn not_understood_is_a_normal_priority_rule() {
    let e = not_understood(2);
    assert_eq!(
        (e.rule, e.priority),
        (Rule::NotUnderstood, Priority::Normal)
    );
    assert_eq!(e.detail, "not understood 2 times in a row");
}

#[test]
fn threat_outranks_anger_which_outranks_a_request_for_a_person() {
    assert_eq!(
        early("this is awful, get me a human or I'll file a chargeback!!!"),
        Some(Rule::Threat)
    );
    assert_eq!(
        early("this is horrible and useless, get me a human!!!"),
        Some(Rule::NegativeEmotion)
    );
}

#[test]
fn rules_and_priorities_round_trip_through_their_names_and_numbers() {
    for rule in Rule::ALL {
        assert_eq!(Rule::parse(rule.as_str()), Some(rule));
        let json = serde_json::to_string(&rule).unwrap();
        assert_eq!(json, format!("\"{}\"", rule.as_str()));
    }
    assert_eq!(Rule::parse("bogus"), None);
    for p in [
        Priority::Urgent,
        Priority::High,
        Priority::Normal,
        Priority::Low,
    ] {
        assert_eq!(Priority::from_i64(p.as_i64()), Some(p));
    }
    assert!(Priority::Urgent < Priority::Low);
    assert_eq!(Priority::from_i64(0), None);
}

#[test]
fn the_defaults_are_what_policy_toml_ships() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("prompts");
    let policy = crate::engine::policy::Policy::load(&dir).unwrap();
    assert_eq!(policy.escalation, EscalationSettings::default());
    assert_eq!(EscalationSettings::default().validate(), Ok(()));
}

#[test]
fn normalize_keeps_whole_words_apart() {
    assert_eq!(normalize("I'm SO mad!!! #48213"), " im so mad 48213 ");
    let phrases = vec!["agent".to_string()];
    assert_eq!(find_phrase(&normalize("travel agents"), &phrases), None);
    assert_eq!(
        find_phrase(&normalize("an agent?"), &phrases),
        Some("agent")
    );
}
