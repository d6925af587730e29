// The thread page (GET /runs/{thread_id}): the latest 1,000 records, then live, merged with
// no gap and no duplicate (merge.js), drawn by a virtualised list (thread-list.js) from a
// view model (thread-view.js), fed by thread-feed.js. This module wires them to the
// controls, the keys (those of `logctl tail` where a browser allows) and the URL.

import { visible } from "./common.js";
import { adopt, Marker, recordKey, StreamMerge } from "./merge.js";
import { HUB_ROOT, ThreadFeed } from "./thread-feed.js";
import { connectionState, formatTime, localIso, parseTime, plainLine, recordJSON, TIME_MODES, zoneLabel } from "./thread-format.js";
import { LogList } from "./thread-list.js";
import { compilePattern, Filter, LEVELS, ThreadView } from "./thread-view.js";

/** Records held before the oldest are unloaded (scrolling up loads them again); ?cap= changes it. */
const DEFAULT_CAP = 50_000;
const HISTORY = 1000;
const OLDER_PAGE = 2000;

/** (keys, what they do): tail's table (src/logctl/tail/help.py), as far as a browser allows. */
export const KEYS = [
  ["↑ ↓  k j", "move the selection (moving up pauses follow)"],
  ["PgUp PgDn Space", "page up / down"],
  ["Home g", "go to the oldest loaded record (and load older history)"],
  ["End f G", "follow: jump to the newest record and stick to it"],
  ["1 2 3 4", "minimum level: DEBUG, INFO, WARN, ERROR"],
  ["e E", "next / previous ERROR record"],
  ["/", "search (regex, highlights matches); Esc in the box leaves it"],
  ["n N", "next / previous search match"],
  ["i", "include filter: show only records matching a regex (empty clears)"],
  ["x", "exclude filter: hide records matching a regex (empty clears)"],
  ["Esc", "close the record or this help; else clear the search"],
  ["w", "wrap long lines on/off"],
  ["t", "time: local → UTC → relative to the thread's first record"],
  ["Enter", "open the selected record in full (also: double-click)"],
  ["c C", "copy the selected record as one line / as JSON"],
  ["?", "this help"],
  ["(q Ctrl+C)", "not here: a page does not quit; close the tab"],
];

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
/** This page's path below the hub's root (a proxy's prefix taken off): "runs/{id}" or "runs". */
const path = location.pathname.slice(HUB_ROOT.pathname.length);
/** /runs?match=build-*&thread=deploy: several threads as one stream (a selection); /runs/{id}: one. */
const selection = path === "runs"
  ? { threads: params.getAll("thread"), match: params.get("match") || null }
  : null;
const threadId = selection !== null ? null : decodeURIComponent(path.slice("runs/".length));
/** The threads of the selection so far, in the order the hub named them. */
const threads = new Set();
const cap = Math.max(100, Number.parseInt(params.get("cap") || "", 10) || DEFAULT_CAP);
/** Records per older page: at most half the cap, so that a page just loaded is never unloaded. */
const olderPage = Math.min(OLDER_PAGE, Math.floor(cap / 2));

const view = new ThreadView();
const merge = new StreamMerge();
/** Pending records on screen by key, so that each becomes its committed copy when that arrives. */
const pendingShown = new Map();
merge.onCommitted = (key, record) => {
  const shown = pendingShown.get(key);
  if (shown === undefined) return;
  pendingShown.delete(key);
  adopt(shown, record);
  list.invalidate();
};
const ui = {
  connection: { kind: "loading", detail: "", retryAt: null },
  /** Threads whose live records the hub cannot read now (thread_unreadable), by id: the hub's message. */
  leftOut: new Map(),
  database: { up: null, backlog: 0 },
  loadingOlder: false,
  origin: null,
};

function showTitle() {
  let title = visible(threadId ?? "");
  if (selection !== null) {
    const named = [selection.match, ...selection.threads].filter(Boolean).map(visible).join(", ");
    const some = [...threads].slice(0, 5).map(visible).join(", ");
    title = `${named}: ${threads.size} thread${threads.size === 1 ? "" : "s"}${some ? " (" + some + (threads.size > 5 ? ", …" : "") + ")" : ""}`;
  }
  $("thread").textContent = title;
  document.title = `logctl: ${title}`;
}
showTitle();

const list = new LogList($("log"), view, {
  onUserScroll(atBottom, top) {
    if (atBottom) view.resume();
    else view.pause();
    if (top < list.pageLines * 18 * 2) loadOlder();
    unloadPastCap();
    updateStatus();
  },
  onSelect(position) {
    view.select(position);
    list.invalidate();
    updateStatus();
  },
  onOpen(position) {
    openDetail(view.visible[position]);
  },
});

const feed = new ThreadFeed(selection ?? threadId, merge, {
  threads(ids) {
    for (const id of ids) threads.add(id);
    if (selection !== null) {
      const widest = Math.max(0, ...[...threads].map((id) => visible(id).length));
      if (widest !== list.tagColumns) {
        list.tagColumns = Math.max(1, widest);
        list.relayout();
      }
      showTitle();
    }
  },
  shown(entries, { history = false, empty = false } = {}) {
    for (const entry of entries) {
      if (!(entry instanceof Marker) && !entry.cursor) {
        const key = recordKey(entry);
        if (key !== null) pendingShown.set(key, entry);
        if (pendingShown.size > 200_000) pendingShown.delete(pendingShown.keys().next().value);
      }
    }
    view.append(entries);
    if (history) $("notice").hidden = !empty;
    if (history && empty) {
      $("notice").textContent = selection === null
        ? `thread '${visible(threadId)}' has no records yet; waiting`
        : "no thread of this selection has records yet; waiting";
    }
    else if (entries.length) $("notice").hidden = true;
    unloadPastCap();
    list.invalidate();
    scheduleStatus();
  },
  state(kind, detail, retryAt = null) {
    ui.connection = { kind, detail, retryAt };
    showConnection();
  },
  db(up, backlog) {
    ui.database = { up, backlog };
    showDatabase();
  },
  leftOut(unreadable) {
    ui.leftOut = unreadable;
    showConnection();
  },
});

// -- the URL keeps the view's state -------------------------------------------------------

function readUrl() {
  const level = (params.get("level") || "").toUpperCase();
  $("level").value = LEVELS.includes(level) ? level : "DEBUG";
  $("include").value = params.get("include") || "";
  $("exclude").value = params.get("exclude") || "";
  $("search").value = params.get("q") || "";
  $("wrap").checked = params.get("wrap") === "1";
  $("time").value = TIME_MODES.includes(params.get("time")) ? params.get("time") : "local";
}

function writeUrl() {
  const out = new URLSearchParams();
  if ($("level").value !== "DEBUG") out.set("level", $("level").value);
  for (const [id, name] of [["include", "include"], ["exclude", "exclude"], ["search", "q"]]) {
    if ($(id).value) out.set(name, $(id).value);
  }
  if ($("wrap").checked) out.set("wrap", "1");
  if ($("time").value !== "local") out.set("time", $("time").value);
  if (selection !== null) {
    for (const thread of selection.threads) out.append("thread", thread);
    if (selection.match) out.set("match", selection.match);
  }
  if (params.has("cap")) out.set("cap", params.get("cap"));
  const query = out.toString();
  history.replaceState(null, "", location.pathname + (query ? "?" + query : ""));
}

// -- controls -------------------------------------------------------------------------------

function pattern(input) {
  try {
    const compiled = compilePattern(input.value);
    input.classList.remove("invalid");
    input.title = input.title.replace(/ — .*$/, "");
    return { ok: true, compiled };
  } catch (error) {
    input.classList.add("invalid");
    input.title = input.title.replace(/ — .*$/, "") + ` — not a valid regular expression: ${error.message}`;
    return { ok: false, compiled: null };
  }
}

function applyFilter() {
  const include = pattern($("include"));
  const exclude = pattern($("exclude"));
  if (!include.ok || !exclude.ok) return;
  view.setFilter(new Filter({ minLevel: $("level").value, include: include.compiled, exclude: exclude.compiled }));
  list.invalidate();
  writeUrl();
  updateStatus();
}

function applySearch() {
  const search = pattern($("search"));
  if (!search.ok) return;
  view.setSearch(search.compiled);
  list.invalidate();
  writeUrl();
  updateStatus();
}

function applyLayout() {
  view.setLayout({ wrap: $("wrap").checked });
  list.timeMode = $("time").value;
  if (list.timeMode === "relative" && ui.origin === null) loadOrigin();
  list.relayout();
  writeUrl();
  updateStatus();
}

let typing = 0;
function debounce(fn) {
  return () => {
    clearTimeout(typing);
    typing = setTimeout(fn, 120);
  };
}

$("level").addEventListener("change", applyFilter);
$("include").addEventListener("input", debounce(applyFilter));
$("exclude").addEventListener("input", debounce(applyFilter));
$("search").addEventListener("input", debounce(applySearch));
$("wrap").addEventListener("change", applyLayout);
$("time").addEventListener("change", applyLayout);
$("prev").addEventListener("click", () => step(view.nextMatch(false)));
$("next").addEventListener("click", () => step(view.nextMatch(true)));
$("download").addEventListener("click", download);
$("keys").addEventListener("click", toggleHelp);
$("new").addEventListener("click", follow);
$("close-detail").addEventListener("click", closeDetail);
$("copy-line").addEventListener("click", () => copy(false));
$("copy-json").addEventListener("click", () => copy(true));
$("controls").addEventListener("submit", (event) => event.preventDefault());

for (const id of ["include", "exclude", "search"]) {
  $(id).addEventListener("keydown", (event) => {
    if (event.key === "Escape" || event.key === "Enter") {
      event.preventDefault();
      event.stopPropagation();
      clearTimeout(typing);
      if (id === "search") applySearch();
      else applyFilter();
      if (event.key === "Enter" && id === "search") step(view.nextMatch(true));
      $("log").focus();
    }
  });
}

// -- navigation -----------------------------------------------------------------------------

function step(position, center = true) {
  if (position === null || position === undefined) return;
  view.select(position);
  if (view.selected === view.visible.length - 1 && !center) view.resume();
  list.reveal(view.selected, center);
  updateStatus();
}

function follow() {
  view.resume();
  list.invalidate();
  updateStatus();
}

async function loadOlder() {
  if (ui.loadingOlder || merge.before === null || !merge.hasHistory) return;
  ui.loadingOlder = true;
  document.body.dataset.loadingOlder = "1";
  try {
    const older = await feed.older(olderPage);
    const lines = view.prepend(older);
    list.shiftBy(lines);
    list.invalidate();
    updateStatus();
  } catch (error) {
    flash(`older records could not be loaded: ${error.message}`);
  } finally {
    ui.loadingOlder = false;
    delete document.body.dataset.loadingOlder;
  }
}

/**
 * Past the cap (and a tenth more, so that it happens in batches), unload the oldest entries,
 * but only those well above the screen: an older page and two screens are kept above it, so
 * that what scrolling up just loaded is not unloaded at once.
 */
function unloadPastCap() {
  const slack = Math.max(100, Math.floor(cap / 10));
  if (view.records <= cap + slack) return;
  const top = view.follow ? view.visible.length - list.pageLines : list.topPosition ?? 0;
  const keepFrom = top - list.pageLines * 2 - olderPage;
  if (keepFrom <= 0) return;
  const limit = view.entries.indexOf(view.visible[keepFrom]);
  let count = Math.min(view.records - cap, limit);
  while (count > 0) {
    const kept = view.entries.slice(count).find((e) => !(e instanceof Marker) && e.cursor);
    if (kept) break;
    count -= 1;
  }
  if (count <= 0) return;
  const oldest = view.entries.slice(count).find((e) => !(e instanceof Marker) && e.cursor);
  const { gone, lines } = view.dropOldest(count);
  const records = gone.filter((e) => !(e instanceof Marker));
  for (const record of records) if (!record.cursor) pendingShown.delete(recordKey(record));
  merge.unloaded(records, oldest.cursor);
  if (!view.follow) list.shiftBy(-lines);
  list.invalidate();
}

let originLoad = null;
function loadOrigin() {
  if (originLoad === null) originLoad = fetchOrigin().finally(() => { originLoad = null; });
  return originLoad;
}

async function fetchOrigin() {
  try {
    const first = await feed.firstTime();
    ui.origin = parseTime(first);
    list.origin = ui.origin;
    list.invalidate();
    updateStatus();
  } catch {
    // relative times show +? until it loads
  }
}

// -- the record in full, copy, download ---------------------------------------------------

function openDetail(entry) {
  if (!entry || entry instanceof Marker) return;
  if (ui.origin === null) {
    loadOrigin().then(() => {
      if ($("detail").entry === entry && ui.origin !== null) openDetail(entry);
    });
  }
  const fields = $("fields");
  fields.replaceChildren();
  const rows = [
    ["thread", entry.thread_id], ["level", entry.level + (entry.cursor ? "" : " (pending: not stored yet)")],
    ["id", entry.id], ["cursor", entry.cursor], ["producer", entry.producer_id], ["seq", entry.seq],
    ["UTC", entry.created_at ? new Date(parseTime(entry.created_at)).toISOString() : "-"],
    ["local", localIso(entry.created_at)],
    ["relative", formatTime(entry.created_at, "relative", ui.origin) + " since the first record"],
  ];
  for (const [name, value] of rows) {
    const dt = document.createElement("dt");
    dt.textContent = name;
    const dd = document.createElement("dd");
    dd.textContent = value === null || value === undefined ? "-" : visible(String(value));
    fields.append(dt, dd);
  }
  $("detail-message").textContent = visible(pretty(entry.message));
  $("detail").hidden = false;
  $("detail").entry = entry;
  list.relayout();
}

function closeDetail() {
  $("detail").hidden = true;
  $("detail").entry = null;
  list.relayout();
  $("log").focus();
}

function pretty(message) {
  const text = message.trim();
  if (!(text.startsWith("{") || text.startsWith("["))) return message;
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return message;
  }
}

async function copy(json) {
  const entry = $("detail").hidden ? view.selectedEntry : $("detail").entry;
  if (!entry || entry instanceof Marker) return;
  const text = json ? recordJSON(entry) : plainLine(entry);
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    const area = document.createElement("textarea");
    area.value = text;
    document.body.append(area);
    area.select();
    document.execCommand("copy");
    area.remove();
  }
  flash(json ? "copied the record as JSON" : "copied the record as one line");
}

function download() {
  const lines = view.entries.filter((e) => !(e instanceof Marker)).map((e) => recordJSON(e) + "\n");
  const url = URL.createObjectURL(new Blob(lines, { type: "application/x-ndjson" }));
  const link = document.createElement("a");
  link.href = url;
  link.download = `${(threadId ?? selection.match ?? "threads").replace(/[^A-Za-z0-9._-]+/g, "_").slice(0, 100) || "thread"}.jsonl`;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

let flashTimer = 0;
function flash(text) {
  const toast = $("toast");
  toast.textContent = text;
  toast.hidden = false;
  clearTimeout(flashTimer);
  flashTimer = setTimeout(() => { toast.hidden = true; }, 2500);
}

function toggleHelp() {
  const help = $("help");
  if (!$("help-keys").childElementCount) {
    for (const [keys, what] of KEYS) {
      const row = document.createElement("tr");
      const k = document.createElement("td");
      k.textContent = keys;
      const w = document.createElement("td");
      w.textContent = what;
      row.append(k, w);
      $("help-keys").append(row);
    }
  }
  help.hidden = !help.hidden;
}

// -- keys -----------------------------------------------------------------------------------

document.addEventListener("keydown", (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  const target = event.target;
  if (target instanceof HTMLInputElement || target instanceof HTMLSelectElement || target instanceof HTMLButtonElement) {
    if (!(target instanceof HTMLButtonElement) || event.key === " " || event.key === "Enter") return;
  }
  const handled = key(event.key);
  if (handled) event.preventDefault();
});

function key(name) {
  const here = view.selected ?? view.visible.length - 1;
  switch (name) {
    case "ArrowUp": case "k": step(here - 1, false); return true;
    case "ArrowDown": case "j": step(here + 1, false); return true;
    case "PageUp": step(here - list.pageLines, false); return true;
    case "PageDown": case " ": step(here + list.pageLines, false); return true;
    case "Home": case "g": step(0, false); $("log").scrollTop = 0; loadOlder(); return true;
    case "End": case "f": case "G": follow(); return true;
    case "1": case "2": case "3": case "4":
      $("level").value = LEVELS[Number(name) - 1];
      applyFilter();
      return true;
    case "e": step(view.nextError(true)); return true;
    case "E": step(view.nextError(false)); return true;
    case "/": $("search").focus(); $("search").select(); return true;
    case "n": step(view.nextMatch(true)); return true;
    case "N": step(view.nextMatch(false)); return true;
    case "i": $("include").focus(); $("include").select(); return true;
    case "x": $("exclude").focus(); $("exclude").select(); return true;
    case "Escape":
      if (!$("help").hidden) $("help").hidden = true;
      else if (!$("detail").hidden) closeDetail();
      else if ($("search").value) { $("search").value = ""; applySearch(); }
      return true;
    case "w": $("wrap").checked = !$("wrap").checked; applyLayout(); return true;
    case "t":
      $("time").value = TIME_MODES[(TIME_MODES.indexOf($("time").value) + 1) % TIME_MODES.length];
      applyLayout();
      return true;
    case "Enter": openDetail(view.selectedEntry); return true;
    case "c": copy(false); return true;
    case "C": copy(true); return true;
    case "?": toggleHelp(); return true;
    default: return false;
  }
}

// -- the status lines -------------------------------------------------------------------------

function showConnection() {
  const node = $("connection");
  const { kind, text, tone, title } = connectionState(ui.connection, ui.leftOut, threadId, Date.now());
  node.textContent = visible(text);
  node.title = visible(title);
  node.className = `state ${tone}`;
  node.dataset.kind = kind;
}

function showDatabase() {
  const { up, backlog } = ui.database;
  const node = $("database");
  node.textContent = up === null ? "database ?" : up ? "database up" : `⚠ hub database down (${backlog} waiting)`;
  node.className = `state ${up === null ? "" : up ? "ok" : "bad"}`;
  node.dataset.up = up === null ? "" : String(up);
}

let statusFrame = 0;
function scheduleStatus() {
  if (!statusFrame) statusFrame = requestAnimationFrame(() => { statusFrame = 0; updateStatus(); });
}

function updateStatus() {
  const hidden = view.entries.length - view.visible.length;
  $("loaded").textContent = `${view.records.toLocaleString("en")} records loaded${merge.before === null && merge.hasHistory ? " (all)" : ""}`;
  $("filtered").textContent = hidden ? `${hidden.toLocaleString("en")} hidden by the filter` : "";
  $("matches").textContent = view.search === null ? "" : `${view.matchCount} match${view.matchCount === 1 ? "" : "es"}`;
  $("zone").textContent = zoneLabel($("time").value, ui.origin);
  $("follow").textContent = view.follow ? "following" : "paused";
  const badge = $("new");
  badge.hidden = view.follow || view.newCount === 0;
  badge.textContent = `▼ ${view.newCount.toLocaleString("en")} new`;
}

setInterval(() => {
  if (ui.connection.retryAt !== null) showConnection();
}, 500);

// -- start ----------------------------------------------------------------------------------

readUrl();
view.filter = new Filter({
  minLevel: $("level").value,
  include: pattern($("include")).compiled,
  exclude: pattern($("exclude")).compiled,
});
view.setSearch(pattern($("search")).compiled);
view.setLayout({ wrap: $("wrap").checked });
list.timeMode = $("time").value;
if (list.timeMode === "relative") loadOrigin();
list.relayout();
updateStatus();
$("log").focus();
/** The page's model, for tests and the benchmark (read-only by convention). */
window.logctlThread = { view, merge, feed, list, root: HUB_ROOT.href, cap, threads };
if (selection !== null && !selection.threads.length && !selection.match) {
  $("notice").hidden = false;
  $("notice").textContent = "name the threads to show: /runs?match=build-* or /runs?thread=a&thread=b";
  feed.sink.state("failed", "no threads named");
} else {
  feed.start(HISTORY);
}
