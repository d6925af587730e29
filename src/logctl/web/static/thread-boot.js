// Starts the thread page's first history request at once, while the page's other modules
// are still loading (they import each other, a few round trips); thread-feed.js takes the
// answer from here. No imports, so that it runs as soon as the page is parsed.

const at = location.pathname.lastIndexOf("/runs/");
if (at >= 0) {
  const base = location.pathname.slice(0, at);
  const thread = location.pathname.slice(at + "/runs/".length); // still URL-encoded, as the API wants it
  window.logctlFirstHistory = fetch(`${base}/admin/runs/${thread}/logs?limit=1000`, { credentials: "same-origin", cache: "no-store" })
    .then(async (response) => ({ url: response.url, ok: response.ok, status: response.status, text: await response.text() }));
  window.logctlFirstHistory.catch(() => {}); // thread-feed.js asks again and says why
}
