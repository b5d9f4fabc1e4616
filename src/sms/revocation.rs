//! Opt-outs in plain language. Since the FCC's 2024 revocation rule a consumer may
//! revoke consent "by any reasonable means": "Stop. Thank you", "please stop texting
//! me", "take me off your list" must end the texts like STOP does. Look-alikes must
//! not: "stop sending me the wrong size", "can I cancel my order", "I want to end my
//! subscription box" are questions for the bot.
//!
//! Precision matters more than recall: a false opt-out silences a customer who wanted
//! help, so every rule names what is being stopped (texts, messages, the list, this
//! number). A text that mentions stopping messages without being clear ("how do I stop
//! getting these", "stop sending me coupons", "wrong number") is [`Revocation::Unclear`]:
//! the customer is asked to reply STOP, and nothing changes until they do.
//!
//! The labelled set in `tests/revocation/` (revocations and look-alikes) measures the
//! rules; its test prints precision, recall and every confusion.

use std::sync::LazyLock;

use regex::Regex;

/// What a text says about the customer's consent to our texts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revocation {
    /// A clear request to stop all texts: opt out, as STOP does.
    Clear,
    /// It may be one: ask the customer to reply STOP, change nothing.
    Unclear,
}

/// Our texts, named as such.
const EXPLICIT: &str = r"(?:texts?|text messages?|txts?|messages|msgs?|sms|alerts|notifications)";

/// Our texts, also as the words people point at them with after "stop sending me".
const TEXTS: &str = r"(?:texts?|text messages?|txts?|messages|msgs?|sms|alerts|notifications|these|those|them|this|that|stuff|anything)";

/// Polite or emphatic words that may follow a request without changing it.
const COURTESY: &str = r"(?:now|please|pls|plz|thanks|thank you|thank u|thx|ty|already|asap|immediately|right now|anymore|any more|again|ever|ok|okay|seriously|for real|for good|permanently|lol|i said|i mean it|guys|man|dude)";

static CLEAR: LazyLock<Vec<Regex>> = LazyLock::new(|| {
    [
        // "Stop. Thank you", "STOP please", "unsubscribe pls", "stop it now".
        format!(
            r"^(?:ok |okay |please |pls |plz |just |hey |hi |no |yes |)(?:stop|stopall|unsubscribe|optout|opt out|quit|stop it|stop now)(?: {COURTESY})*$"
        ),
        // "please stop texting me", "stop sending me these texts", "quit messaging us".
        format!(
            r"\b(?:stop|quit|cease|discontinue|end)(?: all)? (?:texting|txting|messaging|msging|contacting|spamming|bothering|sms ?ing)(?: (?:me|us|this number|my number|my phone|my cell))?(?: {COURTESY})*$"
        ),
        format!(
            r"\b(?:stop|quit|cease|discontinue)(?: all)? sending (?:me |us |this number |)(?:any more |anymore |all |your |the |these |those |)(?:{TEXTS})(?: (?:texts?|messages|from you|to me|to this number|to my phone|about [a-z ]+))?(?: {COURTESY})*$"
        ),
        // "unsubscribe me", "opt me out", "unsubscribe me from your texts".
        format!(
            r"\b(?:unsubscribe|opt out) (?:me|us|my number|this number)(?: from (?:this |these |your |the |all |ur |our )?(?:texts?|text messages|messages|sms|list|text list|texting list|alerts|number|texting|messaging))?(?: {COURTESY})*$"
        ),
        r"\bopt (?:me|us) out\b".to_string(),
        // "take me off your list", "remove me from the texting list", "remove my number".
        r"\b(?:take|remove|delete|drop|erase|get|cross) (?:me|my number|my phone number|this number|my cell|my info|us) (?:off|from|out of)(?: of)?(?: your| the| this| ur| all| these| our)?(?: (?:text|texting|sms|mailing|contact|marketing|messaging|call|phone|sending|subscriber|subscription))?(?: (?:list|lists|database|system|texts|messages|alerts|notifications))\b".to_string(),
        r"\b(?:remove|delete|erase) (?:my number|this number|my phone number|my cell(?: number)?)\b".to_string(),
        // "no more texts", "don't text me", "I don't want these texts".
        format!(r"\bno more (?:of )?(?:these |those |your |the )?(?:{EXPLICIT}|texting)\b"),
        format!(
            r"\b(?:dont|do not|never|pls dont|please dont|please do not) (?:text|txt|message|msg|contact|sms) (?:me|us|this number)(?: {COURTESY})*$"
        ),
        // "stop texting me, I never signed up": texting me, whatever follows.
        r"\b(?:stop|quit|cease) (?:texting|txting|messaging|msging|contacting|spamming) (?:me|this number|my number)\b".to_string(),
        // "stop these texts", "enough with the texts".
        format!(
            r"\b(?:stop|end|enough with|no more) (?:the |these |those |your |all |all the |all these |all of these |all of the )?(?:{EXPLICIT})(?: {COURTESY})*$"
        ),
        // "stop sending me marketing texts".
        format!(
            r"\b(?:stop|quit) sending (?:me |us |)(?:any more |all |your |the |these |those |)[a-z]+ (?:{EXPLICIT})(?: {COURTESY})*$"
        ),
        // "I'd like to be removed from your list", "I want off this list".
        r"\bremoved? from (?:your |the |this |these |all |ur )?(?:text |texting |sms |mailing |contact |marketing )?(?:list|texts|messages|alerts)\b".to_string(),
        r"\bwant off (?:this|your|the|ur) (?:list|texts)\b".to_string(),
        format!(r"^(?:please |pls |just |)(?:remove me|take me off|delete me)(?: {COURTESY})*$"),
        format!(
            r"\bi (?:dont|do not|no longer) want (?:to (?:get|receive) )?(?:any more |anymore |any |these |your |this |those |the |)(?:{EXPLICIT})\b"
        ),
        format!(
            r"\b(?:dont|do not) send (?:me|us) (?:any )?(?:more )?(?:{TEXTS})(?: (?:texts?|messages))?(?: {COURTESY})*$"
        ),
        r"\bi want to (?:opt out|unsubscribe)\b(?: (?:of|from) (?:these|your|the|this|all)? ?(?:texts?|messages|list|sms))?$".to_string(),
        r"\b(?:i )?(?:revoke|withdraw) (?:my )?consent\b".to_string(),
    ]
    .iter()
    .map(|pattern| Regex::new(pattern).expect("a valid revocation rule"))
    .collect()
});

static UNCLEAR: LazyLock<Vec<Regex>> = LazyLock::new(|| {
    [
        // A question about how to stop, or an opt-out word in a longer text.
        r"\b(?:unsubscribe|opt out|optout)\b".to_string(),
        format!(r"\bstop (?:getting|receiving) (?:your |these |the |all |this |those |)(?:{TEXTS})\b"),
        r"\bstop sending (?:me |us |)(?:your |these |the |all |)(?:coupons|deals|promos?|promotions|ads|offers|marketing|spam|reminders|updates|sales)\b".to_string(),
        r"\b(?:leave me alone|wrong number|who is this|how did you get (?:this|my) number)\b".to_string(),
        format!(r"^(?:im |i am |)not interested(?: {COURTESY})*$"),
    ]
    .iter()
    .map(|pattern| Regex::new(pattern).expect("a valid revocation rule"))
    .collect()
});

/// Lower case, apostrophes dropped ("don't" → "dont"), anything else that is not a
/// letter or digit a space, spaces collapsed.
fn normalize(text: &str) -> String {
    let lowered: String = text
        .to_lowercase()
        .chars()
        .filter(|c| !matches!(c, '\'' | '’' | '‘' | '`'))
        .map(|c| if c.is_alphanumeric() { c } else { ' ' })
        .collect();
    lowered.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Reads a text that is not a compliance keyword for a request to stop our texts.
pub fn detect(body: &str) -> Option<Revocation> {
    let text = normalize(body);
    // Long texts are about something else that happens to mention stopping.
    if text.is_empty() || text.split(' ').count() > 30 {
        return None;
    }
    if CLEAR.iter().any(|rule| rule.is_match(&text)) {
        Some(Revocation::Clear)
    } else if UNCLEAR.iter().any(|rule| rule.is_match(&text)) {
        Some(Revocation::Unclear)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labelled(file: &str) -> Vec<String> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/revocation")
            .join(file);
        std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(str::to_string)
            .collect()
    }

    /// The labelled set: revocations must opt out (recall), look-alikes must keep
    /// getting a normal answer: neither an opt-out (precision) nor the STOP question.
    #[test]
    fn the_labelled_set_is_read_with_high_precision_and_recall() {
        let revocations = labelled("revocations.txt");
        let lookalikes = labelled("lookalikes.txt");
        assert!(
            revocations.len() >= 150,
            "{} revocations",
            revocations.len()
        );
        assert!(lookalikes.len() >= 300, "{} look-alikes", lookalikes.len());

        let missed: Vec<_> = revocations
            .iter()
            .filter(|t| detect(t) != Some(Revocation::Clear))
            .map(|t| (t.as_str(), detect(t)))
            .collect();
        let false_opt_outs: Vec<_> = lookalikes
            .iter()
            .filter(|t| detect(t) == Some(Revocation::Clear))
            .collect();
        let asked: Vec<_> = lookalikes
            .iter()
            .filter(|t| detect(t) == Some(Revocation::Unclear))
            .collect();
        let true_positives = (revocations.len() - missed.len()) as f64;
        let precision = true_positives / (true_positives + false_opt_outs.len() as f64);
        let recall = true_positives / revocations.len() as f64;
        println!(
            "plain-language revocation: {} revocations, {} look-alikes; precision {precision:.3}, recall {recall:.3}",
            revocations.len(),
            lookalikes.len()
        );
        println!("missed revocations (what they got instead): {missed:#?}");
        println!("look-alikes read as opt-outs: {false_opt_outs:#?}");
        println!("look-alikes asked to reply STOP: {asked:#?}");
        assert!(precision >= 0.98, "precision {precision:.3}");
        assert!(recall >= 0.90, "recall {recall:.3}");
        assert!(asked.is_empty(), "look-alikes must get a normal answer");
    }

    #[test]
    fn the_issue_examples() {
        for text in [
            "Stop. Thank you",
            "please stop texting me",
            "take me off your list",
            "unsubscribe me",
            "no more texts",
        ] {
            assert_eq!(detect(text), Some(Revocation::Clear), "{text}");
        }
        for text in [
            "stop sending me the wrong size",
            "can I cancel my order",
            "I want to end my subscription box",
        ] {
            assert_eq!(detect(text), None, "{text}");
        }
        assert_eq!(
            detect("how do I stop getting these texts?"),
            Some(Revocation::Unclear)
        );
    }
}
