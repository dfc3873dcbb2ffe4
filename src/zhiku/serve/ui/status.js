// Status tab: active backends, index sizes and a live metrics summary from GET /api/status (refreshed while shown).
import { api } from "./api.js";
import { $, clear, errorBox, fmtBytes, fmtMs, h } from "./dom.js";
import { t } from "./i18n.js";
import { setDefaults } from "./params.js";

let last = null;
let timer = null;

export async function refreshStatus() {
  last = await api.get("/api/status");
  setDefaults(last);
  renderStatus();
  return last;
}

/** Poll every 2 s while the tab is visible; errors show in the page and polling carries on. */
export function watchStatus(on) {
  clearInterval(timer);
  timer = null;
  if (!on) return;
  const tick = () => refreshStatus().catch((e) => clear($("#status-view"), errorBox(e.readable || String(e))));
  tick();
  timer = setInterval(tick, 2000);
}

const kv = (pairs) => h("dl", { class: "kv" }, pairs.map(([k, v]) => [h("dt", {}, t(k)), h("dd", {}, v ?? "–")]));
const yes = (b) => t(b ? "common.yes" : "common.no");
const pair = (m) => `${fmtMs(m.p50_ms)} / ${fmtMs(m.p95_ms)}`;
const count = (m) => `n=${m.count} · ${t("status.mean")} ${fmtMs(m.mean_ms)}`;

function stat(label, value, sub = "") {
  return h("div", { class: "stat" }, h("div", { class: "stat-value" }, value), h("div", { class: "stat-label" }, t(label)),
    sub && h("div", { class: "muted small" }, sub));
}

export function renderStatus() {
  if (!last) return;
  const s = last, g = s.generation, m = s.metrics;
  clear($("#status-view"),
    h("h3", { class: "section-title" }, t("status.backends")),
    h("div", { class: "grid4" },
      h("section", { class: "card" }, h("h4", {}, t("status.generation")), kv([
        ["status.backend", g.backend], ["status.model", g.model], ["status.loaded", yes(g.loaded)], ["status.threads", g.threads],
      ])),
      h("section", { class: "card" }, h("h4", {}, t("status.embedding")), kv([
        ["status.backend", s.embedding.backend], ["status.model", s.embedding.model || s.indexes[0]?.embedder],
      ])),
      h("section", { class: "card" }, h("h4", {}, t("status.store")), kv([
        ["status.backend", s.store.backend], ["URI", s.store.uri],
      ])),
      h("section", { class: "card" }, h("h4", {}, t("status.server")), kv([
        ["status.version", s.version], ["status.ready", yes(s.ready)], ["status.auth", yes(s.auth)],
        ["status.defaults", `T=${g.temperature} · top-p=${g.top_p} · top-k=${g.sample_top_k} · ${g.max_tokens}`],
      ]))),
    h("h3", { class: "section-title" }, t("status.metrics"),
      h("span", { class: "muted small" }, t("status.updated", { time: new Date().toLocaleTimeString() }))),
    h("div", { class: "stats", "data-testid": "metrics" },
      stat("status.requests", String(m.requests),
        Object.entries(m.requests_by_status).map(([k, v]) => `${k}: ${v}`).join(" · ")),
      stat("status.latency", pair(m.latency), count(m.latency)),
      stat("status.retrieval", pair(m.retrieval), count(m.retrieval)),
      stat("status.ttft", pair(m.ttft), count(m.ttft)),
      stat("status.queue", `${m.queue_depth} / ${m.in_flight}`),
      stat("status.rejected", String(m.rejected))),
    h("h3", { class: "section-title" }, t("status.indexes")),
    h("section", { class: "card" }, h("table", { class: "table" },
      h("thead", {}, h("tr", {}, ["kb.name", "status.store", "status.embedding", "status.dim", "kb.docs", "kb.chunks", "status.disk"]
        .map((k, i) => h("th", { class: i >= 3 ? "num" : "" }, t(k))))),
      h("tbody", {}, s.indexes.map((x) => h("tr", {},
        h("td", {}, h("b", {}, x.name)), h("td", {}, x.store), h("td", {}, x.embedder), h("td", { class: "num" }, x.dim),
        h("td", { class: "num" }, x.documents), h("td", { class: "num" }, x.chunks), h("td", { class: "num" }, fmtBytes(x.disk_bytes))))))));
}
