// Chat tab: KB selector, sessions (new, switch, delete), streamed answers with citation chips, regenerate, copy,
// and per-answer retrieval time and time to first token. Talks to /api/rag/chat (SSE) and /api/sessions.
import { api, enc, streamSSE } from "./api.js";
import { openArticle } from "./article.js";
import { $, clear, fmtMs, h, toast } from "./dom.js";
import { t } from "./i18n.js";
import { renderParams, requestParams } from "./params.js";

const state = { kbs: [], kb: "", sessionId: null, sessions: [], turns: [], controller: null };

export function initChat() {
  $("#chat-form").addEventListener("submit", (e) => {
    e.preventDefault();
    if (state.controller) state.controller.abort();
    else ask($("#chat-input").value.trim());
  });
  $("#chat-input").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { // isComposing: an IME is still picking characters
      e.preventDefault();
      $("#chat-form").requestSubmit();
    }
  });
  $("#chat-new").addEventListener("click", () => newChat());
  $("#chat-kb").addEventListener("change", (e) => {
    state.kb = e.target.value;
    localStorage.setItem("zhiku.kb", state.kb);
    newChat(); // a conversation belongs to one knowledge base
  });
  renderParams();
}

export async function refreshChat() {
  const [kbs, sessions] = await Promise.all([api.get("/api/kbs"), api.get("/api/sessions")]);
  state.kbs = kbs.kbs.map((k) => k.name);
  state.sessions = sessions.sessions;
  const saved = state.kb || localStorage.getItem("zhiku.kb");
  state.kb = state.kbs.includes(saved) ? saved : state.kbs[0] || "";
  clear($("#chat-kb"), state.kbs.map((n) => h("option", { value: n, selected: n === state.kb }, n)));
  renderSessions();
  renderMessages();
}

export function rerenderChat() {
  renderParams();
  renderSessions();
  renderMessages();
  setBusy(Boolean(state.controller));
}

function newChat() {
  if (state.controller) state.controller.abort();
  state.sessionId = null;
  state.turns = [];
  renderSessions();
  renderMessages();
  $("#chat-input").focus();
}

function renderSessions() {
  const list = $("#session-list");
  if (!state.sessions.length) return clear(list, h("li", { class: "muted small" }, t("chat.no_sessions")));
  clear(list, state.sessions.map((s) => {
    const title = s.title || t("chat.untitled");
    return h("li", { class: s.id === state.sessionId ? "session active" : "session" },
      h("button", { class: "session-open", title, onclick: () => openSession(s) },
        h("span", { class: "session-title" }, title), h("span", { class: "session-kb" }, s.kb)),
      h("button", {
        class: "icon danger", title: t("common.delete"), "aria-label": `${t("common.delete")} ${title}`,
        onclick: () => deleteSession(s),
      }, "×"));
  }));
}

async function openSession(s) {
  if (state.controller) state.controller.abort();
  try {
    const full = await api.get(`/api/sessions/${enc(s.id)}`);
    state.sessionId = s.id;
    state.kb = full.kb;
    $("#chat-kb").value = full.kb;
    state.turns = full.turns.map((tn) => ({ question: tn.question, answer: tn.answer, citations: tn.citations, sources: [] }));
    renderSessions();
    renderMessages();
  } catch (e) {
    toast(e.readable || String(e), "error");
  }
}

async function deleteSession(s) {
  if (!confirm(t("chat.delete_confirm", { title: s.title || t("chat.untitled") }))) return;
  try {
    await api.del(`/api/sessions/${enc(s.id)}`);
    state.sessions = state.sessions.filter((x) => x.id !== s.id);
    if (s.id === state.sessionId) newChat();
    else renderSessions();
  } catch (e) {
    toast(e.readable || String(e), "error");
  }
}

function setBusy(busy) {
  const btn = $("#chat-send");
  btn.textContent = t(busy ? "chat.stop" : "chat.send");
  btn.classList.toggle("danger", busy);
}

async function ask(question, replace = null) {
  if (!question) return;
  if (!state.kb) return toast(t("chat.no_kb"), "error");
  const turn = replace || { question };
  Object.assign(turn, { answer: "", citations: null, sources: [], done: null, error: null, streaming: true });
  if (!replace) state.turns.push(turn);
  $("#chat-input").value = "";
  state.controller = new AbortController();
  setBusy(true);
  renderMessages();
  try {
    if (!state.sessionId) {
      const s = await api.post("/api/sessions", { kb: state.kb });
      state.sessionId = s.id;
    }
    const body = { query: question, kb: state.kb, session_id: state.sessionId, stream: true, ...requestParams() };
    await streamSSE("/api/rag/chat", body, (name, data) => {
      if (name === "sources") turn.sources = data;
      else if (name === "token") turn.answer += data.text;
      else if (name === "citations") turn.citations = data;
      else if (name === "done") turn.done = data;
      updateTurn(turn);
    }, state.controller.signal);
  } catch (e) {
    turn.error = e.name === "AbortError" ? t("chat.stopped") : e.readable || String(e);
  } finally {
    turn.streaming = false;
    state.controller = null;
    setBusy(false);
    renderMessages();
    api.get("/api/sessions").then((r) => { state.sessions = r.sessions; renderSessions(); }).catch(() => {});
  }
}

function renderMessages() {
  const box = $("#messages");
  if (!state.kbs.length) return clear(box, h("div", { class: "empty" }, h("p", {}, t("chat.no_kb"))));
  if (!state.turns.length) {
    return clear(box, h("div", { class: "empty" },
      h("div", { class: "empty-logo" }, "知"), h("h2", {}, t("chat.empty_title")), h("p", { class: "muted" }, t("chat.empty_help"))));
  }
  clear(box, state.turns.map((turn, i) => {
    const el = h("div", { class: "turn" }, h("div", { class: "msg user" }, turn.question), h("div", { class: "msg bot" }));
    turn.el = el.lastChild;
    fillAnswer(turn, i === state.turns.length - 1);
    return el;
  }));
  box.scrollTop = box.scrollHeight;
}

function updateTurn(turn) {
  const box = $("#messages");
  const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
  fillAnswer(turn, true);
  if (atBottom) box.scrollTop = box.scrollHeight;
}

/** The answer text with each [n] marker turned into a button opening source n. */
function answerNodes(turn) {
  const parts = turn.answer.split(/(\[\d+\])/);
  return parts.map((p) => {
    const m = /^\[(\d+)\]$/.exec(p);
    const src = m && findSource(turn, Number(m[1]));
    return src ? h("button", { class: "ref", title: src.title, onclick: () => openArticle(state.kb, src.chunk_id, src.title) }, m[1]) : p;
  });
}

function findSource(turn, n) {
  return (turn.sources || []).find((s) => s.n === n) || (turn.citations || []).find((c) => c.n === n);
}

function chip(c) {
  return h("button", {
    class: "chip", "data-testid": "citation", title: c.text?.slice(0, 200),
    onclick: () => openArticle(state.kb, c.chunk_id, c.title),
  }, h("b", {}, `[${c.n}]`), " ", c.title);
}

function fillAnswer(turn, isLast) {
  const el = turn.el;
  if (!el) return;
  const body = h("div", { class: "answer", "data-testid": "answer" }, answerNodes(turn));
  if (turn.streaming) body.append(h("span", { class: "cursor" }));
  if (turn.streaming && !turn.answer) body.append(h("span", { class: "muted" }, t("chat.thinking")));
  const blocks = [body];
  if (turn.citations?.length) {
    blocks.push(h("div", { class: "chips" }, h("span", { class: "chips-label" }, t("chat.citations")), turn.citations.map(chip)));
  }
  if (turn.sources?.length && !turn.streaming) {
    blocks.push(h("details", { class: "sources" }, h("summary", {}, `${t("chat.sources")} (${turn.sources.length})`),
      h("div", { class: "chips" }, turn.sources.map(chip))));
  }
  if (turn.error) blocks.push(h("div", { class: "alert", role: "alert" }, turn.error));
  if (!turn.streaming) blocks.push(footer(turn, isLast));
  clear(el, blocks);
}

function footer(turn, isLast) {
  const d = turn.done;
  const stats = d ? [
    `${t("chat.retrieval")} ${fmtMs(d.retrieval_ms)}`, `${t("chat.ttft")} ${fmtMs(d.ttft_ms)}`,
    `${t("chat.total")} ${fmtMs(d.total_ms)}`, `${d.completion_tokens} ${t("chat.tokens")}`,
  ].concat(d.grounded ? [] : [t("chat.no_basis")]) : [];
  return h("div", { class: "msg-footer" },
    h("span", { class: "timings", "data-testid": "timings" }, stats.join(" · ")),
    h("span", { class: "actions" },
      turn.answer && h("button", { class: "link", onclick: (e) => copy(turn.answer, e.target) }, t("chat.copy")),
      isLast && h("button", { class: "link", onclick: () => ask(turn.question, turn) }, t("chat.regenerate"))));
}

async function copy(text, button) {
  try {
    await navigator.clipboard.writeText(text);
  } catch { // no clipboard API outside secure contexts (plain http on a LAN address): the old way
    const area = h("textarea", { class: "visually-hidden" }, text); // a class: the CSP refuses style attributes
    document.body.append(area);
    area.select();
    document.execCommand("copy");
    area.remove();
  }
  button.textContent = t("chat.copied");
  setTimeout(() => (button.textContent = t("chat.copy")), 1500);
}
