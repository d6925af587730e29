// Shared helpers of the web viewer's pages: plain ES module, no dependencies.
//
// Every piece of stored data (thread ids, messages, producer ids) reaches the page through
// textContent, never innerHTML, and through visible() first, so that control and bidi
// characters are shown as escapes instead of being obeyed.

// C0/C1 controls (but tab and newline), DEL, and the bidi controls that reorder text.
const INVISIBLE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** `text` with each control or bidi character written as a visible escape (`\u202e`). */
export function visible(text) {
  return String(text).replace(INVISIBLE, (c) => {
    const code = c.codePointAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16).padStart(4, "0")}`;
  });
}

/**
 * A new element: `el("a", {href: "/x", className: "id"}, "text", child)`. Strings become text
 * nodes (never markup); attributes are set as properties, except `data-*` and `aria-*`.
 */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null) continue;
    if (name.startsWith("data-") || name.startsWith("aria-")) node.setAttribute(name, String(value));
    else node[name] = value;
  }
  for (const child of children) {
    if (child === undefined || child === null) continue;
    node.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return node;
}

/** An error from the hub's HTTP API, with its status and code. */
export class HubError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** GET a JSON path of this hub (same origin, the session cookie if any); HubError on an error answer. */
export async function getJSON(path, {signal} = {}) {
  const response = await fetch(path, {credentials: "same-origin", cache: "no-store", signal});
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  if (!response.ok) {
    const error = body && body.error ? body.error : {code: "http_" + response.status, message: response.statusText};
    throw new HubError(response.status, error.code, error.message);
  }
  return body;
}

/** The WebSocket URL of this hub (ws:// or wss:// like the page); `path` is relative to the page ("ws" on the runs page). */
export function websocketUrl(path = "ws") {
  const url = new URL(path, location.href);
  url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
  url.search = "";
  url.hash = "";
  return url.href;
}

/** The link to a thread's page, relative to the runs page (so a proxy's path prefix is kept). */
export function threadHref(threadId) {
  return "runs/" + encodeURIComponent(threadId);
}

/** "5s", "3m", "2h", "4d" since `iso` at `now` (ms); "-" for no time. */
export function relativeAge(iso, now) {
  if (!iso) return "-";
  const seconds = Math.max(0, Math.floor((now - Date.parse(iso)) / 1000));
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)}h`;
  return `${Math.floor(seconds / 86400)}d`;
}
