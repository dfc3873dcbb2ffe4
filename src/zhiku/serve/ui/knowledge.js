// Knowledge tab: KBs with document and chunk counts, create and delete; for the selected KB: upload several files
// with progress (upload, then the ingest job), paste text, the document list with delete, and a search box.
import { api, enc, upload } from "./api.js";
import { openArticle } from "./article.js";
import { $, clear, errorBox, fmtTime, h, toast } from "./dom.js";
import { t } from "./i18n.js";

const state = { kbs: [], selected: localStorage.getItem("zhiku.kb.manage") || "", docs: [], lastSearch: null };

export function initKnowledge() {
  $("#kb-create").addEventListener("submit", async (e) => {
    e.preventDefault();
    const form = e.target;
    const out = $("#kb-create-error");
    clear(out);
    try {
      const kb = await api.post("/api/kbs", { name: form.name.value.trim(), description: form.description.value.trim() });
      form.reset();
      toast(t("kb.created", { name: kb.name }));
      select(kb.name);
      await refreshKnowledge();
    } catch (err) {
      clear(out, errorBox(err.readable || String(err)));
    }
  });
}

export async function refreshKnowledge() {
  state.kbs = (await api.get("/api/kbs")).kbs;
  if (!state.kbs.some((k) => k.name === state.selected)) state.selected = state.kbs[0]?.name || "";
  renderList();
  await renderDetail();
}

export function rerenderKnowledge() {
  renderList();
  renderDetail();
}

function select(name) {
  state.selected = name;
  state.lastSearch = null;
  localStorage.setItem("zhiku.kb.manage", name);
}

function renderList() {
  const list = $("#kb-list");
  if (!state.kbs.length) return clear(list, h("li", { class: "muted small" }, t("kb.empty")));
  clear(list, state.kbs.map((k) => h("li", { class: k.name === state.selected ? "kb-item active" : "kb-item" },
    h("button", {
      class: "kb-open", "data-kb": k.name,
      onclick: () => { select(k.name); renderList(); renderDetail(); },
    },
    h("span", { class: "kb-name" }, k.name),
    h("span", { class: "kb-counts" }, `${k.stats.documents} ${t("kb.docs")} · ${k.stats.chunks} ${t("kb.chunks")}`),
    k.description && h("span", { class: "kb-desc" }, k.description)),
    h("button", {
      class: "icon danger", title: t("common.delete"), "aria-label": `${t("common.delete")} ${k.name}`,
      onclick: () => deleteKB(k.name),
    }, "×"))));
}

async function deleteKB(name) {
  if (!confirm(t("kb.delete_confirm", { name }))) return;
  try {
    await api.del(`/api/kbs/${enc(name)}`);
    toast(t("kb.deleted", { name }));
    await refreshKnowledge();
  } catch (e) {
    toast(e.readable || String(e), "error");
  }
}

async function renderDetail() {
  const box = $("#kb-detail");
  const kb = state.kbs.find((k) => k.name === state.selected);
  if (!kb) return clear(box, h("div", { class: "empty" }, h("p", { class: "muted" }, t(state.kbs.length ? "kb.select" : "kb.empty"))));
  clear(box,
    h("div", { class: "detail-head" },
      h("h2", {}, kb.name),
      h("span", { class: "muted" }, `${kb.stats.documents} ${t("kb.docs")} · ${kb.stats.chunks} ${t("kb.chunks")} · ${kb.store} · ${kb.embedder}`),
      kb.description && h("p", { class: "muted" }, kb.description)),
    h("div", { class: "grid2" }, uploadCard(kb.name), pasteCard(kb.name)),
    searchCard(kb.name),
    h("section", { class: "card" }, h("h3", {}, t("kb.documents")), h("div", { id: "doc-table" }, t("common.loading"))));
  await loadDocs(kb.name);
}

function uploadCard(name) {
  const input = h("input", { type: "file", multiple: true, id: "upload-input", class: "visually-hidden", onchange: () => showChosen() });
  const chosen = h("ul", { class: "chosen small" });
  const result = h("div", { class: "result", id: "upload-result" });
  const showChosen = () => clear(chosen, [...input.files].map((f) => h("li", {}, `${f.name} (${Math.ceil(f.size / 1024)} KB)`)));
  const drop = h("label", {
    class: "dropzone", for: "upload-input",
    ondragover: (e) => { e.preventDefault(); drop.classList.add("over"); },
    ondragleave: () => drop.classList.remove("over"),
    ondrop: (e) => { e.preventDefault(); drop.classList.remove("over"); input.files = e.dataTransfer.files; showChosen(); },
  }, h("span", { class: "button-like" }, t("kb.choose")), h("span", { class: "muted small" }, t("kb.drop")));
  const go = h("button", {
    class: "primary", type: "button", id: "upload-button",
    onclick: async () => {
      if (!input.files.length) return input.click();
      const files = [...input.files];
      const send = (replace) => (onProgress) => {
        const form = new FormData();
        for (const f of files) form.append("files", f, f.name);
        if (replace) form.append("replace", "true");
        return upload(`/api/kbs/${enc(name)}/documents`, form, onProgress);
      };
      // another file already has one of these names (409): replacing it is the user's call, never silent
      const replace = (e) => e.type === "UploadExistsError" && confirm(t("kb.replace_confirm", { message: e.message })) && send(true);
      go.disabled = true;
      await ingest(name, result, send(false), replace);
      go.disabled = false;
      input.value = "";
      showChosen();
    },
  }, t("kb.upload_button"));
  return h("section", { class: "card" }, h("h3", {}, t("kb.upload")), h("p", { class: "muted small" }, t("kb.upload_help")),
    input, drop, chosen, go, result);
}

function pasteCard(name) {
  const area = h("textarea", { rows: 5, id: "paste-text", placeholder: t("kb.paste_help") });
  const result = h("div", { class: "result" });
  const go = h("button", {
    class: "primary", type: "button", id: "paste-button",
    onclick: async () => {
      const form = new FormData();
      form.append("text", area.value);
      go.disabled = true;
      if (await ingest(name, result, (onProgress) => upload(`/api/kbs/${enc(name)}/documents`, form, onProgress))) area.value = "";
      go.disabled = false;
    },
  }, t("kb.paste_button"));
  return h("section", { class: "card" }, h("h3", {}, t("kb.paste")), area, go, result);
}

/** Send, then follow the ingest job; progress and the outcome go into `out`. True when the job finished.
 * `retry(error)` may answer another `send` to try instead of showing the error. */
async function ingest(name, out, send, retry = () => null) {
  const bar = h("progress", { max: 1, value: 0 });
  const label = h("span", { class: "small" }, t("kb.uploading", { pct: 0 }));
  clear(out, h("div", { class: "progress" }, bar, label));
  try {
    let job = await send((p) => {
      bar.value = p * 0.3; // the upload is the first part; ingest (embedding) is most of the work
      label.textContent = t("kb.uploading", { pct: Math.round(p * 100) });
    });
    while (job.state === "queued" || job.state === "running") {
      bar.value = 0.3 + 0.7 * job.progress;
      label.textContent = t("kb.ingesting", { done: job.files_done, total: job.files_total, current: job.current });
      await new Promise((r) => setTimeout(r, 400));
      job = await api.get(`/api/jobs/${enc(job.id)}`);
    }
    if (job.state === "failed") {
      clear(out, errorBox(`${t("err.server")}: ${job.error}`));
      return false;
    }
    const r = job.report;
    const failed = Object.entries(r.files_failed || {}).map(([file, why]) => errorBox(`${t("kb.file_failed")}：${file}: ${why}`));
    clear(out, h("div", { class: "ok" }, t("kb.ingested", { ...r, seconds: r.seconds.toFixed(1) })), failed);
    await refreshCounts(name);
    return true;
  } catch (e) {
    const again = retry(e);
    if (again) return ingest(name, out, again);
    clear(out, errorBox(e.readable || String(e)));
    return false;
  }
}

async function refreshCounts(name) {
  state.kbs = (await api.get("/api/kbs")).kbs;
  renderList();
  const kb = state.kbs.find((k) => k.name === name);
  const head = $(".detail-head .muted");
  if (kb && head) head.textContent = `${kb.stats.documents} ${t("kb.docs")} · ${kb.stats.chunks} ${t("kb.chunks")} · ${kb.store} · ${kb.embedder}`;
  await loadDocs(name);
}

async function loadDocs(name) {
  const box = $("#doc-table");
  try {
    state.docs = (await api.get(`/api/kbs/${enc(name)}/documents`)).documents;
  } catch (e) {
    return clear(box, errorBox(e.readable || String(e)));
  }
  if (!state.docs.length) return clear(box, h("p", { class: "muted" }, t("kb.no_documents")));
  clear(box, h("table", { class: "table" },
    h("thead", {}, h("tr", {}, h("th", {}, t("kb.doc_title")), h("th", { class: "num" }, t("kb.chunks")), h("th", {}, t("kb.updated")), h("th", {}))),
    h("tbody", {}, state.docs.map((d) => h("tr", {},
      h("td", {}, h("div", {}, d.title || d.source.split("/").pop()), h("div", { class: "muted small mono" }, d.source)),
      h("td", { class: "num" }, d.chunks),
      h("td", { class: "small" }, fmtTime(d.updated_at)),
      h("td", { class: "num" }, h("button", { class: "link danger", onclick: () => deleteDoc(name, d) }, t("common.delete"))))))));
}

async function deleteDoc(name, d) {
  if (!confirm(t("kb.doc_delete_confirm", { title: d.title || d.source }))) return;
  try {
    await api.del(`/api/kbs/${enc(name)}/documents/${enc(d.doc_id)}`);
    await refreshCounts(name);
  } catch (e) {
    toast(e.readable || String(e), "error");
  }
}

function searchCard(name) {
  const results = h("div", { id: "search-results" });
  const form = h("form", {
    class: "row", id: "search-form",
    onsubmit: async (e) => {
      e.preventDefault();
      const query = form.query.value.trim();
      if (!query) return;
      try {
        state.lastSearch = await api.post("/api/search", { query, kb: name, mode: form.mode.value, top_k: Number(form.k.value) });
        renderHits(results, name);
      } catch (err) {
        clear(results, errorBox(err.readable || String(err)));
      }
    },
  },
  h("input", { name: "query", type: "search", class: "grow", placeholder: t("kb.search_placeholder"), value: state.lastSearch?.query || "" }),
  h("select", { name: "mode", "aria-label": t("kb.mode") },
    ["hybrid", "bm25", "dense"].map((m) => h("option", { value: m, selected: state.lastSearch?.mode === m }, t(`kb.mode.${m}`)))),
  h("input", { name: "k", type: "number", min: 1, max: 50, value: 5, class: "narrow", "aria-label": "top-k" }),
  h("button", { class: "primary", type: "submit" }, t("kb.search_button")));
  if (state.lastSearch) renderHits(results, name);
  return h("section", { class: "card" }, h("h3", {}, t("kb.search")), form, results);
}

function renderHits(box, name) {
  const r = state.lastSearch;
  if (!r.hits.length) return clear(box, h("p", { class: "muted" }, t("kb.no_hits")));
  const ms = Math.round((r.timings.embed_ms || 0) + (r.timings.search_ms || 0));
  clear(box, h("p", { class: "muted small" }, t("kb.hits", { n: r.hits.length, ms })),
    h("ol", { class: "hits" }, r.hits.map((hit) => h("li", { class: "hit", "data-testid": "hit" },
      h("div", { class: "hit-head" },
        h("b", {}, hit.title),
        h("span", { class: "score" }, `${t("kb.score")} ${hit.score.toFixed(4)}`),
        Object.entries(hit.scores || {}).map(([k, v]) => h("span", { class: "tag" }, `${k} ${Number(v).toFixed(3)}`))),
      h("div", { class: "tags" }, ["level", "chapter", "section"].filter((k) => hit.meta[k]).map((k) => h("span", { class: "tag light" }, hit.meta[k]))),
      h("p", { class: "hit-text" }, hit.text),
      h("button", { class: "link", onclick: () => openArticle(name, hit.chunk_id, hit.title) }, t("kb.open"))))));
}
