// The history + live merge of the thread page: the rules of logctl.core.merge, in JavaScript.
//
// A StreamMerge takes history pages (the history API's bodies), `records` frames
// (committed, with cursors; or pending, without) and reconnect boundaries, and answers
// with the records to show. It does no I/O. The rules (docs/protocol.md):
//
// * a committed record whose cursor is at or below the last cursor processed is a
//   duplicate and is dropped;
// * a committed record whose (producer_id, seq) was already shown as pending is not
//   shown again, but its cursor still advances the resume cursor;
// * a pending record whose key was already shown (pending or committed) is dropped;
// * live frames that arrive before the first history page are held back and merged after it;
// * older history pages (before=) are accepted only below the oldest record shown.
//
// tests/test_web_merge.py replays vectors that Python's StreamMerge produced
// (tests/fixtures/merge_vectors.json) through this module and compares every output.

/** How many keys of committed records are remembered to drop a late pending copy. */
export const RECENT_KEYS = 50_000;
/** How many keys of pending records are remembered while waiting for their commit. */
export const PENDING_KEYS = 200_000;

const CURSOR = /^(\d+)-(\d+)$/;
const LIMIT = 2n ** 63n;

/** A stream position "<txid>-<id>". Each part is a Number when exact, else a BigInt. */
export class Cursor {
  constructor(txid, id) {
    this.txid = txid;
    this.id = id;
  }

  /** Parse "<txid>-<id>"; throws on anything else (as logctl.core.cursor.Cursor.parse). */
  static parse(text) {
    const m = typeof text === "string" && text.length <= 41 ? CURSOR.exec(text) : null;
    if (m === null) throw new Error(`cursor ${JSON.stringify(String(text).slice(0, 48))} is not of the form '<txid>-<id>'`);
    return new Cursor(part(m[1], text), part(m[2], text));
  }

  compare(other) {
    if (this.txid < other.txid) return -1;
    if (this.txid > other.txid) return 1;
    if (this.id < other.id) return -1;
    if (this.id > other.id) return 1;
    return 0;
  }

  toString() {
    return `${this.txid}-${this.id}`;
  }
}

function part(digits, text) {
  if (digits.length <= 15) return Number(digits);
  const big = BigInt(digits);
  if (big >= LIMIT) throw new Error(`cursor ${JSON.stringify(text.slice(0, 48))} is out of range (each part below 2^63)`);
  return big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big;
}

const PARSED = Symbol("cursor");

/** A record's cursor, parsed once and kept on the record (under a symbol: JSON never sees it). */
export function recordCursor(record) {
  let cursor = record[PARSED];
  if (cursor === undefined) {
    cursor = typeof record.cursor === "string" ? Cursor.parse(record.cursor) : null;
    record[PARSED] = cursor;
  }
  return cursor;
}

/** Make ``shown`` (a pending record on screen) the committed ``record``: its id, cursor and time. */
export function adopt(shown, record) {
  for (const field of ["id", "thread_id", "message", "created_at", "level", "cursor", "producer_id", "seq"]) {
    if (field in record) shown[field] = record[field];
  }
  delete shown[PARSED];
  return shown;
}

/** The producer key "(producer_id, seq)" as one string, or null (as LogRecord.key). */
export function recordKey(record) {
  const producer = record.producer_id;
  const seq = record.seq;
  if (typeof producer !== "string") return null;
  if (!(typeof seq === "bigint" || Number.isInteger(seq))) return null;
  return `${seq}:${producer}`; // seq has no ':', so the first ':' splits the two
}

function asCursor(value) {
  if (value === null || value === undefined) return null;
  return value instanceof Cursor ? value : Cursor.parse(value);
}

function plural(count, noun) {
  return `${count} ${count === 1 ? noun : noun + "s"}`;
}

/** A line the viewer adds to the stream itself, such as a reconnect notice. */
export class Marker {
  constructor(text, createdAt = null, level = "INFO") {
    this.text = text;
    this.created_at = createdAt;
    this.level = level;
  }
}

/** The merge state of one thread's view. */
export class StreamMerge {
  /**
   * @param {Cursor|string|null} cursor where to start (null: history not read yet)
   * @param {{recentKeys?: number, pendingKeys?: number}} limits the key memories' sizes
   */
  constructor(cursor = null, { recentKeys = RECENT_KEYS, pendingKeys = PENDING_KEYS } = {}) {
    /** The resume cursor: every committed record at or before it has been processed. */
    this.cursor = asCursor(cursor);
    /** Where to page further back (null: nothing older, or no history loaded yet). */
    this.before = null;
    /** The cursor of the oldest committed record shown. */
    this.oldest = null;
    this.hasHistory = this.cursor !== null;
    this.shown = 0;
    this.dropped = 0;
    this._recentKeys = recentKeys;
    this._pendingKeys = pendingKeys;
    this._pending = new Map();
    this._recent = new Map();
    this._early = [];
    this._catchingUp = null;
    /**
     * Called with (key, record) when a committed record arrives whose pending copy was shown:
     * the record is not shown again (as in Python), but a viewer may update the copy it shows
     * (see adopt). It changes nothing in the merge's answers.
     */
    this.onCommitted = null;
  }

  // -- inputs ---------------------------------------------------------------------------

  /** Apply the first history page ({logs, cursor, before}) and any live frames that came before it. */
  history(page) {
    const first = !this.hasHistory;
    const shown = this._committed(page.logs);
    const resume = asCursor(page.cursor);
    if (resume !== null) this.advance(resume);
    if (first) this.before = asCursor(page.before);
    this.hasHistory = true;
    const early = this._early;
    this._early = [];
    for (const [records, pending] of early) {
      for (const record of this.live(records, pending)) shown.push(record);
    }
    return shown;
  }

  /** Apply a page fetched with before=: return its records that go above the oldest shown. */
  older(page) {
    const records = page.logs;
    const keep = [];
    for (const record of records) {
      const cursor = recordCursor(record);
      if (cursor !== null && (this.oldest === null || cursor.compare(this.oldest) < 0)) keep.push(record);
    }
    keep.sort((a, b) => recordCursor(a).compare(recordCursor(b))); // stable, as Python's sort
    const out = [];
    for (const record of keep) {
      const key = recordKey(record);
      if (key !== null && this._recent.has(key)) {
        this.dropped += 1;
        continue;
      }
      this._remember(key);
      out.push(record);
    }
    if (out.length) this.oldest = recordCursor(out[0]);
    this.before = asCursor(page.before);
    this.shown += out.length;
    this.dropped += records.length - keep.length;
    return out;
  }

  /** Apply a records frame's records; return the records to show, in order. */
  live(records, pending = false) {
    if (!this.hasHistory) {
      this._early.push([Array.from(records), pending]);
      return [];
    }
    return pending ? this._pendingRecords(records) : this._committed(records);
  }

  /** Move the resume cursor forward (a history page's or subscribed cursor). */
  advance(cursor) {
    const c = asCursor(cursor);
    if (this.cursor === null || c.compare(this.cursor) > 0) this.cursor = c;
    this.hasHistory = true;
  }

  /** Start counting the records that a reconnect catches up. */
  beginCatchUp() {
    this._catchingUp = 0;
  }

  /** Stop counting and return the reconnect marker. */
  endCatchUp(now = null) {
    const count = this._catchingUp || 0;
    this._catchingUp = null;
    return new Marker(`reconnected: ${plural(count, "record")} caught up`, now);
  }

  /**
   * The viewer unloaded its oldest records (past its cap): forget their keys, so that paging
   * back loads them again, and page back from ``oldest``, the oldest committed record it kept.
   * (The terminal viewer never unloads; this is the page's own addition to the rules.)
   */
  unloaded(records, oldest) {
    for (const record of records) {
      const key = recordKey(record);
      if (key !== null && recordCursor(record) !== null) this._recent.delete(key);
    }
    const c = asCursor(oldest);
    this.oldest = c;
    this.before = c;
  }

  // -- internals ------------------------------------------------------------------------

  _committed(records) {
    const out = [];
    let counted = 0; // records passed on by _pendingRecords, which counts them itself
    for (const record of records) {
      const cursor = recordCursor(record);
      if (cursor === null) { // a frame without cursors is treated as pending
        for (const r of this._pendingRecords([record])) {
          out.push(r);
          counted += 1;
        }
        continue;
      }
      if (this.cursor !== null && cursor.compare(this.cursor) <= 0) {
        this.dropped += 1;
        continue;
      }
      this.cursor = cursor;
      if (this.oldest === null) this.oldest = cursor;
      const key = recordKey(record);
      if (key !== null && this._pending.has(key)) {
        this._pending.delete(key);
        this._remember(key);
        this.dropped += 1;
        if (this.onCommitted !== null) this.onCommitted(key, record);
        continue;
      }
      this._remember(key);
      out.push(record);
    }
    this.shown += out.length - counted;
    if (this._catchingUp !== null) this._catchingUp += out.length - counted;
    return out;
  }

  _pendingRecords(records) {
    const out = [];
    for (const record of records) {
      const key = recordKey(record);
      if (key !== null) {
        if (this._recent.has(key) || this._pending.has(key)) {
          this.dropped += 1;
          continue;
        }
        this._pending.set(key, null);
        if (this._pending.size > this._pendingKeys) this._pending.delete(this._pending.keys().next().value);
      }
      out.push(record);
    }
    this.shown += out.length;
    if (this._catchingUp !== null) this._catchingUp += out.length;
    return out;
  }

  _remember(key) {
    if (key === null) return;
    this._recent.set(key, null);
    if (this._recent.size > this._recentKeys) this._recent.delete(this._recent.keys().next().value);
  }
}
