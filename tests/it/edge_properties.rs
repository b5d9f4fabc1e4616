//! Property tests for the parsers at the edge: whatever a carrier, a customer or an
//! operator's file sends, they answer with a value or an error, never a panic, and
//! what they promise holds for thousands of generated inputs each.

use proptest::prelude::*;
use textdesk::sms::PhoneNumber;
use textdesk::sms::keywords::{Keyword, KeywordFamily};
use textdesk::sms::segments::{self, Encoding};
use textdesk::sms::twilio::{InboundSms, compute_signature, parse_form, verify_signature};

const CASES: u32 = 2_000;

/// Text as customers send it: ASCII, GSM-7 extension characters, accents, emoji,
/// CJK, control characters and lone combining marks.
fn sms_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[ -~]{0,400}",
        "[a-zA-Z0-9 .,!?€\\[\\]{}|^~\\\\]{0,400}",
        "\\PC{0,300}",
        any::<String>(),
    ]
}

fn form_pairs() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::vec((any::<String>(), any::<String>()), 0..12)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn any_bytes_parse_as_a_form_or_an_error(body in prop::collection::vec(any::<u8>(), 0..600)) {
        let _ = parse_form(&body);
    }

    #[test]
    fn an_encoded_form_decodes_to_the_same_pairs(pairs in form_pairs()) {
        let mut encoded = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in &pairs {
            encoded.append_pair(k, v);
        }
        let body = encoded.finish();
        prop_assert_eq!(parse_form(body.as_bytes()).unwrap(), pairs);
    }

    #[test]
    fn a_signature_verifies_only_for_the_request_it_signed(
        token in "[a-f0-9]{32}",
        path in "/[a-z/]{0,30}(\\?[a-z]{1,5}=[a-z0-9]{0,5})?",
        pairs in form_pairs(),
        tamper in any::<String>(),
        header in any::<String>(),
    ) {
        let url = format!("https://sms.example.com{path}");
        let signature = compute_signature(&token, &url, &pairs);
        prop_assert!(verify_signature(&token, &url, &pairs, &signature));
        let mut changed = pairs.clone();
        changed.push(("Body".to_string(), tamper));
        prop_assert!(!verify_signature(&token, &url, &changed, &signature));
        let other_url = format!("{url}x");
        prop_assert!(!verify_signature(&token, &other_url, &pairs, &signature));
        // Any header at all is an answer, never a panic.
        let _ = verify_signature(&token, &url, &pairs, &header);
    }

    #[test]
    fn any_webhook_fields_give_a_text_or_a_reason(pairs in form_pairs(), from in "\\+?[0-9 ()-]{0,20}") {
        let mut params = pairs;
        params.push(("From".into(), from));
        params.push(("MessageSid".into(), "SM0123456789abcdef0123456789abcdef".into()));
        let _ = InboundSms::from_params(&params);
    }

    #[test]
    fn a_parsed_phone_number_is_e164_and_parses_to_itself(raw in prop_oneof![
        any::<String>(),
        "\\+?[0-9 ().-]{0,24}",
        "\\+1[2-9][0-9]{9}",
    ]) {
        if let Ok(phone) = PhoneNumber::parse(&raw) {
            let e164 = phone.as_str();
            prop_assert!(e164.starts_with('+'), "{}", e164);
            prop_assert!(e164[1..].chars().all(|c| c.is_ascii_digit()), "{}", e164);
            prop_assert!((8..=16).contains(&e164.len()), "{}", e164);
            let again = PhoneNumber::parse(e164).unwrap();
            prop_assert_eq!(again.as_str(), e164);
            prop_assert!(phone.masked().contains('*'), "{}", phone.masked());
        }
    }

    #[test]
    fn a_keyword_is_found_whatever_its_case_and_spacing(
        word in prop::sample::select(vec!["stop", "STOP", "Stop", "unsubscribe", "Cancel", "quit"]),
        before in "[ \t\n]{0,3}",
        after in "[ \t\n.!]{0,3}",
        noise in sms_text(),
    ) {
        let english = KeywordFamily::english();
        let text = format!("{before}{word}{after}");
        prop_assert_eq!(english.find(&text), Some(Keyword::OptOut), "{:?}", text);
        let _ = english.find(&noise);
        let _ = textdesk::sms::revocation::detect(&noise);
    }

    #[test]
    fn segments_split_back_into_the_text_and_count_what_they_split(text in sms_text()) {
        let count = segments::count(&text);
        let parts = segments::split(&text);
        prop_assert_eq!(parts.concat(), text.clone());
        prop_assert_eq!(parts.len() as u32, count.segments);
        if count.segments > 1 {
            for part in &parts {
                let units = match count.encoding {
                    Encoding::Gsm7 => segments::count(part).units,
                    Encoding::Ucs2 => part.encode_utf16().count() as u32,
                };
                prop_assert!(units <= count.encoding.part_units(), "{:?}", part);
            }
        }
        prop_assert!(segments::remaining_in_last_segment(&text) <= count.encoding.single_segment_units());
    }

    #[test]
    fn a_fitted_reply_keeps_its_budget_and_its_encoding(text in sms_text(), budget in 0u32..5) {
        let fitted = segments::fit(&text, budget);
        let whole = segments::count(&text);
        prop_assert!(fitted.count.segments <= budget.max(1), "{:?}", fitted);
        prop_assert_eq!(fitted.count, segments::count(&fitted.text));
        if whole.encoding == Encoding::Gsm7 {
            prop_assert_eq!(fitted.count.encoding, Encoding::Gsm7);
        }
        prop_assert_eq!(fitted.shortened, fitted.text != text);
    }

    #[test]
    fn any_flow_file_parses_or_names_a_line(text in prop_oneof![
        any::<String>(),
        "(\\[\\[steps\\]\\]\n)?(id|ask|say|kind|next|slot|options) = \"[a-z {}.]{0,12}\"\n{0,6}",
    ]) {
        if let Err((line, message)) = textdesk::flows::Flow::parse("generated", &text) {
            prop_assert!(line >= 1 && line <= text.lines().count().max(1) + 1, "line {} of {:?}", line, text);
            prop_assert!(!message.is_empty());
        }
    }

    #[test]
    fn any_knowledge_file_parses_or_names_a_line(text in prop_oneof![
        any::<String>(),
        "(---\n(title|tags|sms|url): [a-z \\[\\],]{0,20}\n---\n)?(#{1,3} [a-z ]{0,20}\n[a-z .]{0,80}\n){0,5}",
    ]) {
        if let Err(e) = textdesk::knowledge::document::parse("generated.md", &text) {
            if let Some(line) = e.line {
                prop_assert!(line >= 1 && line <= text.lines().count().max(1) + 1, "line {} of {:?}", line, text);
            }
            prop_assert!(!e.message.is_empty());
        }
    }
}
