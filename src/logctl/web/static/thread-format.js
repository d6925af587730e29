// How the thread page writes times and records, as logctl.core.times and plain_line do, and
// its connection state.

import { toJSON } from "./wire.js";

export const TIME_MODES = ["local", "utc", "relative"];

const FRACTION = /(\.\d{3})\d+/;

/** Milliseconds since the epoch of an ISO 8601 time from the hub, or null. */
export function parseTime(iso) {
  if (!iso) return null;
  const ms = Date.parse(iso.replace(FRACTION, "$1"));
  return Number.isNaN(ms) ? null : ms;
}

const pad = (n, width = 2) => String(n).padStart(width, "0");

/** ``2026-11-30 10:30:00.123`` (local or UTC), or ``+0:01:02.500`` relative to ``origin`` (ms). */
export function formatTime(iso, mode, origin = null) {
  const ms = parseTime(iso);
  if (ms === null) return "-";
  if (mode === "relative") {
    if (origin === null) return "+?";
    let delta = ms - origin;
    const sign = delta < 0 ? "-" : "+";
    delta = Math.abs(delta);
    const millis = delta % 1000;
    const seconds = Math.floor(delta / 1000) % 60;
    const minutes = Math.floor(delta / 60000) % 60;
    const hours = Math.floor(delta / 3600000);
    return `${sign}${hours}:${pad(minutes)}:${pad(seconds)}.${pad(millis, 3)}`;
  }
  const d = new Date(ms);
  if (mode === "utc") {
    return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}.${pad(d.getUTCMilliseconds(), 3)}`;
  }
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

/** The local zone's offset as ``UTC+01:00`` at ``when`` (ms). */
export function localOffset(when = Date.now()) {
  const minutes = -new Date(when).getTimezoneOffset();
  const sign = minutes < 0 ? "-" : "+";
  return `UTC${sign}${pad(Math.floor(Math.abs(minutes) / 60))}:${pad(Math.abs(minutes) % 60)}`;
}

/** Name the zone the times are shown in: ``local (UTC+01:00)``, ``UTC``, ``relative to …``. */
export function zoneLabel(mode, origin = null) {
  if (mode === "utc") return "times: UTC";
  if (mode === "relative") {
    if (origin === null) return "times: relative to the first record (not loaded yet)";
    return `times: relative to the first record, ${formatTime(new Date(origin).toISOString(), "utc")} UTC`;
  }
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  return `times: local${zone && zone !== "UTC" ? " " + zone : ""} (${localOffset()})`;
}

/** A local time with its offset, ISO 8601: ``2026-11-30T11:30:00.123+01:00``. */
export function localIso(iso) {
  const ms = parseTime(iso);
  if (ms === null) return "-";
  const offset = localOffset(ms).slice(3);
  return formatTime(iso, "local").replace(" ", "T") + (offset === "+00:00" ? "Z" : offset);
}

/** One record as one line, as `logctl tail --plain` prints it: ``time level message`` in UTC. */
export function plainLine(record) {
  const ms = parseTime(record.created_at);
  const time = ms === null ? "-" : new Date(ms).toISOString();
  return `${time} ${record.level.padEnd(5)} ${record.message.replace(/\n/g, "\\n")}`;
}

/** One record as the history API's JSON object (ids and seqs exact). */
export function recordJSON(record, indent) {
  const out = { id: record.id, thread_id: record.thread_id, message: record.message, created_at: record.created_at, level: record.level };
  if (record.cursor !== undefined && record.cursor !== null) out.cursor = record.cursor;
  if (record.producer_id !== undefined && record.producer_id !== null) {
    out.producer_id = record.producer_id;
    out.seq = record.seq;
  }
  return toJSON(out, indent);
}

// -- thread tags (a page of several threads), as logctl.core.thread_tags ------------------------

/** The palette's size (thread.css: .tag-0 … .tag-11, tail's xterm-256 colours). */
export const TAG_COLOURS = 12;
/** The thread column is never wider than this (characters); longer ids end in an ellipsis. */
export const MAX_TAG_WIDTH = 24;

let table = null;

/** CRC-32 of ``text``'s UTF-8, as zlib.crc32: the same colour for a thread as in tail. */
export function crc32(text) {
  if (table === null) {
    table = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (const byte of new TextEncoder().encode(text)) crc = table[(crc ^ byte) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** The palette index of a thread (tail's thread_colour picks THREAD_PALETTE[crc32 % 12] the same way). */
export function tagColour(threadId) {
  return crc32(threadId) % TAG_COLOURS;
}

/**
 * The connection state's words: ``{kind, text, tone, title}`` of ``connection`` ({kind, detail,
 * retryAt}) and ``leftOut`` (thread id → the hub's message: threads it cannot read now, told by
 * thread_unreadable). ``threadId``: the page's thread (null: a selection). Connected with its
 * thread left out, a thread page's kind is "stopped"; a selection stays "live" and names them.
 */
export function connectionState({ kind, detail, retryAt }, leftOut, threadId, now) {
  const wait = retryAt === null ? "" : ` in ${Math.max(0, Math.ceil((retryAt - now) / 1000))} s`;
  const names = [...leftOut.keys()].map((id) => `'${id}'`);
  if (kind === "live" && threadId !== null && leftOut.has(threadId)) kind = "stopped";
  const text = {
    loading: "◌ loading history",
    live: names.length
      ? `● live, ${names.length} ${names.length === 1 ? "thread" : "threads"} left out: ${names.slice(0, 3).join(", ")}${names.length > 3 ? ", …" : ""}`
      : "● live",
    stopped: `⚠ live records stopped: ${leftOut.get(threadId)}`,
    reconnecting: detail === "catching up" ? "↻ reconnecting: catching up" : `↻ reconnecting${wait} (${detail})`,
    unreachable: `✖ hub unreachable, retrying${wait} (${detail})`,
    failed: `✖ ${detail}`,
  }[kind];
  const tone = kind === "live" ? (names.length ? "wait" : "ok")
    : kind === "stopped" ? "warn"
    : kind === "loading" || kind === "reconnecting" ? "wait" : "bad";
  const title = [...leftOut].map(([id, message]) => `thread '${id}': ${message}`).join("\n");
  return { kind, text, tone, title };
}
