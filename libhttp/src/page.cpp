// GET P/: one self-contained page (no CDN, no build step): a live table of the jobs fed by the
// event stream, a selector filter, start and cancel buttons.
#include "admin_state.hpp"

namespace jobs::http::detail {

namespace {

constexpr std::string_view html = R"html(<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>jobs</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px system-ui,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.3em;margin:0 0 .6em}
#bar{display:flex;gap:.5em;align-items:center;margin-bottom:.8em}
#selector{width:28em;padding:.3em;font-family:monospace}
#status{color:#666}#error{color:#b00020;font-family:monospace}
table{border-collapse:collapse;width:100%}
th,td{border-bottom:1px solid #ddd;padding:.35em .5em;text-align:left;vertical-align:middle}
th{background:#f4f4f4}
td.id{font-family:monospace;font-weight:600}td.labels{font-family:monospace;color:#555}
.state{padding:.1em .5em;border-radius:.8em;font-size:.9em}
.s-running{background:#d7ecff}.s-canceling{background:#ffe9c7}.s-succeeded{background:#d8f5d8}
.s-failed{background:#ffd6d6}.s-canceled{background:#e4e4e4}.s-created{background:#f1f1f1}
progress{width:9em}td.err{color:#b00020;font-family:monospace;max-width:24em;overflow-wrap:anywhere}
button{padding:.2em .7em}
</style></head><body>
<h1>jobs</h1>
<div id="bar"><label for="selector">selector</label>
<input id="selector" placeholder="e.g. team=billing,tier in (batch)" autocomplete="off">
<button id="apply">filter</button><span id="status">connecting…</span></div>
<div id="error"></div>
<table><thead><tr><th>id</th><th>labels</th><th>state</th><th>progress</th><th>retries</th><th>age</th>
<th>last error</th><th></th></tr></thead><tbody id="rows"></tbody></table>
<script id="initial" type="application/json">/*INITIAL*/null</script>
<script>
"use strict";
const base = location.pathname.replace(/\/+$/, "");
const jobs = new Map();
let source = null;
const $ = (id) => document.getElementById(id);
function text(tag, cls, s) { const e = document.createElement(tag); if (cls) e.className = cls; e.textContent = s; return e; }
function age(started) {
  if (!started) return "-";
  let s = Math.max(0, Math.floor((Date.now() - Date.parse(started)) / 1000));
  if (s < 120) return s + "s";
  if (s < 7200) return Math.floor(s / 60) + "m" + (s % 60) + "s";
  return Math.floor(s / 3600) + "h" + Math.floor((s % 3600) / 60) + "m";
}
async function post(path) {
  $("error").textContent = "";
  const r = await fetch(base + path, {method: "POST", headers: {"Content-Type": "application/json"}, body: ""});
  if (!r.ok) { const b = await r.json().catch(() => null); $("error").textContent = b && b.error ? b.error.message : r.status; }
}
function render() {
  const body = $("rows"), ids = [...jobs.keys()].sort();
  body.replaceChildren();
  for (const id of ids) {
    const j = jobs.get(id), tr = document.createElement("tr");
    tr.dataset.id = id; tr.dataset.state = j.state;
    tr.append(text("td", "id", id));
    tr.append(text("td", "labels", Object.entries(j.labels || {}).map(([k, v]) => k + "=" + v).join(",")));
    const st = document.createElement("td"); st.append(text("span", "state s-" + j.state, j.state)); tr.append(st);
    const pr = document.createElement("td"), bar = document.createElement("progress");
    bar.max = 1; if (j.progress >= 0) bar.value = j.progress; else bar.removeAttribute("value");
    pr.append(bar); if (j.progress >= 0) pr.append(" " + Math.round(j.progress * 100) + "%"); tr.append(pr);
    tr.append(text("td", "retries", j.executor ? String(j.executor.retries) : "-"));
    tr.append(text("td", "age", age(j.started_at)));
    tr.append(text("td", "err", j.error || ""));
    const act = document.createElement("td");
    const start = text("button", "start", "start"); start.onclick = () => post("/" + encodeURIComponent(id) + "/start");
    const cancel = text("button", "cancel", "cancel"); cancel.onclick = () => post("/" + encodeURIComponent(id) + "/cancel");
    act.append(start, " ", cancel); tr.append(act);
    body.append(tr);
  }
  $("status").textContent = jobs.size + " job(s)" + (source && source.readyState === 1 ? ", live" : "");
}
function update(j) { jobs.set(j.id, j); render(); }
async function connect() {
  const sel = $("selector").value.trim();
  const q = sel ? "?selector=" + encodeURIComponent(sel) : "";
  if (source) source.close();
  $("error").textContent = "";
  const r = await fetch(base + q);
  const b = await r.json().catch(() => null);
  if (!r.ok) { $("error").textContent = b && b.error ? b.error.message : "HTTP " + r.status; jobs.clear(); render(); return; }
  jobs.clear(); for (const j of b) jobs.set(j.id, j); render();
  source = new EventSource(base + "/events" + q);
  source.addEventListener("snapshot", (e) => { jobs.clear(); for (const j of JSON.parse(e.data)) jobs.set(j.id, j); render(); });
  source.addEventListener("job", (e) => update(JSON.parse(e.data)));
  source.addEventListener("end", (e) => update(JSON.parse(e.data)));
  source.onopen = render;
  source.onerror = () => { $("status").textContent = "reconnecting…"; };
}
$("apply").onclick = connect;
$("selector").addEventListener("keydown", (e) => { if (e.key === "Enter") connect(); });
const initial = new URLSearchParams(location.search).get("selector");
if (initial) $("selector").value = initial;
// The jobs as they were when the page was served: rendered at once, before any request.
const first = JSON.parse($("initial").textContent);
if (Array.isArray(first)) { for (const j of first) jobs.set(j.id, j); render(); }
setInterval(render, 5000);
connect();
</script></body></html>
)html";

}  // namespace

std::string_view page_html() { return html; }

}  // namespace jobs::http::detail
