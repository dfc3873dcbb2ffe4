// The one client of zhiku's HTTP API (the same routes the CLI and scripts use). Every failure becomes an ApiError
// whose `readable` text is what the page shows: a localized summary plus the server's own message, never a trace.
import { currentLang, t } from "./i18n.js";

const KEY = "zhiku.key";
let onAuthNeeded = () => {};

export function getKey() {
  return localStorage.getItem(KEY) || "";
}

export function setKey(key) {
  if (key) localStorage.setItem(KEY, key.trim());
  else localStorage.removeItem(KEY);
}

/** Called with the ApiError when the server answers 401 (the app opens the key dialog). */
export function setAuthHandler(fn) {
  onAuthNeeded = fn;
}

const SUMMARY = {
  400: "err.invalid", 401: "err.auth", 403: "err.forbidden", 404: "err.not_found", 409: "err.conflict",
  413: "err.too_large", 415: "err.unsupported", 422: "err.empty", 423: "err.locked", 502: "err.backend",
  503: "err.busy", 504: "err.timeout",
};

const BY_TYPE = { OverloadedError: "err.busy", RequestTimeoutError: "err.timeout", BackendError: "err.backend" };

export class ApiError extends Error {
  constructor(status, type, message) {
    super(message);
    this.status = status;
    this.type = type;
  }

  get readable() {
    if (this.status === 0) return t("err.network");
    if (this.status === 503 || this.status === 401) return t(SUMMARY[this.status]);
    // an `error` event mid-stream arrives with status 200: its type says what happened
    const head = t(BY_TYPE[this.type] || SUMMARY[this.status] || "err.server");
    return this.message ? `${head}${currentLang() === "en" ? ": " : "："}${this.message}` : head;
  }
}

function headers(extra = {}) {
  const key = getKey();
  return key ? { Authorization: `Bearer ${key}`, ...extra } : extra;
}

/** An ApiError from a failed response: the server's {"error": {type, message}} body, else its status line. */
async function failure(resp) {
  let type = "HTTPError", message = "";
  try {
    const body = await resp.json();
    type = body.error?.type || type;
    message = body.error?.message || "";
  } catch {
    message = resp.statusText; // not JSON (a proxy page, say): never show its markup
  }
  const err = new ApiError(resp.status, type, message.slice(0, 500));
  if (resp.status === 401) onAuthNeeded(err);
  return err;
}

async function send(method, path, body) {
  const init = { method, headers: headers() };
  if (body instanceof FormData) init.body = body;
  else if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers["Content-Type"] = "application/json";
  }
  let resp;
  try {
    resp = await fetch(path, init);
  } catch {
    throw new ApiError(0, "NetworkError", "");
  }
  if (!resp.ok) throw await failure(resp);
  return resp;
}

export const api = {
  get: async (path) => (await send("GET", path)).json(),
  post: async (path, body) => (await send("POST", path, body)).json(),
  del: async (path) => (await send("DELETE", path)).json(),
};

export const enc = encodeURIComponent;

/**
 * POST a JSON body and read the SSE answer: onEvent(name, data) for every event. Resolves at the end of the
 * stream; rejects with an ApiError (HTTP failure, or an `error` event) or an AbortError (signal).
 */
export async function streamSSE(path, body, onEvent, signal) {
  let resp;
  try {
    resp = await fetch(path, {
      method: "POST", signal, body: JSON.stringify(body),
      headers: headers({ "Content-Type": "application/json", Accept: "text/event-stream" }),
    });
  } catch (e) {
    if (e.name === "AbortError") throw e;
    throw new ApiError(0, "NetworkError", "");
  }
  if (!resp.ok) throw await failure(resp);
  const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value.replace(/\r\n?/g, "\n");
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      let name = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) name = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
      }
      if (!data.length) continue; // a ping comment
      const payload = JSON.parse(data.join("\n"));
      if (name === "error") throw new ApiError(200, payload.error?.type, payload.error?.message || "");
      onEvent(name, payload);
    }
  }
}

/** multipart upload with progress (fetch cannot report upload progress; XMLHttpRequest can). */
export function upload(path, form, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", path);
    for (const [k, v] of Object.entries(headers())) xhr.setRequestHeader(k, v);
    xhr.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded / e.total);
    xhr.onerror = () => reject(new ApiError(0, "NetworkError", ""));
    xhr.onload = async () => {
      const resp = new Response(xhr.responseText, { status: xhr.status, statusText: xhr.statusText });
      if (xhr.status >= 200 && xhr.status < 300) resolve(await resp.json());
      else reject(await failure(resp));
    };
    xhr.send(form);
  });
}
