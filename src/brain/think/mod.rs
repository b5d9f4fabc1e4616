//! One turn of thinking: understand the text, decide, and write the reply.
//!
//! 1. **Escalation rules that need no intent** ([`escalation::before_understanding`]):
//!    a threat, anger (VADER and its amplifiers, or a falling trend), a request for a
//!    person, a text too complex for a bot. The text is still classified locally, so
//!    the handoff knows the topic.
//! 2. **Rules**, where they are exact: a lone digit answering the numbered menu the
//!    bot just sent picks that option.
//! 3. **Understand**: the LLM classifies when configured and healthy; otherwise (or on
//!    any LLM error) the local classifier does. A short follow-up that alone is out of
//!    scope is read together with the previous question.
//! 4. **Escalation rules on the intent** ([`escalation::after_understanding`]):
//!    sensitive or escalate intents, the same question again after an answer; then
//!    the LLM's own `needs_human` judgement, when it classified the text.
//! 5. **Decide** by the intent's action: fixed reply or answer from the knowledge
//!    base. Out of scope still answers when retrieval is strong; otherwise the bot asks
//!    one clarifying question with numbered options. A second miss in a row is the
//!    `not_understood` escalation.
//! 6. **Compose**: the LLM answers only from the retrieved passages when configured;
//!    the local composer otherwise. Either way the reply is fitted to the budget.

use std::sync::{Arc, RwLock};

use serde::Serialize;

use super::classify::Classifier;
use super::compose::{self, Source};
use super::escalation::{self, Escalation, EscalationSettings, Rule};
use super::intents::{Action, IntentName, IntentSet};
use super::sentiment::{self, Mood};
use super::state::{ConversationState, Menu};
use crate::knowledge::{Hit, Knowledge, SearchMode};
use crate::llm::{LlmClient, LlmTask, Passage, Turn};
use crate::sms::segments;

mod retrieve;
mod several;

/// The intents and the classifier trained on them; swapped whole on reload.
pub struct IntentModel {
    pub set: IntentSet,
    pub classifier: Classifier,
}

#[derive(Debug, Clone)]
pub struct BrainSettings {
    pub max_segments: u32,
    /// Dense cosine similarity above which an out-of-scope text is still answered from
    /// the knowledge base (the question is clearly in it, just not in an intent).
    pub strong_retrieval: f32,
    /// Misunderstandings in a row before the conversation goes to a human.
    pub misses_before_escalation: u32,
    /// Texts the operator approved besides the knowledge base (policy.toml's help
    /// text): a link, phone number or price in an LLM answer must come from the
    /// retrieved passages or these ([`crate::llm::guard`]).
    pub approved_texts: Vec<String>,
}

impl Default for BrainSettings {
    fn default() -> Self {
        Self {
            max_segments: 2,
            strong_retrieval: 0.55,
            misses_before_escalation: 2,
            approved_texts: Vec::new(),
        }
    }
}

/// What the brain needs to know about the turn.
pub struct TurnInput<'a> {
    pub text: &'a str,
    /// Earlier turns, oldest first.
    pub history: &'a [Turn],
    pub state: &'a ConversationState,
    pub business: &'a str,
    /// The operator's escalation rules (`[escalation]` in policy.toml).
    pub escalation: &'a EscalationSettings,
    /// The bot's texts in this exchange, newest first: an answer that would repeat
    /// one of them word for word is replaced by the next best passage's.
    pub said_recently: &'a [&'a str],
    /// Where the conversation stands: the bot or a person texted in this exchange
    /// (`under_way`), or the contact texted us before it (`returning`).
    pub under_way: bool,
    pub returning: bool,
    /// `contact` in fixed replies' templates: the phone and the contact's attributes.
    pub contact: Option<&'a serde_json::Value>,
}

/// How the intent was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UnderstoodBy {
    Rule,
    Local,
    Llm,
}

impl UnderstoodBy {
    /// The name stored with each message (`messages.understood_by`).
    pub fn as_str(&self) -> &'static str {
        match self {
            UnderstoodBy::Rule => "rule",
            UnderstoodBy::Local => "local",
            UnderstoodBy::Llm => "llm",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Understanding {
    pub intent: IntentName,
    pub confidence: f32,
    pub candidates: Vec<(IntentName, f32)>,
    /// -1 (angry) … 1 (happy): the LLM's judgement when it classified the text, the
    /// local VADER compound score otherwise. Always set by [`Brain::think`].
    pub sentiment: Option<f32>,
    pub source: UnderstoodBy,
    /// The LLM was configured but failed; the local brain answered instead.
    pub llm_fallback: bool,
    /// The LLM's reason, when it judged that a person should take this text.
    pub needs_human: Option<String>,
}

impl Understanding {
    /// An intent read by a rule (a menu digit, a nudge), not by a classifier.
    fn by_rule(intent: IntentName) -> Self {
        Self {
            intent,
            confidence: 1.0,
            candidates: Vec::new(),
            sentiment: None,
            source: UnderstoodBy::Rule,
            llm_fallback: false,
            needs_human: None,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Retrieved {
    pub file: String,
    pub headings: String,
    pub lines: String,
    pub score: f32,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Decision {
    /// Answered from the knowledge base.
    Answer {
        intent: String,
        composer: &'static str,
    },
    /// The intent's fixed reply.
    Reply { intent: String },
    /// Asked a clarifying question with numbered options.
    Clarify { options: Vec<String> },
    /// Hand to a human: which rule fired, how urgent, and why.
    Escalate(Escalation),
    /// Start the intent's flow; the engine sends its first step.
    Flow { intent: String, flow: String },
    /// Look the answer up (`prompts/lookups/<lookup>.toml`); the engine asks for what
    /// it needs and calls. The thought's reply is the knowledge base's answer, for
    /// when the lookup is off or fails.
    Lookup {
        intent: String,
        lookup: String,
        /// The question, read with the one it follows up on.
        question: String,
    },
}

#[derive(Debug, Clone, Serialize)]
pub struct Thought {
    pub understanding: Understanding,
    /// The local reading of the text (VADER, caps, "!!!", profanity, threats).
    pub mood: Mood,
    pub retrieved: Vec<Retrieved>,
    pub decision: Decision,
    /// The reply, smart-encoded and fitted; `None` when escalating (the engine says
    /// what happens next).
    pub reply: Option<String>,
    #[serde(skip)]
    pub state: ConversationState,
}

pub struct Brain {
    model: RwLock<Arc<IntentModel>>,
    knowledge: Option<Arc<Knowledge>>,
    llm: Option<Arc<LlmClient>>,
    settings: BrainSettings,
}

impl Brain {
    pub fn new(
        model: IntentModel,
        knowledge: Option<Arc<Knowledge>>,
        llm: Option<Arc<LlmClient>>,
        settings: BrainSettings,
    ) -> Self {
        Self {
            model: RwLock::new(Arc::new(model)),
            knowledge,
            llm,
            settings,
        }
    }

    pub fn model(&self) -> Arc<IntentModel> {
        self.model
            .read()
            .map(|m| m.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    /// Swaps in newly trained intents (after a live edit of intents.toml).
    pub fn set_model(&self, model: IntentModel) {
        let mut guard = self.model.write().unwrap_or_else(|p| p.into_inner());
        *guard = Arc::new(model);
    }

    pub fn knowledge(&self) -> Option<&Arc<Knowledge>> {
        self.knowledge.as_ref()
    }

    pub fn llm(&self) -> Option<&Arc<LlmClient>> {
        self.llm.as_ref()
    }

    /// The LLM when it is configured and the operator gave it `task` (`llm.tasks`).
    pub fn llm_for(&self, task: LlmTask) -> Option<&Arc<LlmClient>> {
        self.llm.as_ref().filter(|llm| llm.does(task))
    }

    pub fn settings(&self) -> &BrainSettings {
        &self.settings
    }

    pub async fn think(&self, input: &TurnInput<'_>) -> Thought {
        let model = self.model();
        let settings = input.escalation;
        let mood = sentiment::read(input.text, settings);
        let early = escalation::before_understanding(input.text, &mood, input.history, settings);
        // When a person takes over anyway, the local classifier names the topic for the
        // handoff; an LLM round trip would only delay the customer's handoff text.
        let (mut understanding, question) = self.understand(&model, input, early.is_none()).await;
        understanding.sentiment.get_or_insert(mood.compound);

        let intent = model.set.get(understanding.intent.as_str());
        let escalation = early
            .or_else(|| llm_anger(&understanding, settings))
            .or_else(|| escalation::after_understanding(input.text, intent, input.state, settings))
            .or_else(|| llm_needs_human(&understanding, settings));
        if let Some(escalation) = escalation {
            return Thought {
                understanding,
                mood,
                retrieved: Vec::new(),
                decision: Decision::Escalate(escalation),
                reply: None,
                state: handed_over(input.state),
            };
        }

        let mut state = input.state.clone();
        let action = intent.map(|i| i.action.clone());
        let mut retrieved = Vec::new();
        let outcome = match action.clone() {
            Some(Action::Reply(text)) => {
                let variant = match (input.under_way, input.returning) {
                    (true, _) => intent.and_then(|i| i.reply_mid_conversation.clone()),
                    (false, true) => intent.and_then(|i| i.reply_returning.clone()),
                    (false, false) => None,
                };
                let text = render_reply(&variant.unwrap_or(text), input);
                Some((
                    Decision::Reply {
                        intent: understanding.intent.to_string(),
                    },
                    Some(text),
                ))
            }
            // Escalate intents were handed over above; this arm keeps the match whole.
            Some(Action::Escalate) => Some((
                Decision::Escalate(Escalation::new(
                    Rule::EscalateIntent,
                    format!("intent {}", understanding.intent),
                )),
                None,
            )),
            Some(Action::Flow(flow)) => Some((
                Decision::Flow {
                    intent: understanding.intent.to_string(),
                    flow,
                },
                None,
            )),
            Some(Action::Answer) => {
                let (answer, hits) = self.answer(&question, intent, input, &understanding).await;
                retrieved = hits;
                answer.map(|(composer, text)| {
                    (
                        Decision::Answer {
                            intent: understanding.intent.to_string(),
                            composer,
                        },
                        Some(text),
                    )
                })
            }
            Some(Action::Lookup(lookup)) => {
                // The engine makes the lookup; the knowledge base's answer comes along
                // for when the lookup is off or fails.
                let (answer, hits) = self.answer(&question, intent, input, &understanding).await;
                retrieved = hits;
                Some((
                    Decision::Lookup {
                        intent: understanding.intent.to_string(),
                        lookup,
                        question: question.clone(),
                    },
                    answer.map(|(_, text)| text),
                ))
            }
            Some(Action::Retry) => {
                let (outcome, hits) = self.retry(input).await;
                retrieved = hits;
                Some(outcome)
            }
            None => {
                // Out of scope: answer only if the knowledge base clearly has it.
                let strong = self.strong_hit(&question).await;
                match strong {
                    Some(hit) => {
                        retrieved = describe(std::slice::from_ref(&hit));
                        let (text, composer) = self
                            .compose(
                                &question,
                                &hit,
                                std::slice::from_ref(&hit),
                                input,
                                understanding.llm_fallback,
                            )
                            .await;
                        text.map(|t| {
                            (
                                Decision::Answer {
                                    intent: understanding.intent.to_string(),
                                    composer,
                                },
                                Some(t),
                            )
                        })
                    }
                    None => None,
                }
            }
        };

        let (decision, reply) = match outcome {
            Some((decision @ Decision::Escalate(_), _)) => {
                state = handed_over(&state);
                (decision, None)
            }
            Some((decision, text)) if matches!(action, Some(Action::Retry)) => {
                // The topic is still the question that was not answered well.
                state.menu = None;
                state.misses = 0;
                state.retried_question = input.state.last_question.clone();
                (decision, text.map(|t| self.fit(&t)))
            }
            Some((decision, text)) => {
                state.menu = None;
                state.misses = 0;
                state.last_intent = Some(understanding.intent.to_string());
                state.last_question = Some(question.clone());
                (decision, text.map(|t| self.fit(&t)))
            }
            None => {
                state.misses += 1;
                if state.misses >= self.settings.misses_before_escalation {
                    let misses = state.misses;
                    state = handed_over(&state);
                    (Decision::Escalate(escalation::not_understood(misses)), None)
                } else {
                    let options = clarify_options(&model.set, &understanding);
                    let text = clarifying_question(&options);
                    state.menu = Some(Menu {
                        options: options.clone(),
                        question: input.text.to_string(),
                    });
                    (Decision::Clarify { options }, Some(self.fit(&text)))
                }
            }
        };
        Thought {
            understanding,
            mood,
            retrieved,
            decision,
            reply,
            state,
        }
    }

    /// The intent of a text on its own (no conversation around it), exactly as a turn
    /// would find it: the LLM when configured, the local classifier otherwise or on
    /// failure. For `textdesk classify`.
    pub async fn understand_text(&self, text: &str) -> Understanding {
        let model = self.model();
        let state = ConversationState::default();
        let escalation = EscalationSettings::default();
        let input = TurnInput {
            text,
            history: &[],
            state: &state,
            business: "",
            escalation: &escalation,
            said_recently: &[],
            under_way: false,
            returning: false,
            contact: None,
        };
        self.understand(&model, &input, true).await.0
    }

    /// Finds the intent, and the question to answer (the text, or the text read with
    /// the menu or previous question it follows up on). `use_llm: false` keeps to the
    /// local classifier.
    async fn understand(
        &self,
        model: &IntentModel,
        input: &TurnInput<'_>,
        use_llm: bool,
    ) -> (Understanding, String) {
        let text = input.text.trim();
        if let Some(menu) = &input.state.menu {
            if let Ok(n) = text.trim_end_matches(['.', ')']).parse::<usize>() {
                if (1..=menu.options.len()).contains(&n) {
                    if let Ok(intent) = IntentName::parse(&menu.options[n - 1]) {
                        let description = model
                            .set
                            .get(intent.as_str())
                            .map(|i| i.description.clone())
                            .unwrap_or_default();
                        let understanding = Understanding::by_rule(intent);
                        return (understanding, format!("{} {}", menu.question, description));
                    }
                }
            }
        }

        // "?", "??", "...": a nudge (are you there?), not a question; the greeting's
        // reply mid-conversation says someone is. Read with the last question instead,
        // it would bring back an answer the customer already has.
        if !text.is_empty()
            && text
                .chars()
                .all(|c| c.is_ascii_punctuation() || c.is_whitespace())
            && let Some(greeting) = model.set.get("greeting")
        {
            return (
                Understanding::by_rule(greeting.name.clone()),
                text.to_string(),
            );
        }

        let mut llm_fallback = false;
        if let Some(llm) = self.llm_for(LlmTask::Classify).filter(|_| use_llm) {
            let intents: Vec<(String, String)> = model
                .set
                .intents
                .iter()
                .map(|i| (i.name.to_string(), i.description.clone()))
                .collect();
            match llm.classify(text, &intents, input.history).await {
                Ok(c) => {
                    let intent =
                        IntentName::parse(&c.intent).unwrap_or_else(|_| IntentName::out_of_scope());
                    let understanding = Understanding {
                        confidence: if intent.is_out_of_scope() { 0.0 } else { 0.9 },
                        intent,
                        candidates: Vec::new(),
                        sentiment: Some(c.sentiment),
                        source: UnderstoodBy::Llm,
                        llm_fallback: false,
                        needs_human: c.needs_human.then_some(c.reason),
                    };
                    return (understanding, text.to_string());
                }
                Err(e) => {
                    tracing::warn!(error = %e, "LLM classification failed; using the local classifier");
                    llm_fallback = true;
                }
            }
        }

        let local = model.classifier.classify(text).await;
        let mut question = text.to_string();
        let mut result = local;
        if result.intent.is_out_of_scope() && text.split_whitespace().count() <= 4 {
            if let Some(previous) = &input.state.last_question {
                let combined = format!("{previous} {text}");
                let again = model.classifier.classify(&combined).await;
                if !again.intent.is_out_of_scope() {
                    question = combined;
                    result = again;
                }
            }
        }
        let understanding = Understanding {
            intent: result.intent,
            confidence: result.confidence,
            candidates: result.candidates,
            sentiment: None,
            source: UnderstoodBy::Local,
            llm_fallback,
            needs_human: None,
        };
        (understanding, question)
    }

    /// The knowledge base's answer to `question` under `intent`, and what was
    /// retrieved; `None` when nothing matched (or the LLM found no answer in it).
    async fn answer(
        &self,
        question: &str,
        intent: Option<&super::intents::Intent>,
        input: &TurnInput<'_>,
        understanding: &Understanding,
    ) -> (Option<(&'static str, String)>, Vec<Retrieved>) {
        // A lookup's text is the business system's to answer; several questions
        // around it are a person's.
        if intent.is_none_or(|i| matches!(i.action, Action::Answer))
            && let Some(answered) = self.answer_each(question, input, understanding).await
        {
            return answered;
        }
        let hits = self.retrieve(question, intent, 3).await;
        let retrieved = describe(&hits);
        let Some(top) = hits.first() else {
            return (None, retrieved);
        };
        let (text, composer) = self
            .compose(question, top, &hits, input, understanding.llm_fallback)
            .await;
        let Some(text) = text else {
            return (None, retrieved);
        };
        // The customer just read this text: a follow-up ("how long does shipping
        // take" after "do you ship to canada") deserves the next passage, not the
        // same paragraph again. With nothing new, the repeat stands and the engine
        // hands over.
        // Only the last text: a question asked again after others ("what were your
        // hours again?") deserves the same answer.
        let said = |text: &str| {
            input
                .said_recently
                .first()
                .is_some_and(|s| same_text(text, s))
        };
        if said(&self.fit(&text)) {
            // A file's `sms` summary stands for all of its sections, so the section's
            // own words are tried too: "how much per day" after the rentals summary
            // gets the rental prices section.
            for (_, source) in sources(&hits) {
                let other = compose::compose(question, source, self.settings.max_segments).text;
                if !said(&self.fit(&other)) {
                    return (Some(("local", other)), retrieved);
                }
            }
        }
        (Some((composer, text)), retrieved)
    }

    /// "That didn't help": the next best answer to the customer's last question, from
    /// another document when there is one, once per question. With no question to
    /// retry, nothing new to say, or a second complaint, a person takes over.
    async fn retry(&self, input: &TurnInput<'_>) -> ((Decision, Option<String>), Vec<Retrieved>) {
        let hand_over = || {
            (
                Decision::Escalate(Escalation::new(
                    Rule::NotHelped,
                    "the customer said the bot's answer did not help".to_string(),
                )),
                None,
            )
        };
        let Some(question) = input.state.last_question.as_deref() else {
            return (hand_over(), Vec::new());
        };
        if input.state.retried_question.as_deref() == Some(question) {
            return (hand_over(), Vec::new());
        }
        let model = self.model();
        let last_intent = input.state.last_intent.as_deref().unwrap_or("");
        let intent = model.set.get(last_intent);
        // An answer from the business's own system (an order's status) has no next
        // best: what is wrong with the order is for a person.
        if intent.is_some_and(|i| matches!(i.action, Action::Lookup(_))) {
            return (hand_over(), Vec::new());
        }
        let hits = self.retrieve(question, intent, RETRY_PASSAGES).await;
        let retrieved = describe(&hits);
        let candidates: Vec<(&str, String)> = sources(&hits)
            .map(|(file, source)| {
                let text = compose::compose(question, source, self.settings.max_segments).text;
                (file, self.fit(&text))
            })
            .collect();
        let sent = |text: &str| input.said_recently.iter().any(|s| same_text(text, s));
        // The next best answer stays on the topic (the knowledge folder) of the one
        // that did not help: another document there first ("shipping/international"
        // → "shipping/rates"), then another part of the same document. A passage
        // from another topic would be a guess; a person does better.
        let unhelpful_file = candidates
            .iter()
            .find(|(_, text)| sent(text))
            .or(candidates.first())
            .map(|(file, _)| *file);
        let next = unhelpful_file.and_then(|unhelpful| {
            let fresh =
                |(file, text): &&(&str, String)| topic(file) == topic(unhelpful) && !sent(text);
            candidates
                .iter()
                .filter(fresh)
                .find(|(file, _)| *file != unhelpful)
                .or_else(|| candidates.iter().find(|c| fresh(c)))
        });
        let outcome = match next {
            Some((_, text)) => (
                Decision::Answer {
                    intent: last_intent.to_string(),
                    composer: "local",
                },
                Some(format!("Sorry about that. {text}")),
            ),
            None => hand_over(),
        };
        (outcome, retrieved)
    }

    /// The knowledge base's answer to a question the conversation asked earlier
    /// (a lookup that failed after its slots were asked for), composed locally.
    pub async fn answer_earlier_question(&self, question: &str, intent: &str) -> Option<String> {
        let model = self.model();
        let intent = model.set.get(intent);
        let hits = self.retrieve(question, intent, 3).await;
        let top = hits.first()?;
        let source = source_of(top);
        Some(self.fit(&compose::compose(question, source, self.settings.max_segments).text))
    }

    async fn search(&self, question: &str, mode: SearchMode) -> Vec<Hit> {
        self.search_in(question, 3, mode).await
    }

    pub(super) async fn search_in(&self, question: &str, k: usize, mode: SearchMode) -> Vec<Hit> {
        let Some(knowledge) = &self.knowledge else {
            return Vec::new();
        };
        let mode = usable_mode(knowledge, mode);
        hits_or_none(knowledge.search(question, k, mode, &[]).await)
    }

    /// [`Brain::search_in`] with the question read as being about `topic`
    /// ([`Knowledge::search_about`]), hybrid.
    pub(super) async fn search_about(&self, question: &str, topic: &str, k: usize) -> Vec<Hit> {
        let Some(knowledge) = &self.knowledge else {
            return Vec::new();
        };
        let mode = usable_mode(knowledge, SearchMode::Hybrid);
        hits_or_none(knowledge.search_about(question, topic, k, mode).await)
    }

    /// The best passage when dense retrieval is confident about it.
    async fn strong_hit(&self, question: &str) -> Option<Hit> {
        let knowledge = self.knowledge.as_ref()?;
        if !knowledge.has_dense() {
            return None;
        }
        let hits = self.search(question, SearchMode::Dense).await;
        hits.into_iter()
            .next()
            .filter(|h| h.score >= self.settings.strong_retrieval)
    }

    /// Composes with the LLM when configured (falling back on any failure), else
    /// locally. `None` when the LLM read the passages and found no answer.
    pub(super) async fn compose(
        &self,
        question: &str,
        top: &Hit,
        hits: &[Hit],
        input: &TurnInput<'_>,
        llm_failed: bool,
    ) -> (Option<String>, &'static str) {
        let budget_chars = (self.settings.max_segments as usize) * 153;
        // An LLM that already failed on this message is not asked again: the whole
        // message falls back to the local brain.
        if let Some(llm) = self.llm_for(LlmTask::Answer).filter(|_| !llm_failed) {
            let passages: Vec<Passage> = hits
                .iter()
                .map(|h| Passage {
                    title: h
                        .chunk
                        .title
                        .clone()
                        .unwrap_or_else(|| h.chunk.heading_trail()),
                    text: h
                        .chunk
                        .sms
                        .clone()
                        .map(|s| format!("{s}\n\n{}", h.chunk.text))
                        .unwrap_or_else(|| h.chunk.text.clone()),
                    url: h.chunk.url.clone(),
                })
                .collect();
            match llm
                .answer(
                    question,
                    &passages,
                    input.history,
                    budget_chars,
                    input.business,
                )
                .await
            {
                Ok(Some(answer)) => {
                    let mut allowed: Vec<&str> = Vec::new();
                    for passage in &passages {
                        allowed.extend([passage.title.as_str(), passage.text.as_str()]);
                        allowed.extend(passage.url.as_deref());
                    }
                    allowed.extend(self.settings.approved_texts.iter().map(String::as_str));
                    match crate::llm::guard::check_answer(&answer, &allowed) {
                        Ok(plain) => return (Some(plain), "llm"),
                        Err(rejection) => {
                            crate::telemetry::llm_answer_refused();
                            tracing::info!(%rejection, "LLM answer refused by the output guards; composing locally");
                        }
                    }
                }
                Ok(None) => return (None, "llm"),
                Err(e) => tracing::warn!(error = %e, "LLM answer failed; composing locally"),
            }
        }
        let source = source_of(top);
        (
            Some(compose::compose(question, source, self.settings.max_segments).text),
            "local",
        )
    }

    fn fit(&self, text: &str) -> String {
        segments::fit(&segments::smart_encode(text), self.settings.max_segments).text
    }
}

/// A fixed reply with `contact` and `business` filled in ("Hi again, Sarah!"). The
/// template was checked when intents.toml loaded; should it fail anyway, the
/// customer gets its words rather than nothing.
fn render_reply(template: &str, input: &TurnInput<'_>) -> String {
    if !template.contains("{{") && !template.contains("{%") {
        return template.to_string();
    }
    let mut vars = serde_json::Map::new();
    vars.insert(
        "contact".into(),
        input
            .contact
            .cloned()
            .unwrap_or_else(|| serde_json::json!({})),
    );
    vars.insert("business".into(), input.business.into());
    let today = crate::lookups::Today::at(0, jiff::tz::TimeZone::UTC);
    crate::lookups::template::render(template, &vars, &today)
        .map(|t| t.trim().to_string())
        .unwrap_or_else(|e| {
            tracing::error!(error = %e, "a fixed reply failed to render; sending its words");
            template.to_string()
        })
}

/// The same text as far as a reader can tell, judged exactly as the engine judges a
/// repeat (letters and digits, case aside), so what the brain lets through is never
/// refused afterwards as a repeat.
fn same_text(a: &str, b: &str) -> bool {
    crate::engine::guard::normalize(a) == crate::engine::guard::normalize(b)
}

/// The state once a person takes over: no pending menu, no misses counted.
fn handed_over(state: &ConversationState) -> ConversationState {
    ConversationState {
        menu: None,
        misses: 0,
        ..state.clone()
    }
}

/// The LLM judged the text angry (at or below the operator's `angry_compound`), even
/// if VADER did not see it (sarcasm, long texts).
fn llm_anger(understanding: &Understanding, settings: &EscalationSettings) -> Option<Escalation> {
    if understanding.source != UnderstoodBy::Llm {
        return None;
    }
    let score = understanding.sentiment?;
    (score <= settings.angry_compound).then(|| {
        Escalation::new(
            Rule::NegativeEmotion,
            format!("angry: LLM sentiment {score:.2}"),
        )
    })
}

/// The LLM classifier's own judgement that a person should take the text, when the
/// operator trusts it. Checked after the rule-based escalations, which name a more
/// precise reason (and priority) when they fire too.
fn llm_needs_human(
    understanding: &Understanding,
    settings: &EscalationSettings,
) -> Option<Escalation> {
    let reason = understanding.needs_human.as_deref()?;
    settings.llm_needs_human.then(|| {
        let reason = reason.trim();
        let detail = if reason.is_empty() {
            "the LLM judged a person is needed".to_string()
        } else {
            format!("the LLM judged a person is needed: {reason}")
        };
        Escalation::new(Rule::ModelJudged, detail)
    })
}

fn describe(hits: &[Hit]) -> Vec<Retrieved> {
    hits.iter()
        .map(|h| Retrieved {
            file: h.chunk.file.clone(),
            headings: h.chunk.heading_trail(),
            lines: format!("{}-{}", h.chunk.line_start, h.chunk.line_end),
            score: h.score,
        })
        .collect()
}

/// Each passage as a composer source, by file: first as its `sms` summary, then in
/// its own words. A summary stands for all of a file's sections, so a follow-up
/// needing one section's detail finds it in the second.
fn sources(hits: &[Hit]) -> impl Iterator<Item = (&str, Source<'_>)> {
    hits.iter().flat_map(|hit| {
        [hit.chunk.sms.as_deref(), None].map(|sms| {
            let source = Source {
                sms,
                ..source_of(hit)
            };
            (hit.chunk.file.as_str(), source)
        })
    })
}

/// A passage as the composer reads it.
fn source_of(hit: &Hit) -> Source<'_> {
    Source {
        text: &hit.chunk.text,
        sms: hit.chunk.sms.as_deref(),
        url: hit.chunk.url.as_deref(),
    }
}

/// A knowledge file's folder: its topic ("shipping/rates.md" → "shipping").
fn topic(file: &str) -> &str {
    file.rsplit_once('/').map_or("", |(folder, _)| folder)
}

/// How many passages "that didn't help" looks through for something new.
const RETRY_PASSAGES: usize = 5;

/// Below this probability a candidate intent is noise, not a guess worth offering.
const PLAUSIBLE: f32 = 0.05;

/// The two most likely answerable intents, for a clarifying menu; when nothing is
/// plausible, the most common topics (order status and returns, when defined).
fn clarify_options(set: &IntentSet, understanding: &Understanding) -> Vec<String> {
    let answerable = |name: &str| set.get(name).is_some_and(|i| i.action.answers());
    let mut options: Vec<String> = understanding
        .candidates
        .iter()
        .filter(|(name, p)| *p >= PLAUSIBLE && answerable(name.as_str()))
        .map(|(name, _)| name.to_string())
        .take(2)
        .collect();
    let common = ["order_status", "returns"]
        .into_iter()
        .filter(|n| answerable(n))
        .map(str::to_string);
    let fallback = set
        .intents
        .iter()
        .filter(|i| i.action.answers())
        .map(|i| i.name.to_string());
    for name in common.chain(fallback) {
        if options.len() >= 2 {
            break;
        }
        if !options.contains(&name) {
            options.push(name);
        }
    }
    options
}

/// "Sorry, I didn't quite get that. Reply 1 for order status, 2 for returns, or AGENT
/// for a person."
pub fn clarifying_question(options: &[String]) -> String {
    let numbered: Vec<String> = options
        .iter()
        .enumerate()
        .map(|(i, o)| format!("{} for {}", i + 1, o.replace('_', " ")))
        .collect();
    if numbered.is_empty() {
        return "Sorry, I didn't quite get that. Could you say it another way, or reply AGENT for a person?".into();
    }
    format!(
        "Sorry, I didn't quite get that. Reply {}, or AGENT for a person.",
        numbered.join(", ")
    )
}

/// `mode`, or BM25 when the knowledge base has no dense vectors to search.
fn usable_mode(knowledge: &Knowledge, mode: SearchMode) -> SearchMode {
    if mode != SearchMode::Bm25 && !knowledge.has_dense() {
        SearchMode::Bm25
    } else {
        mode
    }
}

/// A search's hits, or none when it failed (logged): the turn goes on without
/// passages, and the customer still gets an answer or a person.
fn hits_or_none(found: Result<Vec<Hit>, crate::knowledge::KnowledgeError>) -> Vec<Hit> {
    found.unwrap_or_else(|e| {
        tracing::error!(error = %e, "knowledge search failed");
        Vec::new()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn understood_by_llm(needs_human: Option<&str>) -> Understanding {
        Understanding {
            intent: IntentName::parse("order_status").unwrap(),
            confidence: 0.9,
            candidates: Vec::new(),
            sentiment: Some(-0.1),
            source: UnderstoodBy::Llm,
            llm_fallback: false,
            needs_human: needs_human.map(str::to_string),
        }
    }

    #[test]
    fn the_llms_needs_human_hands_over_only_when_trusted() {
        let trusted = EscalationSettings::default();
        let escalation = llm_needs_human(&understood_by_llm(Some("damaged parcel")), &trusted)
            .expect("trusted by default");
        assert_eq!(escalation.rule, Rule::ModelJudged);
        assert!(escalation.detail.contains("damaged parcel"));

        assert!(llm_needs_human(&understood_by_llm(None), &trusted).is_none());
        let distrusted = EscalationSettings {
            llm_needs_human: false,
            ..EscalationSettings::default()
        };
        assert!(llm_needs_human(&understood_by_llm(Some("damaged parcel")), &distrusted).is_none());
    }
}
