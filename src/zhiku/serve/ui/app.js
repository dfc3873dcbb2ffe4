// Bootstrap: tabs (#chat, #knowledge, #status), the language switch and the API-key dialog. Each tab module
// loads its own data from the HTTP API when shown.
import { getKey, setAuthHandler, setKey } from "./api.js";
import { initChat, refreshChat, rerenderChat } from "./chat.js";
import { $, toast } from "./dom.js";
import { applyStatic, currentLang, onLangChange, setLang, t } from "./i18n.js";
import { initKnowledge, refreshKnowledge, rerenderKnowledge } from "./knowledge.js";
import { refreshStatus, renderStatus, watchStatus } from "./status.js";

const TABS = { chat: refreshChat, knowledge: refreshKnowledge, status: async () => watchStatus(true) };
let current = "chat";

async function show(tab) {
  if (!(tab in TABS)) tab = "chat";
  current = tab;
  for (const name of Object.keys(TABS)) {
    $(`#tab-${name}`).hidden = name !== tab;
    $(`[data-tab="${name}"]`).setAttribute("aria-selected", String(name === tab));
  }
  if (tab !== "status") watchStatus(false);
  try {
    await TABS[tab]();
  } catch (e) {
    if (e.status !== 401) toast(e.readable || String(e), "error"); // 401 already opened the key dialog
  }
}

function askKey(reason = "") {
  const dialog = $("#key-dialog");
  $("#key-input").value = getKey();
  $("#key-reason").textContent = reason;
  if (!dialog.open) dialog.showModal();
  $("#key-input").focus();
}

function init() {
  applyStatic();
  for (const b of document.querySelectorAll("[data-tab]")) {
    b.addEventListener("click", () => (location.hash = b.dataset.tab));
  }
  window.addEventListener("hashchange", () => show(location.hash.slice(1)));
  $("#lang-button").addEventListener("click", () => setLang(currentLang() === "zh" ? "en" : "zh"));
  onLangChange(() => {
    rerenderChat();
    rerenderKnowledge();
    renderStatus();
  });
  $("#key-button").addEventListener("click", () => askKey());
  const saveKey = (key) => {
    setKey(key);
    $("#key-dialog").close();
    show(current);
  };
  $("#key-form").addEventListener("submit", () => saveKey($("#key-input").value)); // method=dialog closes it
  $("#key-clear").addEventListener("click", () => saveKey(""));
  $("#key-cancel").addEventListener("click", () => $("#key-dialog").close());
  setAuthHandler((err) => askKey(getKey() ? err.message : t("err.auth")));
  $("#article-close").addEventListener("click", () => $("#article-dialog").close());
  $("#article-dialog").addEventListener("click", (e) => e.target === e.currentTarget && e.currentTarget.close());
  initChat();
  initKnowledge();
  // sampling defaults come from the server's settings; a failure here is reported by the tab itself
  refreshStatus().catch(() => {});
  show(location.hash.slice(1) || "chat");
}

init();
