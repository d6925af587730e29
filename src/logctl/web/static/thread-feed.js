// The thread page's client, as logctl.tail.client is the terminal viewer's: the history over
// HTTP, then the live stream over WebSocket from the history's cursor, reconnects with
// backoff that first catch up over HTTP (after=), and the hub's database state. Every
// decision about what to show is the StreamMerge's (merge.js); this module moves frames
// and reports to a sink: shown(entries, {history}), state(kind, detail, retryAt), db(up, backlog),
// threads(ids), and leftOut(Map thread id → message): the threads whose live records the hub
// cannot read now (thread_unreadable; the stream goes on without them).

import { Marker } from "./merge.js";
import { parseJSON } from "./wire.js";

/** The hub's largest page. */
export const PAGE_LIMIT = 10_000;
/** Waits between reconnects: 0.25 s doubling to 10 s; jitter shortens each by up to a fifth (tail's RECONNECT). */
const BASE = 250;
const CAP = 10_000;
const SPREAD = 0.2;
/** Error codes of the stream that pass with a reconnect (core/protocol/subscriber.py). */
const RETRY_CODES = new Set(["database_unavailable", "shutting_down"]);

export class HubAnswer extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/**
 * The hub's root URL, with a proxy's path prefix if any (`https://host/logctl/`): the folder above
 * the one this module was loaded from (`static/`), so it holds on every page at every depth.
 */
export const HUB_ROOT = new URL("../", import.meta.url);

/** The selection's id on the connection (a page has one). */
const SUB = "page";

export class ThreadFeed {
  /**
   * @param {string|{threads: string[], match: string|null}} target one thread id, or a selection
   *   of threads and/or a glob (GET /admin/logs and a selection subscription, docs/protocol.md)
   */
  constructor(target, merge, sink, { root = HUB_ROOT } = {}) {
    this.selection = typeof target === "string" ? null : target;
    this.threadId = typeof target === "string" ? target : null;
    this.merge = merge;
    this.sink = sink;
    this.root = root;
    this.historyUrl = new URL(this.selection === null ? `admin/runs/${encodeURIComponent(target)}/logs` : "admin/logs", root).href;
    this.socket = null;
    this.failures = 0;
    this.catchingUp = false;
    this.wasLive = false;
    this.stopped = false;
    this._timer = null;
    /** Threads the hub said it cannot read (thread_unreadable), by id: their message. */
    this.unreadable = new Map();
  }

  /** GET one history page ({limit, before, after}); the body, parsed exactly. */
  async page(params) {
    const query = new URLSearchParams();
    if (this.selection !== null) {
      for (const thread of this.selection.threads) query.append("thread", thread);
      if (this.selection.match) query.set("match", this.selection.match);
    }
    for (const [k, v] of Object.entries(params)) if (v !== null && v !== undefined) query.set(k, String(v));
    const url = `${this.historyUrl}?${query}`;
    let response = null;
    const early = window.logctlFirstHistory;
    if (early !== undefined) { // thread-boot.js asked for the first page already
      window.logctlFirstHistory = undefined;
      response = await early.catch(() => null);
      if (response !== null && new URL(response.url).search !== `?${query}`) response = null;
    }
    if (response === null) {
      const answer = await fetch(url, { credentials: "same-origin", cache: "no-store" });
      response = { ok: answer.ok, status: answer.status, text: await answer.text() };
    }
    const text = response.text;
    let body = null;
    try {
      body = parseJSON(text);
    } catch {
      body = null;
    }
    if (!response.ok || body === null || !Array.isArray(body.logs)) {
      const error = body && body.error ? body.error : { code: `http_${response.status}`, message: `the hub answered HTTP ${response.status}` };
      throw new HubAnswer(response.status, error.code, error.message);
    }
    return body;
  }

  /** The latest ``limit`` records, then follow for good. */
  async start(limit = 1000) {
    this.sink.state("loading", "loading history");
    let body;
    try {
      body = await this.page({ limit });
    } catch (error) {
      if (error instanceof HubAnswer && error.status >= 400 && error.status < 500) {
        this.stopped = true; // a bad selection or a refused token: asking again will not help
        this.sink.state("failed", describe(error));
      } else {
        this._retry(describe(error)); // and start again
      }
      return;
    }
    this.refreshDatabase();
    if (Array.isArray(body.threads)) this.sink.threads(body.threads);
    this.sink.shown(this.merge.history(body), { history: true, empty: body.logs.length === 0 });
    this._connect();
  }

  /** The time of the thread's first record (ms), for relative times; null if it has none. */
  async firstTime() {
    const body = await this.page({ limit: 1, after: "0-0" });
    return body.logs.length ? body.logs[0].created_at : null;
  }

  /** Records just before the oldest shown (``before=``), applied to the merge: those to prepend. */
  async older(limit = 2000) {
    const before = this.merge.before;
    if (before === null) return [];
    const body = await this.page({ limit, before: before.toString() });
    return this.merge.older(body);
  }

  /** Ask /healthz how the hub's database is (status frames only tell changes). */
  async refreshDatabase() {
    try {
      const response = await fetch(new URL("healthz", this.root), { credentials: "same-origin", cache: "no-store" });
      const body = await response.json();
      if (body && typeof body.database === "string") {
        this.sink.db(body.database === "up" && body.writes !== "failing", Number(body.backlog) || 0);
      }
    } catch {
      // the connection state says it already
    }
  }

  stop() {
    this.stopped = true;
    clearTimeout(this._timer);
    if (this.socket) this.socket.close();
  }

  /** Drop the connection as if the network had (tests and the "reconnect" control use it). */
  drop() {
    if (this.socket) this.socket.close();
  }

  _connect() {
    if (this.stopped) return;
    const url = new URL("ws", this.root);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(url);
    this.socket = socket;
    let reason = null;
    socket.onopen = () => {
      const cursor = this.merge.cursor === null ? null : this.merge.cursor.toString();
      if (this.selection === null) {
        socket.send(JSON.stringify({ type: "subscribe", thread_id: this.threadId, cursor }));
      } else {
        const frame = { type: "subscribe", sub: SUB, cursor };
        if (this.selection.threads.length) frame.threads = this.selection.threads;
        if (this.selection.match) frame.match = this.selection.match;
        socket.send(JSON.stringify(frame));
      }
    };
    socket.onmessage = (event) => {
      if (this.socket !== socket) return;
      let frame;
      try {
        frame = parseJSON(event.data);
      } catch {
        reason = "the hub sent a frame that is not JSON";
        socket.close();
        return;
      }
      const mine = this.selection === null ? frame.sub === undefined && (frame.thread_id === undefined || frame.thread_id === this.threadId) : frame.sub === SUB;
      if (!mine && frame.type !== "status") return;
      if (frame.type === "subscribed") {
        if (Array.isArray(frame.threads)) this.sink.threads(frame.threads);
        if (this.catchingUp) {
          this.sink.shown([this.merge.endCatchUp(new Date().toISOString())], {});
          this.catchingUp = false;
        }
        this.failures = 0;
        this.wasLive = true;
        this.sink.state("live", "");
        this.refreshDatabase();
      } else if (frame.type === "thread_started") {
        this.sink.threads([frame.thread_id]);
      } else if (frame.type === "records") {
        const shown = this.merge.live(frame.records, frame.pending === true);
        if (shown.length) this.sink.shown(shown, {});
        if (frame.pending !== true) this._readableAgain(frame.records); // a pending copy says nothing of the feed
      } else if (frame.type === "status") {
        this.sink.db(frame.database === "up", Number(frame.backlog) || 0);
      } else if (frame.type === "error" && frame.code === "thread_unreadable" && typeof frame.thread_id === "string") {
        // One thread's live records stop; the subscription goes on (docs/protocol.md). Said once
        // per thread until its records come again (a new subscription may be told again).
        const message = String(frame.message);
        if (this.unreadable.get(frame.thread_id) !== message) {
          this.unreadable.set(frame.thread_id, message);
          this.sink.shown([leftOutMarker(frame.thread_id, message, this.selection !== null, new Date().toISOString())], {});
          this.sink.leftOut(new Map(this.unreadable));
        }
      } else if (frame.type === "error") {
        if (RETRY_CODES.has(frame.code)) {
          reason = `the hub cannot serve the stream right now: ${frame.message}`;
          socket.close();
        } else {
          this.stopped = true;
          this.sink.state("failed", `the hub refused the subscription: ${frame.message}`);
          socket.close();
        }
      }
    };
    socket.onclose = (event) => {
      if (this.socket !== socket) return;
      this.socket = null;
      if (this.stopped) return;
      this._retry(reason || closeReason(event.code, event.reason));
    };
  }

  /** Records of a thread said unreadable came after all: it is read again. */
  _readableAgain(records) {
    if (!this.unreadable.size) return;
    let changed = false;
    for (const record of records) changed = this.unreadable.delete(record.thread_id) || changed;
    if (changed) this.sink.leftOut(new Map(this.unreadable));
  }

  _retry(reason) {
    if (!this.catchingUp && this.merge.hasHistory) {
      this.merge.beginCatchUp();
      this.catchingUp = true;
    }
    this.failures += 1;
    const delay = Math.min(CAP, BASE * 2 ** (this.failures - 1)) * (1 - SPREAD * Math.random());
    const kind = this.wasLive && this.failures === 1 ? "reconnecting" : "unreachable";
    this.sink.state(kind, reason, Date.now() + delay);
    clearTimeout(this._timer);
    this._timer = setTimeout(() => this._resume(), delay);
  }

  /** Catch up over HTTP from the cursor, then subscribe again. */
  async _resume() {
    if (this.stopped) return;
    try {
      if (!this.merge.hasHistory) {
        this.start();
        return;
      }
      this.sink.state("reconnecting", "catching up");
      for (;;) {
        const body = await this.page({ limit: PAGE_LIMIT, after: this.merge.cursor ? this.merge.cursor.toString() : "0-0" });
        const shown = this.merge.live(body.logs);
        if (shown.length) this.sink.shown(shown, {});
        if (body.cursor) this.merge.advance(body.cursor);
        if (body.logs.length < PAGE_LIMIT) break;
      }
    } catch (error) {
      this._retry(describe(error));
      return;
    }
    this._connect();
  }
}

/**
 * The warning line for a thread whose rows the hub cannot read (tail's ``_left_out``):
 * ``warning: thread 'B': <message>; the other threads go on`` (the last part on a selection only).
 */
export function leftOutMarker(threadId, message, selection, now) {
  const rest = selection ? "; the other threads go on" : "";
  return new Marker(`warning: thread '${threadId}': ${message}${rest}`, now, "WARN");
}

function closeReason(code, reason) {
  if (code === 1013) return "the hub dropped a slow connection";
  if (code === 1001 || code === 1012) return "the hub is restarting";
  if (code === 1006) return "connection lost";
  return `connection closed (${code}${reason ? ": " + reason : ""})`;
}

function describe(error) {
  if (error instanceof HubAnswer) {
    if (error.status === 503) return `the hub cannot read its database: ${error.message}`;
    return `the hub answered ${error.status}: ${error.message}`;
  }
  return "no hub answers (the network request failed)";
}
