// The thread page's view model, as logctl.core.view is the terminal viewer's: which entries
// are held and which are visible, how many screen lines each takes, the search matches and
// ERROR records for n/N and e/E, the selection, follow with its "N new" counter, and the
// cap on records held. No DOM: thread-list.js draws it, thread.js feeds it.

import { Marker } from "./merge.js";

export const LEVELS = ["DEBUG", "INFO", "WARN", "ERROR"];

/** Position of a level in LEVELS (an unknown level ranks as INFO, as level_rank does). */
export function levelRank(level) {
  const i = LEVELS.indexOf(level);
  return i < 0 ? 1 : i;
}

/** A user's regex with smart case (all lower case ignores case), or null for ""; throws SyntaxError. */
export function compilePattern(text) {
  if (!text) return null;
  return new RegExp(text, text === text.toLowerCase() ? "i" : "");
}

/** The text an entry shows (a marker's text, a record's message). */
export function entryText(entry) {
  return entry instanceof Marker ? entry.text : entry.message;
}

/** The lines of an entry's text (a trailing newline makes no empty last line). */
export function messageLines(entry) {
  const text = entryText(entry);
  return text ? text.replace(/\n+$/, "").split("\n") : [""];
}

/** Which entries to show. Markers are always shown. */
export class Filter {
  constructor({ minLevel = "DEBUG", include = null, exclude = null } = {}) {
    this.minLevel = minLevel;
    this.include = include;
    this.exclude = exclude;
  }

  accepts(entry) {
    if (entry instanceof Marker) return true;
    if (this.minLevel !== "DEBUG" && levelRank(entry.level) < levelRank(this.minLevel)) return false;
    if (this.include !== null && !this.include.test(entry.message)) return false;
    return this.exclude === null || !this.exclude.test(entry.message);
  }
}

const LINES = Symbol("lines");
const COLUMNS = Symbol("columns");

export class ThreadView {
  constructor() {
    /** Every entry held, oldest first (filters hide, they never discard). */
    this.entries = [];
    /** The entries the filter accepts, in order. */
    this.visible = [];
    this.filter = new Filter();
    this.search = null;
    this.follow = true;
    this.newCount = 0;
    /** The selected position in visible (null: none). */
    this.selected = null;
    this.wrap = false;
    /** Characters that fit on one line of the message column (wrap only). */
    this.columns = 120;
    /** The widest line, in characters (no wrap: the width to scroll sideways). */
    this.widest = 0;
    this.records = 0;
    this._ends = [];
    this._matches = [];
    this._errors = [];
  }

  get totalLines() {
    return this._ends.length ? this._ends[this._ends.length - 1] : 0;
  }

  get matchCount() {
    return this._matches.length;
  }

  // -- content --------------------------------------------------------------------------

  /** Add entries at the end; return how many are visible. */
  append(entries) {
    const added = [];
    for (const entry of entries) {
      this.entries.push(entry);
      if (!(entry instanceof Marker)) this.records += 1;
      if (this.filter.accepts(entry)) added.push(entry);
    }
    this._extend(added);
    if (!this.follow) this.newCount += added.length;
    else if (this.visible.length) this.selected = this.visible.length - 1;
    return added.length;
  }

  /** Add older entries at the top; return the screen lines added above what was shown. */
  prepend(entries) {
    if (!entries.length) return 0;
    const lines = this.totalLines;
    const chosen = this.selectedEntry;
    this.entries = entries.concat(this.entries);
    for (const entry of entries) if (!(entry instanceof Marker)) this.records += 1;
    this._rebuild(chosen);
    return this.totalLines - lines;
  }

  /** Unload the oldest ``count`` entries; return them and the screen lines they took. */
  dropOldest(count) {
    const lines = this.totalLines;
    const chosen = this.selectedEntry;
    const gone = this.entries.slice(0, count);
    this.entries = this.entries.slice(count);
    for (const entry of gone) if (!(entry instanceof Marker)) this.records -= 1;
    this._rebuild(chosen);
    return { gone, lines: lines - this.totalLines };
  }

  setFilter(filter) {
    const chosen = this.selectedEntry;
    this.filter = filter;
    this._rebuild(chosen);
  }

  setSearch(pattern) {
    this.search = pattern;
    this._matches = [];
    if (pattern === null) return;
    this.visible.forEach((entry, position) => {
      if (this._isMatch(entry)) this._matches.push(position);
    });
  }

  /** Change wrap or the columns; true if lines moved. */
  setLayout({ wrap = this.wrap, columns = this.columns } = {}) {
    columns = Math.max(1, columns);
    const changed = wrap !== this.wrap || (wrap && columns !== this.columns);
    this.wrap = wrap;
    this.columns = columns;
    if (changed) this._relayout();
    return changed;
  }

  /** Rendered rows took other line counts than estimated ([entry, lines] pairs): lay out again. */
  measured(pairs) {
    if (!this.wrap || !pairs.length) return false;
    for (const [entry, lines] of pairs) {
      entry[LINES] = lines;
      entry[COLUMNS] = this.columns;
    }
    this._relayout();
    return true;
  }

  get selectedEntry() {
    return this.selected === null || !this.visible.length ? null : this.visible[Math.min(this.selected, this.visible.length - 1)];
  }

  // -- layout ---------------------------------------------------------------------------

  lineCount(entry) {
    if (this.wrap && entry[COLUMNS] === this.columns) return entry[LINES];
    const lines = messageLines(entry);
    if (!this.wrap) return lines.length;
    let count = 0;
    for (const line of lines) count += Math.max(1, Math.ceil(displayWidth(line) / this.columns));
    return count;
  }

  /** The visible position shown at screen line ``y`` (clamped into range), or null if none. */
  locate(y) {
    const ends = this._ends;
    if (!ends.length) return null;
    if (y <= 0) return 0;
    if (y >= ends[ends.length - 1]) return ends.length - 1;
    let lo = 0;
    let hi = ends.length; // first position whose end > y
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (ends[mid] > y) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  /** First line and line count of the visible entry at ``position``. */
  span(position) {
    const start = position ? this._ends[position - 1] : 0;
    return [start, this._ends[position] - start];
  }

  // -- navigation -----------------------------------------------------------------------

  pause() {
    if (this.follow) {
      this.follow = false;
      this.newCount = 0;
      if (this.selected === null && this.visible.length) this.selected = this.visible.length - 1;
    }
  }

  resume() {
    this.follow = true;
    this.newCount = 0;
    this.selected = this.visible.length ? this.visible.length - 1 : null;
  }

  /** Select a visible position (clamped); moving off the last entry pauses follow. */
  select(position) {
    if (!this.visible.length) {
      this.selected = null;
      return;
    }
    this.selected = Math.min(Math.max(position, 0), this.visible.length - 1);
    if (this.selected < this.visible.length - 1) this.pause();
  }

  nextMatch(forward = true) {
    return this._step(this._matches, forward);
  }

  nextError(forward = true) {
    return this._step(this._errors, forward);
  }

  // -- internals ------------------------------------------------------------------------

  _step(positions, forward) {
    if (!positions.length) return null;
    const here = this.selected !== null ? this.selected : this.visible.length - 1;
    let lo = 0;
    let hi = positions.length;
    while (lo < hi) { // first index whose position >= here (> here when forward)
      const mid = (lo + hi) >> 1;
      if (forward ? positions[mid] <= here : positions[mid] < here) lo = mid + 1;
      else hi = mid;
    }
    const i = forward ? lo : lo - 1;
    return positions[((i % positions.length) + positions.length) % positions.length];
  }

  _isMatch(entry) {
    return this.search !== null && !(entry instanceof Marker) && this.search.test(entry.message);
  }

  _extend(added) {
    let total = this.totalLines;
    let widest = this.widest;
    for (const entry of added) {
      const position = this.visible.length;
      const lines = messageLines(entry);
      for (const line of lines) if (line.length > widest) widest = line.length;
      total += this.wrap ? this.lineCount(entry) : lines.length;
      this._ends.push(total);
      this.visible.push(entry);
      if (!(entry instanceof Marker)) {
        if (entry.level === "ERROR") this._errors.push(position);
        if (this.search !== null && this.search.test(entry.message)) this._matches.push(position);
      }
    }
    this.widest = widest;
  }

  _rebuild(chosen) {
    this.visible = [];
    this._ends = [];
    this._matches = [];
    this._errors = [];
    this.widest = 0;
    this._extend(this.entries.filter((e) => this.filter.accepts(e)));
    if (!this.visible.length) this.selected = null;
    else if (this.follow || chosen === null) this.selected = this.visible.length - 1;
    else {
      const at = this.visible.indexOf(chosen);
      this.selected = at >= 0 ? at : nearestAfter(this.entries, this.visible, chosen);
    }
  }

  _relayout() {
    let total = 0;
    const ends = new Array(this.visible.length);
    for (let i = 0; i < this.visible.length; i++) {
      total += this.lineCount(this.visible[i]);
      ends[i] = total;
    }
    this._ends = ends;
  }
}

/** Where a hidden entry would be: the first visible one after it (else the last). */
function nearestAfter(entries, visible, chosen) {
  const at = entries.indexOf(chosen);
  if (at < 0) return visible.length - 1;
  const shown = new Set(visible);
  for (let i = at + 1; i < entries.length; i++) {
    if (shown.has(entries[i])) return visible.indexOf(entries[i]);
  }
  return visible.length - 1;
}

const WIDE = /[\u1100-\u115f\u2e80-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6]|[\ud83c-\ud83e][\udc00-\udfff]/g;

/** Columns a line takes in a monospace font: wide (CJK, emoji) characters count two. */
export function displayWidth(line) {
  let width = line.length;
  if (/[^\x00-\x7f]/.test(line)) {
    const wide = line.match(WIDE);
    if (wide) width += wide.length;
    width -= (line.match(/[\ud800-\udbff]/g) || []).length; // a surrogate pair is one character
  }
  return width;
}
