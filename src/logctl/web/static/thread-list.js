// The thread page's log list, virtualised: only the rows on screen (and a few around them)
// are in the DOM, whatever the number of records held. Each row is placed at its line in
// the ThreadView's layout; a spacer gives the scroll area its full height and width.
// Stored text reaches the DOM only as text nodes (textContent), after visible().

import { visible } from "./common.js";
import { Marker } from "./merge.js";
import { formatTime, MAX_TAG_WIDTH, tagColour } from "./thread-format.js";
import { entryText } from "./thread-view.js";

/** Pixels of one line; the CSS (thread.css, .log) says the same. */
export const LINE_HEIGHT = 18;
/** Rows drawn above and below the screen. */
const OVERSCAN = 8;
/** Characters of one record drawn in the list; the detail panel shows all of it. */
export const DRAW_LIMIT = 4000;

export class LogList {
  constructor(container, view, { onUserScroll = () => {}, onOpen = () => {}, onSelect = () => {} } = {}) {
    this.container = container;
    this.view = view;
    this.onUserScroll = onUserScroll;
    this.onOpen = onOpen;
    this.onSelect = onSelect;
    this.timeMode = "local";
    this.origin = null;
    /** Characters of the thread column (0: one thread, no column). */
    this.tagColumns = 0;
    this.space = document.createElement("div");
    this.space.className = "log-space";
    this.rows = document.createElement("div");
    this.rows.className = "log-rows";
    container.replaceChildren(this.space, this.rows);
    this.charWidth = measureChar(container);
    this._frame = 0;
    this._autoTop = null;
    /** How many rows the last render put in the DOM, and when the first were (the benchmark reads both). */
    this.drawn = 0;
    this.firstRowsAt = null;
    container.addEventListener("scroll", () => this._scrolled(), { passive: true });
    this.rows.addEventListener("click", (event) => this._clicked(event, false));
    this.rows.addEventListener("dblclick", (event) => this._clicked(event, true));
    new ResizeObserver(() => this.relayout()).observe(container);
  }

  /** Draw on the next frame (many changes in one frame cost one render). */
  invalidate() {
    if (!this._frame) this._frame = requestAnimationFrame(() => this.render());
  }

  /** The message column's width changed (resize, wrap, time mode): lay out again. */
  relayout() {
    const prefix = this._prefixChars();
    const columns = Math.max(10, Math.floor((this.container.clientWidth - 24) / this.charWidth) - prefix);
    this.view.setLayout({ columns });
    this.invalidate();
  }

  /** Keep the same rows on screen after ``lines`` were added (or, negative, removed) above them. */
  shiftBy(lines) {
    if (lines) this.container.scrollTop += lines * LINE_HEIGHT;
  }

  /** Scroll so that the visible position is on screen (``center``: in the middle). */
  reveal(position, center = false) {
    const [start, count] = this.view.span(position);
    const top = start * LINE_HEIGHT;
    const bottom = (start + count) * LINE_HEIGHT;
    const c = this.container;
    if (center) c.scrollTop = Math.max(0, top - c.clientHeight / 2);
    else if (top < c.scrollTop) c.scrollTop = top;
    else if (bottom > c.scrollTop + c.clientHeight) c.scrollTop = bottom - c.clientHeight;
    this.invalidate();
  }

  /** Screen rows that fit in the list. */
  get pageLines() {
    return Math.max(1, Math.floor(this.container.clientHeight / LINE_HEIGHT) - 1);
  }

  /** The visible position at the top of the screen. */
  get topPosition() {
    return this.view.locate(Math.floor(this.container.scrollTop / LINE_HEIGHT));
  }

  render() {
    this._frame = 0;
    const view = this.view;
    const c = this.container;
    const prefix = this._prefixChars();
    c.style.setProperty("--time-columns", String(prefix - 8 - this._tagSpace()));
    c.style.setProperty("--tag-columns", String(this.tagColumns));
    c.classList.toggle("wrap", view.wrap);
    this.space.style.height = `${view.totalLines * LINE_HEIGHT + 8}px`;
    this.space.style.width = view.wrap ? "1px" : `${(prefix + Math.min(view.widest, DRAW_LIMIT)) * this.charWidth + 24}px`;
    if (view.follow) {
      const bottom = Math.max(0, c.scrollHeight - c.clientHeight);
      if (c.scrollTop !== bottom) {
        c.scrollTop = bottom;
        this._autoTop = c.scrollTop;
      }
    }
    const rows = [];
    const measure = [];
    if (view.visible.length) {
      const first = view.locate(Math.floor(c.scrollTop / LINE_HEIGHT));
      const last = view.locate(Math.ceil((c.scrollTop + c.clientHeight) / LINE_HEIGHT));
      const from = Math.max(0, first - OVERSCAN);
      const to = Math.min(view.visible.length - 1, last + OVERSCAN);
      for (let position = from; position <= to; position++) {
        const entry = view.visible[position];
        const [start, count] = view.span(position);
        const row = this._row(entry, position, prefix);
        row.style.transform = `translateY(${start * LINE_HEIGHT}px)`;
        if (!view.wrap) row.style.height = `${count * LINE_HEIGHT}px`;
        else measure.push([row, entry, count]);
        rows.push(row);
      }
    }
    this.rows.replaceChildren(...rows);
    this.drawn = rows.length;
    if (rows.length && this.firstRowsAt === null) this.firstRowsAt = performance.now();
    if (measure.length) {
      const wrong = [];
      for (const [row, entry, count] of measure) {
        const lines = Math.max(1, Math.round(row.offsetHeight / LINE_HEIGHT));
        if (lines !== count) wrong.push([entry, lines]);
      }
      if (view.measured(wrong)) this.invalidate();
      else for (const [row, , count] of measure) row.style.height = `${count * LINE_HEIGHT}px`;
    }
  }

  _row(entry, position, prefix) {
    const row = document.createElement("div");
    const marker = entry instanceof Marker;
    const pending = !marker && (entry.cursor === null || entry.cursor === undefined);
    const warning = marker && entry.level === "WARN"; // a thread left out (thread_unreadable)
    row.className = `row lvl-${marker ? "MARKER" : entry.level}${warning ? " warning" : ""}${pending ? " pending" : ""}${position === this.view.selected ? " selected" : ""}`;
    row.dataset.position = String(position);
    const time = document.createElement("span");
    time.className = "t";
    time.textContent = formatTime(entry.created_at, this.timeMode, this.origin);
    row.append(time);
    if (this.tagColumns) {
      const tag = document.createElement("span");
      const thread = marker ? "" : entry.thread_id;
      tag.className = `th tag-${tagColour(thread)}`;
      tag.textContent = visible(thread);
      tag.title = tag.textContent;
      row.append(tag);
    }
    const level = document.createElement("span");
    level.className = "l";
    level.textContent = marker ? (warning ? "WARN" : "") : entry.level + (pending ? "~" : "");
    const message = document.createElement("span");
    message.className = "m";
    this._text(message, entryText(entry), marker);
    row.append(level, message);
    return row;
  }

  /** Fill ``node`` with the text, search matches as <mark> elements: text nodes only, never markup. */
  _text(node, raw, marker) {
    let text = visible(raw);
    let rest = 0;
    if (text.length > DRAW_LIMIT) {
      rest = text.length - DRAW_LIMIT;
      text = text.slice(0, DRAW_LIMIT);
    }
    const search = this.view.search;
    if (search === null || marker) {
      node.textContent = text;
    } else {
      const global = new RegExp(search.source, search.flags.includes("g") ? search.flags : search.flags + "g");
      let at = 0;
      for (const match of text.matchAll(global)) {
        if (match[0] === "") continue;
        if (match.index > at) node.append(text.slice(at, match.index));
        const mark = document.createElement("mark");
        mark.textContent = match[0];
        node.append(mark);
        at = match.index + match[0].length;
      }
      if (at < text.length) node.append(text.slice(at));
    }
    if (rest) {
      const more = document.createElement("span");
      more.className = "more";
      more.textContent = ` … ${rest} more characters (Enter shows all)`;
      node.append(more);
    }
  }

  _prefixChars() {
    return (this.timeMode === "relative" ? 14 : 23) + 1 + 7 + this._tagSpace();
  }

  _tagSpace() {
    return this.tagColumns ? Math.min(this.tagColumns, MAX_TAG_WIDTH) + 1 : 0;
  }

  _scrolled() {
    const c = this.container;
    if (this._autoTop !== null && Math.abs(c.scrollTop - this._autoTop) < 1) {
      this._autoTop = null;
    } else {
      this._autoTop = null;
      const atBottom = c.scrollTop + c.clientHeight >= c.scrollHeight - 2;
      this.onUserScroll(atBottom, c.scrollTop);
    }
    this.invalidate();
  }

  _clicked(event, open) {
    const row = event.target.closest(".row");
    if (!row) return;
    const position = Number(row.dataset.position);
    this.onSelect(position);
    if (open) this.onOpen(position);
  }
}

function measureChar(container) {
  const probe = document.createElement("span");
  probe.className = "probe";
  probe.textContent = "x".repeat(100);
  container.append(probe);
  const width = probe.getBoundingClientRect().width / 100 || 7.8;
  probe.remove();
  return width;
}
