// edge-detect page: upload, live job list (server-sent events, polling fallback), result view.
// Every value from the server is put in the page as text (textContent), never as HTML.
"use strict";

const $ = (id) => document.getElementById(id);
const ACTIVE = new Set(["queued", "running", "cancelling"]);
const jobs = new Map();      // id -> job record
const watchers = new Map();  // id -> EventSource or interval id
let current = null;          // job id shown in the result view

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v; else if (v !== null && v !== undefined) e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

function svgEl(tag, attrs) {
  const e = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  return e;
}

function verdictClass(v) { return "badge v-" + String(v || "").replace(/[^A-Z_]/g, ""); }
function fmt(x, d = 3) { return x === null || x === undefined ? "–" : Number(x).toFixed(d); }
function fileUrl(id, name, download) {
  return `/api/jobs/${encodeURIComponent(id)}/files/${encodeURIComponent(name)}` + (download ? "?download=1" : "");
}
function eta(s) {
  if (s === null || s === undefined) return "";
  s = Math.round(s);
  return s >= 60 ? `${Math.floor(s / 60)} min ${s % 60} s left` : `${s} s left`;
}

async function api(path, opts = {}) {
  const r = await fetch(path, Object.assign({ credentials: "same-origin" }, opts));
  if (r.status === 401) { $("auth").hidden = false; throw new Error("token needed"); }
  let body = null;
  try { body = await r.json(); } catch (e) { body = null; }
  if (!r.ok) throw new Error((body && body.error) || `HTTP ${r.status}`);
  return body;
}

// ---- upload ----------------------------------------------------------------------------------
function upload(file) {
  return new Promise((resolve, reject) => {
    const form = new FormData();
    form.append("file", file, file.name);
    if ($("model").value) form.append("model", $("model").value);
    if ($("threshold").value !== "") form.append("threshold", $("threshold").value);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/jobs");
    xhr.upload.onprogress = (ev) => {
      if (ev.lengthComputable) say(`Uploading ${file.name}: ${Math.round(100 * ev.loaded / ev.total)} %`);
    };
    xhr.onload = () => {
      let body = null;
      try { body = JSON.parse(xhr.responseText); } catch (e) { body = null; }
      if (xhr.status === 401) $("auth").hidden = false;
      if (xhr.status >= 200 && xhr.status < 300) resolve(body);
      else reject(new Error(`${file.name}: ${(body && body.error) || "HTTP " + xhr.status}`));
    };
    xhr.onerror = () => reject(new Error(`${file.name}: the upload failed (connection)`));
    xhr.send(form);
  });
}

function say(text, isError) {
  const m = $("upload-msg");
  m.textContent = text;
  m.classList.toggle("err", !!isError);
}

async function uploadAll(files) {
  const errors = [];
  for (const f of files) {
    try {
      const job = await upload(f);
      jobs.set(job.id, job);
      renderJobs();
      watch(job.id);
    } catch (e) { errors.push(e.message); }
  }
  say(errors.length ? errors.join("; ") : `${files.length} file(s) queued.`, errors.length > 0);
  $("files").value = "";
}

function setupUpload() {
  const drop = $("drop");
  $("files").addEventListener("change", () => { if ($("files").files.length) uploadAll([...$("files").files]); });
  for (const t of ["dragenter", "dragover"]) drop.addEventListener(t, (e) => { e.preventDefault(); drop.classList.add("over"); });
  for (const t of ["dragleave", "drop"]) drop.addEventListener(t, () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    if (e.dataTransfer && e.dataTransfer.files.length) uploadAll([...e.dataTransfer.files]);
  });
  $("auth-form").addEventListener("submit", (e) => {
    e.preventDefault();
    document.cookie = `edge_detect_token=${encodeURIComponent($("token").value)}; path=/; SameSite=Strict`;
    $("auth").hidden = true;
    start();
  });
}

// ---- live progress -----------------------------------------------------------------------------
function update(job) {
  if (!job || !job.id) return;
  if (job.status === "deleted") { jobs.delete(job.id); stopWatch(job.id); }
  else jobs.set(job.id, Object.assign(jobs.get(job.id) || {}, job));
  renderJobs();
  if (job.id === current) showResult(job.id);
}

function stopWatch(id) {
  const w = watchers.get(id);
  if (w === undefined) return;
  if (typeof w === "object") w.close(); else clearInterval(w);
  watchers.delete(id);
}

function poll(id) {
  stopWatch(id);
  const timer = setInterval(async () => {
    try {
      const job = await api(`/api/jobs/${id}`);
      update(job);
      if (!ACTIVE.has(job.status)) stopWatch(id);
    } catch (e) { stopWatch(id); }
  }, 1000);
  watchers.set(id, timer);
}

function watch(id) {
  if (watchers.has(id)) return;
  if (!window.EventSource) { poll(id); return; }
  const es = new EventSource(`/api/jobs/${encodeURIComponent(id)}/events`);
  watchers.set(id, es);
  es.addEventListener("progress", (ev) => update(JSON.parse(ev.data)));
  es.addEventListener("end", (ev) => { stopWatch(id); update(JSON.parse(ev.data)); });
  es.onerror = () => { if (es.readyState === EventSource.CLOSED || !ACTIVE.has((jobs.get(id) || {}).status)) { stopWatch(id); } else { poll(id); } };
}

// ---- job list ------------------------------------------------------------------------------------
function jobMeta(j) {
  const p = j.progress || {};
  if (j.status === "running" || j.status === "cancelling") {
    const total = p.total ? ` of ${p.total}` : "";
    const fps = p.fps ? `, ${p.fps.toFixed(1)} FPS` : "";
    const left = p.eta_s !== null && p.eta_s !== undefined ? `, ${eta(p.eta_s)}` : "";
    return `${j.status}: frame ${p.frames}${total}${fps}${left}`;
  }
  if (j.status === "done") return `done: ${p.frames} frames, ${j.options.model}`;
  if (j.status === "failed" || j.status === "cancelled") return `${j.status}: ${j.error || ""}`;
  return `${j.status} (${j.options.model})`;
}

function renderJobs() {
  const list = $("job-list");
  const items = [...jobs.values()].sort((a, b) => b.created - a.created);
  $("jobs-empty").hidden = items.length > 0;
  list.replaceChildren(...items.map((j) => {
    const li = el("li", { class: "job", "data-id": j.id, "data-status": j.status });
    const name = el("a", { class: "name", href: `#/jobs/${j.id}` }, j.filename);
    const actions = el("span", { class: "actions" });
    if (j.verdict) actions.append(el("span", { class: verdictClass(j.verdict) }, j.verdict));
    const btn = el("button", { type: "button", "aria-label": `${ACTIVE.has(j.status) ? "Cancel" : "Delete"} ${j.filename}` },
      ACTIVE.has(j.status) ? "Cancel" : "Delete");
    btn.addEventListener("click", () => removeJob(j.id));
    actions.append(btn);
    li.append(name, actions, el("span", { class: "meta" }, jobMeta(j)));
    if (ACTIVE.has(j.status)) {
      const p = j.progress || {};
      const bar = el("progress", { max: p.total || 1, "aria-label": `progress of ${j.filename}` });
      if (p.total) bar.value = Math.min(p.frames, p.total); else bar.removeAttribute("value");
      li.append(bar);
    }
    return li;
  }));
}

async function removeJob(id) {
  try {
    const r = await api(`/api/jobs/${id}`, { method: "DELETE" });
    if (r.status === "deleted") { jobs.delete(id); stopWatch(id); if (current === id) location.hash = "#/"; }
    else update(Object.assign(jobs.get(id) || {}, { status: r.status, id }));
    renderJobs();
  } catch (e) { say(e.message, true); }
}

// ---- result view --------------------------------------------------------------------------------
function route() {
  const m = location.hash.match(/^#\/jobs\/([0-9a-f]{32})$/);
  current = m ? m[1] : null;
  $("result").hidden = !current;
  $("upload").hidden = !!current;
  $("jobs").hidden = !!current;
  if (current) { $("result-body").hidden = true; showResult(current, true); }
}

async function showResult(id, fetchIt) {
  let job = jobs.get(id);
  if (fetchIt || (job && job.status === "done" && !job.summary)) {
    try { job = await api(`/api/jobs/${id}`); jobs.set(id, job); } catch (e) {
      $("banner").textContent = e.message; return;
    }
  }
  if (!job || id !== current) return;
  $("result-h").textContent = job.filename;
  const banner = $("banner");
  if (job.status !== "done") {
    banner.className = "banner " + verdictClass("");
    banner.replaceChildren(el("div", { class: "verdict" }, job.status === "failed" ? "Failed" : job.status === "cancelled" ? "Cancelled" : "Working…"));
    $("result-status").textContent = jobMeta(job);
    $("result-body").hidden = true;
    if (ACTIVE.has(job.status)) watch(id);
    return;
  }
  if ($("result-body").dataset.job === id && !$("result-body").hidden) return;  // already drawn
  renderResult(job);
}

function renderResult(job) {
  const s = job.summary || {};
  const banner = $("banner");
  banner.className = "banner " + verdictClass(s.verdict);
  const band = s.threshold_real !== null && s.threshold_real !== undefined;
  const rule = band ? `REAL below ${fmt(s.threshold_real, 2)}, UNCERTAIN in between, FAKE at or above ${fmt(s.threshold_fake, 2)}`
    : `FAKE at or above ${fmt(s.threshold, 2)}`;
  const why = s.verdict === "NO_FACE" ? "No face was found, so there is no verdict."
    : `${s.aggregation} P_fake ${fmt(s.score)}; ${rule}` +
      (s.verdict === "UNCERTAIN" ? "; neither call reached the model's precision target on validation: check by eye" : "") +
      (s.verdict === "FAKE" && s.top_method ? `; most likely method: ${methodName(s.top_method)}` : "");
  banner.replaceChildren(el("div", { class: "verdict", id: "verdict" }, s.verdict || "?"), el("div", { class: "why" }, why));
  $("result-status").textContent = `model ${job.options.model}; ${(s.frames || {}).read} frames read, ${(s.frames || {}).analysed} analysed, ${(s.frames || {}).with_faces} with faces; ${fmt((s.speed || {}).fps, 1)} FPS`;
  const numbers = {
    "mean P_fake": fmt(s.mean_p_fake), "median P_fake": fmt(s.median_p_fake),
    "frames judged FAKE": s.fake_frame_fraction === null || s.fake_frame_fraction === undefined ? "–" : `${(100 * s.fake_frame_fraction).toFixed(1)} %`,
    "faces classified": (s.frames || {}).faces_classified, "top method": s.top_method || "–",
    "model": ((s.model || {}).contract || {}).model_name || job.options.model,
  };
  $("numbers").replaceChildren(...Object.entries(numbers).map(([k, v]) => el("div", {}, el("dt", {}, k), el("dd", {}, v))));
  const files = job.files || [];
  const video = files.find((f) => /^annotated\.(webm|mp4|avi)$/.test(f));
  const image = files.find((f) => f === "annotated.jpg");
  const labels = { "frames.csv": "frames.csv", "summary.json": "summary.json", "report.html": "report.html" };
  if (video) labels[video] = `video (${video})`;
  if (image) labels[image] = "annotated image";
  $("downloads").replaceChildren(...Object.entries(labels).filter(([f]) => files.includes(f)).map(([f, label]) =>
    el("li", {}, el("a", { href: fileUrl(job.id, f, true), download: f, id: "dl-" + f.replace(/\W/g, "-") }, label))));
  const v = $("video");
  v.hidden = !video; $("video-h").hidden = !video && !image;
  if (video) { v.src = fileUrl(job.id, video); } else { v.removeAttribute("src"); }
  const img = $("annotated-image");
  img.hidden = !image;
  if (image) img.src = fileUrl(job.id, image);
  const tbody = $("tracks").querySelector("tbody");
  tbody.replaceChildren(...(s.tracks || []).map((t) => el("tr", {}, el("td", {}, t.track), el("td", {}, t.faces),
    el("td", {}, fmt(t.mean_p_fake)), el("td", {}, el("span", { class: verdictClass(t.verdict) }, t.verdict)))));
  $("warnings").textContent = (s.warnings || []).join(" ");
  $("timeline").replaceChildren();
  $("thumbs").replaceChildren();
  drawExplained(job.id, s, files);
  if (files.includes("timeline.json")) {
    api(fileUrl(job.id, "timeline.json")).then((t) => { drawTimeline(t); drawThumbs(job.id, t); }).catch(() => {});
  }
  $("result-body").dataset.job = job.id;
  $("result-body").hidden = false;
}

function drawTimeline(t) {
  const W = 800, H = 220, L = 40, R = 24, T = 10, B = 28;
  const pts = t.points || [];
  const end = Math.max(...pts.map((p) => p[1]), t.fps && t.frame_count ? t.frame_count / t.fps : 0, 0.001);
  const x = (s) => L + (W - L - R) * s / end, y = (p) => T + (H - T - B) * (1 - p);
  const svg = svgEl("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": "P_fake per analysed frame over time" });
  svg.append(svgEl("line", { x1: L, y1: y(0), x2: W - R, y2: y(0), class: "axis" }), svgEl("line", { x1: L, y1: y(0), x2: L, y2: y(1), class: "axis" }));
  for (const v of [0, 0.5, 1]) { const tx = svgEl("text", { x: L - 6, y: y(v) + 4, "text-anchor": "end" }); tx.textContent = v; svg.append(tx); }
  for (let i = 0; i <= 4; i++) { const s = end * i / 4; const tx = svgEl("text", { x: x(s), y: H - 8, "text-anchor": "middle" }); tx.textContent = s.toFixed(s < 10 ? 1 : 0) + " s"; svg.append(tx); }
  const cuts = t.band ? t.band : (t.threshold !== null && t.threshold !== undefined ? [t.threshold] : []);
  for (const c of cuts) svg.append(svgEl("line", { x1: L, y1: y(c), x2: W - R, y2: y(c), class: "thr" }));
  const segs = [];
  let seg = [];
  for (const p of pts) {  // the trace breaks where the face disappears
    if (p[2] === null) { if (seg.length) segs.push(seg); seg = []; } else seg.push(`${x(p[1]).toFixed(1)},${y(p[2]).toFixed(1)}`);
  }
  if (seg.length) segs.push(seg);
  for (const sg of segs) svg.append(svgEl("polyline", { points: sg.join(" "), fill: "none", stroke: "#9aa5b1", "stroke-width": 1.2 }));
  for (const p of pts) {
    if (p[2] === null) continue;
    const c = svgEl("circle", { cx: x(p[1]).toFixed(1), cy: y(p[2]).toFixed(1), r: pts.length > 300 ? 1.8 : 3, fill: p[3] === "FAKE" ? "#c62828" : p[3] === "UNCERTAIN" ? "#a15c00" : "#2e7d32" });
    const tip = svgEl("title", {}); tip.textContent = `frame ${p[0]}, ${p[1]} s, P_fake ${p[2]}`; c.append(tip);
    svg.append(c);
  }
  $("timeline").replaceChildren(svg);
}

// Pseudo-fake classes say what they found, not a method (as the CLI and the report do).
function methodName(m) { return m === "SelfBlended" ? "blending traces (method unknown)" : m; }

function drawExplained(id, s, files) {
  const faces = ((s.explain || {}).faces || []).filter((f) => files.includes(f.overlay));
  $("explain-h").hidden = $("explain").hidden = $("explain-note").hidden = !faces.length;
  $("explain").replaceChildren(...faces.map((f) => el("figure", {},
    el("img", { src: fileUrl(id, f.overlay), alt: `occlusion map of face ${f.face} in frame ${f.frame}`, loading: "lazy" }),
    el("figcaption", {}, `frame ${f.frame} · ${Number(f.time_s).toFixed(2)} s · face ${f.face} · P_fake ${fmt(f.p_fake)} · largest drop ${fmt(f.peak_drop)}`))));
}

function drawThumbs(id, t) {
  const items = (t.thumbnails || []).map((th, i) => el("figure", {},
    el("img", { src: fileUrl(id, th.file), alt: `frame ${th.frame}, P_fake ${fmt(th.p_fake)}`, loading: "lazy" }),
    el("figcaption", {}, `#${i + 1} · frame ${th.frame} · ${Number(th.time_s).toFixed(2)} s · P_fake ${fmt(th.p_fake)}` + (th.fake ? ` · ${methodName(th.method)}` : ""))));
  $("thumbs").replaceChildren(...(items.length ? items : [el("p", { class: "muted" }, "No face was analysed.")]));
}

// ---- start ------------------------------------------------------------------------------------------
async function start() {
  try {
    const models = await api("/api/models");
    $("model").replaceChildren(...models.map((m) => el("option", { value: m.name },
      m.name + (m.default ? " (default)" : "") + (m.frame_auc ? ` – AUC ${fmt(m.frame_auc)}` : ""))));
    const list = await api("/api/jobs?limit=200");
    for (const j of list.jobs) { jobs.set(j.id, j); if (ACTIVE.has(j.status)) watch(j.id); }
    renderJobs();
    route();
  } catch (e) { say(e.message, true); }
}

window.addEventListener("hashchange", route);
document.addEventListener("DOMContentLoaded", () => { setupUpload(); start(); });
