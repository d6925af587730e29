// The thread page (GET /runs/{thread_id}), first version: the latest 1,000 records from the
// history API, then the live stream subscribed from the history's cursor, no gap and no
// duplicate; after a disconnect it resubscribes from the last cursor it showed.

import {el, getJSON, HubError, visible, websocketUrl} from "/static/common.js";

const threadId = decodeURIComponent(location.pathname.slice("/runs/".length));
const log = document.getElementById("log");
const state = document.getElementById("connection");
const notice = document.getElementById("notice");
let cursor = null;

document.getElementById("thread").textContent = visible(threadId);
document.title = `logctl: ${visible(threadId)}`;

function setState(kind, text) {
  state.className = `state ${kind}`;
  state.textContent = text;
}

function append(records) {
  const items = records.map((record) => el("li", {className: `level-${record.level}`, "data-cursor": record.cursor},
    el("span", {className: "time"}, record.created_at || ""),
    el("span", {className: "level"}, record.level),
    el("span", {className: "message"}, visible(record.message)),
  ));
  log.append(...items);
  if (records.length) cursor = records[records.length - 1].cursor;
}

function subscribe() {
  const socket = new WebSocket(websocketUrl());
  socket.addEventListener("open", () => {
    setState("ok", "live");
    socket.send(JSON.stringify({type: "subscribe", thread_id: threadId, cursor}));
  });
  socket.addEventListener("message", (event) => {
    const frame = JSON.parse(event.data);
    if (frame.type === "records" && !frame.pending) append(frame.records);
    else if (frame.type === "error") setState("bad", `error: ${visible(frame.message)}`);
  });
  socket.addEventListener("close", () => {
    setState("bad", "reconnecting…");
    setTimeout(subscribe, 1000);
  });
}

async function start() {
  try {
    const page = await getJSON(`/admin/runs/${encodeURIComponent(threadId)}/logs?limit=1000`);
    append(page.logs);
    cursor = page.cursor;
  } catch (error) {
    notice.hidden = false;
    notice.classList.add("error");
    notice.textContent = error instanceof HubError ? `the hub answered ${error.status}: ${visible(error.message)}` : "cannot reach the hub";
    setState("bad", "no history");
    return;
  }
  subscribe();
}

start();
