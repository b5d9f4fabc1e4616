//! Which language a customer wrote in, when it is clearly not English, the language
//! the bot answers in. A text in Spanish or French should get an offer of a person in
//! that language (`[languages]` in policy.toml), not the English menu.
//!
//! Texts are short, and trigram detectors (whatlang, tried first) guess wrong on
//! them: "do you ship to canada" read as Spanish. Function words are what give a
//! short text's language away ("¿A qué hora abren?", "où est ma commande"), so a
//! text counts as foreign when it has at least two of one language's function words
//! and more of them than English ones.

/// English function words, and words every English support text has.
const ENGLISH: &[&str] = &[
    "the", "a", "an", "to", "you", "your", "my", "is", "do", "does", "i", "it", "in", "of", "for",
    "and", "what", "how", "where", "when", "can", "me", "on", "with", "was", "are", "have", "this",
    "that", "not", "please", "hi", "hello", "thanks", "order", "time", "open", "there", "will",
    "want", "need", "did", "be", "at", "from", "yet", "still",
];

const SPANISH: &[&str] = &[
    "que", "qué", "el", "la", "los", "las", "por", "para", "mi", "mis", "un", "una", "es", "está",
    "esta", "donde", "dónde", "cuándo", "cuando", "hola", "gracias", "quiero", "tengo", "necesito",
    "pedido", "puedo", "abren", "hora", "cómo", "como", "con", "sin", "sí", "y", "del", "al", "se",
    "su", "lo", "le", "hay", "muy", "pero", "porque", "cuánto", "cuanto", "favor", "tienda",
    "ayuda", "devolver", "compré", "llegó", "llega", "buenos", "días", "sábado", "domingo",
];

const FRENCH: &[&str] = &[
    "je",
    "le",
    "la",
    "les",
    "de",
    "des",
    "du",
    "un",
    "une",
    "est",
    "et",
    "vous",
    "nous",
    "mon",
    "ma",
    "mes",
    "pour",
    "avec",
    "sans",
    "bonjour",
    "merci",
    "commande",
    "où",
    "quand",
    "quelle",
    "quel",
    "heure",
    "ouvrez",
    "pas",
    "ne",
    "qui",
    "il",
    "elle",
    "au",
    "aux",
    "c'est",
    "j'ai",
    "ai",
    "êtes",
    "magasin",
    "samedi",
    "dimanche",
    "rembourser",
    "colis",
];

/// The ISO 639-1 code ("es", "fr") of a text clearly written in another language than
/// English; `None` for English, mixed or too short to tell.
pub fn foreign(text: &str) -> Option<&'static str> {
    let words: Vec<String> = text
        .split(|c: char| {
            c.is_whitespace() || matches!(c, ',' | '.' | '?' | '!' | '¿' | '¡' | ';' | ':')
        })
        .map(|w| {
            w.trim_matches(|c: char| !c.is_alphanumeric() && c != '\'')
                .to_lowercase()
        })
        .filter(|w| !w.is_empty())
        .collect();
    let count = |list: &[&str]| words.iter().filter(|w| list.contains(&w.as_str())).count();
    let english = count(ENGLISH);
    [("es", count(SPANISH)), ("fr", count(FRENCH))]
        .into_iter()
        .filter(|(_, hits)| *hits >= 2 && *hits > english)
        .max_by_key(|(_, hits)| *hits)
        .map(|(code, _)| code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spanish_and_french_questions_are_recognised() {
        for (text, lang) in [
            ("¿A qué hora abren el sábado?", "es"),
            ("hola, donde esta mi pedido por favor", "es"),
            ("quiero devolver unas botas que compré", "es"),
            ("necesito ayuda con mi pedido", "es"),
            ("Bonjour, à quelle heure ouvrez-vous samedi ?", "fr"),
            ("où est ma commande", "fr"),
        ] {
            assert_eq!(foreign(text), Some(lang), "{text}");
        }
    }

    #[test]
    fn english_and_short_texts_are_not_foreign() {
        for text in [
            "do you ship to canada",
            "where is my order #12345",
            "ok",
            "thx",
            "si",
            "hola",
            "purple monkey dishwasher",
            "hmm stuff",
            "can I talk to someone please",
            "it was supposed to arrive monday",
            "THIS IS RIDICULOUS!!! my order is 2 weeks late and nobody answers",
            "Thanks for your message! We are away and will reply soon.",
            "how much per day",
            "what are your hours on saturday",
            "do you do kayak rentals",
            "I want to order jackets for my whole team of 20 people",
            "Liked “Yes! Gift cards come in any amount”",
            "can i return it without a receipt",
            "hi again",
            "ugh this is so frustrating, nobody ever answers",
            "my order arrived damaged, the stove is broken",
            "la sportiva boots in stock?",
            "do you have the de luxe tent",
        ] {
            assert_eq!(foreign(text), None, "{text}");
        }
    }
}
