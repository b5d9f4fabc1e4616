// The agent inbox: sign in with a token, watch the queue live, open a conversation,
// claim / release / resolve it and reply. Talks only to the agent API (README, "Human
// handoff and the agent API"); every piece of server text goes in via textContent.
import { count, nonGsm, smartEncode } from "/inbox/segments.js";

const $ = (id) => document.getElementById(id);
const TOKEN_KEY = "textdesk.token";

const state = {
  token: sessionStorage.getItem(TOKEN_KEY),
  me: null, // GET /api/v1/me: { name, role, team: { timezone, csat_on_resolve, ... } }
  colleagues: [],
  waiting: [],
  mine: [],
  fetchedAt: 0,
  selected: null, // handoff id
  conversation: null,
  events: null,
  replies: [], // GET /api/v1/replies?conversation_id=…: saved replies filled in for it
};

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function api(method, path, body) {
  const response = await fetch(path, {
    method,
    headers: {
      Authorization: `Bearer ${state.token}`,
      ...(body === undefined ? {} : { "Content-Type": "application/json" }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  if (!response.ok) {
    throw new ApiError(response.status, (json && json.error) || text || response.statusText);
  }
  return json;
}

// ---- sign in ---------------------------------------------------------------------

async function signIn(token) {
  state.token = token;
  try {
    state.me = await api("GET", "/api/v1/me");
  } catch (e) {
    state.token = null;
    sessionStorage.removeItem(TOKEN_KEY);
    throw e;
  }
  sessionStorage.setItem(TOKEN_KEY, token);
  $("signin-view").hidden = true;
  $("app-view").hidden = false;
  $("signout").hidden = false;
  $("whoami").textContent = `Signed in as ${state.me.name}${state.me.role === "admin" ? " (admin)" : ""}`;
  // Reviewing suggestions is an admin's job; the API refuses anyone else anyway.
  $("review-open").hidden = state.me.role !== "admin";
  $("send-csat").checked = state.me.team.csat_on_resolve;
  await Promise.all([loadQueue(), loadColleagues(), loadLabelsInUse()]);
  connectEvents();
}

async function loadColleagues() {
  const team = await api("GET", "/api/v1/agents");
  state.colleagues = team.filter((a) => a.name !== state.me.name);
  const select = $("transfer-to");
  const chosen = select.value;
  select.replaceChildren(el("option", { value: "", textContent: "Transfer to…" }));
  for (const a of state.colleagues) {
    select.append(el("option", { value: a.name, textContent: a.online ? `${a.name} · online` : a.name }));
  }
  select.value = state.colleagues.some((a) => a.name === chosen) ? chosen : "";
  renderTeam(team);
}

// Who is on shift beside the queue: online first, each with the handoffs they hold.
function renderTeam(team) {
  const sorted = [...team].sort((a, b) => Number(b.online) - Number(a.online) || a.name.localeCompare(b.name));
  $("team").replaceChildren(
    ...sorted.map((a) => {
      const you = a.name === state.me.name ? " (you)" : "";
      const seen = a.online ? "online" : a.last_seen_at ? `seen ${time(a.last_seen_at)}` : "never signed in";
      const li = el(
        "li",
        { className: a.online ? "online" : "" },
        el("span", { className: "dot" }),
        el("span", { textContent: `${a.name}${you}` }),
        el("span", { className: "muted", textContent: `${seen} · ${a.open_handoffs} open` }),
      );
      li.dataset.agent = a.name;
      return li;
    }),
  );
}

// Presence changes without events (someone closes their laptop): look again each minute.
setInterval(() => {
  if (state.me) loadColleagues().catch(() => {});
}, 60_000);

$("signin-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  $("signin-error").textContent = "";
  const token = $("token").value.trim();
  try {
    await signIn(token);
    $("token").value = "";
  } catch (e) {
    $("signin-error").textContent =
      e.status === 401
        ? "That token is wrong or revoked. Check it, or ask an admin for a new one."
        : e.status === 429
          ? "Too many failed sign-ins from here; wait a minute and try again."
          : `Could not sign in: ${e.message}`;
    $("token").focus();
  }
});

$("signout").addEventListener("click", () => {
  sessionStorage.clear();
  location.reload();
});

// ---- queue -------------------------------------------------------------------------

// Missed SLA targets first, then priority, then the longest wait.
const missedSla = (h) => (h.sla?.breached?.length ? 0 : 1);
const byUrgency = (a, b) =>
  missedSla(a) - missedSla(b) || a.priority - b.priority || b.wait_ms - a.wait_ms || a.id - b.id;
const PRIORITY = { 1: "urgent", 2: "high", 3: "normal", 4: "low" };

async function loadQueue() {
  const [waiting, assigned] = await Promise.all([
    api("GET", "/api/v1/handoffs?status=waiting"),
    api("GET", "/api/v1/handoffs?status=assigned"),
  ]);
  state.waiting = waiting.sort(byUrgency);
  state.mine = assigned.filter((h) => h.assignee === state.me.name).sort(byUrgency);
  state.fetchedAt = Date.now();
  renderQueue();
}

function formatWait(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, "0")}m`;
}

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  Object.assign(node, props);
  for (const c of children) node.append(c);
  return node;
}

// The card's second line: what the customer wants, from the summary (its "Why:" line
// says what the headline above it already says).
function gist(summary) {
  return (summary || "").split("\n").find((line) => !line.startsWith("Why:")) ?? "";
}

function renderList(list, items, emptyText) {
  list.replaceChildren();
  if (items.length === 0) {
    list.append(el("li", { className: "empty", textContent: emptyText }));
    return;
  }
  for (const h of items) {
    const waitNode = el("span", { className: "wait muted" });
    waitNode.dataset.waitMs = h.status === "waiting" ? h.wait_ms : "";
    waitNode.textContent = h.status === "waiting" ? formatWait(h.wait_ms) : `with ${h.assignee}`;
    const li = el(
      "li",
      { tabIndex: 0, className: h.id === state.selected ? "selected" : "" },
      el(
        "div",
        { className: "top" },
        el("span", { className: `prio prio-${h.priority}`, textContent: PRIORITY[h.priority] ?? `p${h.priority}` }),
        el("span", { className: "phone", textContent: h.phone_masked }),
        waitNode,
      ),
      el("div", { className: "reason", textContent: h.headline }),
      ...slaBadge(h),
      ...(h.labels?.length ? [chips(h.labels)] : []),
      el("div", { className: "gist muted", textContent: gist(h.summary) }),
    );
    li.dataset.handoffId = h.id;
    li.setAttribute("role", "button");
    li.setAttribute("aria-label", `${PRIORITY[h.priority] ?? ""} ${h.headline}, ${h.phone_masked}`);
    li.addEventListener("click", () => openHandoff(h.id));
    list.append(li);
  }
}

function renderQueue() {
  renderList($("queue-waiting"), state.waiting, "Nobody is waiting.");
  renderList($("queue-mine"), state.mine, "Nothing assigned to you.");
  // The tab's title counts who is waiting, so a background tab still tells.
  document.title = state.waiting.length ? `(${state.waiting.length}) textdesk inbox` : "textdesk inbox";
}

// The waits tick locally between fetches.
setInterval(() => {
  const elapsed = Date.now() - state.fetchedAt;
  for (const node of document.querySelectorAll(".wait[data-wait-ms]")) {
    if (node.dataset.waitMs !== "") node.textContent = formatWait(Number(node.dataset.waitMs) + elapsed);
  }
}, 1000);

function allHandoffs() {
  return [...state.waiting, ...state.mine];
}

function moveSelection(step) {
  const items = allHandoffs();
  if (items.length === 0) return;
  let i = items.findIndex((h) => h.id === state.selected);
  i = i < 0 ? 0 : Math.min(items.length - 1, Math.max(0, i + step));
  openHandoff(items[i].id);
  document.querySelector(`[data-handoff-id="${items[i].id}"]`)?.focus();
}

// ---- live events -------------------------------------------------------------------

function connectEvents() {
  // EventSource cannot send headers: the events endpoint alone takes ?access_token=.
  const source = new EventSource(`/api/v1/events?access_token=${encodeURIComponent(state.token)}`);
  state.events = source;
  source.onopen = () => ($("live").textContent = "· live");
  source.onerror = () => ($("live").textContent = "· reconnecting…");
  // The team's loads change with the queue.
  const refreshQueue = () => Promise.all([loadQueue(), loadColleagues()]).catch(() => {});
  for (const kind of ["handoff.created", "handoff.updated", "handoff.claimed", "handoff.released", "handoff.transferred", "handoff.resolved", "conversation.labeled", "conversation.unlabeled", "sla.breached"]) {
    source.addEventListener(kind, () => {
      refreshQueue();
      if (state.conversation) refreshConversation();
    });
  }
  for (const kind of ["message.inbound", "message.outbound", "note.created", "contact.opted_out", "contact.opted_in", "message.delivery_failed"]) {
    source.addEventListener(kind, (ev) => {
      let data = null;
      try {
        data = JSON.parse(ev.data);
      } catch {
        data = null;
      }
      const conv = data && (data.conversation_id ?? data.payload?.conversation_id);
      if (state.conversation && (conv === undefined || conv === null || conv === state.conversation.id)) {
        refreshConversation();
      }
    });
  }
}

// ---- conversation -------------------------------------------------------------------

function currentHandoff() {
  return allHandoffs().find((h) => h.id === state.selected) ?? state.conversation?.handoff ?? null;
}

async function openHandoff(id) {
  state.selected = id;
  const h = allHandoffs().find((x) => x.id === id);
  renderQueue();
  if (!h) return;
  $("app-view").classList.add("open");
  $("no-conversation").hidden = true;
  $("review-pane").hidden = true;
  $("conversation-pane").hidden = false;
  $("action-error").textContent = "";
  $("send-error").textContent = "";
  await loadConversation(h.conversation_id);
}

async function loadConversation(conversationId) {
  const changed = state.conversation?.id !== conversationId;
  state.conversation = await api("GET", `/api/v1/conversations/${conversationId}`);
  renderConversation();
  loadReplies(conversationId).catch(() => {});
  if (changed) loadHistory(conversationId).catch(() => ($("history").hidden = true));
}

// ---- history: a returning customer's other conversations ------------------------------

async function loadHistory(conversationId) {
  const past = await api("GET", `/api/v1/conversations/${conversationId}/history`);
  if (state.conversation?.id !== conversationId) return; // another one was opened meanwhile
  const panel = $("history");
  panel.hidden = past.length === 0;
  panel.open = past.length <= 3; // a few show at once; a long history stays one line until asked
  $("history-title").textContent = `Earlier conversations (${past.length})`;
  $("history-list").replaceChildren(
    ...past.map((p) => {
      const ended = p.resolved_at ? `resolved ${time(p.resolved_at)}` : p.status;
      const by = p.agent ? ` · ${p.agent}` : "";
      const item = el(
        "li",
        { tabIndex: 0, className: "past" },
        el("div", { className: "top" }, el("span", { textContent: time(p.created_at) }), el("span", { className: "muted", textContent: `${ended}${by} · ${p.messages} texts` })),
        ...(p.headline ? [el("div", { className: "reason", textContent: p.headline })] : []),
        ...(p.labels.length ? [chips(p.labels)] : []),
        el("div", { className: "gist muted", textContent: p.first_text ?? "" }),
      );
      item.dataset.conversationId = p.id;
      item.setAttribute("role", "button");
      item.setAttribute("aria-label", `Conversation of ${time(p.created_at)}: ${p.headline ?? p.first_text ?? ""}`);
      item.addEventListener("click", () => openConversation(p.id));
      item.addEventListener("keydown", (e) => {
        if (e.key === "Enter") openConversation(p.id);
      });
      return item;
    }),
  );
}

function refreshConversation() {
  if (state.conversation) loadConversation(state.conversation.id).catch(() => {});
}

// Times are shown on the team's clock (policy.toml [hours] timezone), so an agent
// working remotely reads the same "9:05 AM" the business hours are written in.
function time(ms) {
  const options = { hour: "2-digit", minute: "2-digit", month: "short", day: "numeric", timeZoneName: "short" };
  try {
    return new Date(ms).toLocaleString([], { ...options, timeZone: state.me?.team.timezone ?? undefined });
  } catch {
    return new Date(ms).toLocaleString([], options); // a zone this browser does not know
  }
}

function renderConversation() {
  const c = state.conversation;
  const h = c.handoff;
  $("conv-title").textContent = `Conversation with ${c.phone_masked}`;
  $("conv-status").textContent = describeStatus(h);
  $("summary").textContent = h ? h.summary : "No handoff.";
  renderLabels(c.labels ?? []);

  const entries = [
    ...c.messages.map((m) => ({ at: m.created_at, kind: m.author, m })),
    ...c.notes.map((n) => ({ at: n.created_at, kind: "note", n })),
  ].sort((a, b) => a.at - b.at);
  const thread = $("thread");
  thread.replaceChildren();
  for (const e of entries) {
    let who;
    let body;
    if (e.n) {
      who = `Note by ${e.n.agent}`;
      body = e.n.body;
    } else {
      const m = e.m;
      who = { customer: "Customer", bot: "Bot", agent: `Agent ${m.agent ?? ""}`.trim(), system: "System" }[m.author] ?? m.author;
      const facts = [time(m.created_at)];
      if (m.intent) facts.push(m.intent);
      if (m.direction === "outbound") facts.push(`${m.encoding}, ${m.segments} seg`, m.delivery_status);
      who = `${who} · ${facts.join(" · ")}`;
      body = m.body;
    }
    const li = el("li", { className: e.kind }, el("span", { className: "who", textContent: who }), body);
    li.dataset.author = e.kind;
    if (e.m?.author === "bot") {
      li.dataset.messageId = e.m.id;
      li.append(feedbackControls(e.m));
    }
    thread.append(li);
  }
  thread.lastElementChild?.scrollIntoView({ block: "nearest" });

  const optedOut = c.consent === "opted_out";
  const status = h?.status;
  const admin = state.me.role === "admin";
  const heldByOther = status === "assigned" && h.assignee !== state.me.name;
  const mayAct = status === "assigned" && (!heldByOther || admin);
  $("consent").textContent = optedOut
    ? "This customer opted out (STOP). Replies are disabled until they text START."
    : heldByOther && !admin
      ? `${h.assignee} has this conversation: only they (or an admin) can reply. Ask them to transfer it.`
      : "";
  const replyBlocked = optedOut || (heldByOther && !admin);
  $("reply").disabled = replyBlocked;
  $("send").disabled = replyBlocked;

  $("claim").disabled = status !== "waiting";
  $("release").disabled = !mayAct;
  $("transfer-to").disabled = !mayAct;
  $("transfer").disabled = !mayAct || $("transfer-to").value === "";
  $("resolve").disabled = !mayAct;
  $("send-csat").disabled = !mayAct || optedOut;
  updateCounter();
}

// ---- feedback on the bot's answers -------------------------------------------------------

// An agent's verdict on a bot text feeds the gaps report (GET /api/v1/admin/gaps) and the
// bot-answer quality figure; a correction is what knowledge drafts may be made from.
const feedbackDrafts = new Map(); // bot message id → correction being typed
const FEEDBACK_LABELS = { wrong_answer: "Wrong answer", should_have_handed_over: "Should have handed over" };

function feedbackControls(m) {
  if (m.feedback) {
    return el("span", { className: "feedback-given", textContent: `Marked: ${FEEDBACK_LABELS[m.feedback] ?? m.feedback}` });
  }
  // The thread is redrawn on every live event: what the agent is typing survives it.
  const draft = feedbackDrafts.get(m.id);
  const correction = el("input", {
    className: "correction",
    placeholder: "What should it have said? (optional)",
    title: "What the bot should have said (optional)",
    maxLength: 1600,
    value: draft ?? "",
  });
  correction.setAttribute("aria-label", "What the bot should have said (optional)");
  correction.addEventListener("input", () => feedbackDrafts.set(m.id, correction.value));
  const buttons = Object.entries(FEEDBACK_LABELS).map(([kind, label]) => {
    const button = el("button", { type: "button", className: "mark", textContent: label });
    // Named for screen readers even while the closed <details> hides its text.
    button.setAttribute("aria-label", `${label}: mark this bot answer`);
    button.dataset.feedback = kind;
    button.addEventListener("click", async () => {
      const conversationId = state.conversation.id;
      try {
        await api("POST", `/api/v1/messages/${m.id}/feedback`, { kind, correction: correction.value.trim() || null });
        $("action-error").textContent = "";
        feedbackDrafts.delete(m.id);
        await loadConversation(conversationId);
      } catch (err) {
        $("action-error").textContent = `Could not mark the answer: ${err.message}`;
      }
    });
    return button;
  });
  const box = el("details", { className: "feedback", open: draft !== undefined }, el("summary", { textContent: "Flag this answer" }), correction, ...buttons);
  box.addEventListener("toggle", () => {
    if (box.open && !feedbackDrafts.has(m.id)) feedbackDrafts.set(m.id, correction.value);
    if (!box.open) feedbackDrafts.delete(m.id);
  });
  return box;
}

// ---- suggestions to review (admins) ------------------------------------------------------

// Knowledge drafted from agents' answers to what the bot could not handle, and texts
// agents re-labelled, proposed as intent examples (GET /api/v1/admin/suggestions).
// Accepting publishes the file into the knowledge base or adds the example to
// intents.toml; the list shows only what still waits for a decision.
async function openReview() {
  $("conversation-pane").hidden = true;
  $("no-conversation").hidden = true;
  $("review-pane").hidden = false;
  $("app-view").classList.add("open");
  state.selected = null;
  state.conversation = null;
  renderQueue();
  await loadSuggestions();
}

async function loadSuggestions() {
  $("review-error").textContent = "";
  let all;
  try {
    all = await api("GET", "/api/v1/admin/suggestions");
  } catch (e) {
    $("review-error").textContent = `Could not load suggestions: ${e.message}`;
    return;
  }
  const pending = all.filter((s) => s.status === "pending");
  const list = $("suggestion-list");
  if (pending.length === 0) {
    list.replaceChildren(el("li", { className: "empty", textContent: "Nothing waits for review." }));
    return;
  }
  list.replaceChildren(...pending.map(suggestionItem));
}

function suggestionItem(s) {
  const customers = `${s.customers} customer${s.customers === 1 ? "" : "s"}`;
  const sources = el(
    "div",
    { className: "sources" },
    el("span", { className: "muted", textContent: "Answered in:" }),
    ...s.sources.map((conversationId) => {
      const link = el("button", { type: "button", className: "source", textContent: `conversation ${conversationId}` });
      link.dataset.conversationId = conversationId;
      link.setAttribute("aria-label", `Open conversation ${conversationId}, one this was drafted from`);
      link.addEventListener("click", () => openConversation(conversationId));
      return link;
    }),
  );
  const decide = (action, label, className) => {
    const button = el("button", { type: "button", className, textContent: label });
    button.dataset.decide = action;
    button.setAttribute("aria-label", `${label}: ${s.title}`);
    button.addEventListener("click", async () => {
      $("review-error").textContent = "";
      try {
        const decided = await api("POST", `/api/v1/admin/suggestions/${s.id}/${action}`, {});
        $("review-status").textContent =
          action !== "accept"
            ? `Rejected "${s.title}".`
            : s.kind === "intent_example"
              ? `Added to ${decided.intent} in ${decided.file}.`
              : `Published as ${decided.file}.`;
      } catch (e) {
        $("review-error").textContent = `Could not ${action} "${s.title}": ${e.message}`;
      }
      await loadSuggestions();
    });
    return button;
  };
  const item = el(
    "li",
    { className: "suggestion" },
    el("div", { className: "top" }, el("strong", { className: "title", textContent: s.title }), el("span", { className: "muted customers", textContent: customers })),
    s.kind === "intent_example"
      ? el("div", { className: "example", textContent: `"${s.example}" is ${s.intent}, not what the bot took it for.` })
      : el("div", { className: "sms", textContent: s.sms ?? "(no sms answer in the draft)" }),
    sources,
    ...(s.draft ? [el("details", {}, el("summary", { textContent: `The whole file: ${s.file}` }), el("pre", { textContent: s.draft }))] : []),
    el("div", { className: "decide" }, decide("accept", "Accept", "accept"), decide("reject", "Reject", "reject")),
  );
  item.dataset.suggestionId = s.id;
  return item;
}

$("review-open").addEventListener("click", () => openReview());
$("review-close").addEventListener("click", () => {
  $("app-view").classList.remove("open");
  $("review-pane").hidden = true;
  $("no-conversation").hidden = false;
});
$("review-draft").addEventListener("click", async () => {
  $("review-error").textContent = "";
  $("review-draft").disabled = true;
  try {
    const drafted = await api("POST", "/api/v1/admin/suggestions", {});
    $("review-status").textContent =
      drafted.length === 0 ? "No new suggestions." : `${drafted.length} new suggestion${drafted.length === 1 ? "" : "s"}.`;
  } catch (e) {
    $("review-error").textContent = `Could not look for suggestions: ${e.message}`;
  } finally {
    $("review-draft").disabled = false;
  }
  await loadSuggestions();
});

// ---- search ---------------------------------------------------------------------------

$("search-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const q = $("search").value.trim();
  const list = $("search-results");
  if (!q) {
    list.hidden = true;
    return;
  }
  let page;
  try {
    page = await api("GET", `/api/v1/search?q=${encodeURIComponent(q)}&limit=20`);
  } catch (e) {
    list.replaceChildren(el("li", { className: "empty", textContent: `Search failed: ${e.message}` }));
    list.hidden = false;
    return;
  }
  list.hidden = false;
  if (page.hits.length === 0) {
    list.replaceChildren(el("li", { className: "empty", textContent: `Nothing says "${q}".` }));
    return;
  }
  list.replaceChildren(
    ...page.hits.map((hit) => {
      const who = hit.kind === "note" ? `Note by ${hit.author}` : hit.author;
      const item = el(
        "li",
        { tabIndex: 0, className: "hit" },
        el("div", { className: "top" }, el("span", { className: "phone", textContent: hit.phone_masked }), el("span", { className: "muted", textContent: `${who} · ${time(hit.created_at)}` })),
        el("div", { className: "gist", textContent: hit.body }),
      );
      item.dataset.conversationId = hit.conversation_id;
      item.setAttribute("role", "button");
      item.addEventListener("click", () => openConversation(hit.conversation_id));
      item.addEventListener("keydown", (e) => {
        if (e.key === "Enter") openConversation(hit.conversation_id);
      });
      return item;
    }),
  );
});

$("search").addEventListener("keydown", (ev) => {
  if (ev.key === "Escape") {
    $("search").value = "";
    $("search-results").hidden = true;
  }
});

// A conversation found by search, whether or not it is in the queue.
async function openConversation(conversationId) {
  const queued = allHandoffs().find((h) => h.conversation_id === conversationId);
  if (queued) return openHandoff(queued.id);
  state.selected = null;
  renderQueue();
  $("app-view").classList.add("open");
  $("no-conversation").hidden = true;
  $("review-pane").hidden = true;
  $("conversation-pane").hidden = false;
  $("action-error").textContent = "";
  $("send-error").textContent = "";
  await loadConversation(conversationId);
}

// ---- SLA ------------------------------------------------------------------------------

const SLA_NAMES = { first_response: "first reply", next_response: "next reply", resolution: "resolution" };

// "SLA missed: first reply" in red, or when the first reply is due.
function slaBadge(h) {
  const sla = h.sla ?? {};
  if (sla.breached?.length) {
    const what = sla.breached.map((m) => SLA_NAMES[m] ?? m).join(", ");
    return [el("div", { className: "sla sla-missed", textContent: `SLA missed: ${what}` })];
  }
  if (sla.first_response_due_at) {
    return [el("div", { className: "sla muted", textContent: `Reply by ${time(sla.first_response_due_at)}` })];
  }
  return [];
}

// ---- labels ---------------------------------------------------------------------------

function chips(labels) {
  return el("ul", { className: "chips" }, ...labels.map((l) => el("li", { textContent: l })));
}

function renderLabels(labels) {
  const list = $("labels");
  list.replaceChildren();
  for (const label of labels) {
    const remove = el("button", { type: "button", className: "chip-remove", textContent: "×" });
    remove.setAttribute("aria-label", `Remove label ${label}`);
    remove.addEventListener("click", () => changeLabel("DELETE", label));
    list.append(el("li", {}, label, remove));
  }
}

async function loadLabelsInUse() {
  const labels = await api("GET", "/api/v1/labels");
  $("labels-in-use").replaceChildren(...labels.map((l) => el("option", { value: l.label })));
}

async function changeLabel(method, label) {
  const c = state.conversation;
  if (!c) return;
  $("label-error").textContent = "";
  try {
    const path = `/api/v1/conversations/${c.id}/labels`;
    const result =
      method === "DELETE"
        ? await api("DELETE", `${path}/${encodeURIComponent(label)}`)
        : await api("POST", path, { label });
    c.labels = result.labels;
    renderLabels(c.labels);
    loadQueue().catch(() => {});
    loadLabelsInUse().catch(() => {});
  } catch (e) {
    $("label-error").textContent = `Could not change the label: ${e.message}`;
  }
}

$("label-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const input = $("label-input");
  const label = input.value.trim();
  if (!label) return;
  await changeLabel("POST", label);
  if (!$("label-error").textContent) input.value = "";
});

function describeStatus(h) {
  if (!h) return "The bot has this conversation.";
  if (h.status === "waiting") return `Waiting for an agent since ${time(h.created_at)}.`;
  if (h.status === "assigned") return h.assignee === state.me.name ? "Assigned to you." : `Assigned to ${h.assignee}.`;
  return `Resolved${h.hand_back ? " and handed back to the bot" : ""}.`;
}

async function act(action, body) {
  const h = currentHandoff();
  if (!h) return;
  $("action-error").textContent = "";
  try {
    await api("POST", `/api/v1/handoffs/${h.id}/${action}`, body ?? {});
  } catch (e) {
    $("action-error").textContent = e.message;
  }
  await loadQueue().catch(() => {});
  refreshConversation();
}

$("claim").addEventListener("click", () => act("claim"));
$("release").addEventListener("click", () => act("release"));
$("transfer-to").addEventListener("change", () => {
  if (state.conversation) renderConversation();
});
$("transfer").addEventListener("click", async () => {
  const to = $("transfer-to").value;
  if (!to) return;
  await act("transfer", { agent: to });
  $("transfer-to").value = "";
  if (state.conversation) renderConversation();
});
$("resolve").addEventListener("click", () =>
  act("resolve", { hand_back: $("hand-back").checked, send_csat: $("send-csat").checked }),
);
$("back").addEventListener("click", () => {
  $("app-view").classList.remove("open");
  $("conversation-pane").hidden = true;
  $("no-conversation").hidden = false;
  document.querySelector(`[data-handoff-id="${state.selected}"]`)?.focus();
});

// ---- reply box ------------------------------------------------------------------------

function updateCounter() {
  const text = $("reply").value;
  const n = count(text);
  const counter = $("counter");
  const limit = state.me?.team.max_agent_segments ?? Infinity;
  const over = n.segments > limit ? ` · over the ${limit}-segment limit, shorten or split it` : "";
  counter.textContent = `${n.encoding} · ${n.segments} segment${n.segments === 1 ? "" : "s"} · ${n.remaining} left in segment${over}`;
  counter.classList.toggle("ucs2", n.encoding === "UCS-2");
  counter.classList.toggle("over", over !== "");
  counter.dataset.encoding = n.encoding;
  counter.dataset.segments = n.segments;
  counter.dataset.remaining = n.remaining;

  const odd = nonGsm(text);
  $("nongsm").hidden = odd.length === 0;
  const chars = $("nongsm-chars");
  chars.replaceChildren();
  const seen = new Set();
  for (const { ch } of odd) {
    if (seen.has(ch)) continue;
    seen.add(ch);
    chars.append(el("mark", { textContent: ch, title: `U+${ch.codePointAt(0).toString(16).toUpperCase().padStart(4, "0")}` }), " ");
  }
  $("smart").disabled = smartEncode(text) === text;
}

$("reply").addEventListener("input", () => {
  updateCounter();
  renderSuggestions();
});

// ---- saved replies: "/" + shortcut, Tab inserts ------------------------------------------

async function loadReplies(conversationId) {
  const result = await api("GET", `/api/v1/replies?conversation_id=${conversationId}`);
  if (state.conversation?.id === conversationId) state.replies = result.replies;
}

// The "/shortc" being typed just before the caret, if any.
function slashToken() {
  const box = $("reply");
  const before = box.value.slice(0, box.selectionStart);
  const m = before.match(/(?:^|\s)\/([\w-]*)$/);
  return m ? { word: m[1].toLowerCase(), start: before.length - m[1].length - 1, end: before.length } : null;
}

function matchingReplies() {
  const token = slashToken();
  if (!token) return [];
  return state.replies.filter((r) => r.shortcut.startsWith(token.word));
}

function renderSuggestions() {
  const list = $("reply-suggestions");
  const matches = matchingReplies();
  list.hidden = matches.length === 0;
  list.replaceChildren(
    ...matches.map((r, i) => {
      const item = el("li", { role: "option", textContent: `/${r.shortcut} · ${r.title}` });
      item.setAttribute("aria-selected", i === 0 ? "true" : "false");
      item.dataset.shortcut = r.shortcut;
      item.addEventListener("mousedown", (ev) => {
        ev.preventDefault(); // keep the caret in the box
        insertReply(r);
      });
      return item;
    }),
  );
}

function insertReply(reply) {
  const token = slashToken();
  if (!token) return;
  const box = $("reply");
  const text = reply.text ?? reply.template;
  box.value = box.value.slice(0, token.start) + text + box.value.slice(token.end);
  const caret = token.start + text.length;
  box.setSelectionRange(caret, caret);
  updateCounter();
  renderSuggestions();
}
$("smart").addEventListener("click", () => {
  $("reply").value = smartEncode($("reply").value);
  updateCounter();
  $("reply").focus();
});
$("reply").addEventListener("keydown", (ev) => {
  const matches = matchingReplies();
  if (matches.length > 0 && (ev.key === "Tab" || (ev.key === "Enter" && !ev.shiftKey))) {
    ev.preventDefault();
    insertReply(matches[0]);
    return;
  }
  if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
    ev.preventDefault();
    $("reply-form").requestSubmit();
  }
});

$("reply-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const body = $("reply").value;
  if (!state.conversation || body.trim() === "") return;
  $("send-error").textContent = "";
  $("send").disabled = true;
  try {
    await api("POST", `/api/v1/conversations/${state.conversation.id}/messages`, { body });
    $("reply").value = ""; // only once it is accepted: a failed send keeps the draft
    updateCounter();
  } catch (e) {
    $("send-error").textContent = `Not sent: ${e.message}`;
  } finally {
    $("send").disabled = false;
    refreshConversation();
  }
});

$("note-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const body = $("note").value.trim();
  if (!state.conversation || !body) return;
  try {
    await api("POST", `/api/v1/conversations/${state.conversation.id}/notes`, { body });
    $("note").value = "";
  } catch (e) {
    $("action-error").textContent = `Note not saved: ${e.message}`;
  }
  refreshConversation();
});

// ---- keyboard -------------------------------------------------------------------------

document.addEventListener("keydown", (ev) => {
  const t = ev.target;
  const typing = t instanceof HTMLInputElement || t instanceof HTMLTextAreaElement;
  if (typing || ev.ctrlKey || ev.metaKey || ev.altKey || $("app-view").hidden) return;
  if (ev.key === "j") moveSelection(1);
  else if (ev.key === "k") moveSelection(-1);
  else if (ev.key === "c") act("claim");
  else if (ev.key === "r" && state.conversation) {
    ev.preventDefault();
    $("reply").focus();
  } else if (ev.key === "/") {
    ev.preventDefault();
    $("search").focus();
  } else if (ev.key === "l" && state.conversation) {
    ev.preventDefault();
    $("label-input").focus();
  } else if (ev.key === "h" && !$("history").hidden) {
    const panel = $("history");
    panel.open = !panel.open;
    if (panel.open) panel.querySelector("li")?.focus();
  } else if (ev.key === "Enter" && t instanceof HTMLLIElement && t.dataset.handoffId) {
    openHandoff(Number(t.dataset.handoffId));
  } else return;
});

// ---- start ------------------------------------------------------------------------------

if (state.token) {
  signIn(state.token).catch(() => {
    $("signin-view").hidden = false;
    $("app-view").hidden = true;
  });
}
