// hotline QA: search recordings (GET /api/v1/recordings), play them
// through short-lived signed links (POST /api/v1/recordings/{id}/link; an
// <audio> element cannot send the API token), show the call's timeline.
// Deep links: /qa#token=T&business_type=card&agent=1003&play=CALL_ID.
"use strict";
const $ = (sel) => document.querySelector(sel);
const hashParams = new URLSearchParams(location.hash.slice(1));
let token = hashParams.get("token") || sessionStorage.getItem("hotline-token") || "";
if (hashParams.has("token")) {
  // Keep the token out of the browser's history and of copied links.
  sessionStorage.setItem("hotline-token", token);
  hashParams.delete("token");
  history.replaceState(null, "", location.pathname + location.search + (hashParams.size ? "#" + hashParams : ""));
}
let nextCursor = null;
let lastQuery = null;

function status(text, isError) {
  const s = $("#status");
  s.textContent = text;
  s.className = isError ? "error" : "";
}

async function api(method, path) {
  const res = await fetch(path, { method, headers: { Authorization: "Bearer " + token } });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) {
    throw new Error(body.error || res.status + " " + res.statusText);
  }
  return body;
}

function cell(tr, text) {
  const td = document.createElement("td");
  td.textContent = text == null ? "" : text;
  tr.appendChild(td);
  return td;
}

function button(td, label, action) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = label;
  b.addEventListener("click", action);
  td.appendChild(b);
}

function render(recordings, append) {
  const body = $("#results tbody");
  if (!append) body.textContent = "";
  for (const r of recordings) {
    const tr = document.createElement("tr");
    tr.dataset.callId = r.call_id;
    cell(tr, new Date(r.start).toLocaleString());
    cell(tr, r.caller);
    cell(tr, r.agent_id);
    cell(tr, r.queue);
    cell(tr, r.business_type);
    cell(tr, Math.round(r.talk_seconds) + " s");
    cell(tr, r.disposition);
    cell(tr, r.survey_score);
    const actions = cell(tr, "");
    button(actions, "Play", () => play(r, ""));
    button(actions, "Talk only", () => play(r, "talk"));
    body.appendChild(tr);
  }
  $("#results").hidden = body.children.length === 0;
}

async function search(query, append) {
  const params = new URLSearchParams(query);
  if (append && nextCursor) params.set("cursor", nextCursor);
  try {
    const out = await api("GET", "/api/v1/recordings?" + params);
    nextCursor = out.next_cursor || null;
    render(out.recordings || [], append);
    $("#more").hidden = !nextCursor;
    const n = $("#results tbody").children.length;
    status(n === 0 ? "No recordings match." : n + " recording" + (n === 1 ? "" : "s") + ".");
  } catch (e) {
    status("Search failed: " + e.message, true);
  }
}

async function play(r, stage) {
  try {
    const link = await api("POST", "/api/v1/recordings/" + encodeURIComponent(r.call_id) + "/link" + (stage ? "?stage=" + encodeURIComponent(stage) : ""));
    const audio = $("#audio");
    audio.src = link.url;
    $("#player").hidden = false;
    $("#playing").textContent = r.call_id + (stage ? " (" + stage + ")" : "");
    for (const tr of document.querySelectorAll("#results tr")) {
      tr.classList.toggle("selected", tr.dataset.callId === r.call_id);
    }
    audio.play().catch(() => {}); // a browser may want a click first
    await timeline(r.call_id);
  } catch (e) {
    status("Cannot play " + r.call_id + ": " + e.message, true);
  }
}

async function timeline(callID) {
  const list = $("#timeline");
  list.textContent = "";
  const t = await api("GET", "/api/v1/calls/" + encodeURIComponent(callID) + "/timeline");
  for (const s of t.stages || []) {
    const li = document.createElement("li");
    if (s.parent) li.className = "nested";
    const who = [s.agent_id, s.queue, s.detail].filter(Boolean).join(", ");
    li.textContent = s.stage + (who ? " (" + who + ")" : "") + ": " + s.duration_seconds.toFixed(1) + " s" + (s.result ? ", " + s.result : "");
    list.appendChild(li);
  }
}

function formQuery() {
  const q = {};
  for (const [k, v] of new FormData($("#search"))) {
    if (v === "") continue;
    if (k === "from" || k === "to") q[k] = new Date(v).toISOString();
    else if (k === "min_talk") q[k] = v + "s";
    else q[k] = v;
  }
  return q;
}

$("#login").addEventListener("submit", (e) => {
  e.preventDefault();
  token = $("#token").value;
  sessionStorage.setItem("hotline-token", token);
  $("#who").textContent = "token set";
});
$("#search").addEventListener("submit", (e) => {
  e.preventDefault();
  lastQuery = formQuery();
  search(lastQuery, false);
});
$("#more").addEventListener("click", () => search(lastQuery, true));

// A deep link fills the form, searches, and may open one call.
(async () => {
  if (!token) {
    status("Enter an API token (admin, supervisor, qa, or an agent's for their own calls).");
    return;
  }
  $("#who").textContent = "token set";
  const form = $("#search");
  for (const [k, v] of hashParams) {
    if (form.elements[k] && k !== "from" && k !== "to") form.elements[k].value = v;
  }
  lastQuery = formQuery();
  await search(lastQuery, false);
  const id = hashParams.get("play");
  if (id) {
    await play({ call_id: id }, hashParams.get("stage") || "");
  }
})();
