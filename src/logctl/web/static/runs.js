// The runs page (GET /): the threads from GET /admin/runs, newest activity first, polled.
//
// Why polling: the thread list is one cheap read of the summary table (migration 005), the
// WebSocket has no "list of threads" subscription, and a 2 s poll that stops while the tab is
// hidden costs the hub less than a subscription to every thread would (docs/web.md).
//
// Every URL is relative (static/…, admin/runs, runs/<id>), so the page also works when a
// proxy serves the hub under a path prefix (https://host/logctl/).

import {el, getJSON, HubError, relativeAge, threadHref, visible} from "./common.js";

const POLL_MS = 2000;
const LIMIT = 500;

const filter = document.getElementById("filter");
const tbody = document.querySelector("#runs tbody");
const summary = document.getElementById("summary");
const notice = document.getElementById("notice");

const rows = new Map(); // thread id -> {tr, run}
let generation = 0;     // a newer request makes older answers moot
let timer = null;
let loaded = false;     // after the first answer, new and changed rows flash

/** The API's glob for what was typed: a glob as it is, a plain word as `*word*`. */
export function globFor(text) {
  const typed = text.trim();
  if (!typed) return null;
  return /[*?]/.test(typed) ? typed : `*${typed}*`;
}

function setState(kind, text) {
  summary.className = `state ${kind}`;
  summary.textContent = text;
}

function showNotice(text, isError) {
  notice.hidden = !text;
  notice.textContent = text || "";
  notice.classList.toggle("error", Boolean(isError));
}

function countCell(count, kind) {
  const td = el("td", {className: "num"});
  setCount(td, count, kind);
  return td;
}

function setCount(td, count, kind) {
  const text = String(count);
  if (td.textContent !== text) td.textContent = text;
  td.className = "num " + (count > 0 ? (kind ? `has-${kind}` : "") : "zero");
}

function newRow(run) {
  const link = el("a", {href: threadHref(run.thread_id), className: "id", title: visible(run.thread_id)}, visible(run.thread_id));
  const tr = el("tr", {"data-thread": run.thread_id},
    el("td", {className: "thread"}, link),
    el("td", {className: "age"}),
    countCell(run.count, ""),
    countCell(run.levels.ERROR, "error"),
    countCell(run.levels.WARN, "warn"),
  );
  return tr;
}

function flash(tr) {
  tr.classList.remove("changed");
  void tr.offsetWidth; // restart the animation
  tr.classList.add("changed");
}

function updateRow(tr, run, previous) {
  const cells = tr.children;
  if (run.count !== previous.count) flash(tr);
  setCount(cells[2], run.count, "");
  setCount(cells[3], run.levels.ERROR, "error");
  setCount(cells[4], run.levels.WARN, "warn");
}

function renderAges() {
  const now = Date.now();
  for (const {tr, run} of rows.values()) {
    const age = tr.children[1];
    const text = relativeAge(run.last_at, now);
    if (age.textContent !== text) age.textContent = text;
    const title = run.last_at ? new Date(run.last_at).toLocaleString() : "no time";
    if (age.title !== title) age.title = title;
  }
}

function render(runs) {
  const seen = new Set();
  const ordered = [];
  for (const run of runs) {
    seen.add(run.thread_id);
    let entry = rows.get(run.thread_id);
    if (entry) {
      updateRow(entry.tr, run, entry.run);
      entry.run = run;
    } else {
      entry = {tr: newRow(run), run};
      rows.set(run.thread_id, entry);
      if (loaded) flash(entry.tr);
    }
    ordered.push(entry.tr);
  }
  for (const [id, entry] of rows) {
    if (!seen.has(id)) {
      entry.tr.remove();
      rows.delete(id);
    }
  }
  // Move rows only where the order changed, so that focus and hover stay put.
  ordered.forEach((tr, index) => {
    if (tbody.children[index] !== tr) tbody.insertBefore(tr, tbody.children[index] || null);
  });
  renderAges();
  loaded = true;
}

async function refresh() {
  const mine = ++generation;
  const glob = globFor(filter.value);
  const params = new URLSearchParams({limit: String(LIMIT)});
  if (glob) params.set("match", glob);
  try {
    const body = await getJSON("admin/runs?" + params);
    if (mine !== generation) return;
    render(body.runs);
    const more = body.before ? `, showing the newest ${body.count}` : "";
    setState("ok", `${body.count} thread${body.count === 1 ? "" : "s"}${more}`);
    showNotice(body.count ? "" : glob ? `no thread matches ${visible(glob)}` : "no threads yet: send a record (logctl send THREAD_ID MESSAGE)", false);
  } catch (error) {
    if (mine !== generation) return;
    if (error instanceof HubError && error.status === 401) {
      setState("bad", "token needed");
      showNotice("This hub needs a token: open this page once with ?token=<a read token> (docs/web.md).", true);
    } else if (error instanceof HubError) {
      setState("bad", "hub error");
      showNotice(`the hub answered ${error.status}: ${visible(error.message)}`, true);
    } else {
      setState("bad", "disconnected");
      showNotice("cannot reach the hub; retrying", true);
    }
  }
}

function schedule() {
  clearTimeout(timer);
  if (document.hidden) return;
  timer = setTimeout(async () => {
    await refresh();
    schedule();
  }, POLL_MS);
}

function filterChanged() {
  const url = new URL(location.href);
  const typed = filter.value.trim();
  if (typed) url.searchParams.set("match", typed);
  else url.searchParams.delete("match");
  history.replaceState(null, "", url);
  refresh().then(schedule);
}

filter.value = new URLSearchParams(location.search).get("match") || "";
filter.addEventListener("input", filterChanged);
document.addEventListener("visibilitychange", () => {
  if (!document.hidden) refresh().then(schedule);
});
document.addEventListener("keydown", (event) => {
  if (event.key === "/" && document.activeElement !== filter) {
    event.preventDefault();
    filter.focus();
  }
});
setInterval(renderAges, 1000);
refresh().then(schedule);
