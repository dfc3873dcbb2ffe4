// The article viewer: a citation chip or a search hit opens the full text of the cited article in a dialog,
// fetched from GET /api/kbs/{kb}/chunks/{chunk_id} (all parts of a long article, joined).
import { api, enc } from "./api.js";
import { $, clear, h } from "./dom.js";
import { t } from "./i18n.js";

const META_KEYS = ["law", "level", "part", "chapter", "section", "article", "title"];

export async function openArticle(kb, chunkId, label = "") {
  const dialog = $("#article-dialog");
  const body = $("#article-body");
  $("#article-title").textContent = label || chunkId;
  clear(body, h("p", { class: "muted" }, t("article.loading")));
  if (!dialog.open) dialog.showModal();
  try {
    const a = await api.get(`/api/kbs/${enc(kb)}/chunks/${enc(chunkId)}`);
    $("#article-title").textContent = a.title;
    const meta = META_KEYS.filter((k) => a.meta?.[k]).map((k) => h("span", { class: "tag" }, String(a.meta[k])));
    clear(body,
      h("div", { class: "tags" }, meta),
      h("div", { class: "article-text", "data-testid": "article-text" }, a.article_text),
      h("p", { class: "muted small" }, `${t("article.source")}: ${a.doc_id} · ${a.ref}`));
  } catch (e) {
    clear(body, h("div", { class: "alert", role: "alert" }, e.readable || String(e)));
  }
}
