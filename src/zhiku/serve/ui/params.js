// Sampling and retrieval controls of the chat tab, kept in localStorage. Until the user moves a control the
// server's configured default is used (the request leaves the field out), so the UI never overrides zhiku.toml.
import { $, clear, h } from "./dom.js";
import { t } from "./i18n.js";

const STORE = "zhiku.params";
// key -> [label, min, max, step, request field]
const CONTROLS = {
  temperature: ["params.temperature", 0, 2, 0.05, "temperature"],
  top_p: ["params.top_p", 0.05, 1, 0.05, "top_p"],
  sample_top_k: ["params.sample_top_k", 0, 200, 1, "sample_top_k"],
  max_tokens: ["params.max_tokens", 16, 2048, 16, "max_tokens"],
  retrieval_k: ["params.retrieval_k", 1, 20, 1, "top_k"],
};

let chosen = JSON.parse(localStorage.getItem(STORE) || "{}");
let defaults = { temperature: 0.1, top_p: 0.9, sample_top_k: 40, max_tokens: 512, retrieval_k: 3 };

function save() {
  localStorage.setItem(STORE, JSON.stringify(chosen));
}

/** Server defaults from /api/status, shown on the sliders the user has not touched. */
export function setDefaults(status) {
  const g = status.generation;
  defaults = {
    temperature: g.temperature, top_p: g.top_p, sample_top_k: g.sample_top_k, max_tokens: g.max_tokens,
    retrieval_k: status.retrieval.top_k,
  };
  renderParams();
}

export function renderParams() {
  const box = $("#params-body");
  const rows = Object.entries(CONTROLS).map(([key, [label, min, max, step]]) => {
    const value = chosen[key] ?? defaults[key];
    const out = h("output", { class: "param-value" }, String(value));
    const input = h("input", {
      type: "range", min, max, step, value, name: key, "aria-label": t(label),
      oninput: (e) => {
        chosen[key] = Number(e.target.value);
        out.textContent = e.target.value;
        save();
      },
    });
    return h("label", { class: "param" }, h("span", {}, t(label), out), input);
  });
  const rerank = h("select", {
    name: "rerank",
    onchange: (e) => {
      chosen.rerank = e.target.value;
      save();
    },
  },
  [["", "common.default"], ["on", "common.on"], ["off", "common.off"]].map(([v, k]) =>
    h("option", { value: v, selected: (chosen.rerank || "") === v }, t(k))));
  const reset = h("button", {
    type: "button", class: "link",
    onclick: () => {
      chosen = {};
      save();
      renderParams();
    },
  }, t("params.reset"));
  clear(box, rows, h("label", { class: "param inline" }, h("span", {}, t("params.rerank")), rerank), reset);
}

/** The request fields for /api/rag/chat: only what the user chose. */
export function requestParams() {
  const out = {};
  for (const [key, [, , , , field]] of Object.entries(CONTROLS)) {
    if (chosen[key] !== undefined) out[field] = chosen[key];
  }
  if (chosen.rerank) out.rerank = chosen.rerank === "on";
  return out;
}
