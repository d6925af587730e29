// Starts the thread page's first history request at once, while the page's other modules
// are still loading (they import each other, a few round trips); thread-feed.js takes the
// answer from here. No imports, so that it runs as soon as the page is parsed.

// The hub's root (with a proxy's path prefix, if any): the folder above this file's static/.
const root = new URL("../", import.meta.url);
const path = location.pathname.startsWith(root.pathname) ? location.pathname.slice(root.pathname.length) : "";
if (path.startsWith("runs/")) {
  const thread = path.slice("runs/".length); // still URL-encoded, as the API wants it
  window.logctlFirstHistory = fetch(new URL(`admin/runs/${thread}/logs?limit=1000`, root), { credentials: "same-origin", cache: "no-store" })
    .then(async (response) => ({ url: response.url, ok: response.ok, status: response.status, text: await response.text() }));
  window.logctlFirstHistory.catch(() => {}); // thread-feed.js asks again and says why
}
