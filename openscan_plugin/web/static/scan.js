// The scan-control page: every action is one POST; the state comes back as server-sent events
// (the daemon holds it, so a reload or a second browser shows the same scan).
"use strict";
const base = document.body.dataset.base;     // e.g. "/scan/"
const cloud = document.body.dataset.cloud;   // e.g. "/cloud/" (result files), or ""
const $ = (id) => document.getElementById(id);
const api = (path, body) => fetch(base + path, body === undefined ? {} : {
  method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
}).then(async (r) => {
  const data = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(data.error || r.statusText);
  return data;
});
const say = (text) => { $("message").textContent = text || ""; };
const act = (path, body) => api(path, body === undefined ? {} : body).then(() => say("")).catch((e) => say(e.message));
const minutes = (s) => (s >= 90 ? `${Math.floor(s / 60)} min ${Math.round(s % 60)} s` : `${Math.round(s)} s`);
let presets = {}, status = null, shownPhoto = null;

// -- scan settings and the planned path --------------------------------------------------------
function settings() {
  const out = { preset: $("preset").value, points: Number($("points").value), mode: $("mode").value,
    focus_stack: Number($("stack").value), upload: $("upload").checked };
  if (out.mode === "turntable") out.rings = $("rings").value.split(",").filter((r) => r.trim()).map(Number);
  if ($("rotor-min").value !== "" && $("rotor-max").value !== "")
    out.rotor_range = [Number($("rotor-min").value), Number($("rotor-max").value)];
  if ($("name").value.trim()) out.name = $("name").value.trim();
  return out;
}

function fillPreset() {
  const p = presets[$("preset").value];
  if (!p) return;
  $("points").value = p.points; $("mode").value = p.mode; $("stack").value = p.focus_stack;
  if (p.rings) $("rings").value = p.rings.join(", ");
  $("rings-label").hidden = p.mode !== "turntable";
}

function drawPath(plan) {
  // polar: turntable angle around, rotor elevation outwards from the top of the range
  const svg = $("path"), [lo, hi] = plan.rotor_range, span = Math.max(hi - lo, 1);
  const xy = ([rot, tt]) => {
    const r = 15 + 85 * (hi - rot) / span, a = (tt - 90) * Math.PI / 180;
    return [r * Math.cos(a), r * Math.sin(a)];
  };
  const ns = "http://www.w3.org/2000/svg", mk = (tag, attrs) => {
    const e = document.createElementNS(ns, tag);
    Object.entries(attrs).forEach(([k, v]) => e.setAttribute(k, v));
    return e;
  };
  const pts = plan.points.map(xy);
  svg.replaceChildren(mk("circle", { cx: 0, cy: 0, r: 100, class: "ring" }), mk("circle", { cx: 0, cy: 0, r: 15, class: "ring" }),
    mk("polyline", { points: pts.map((p) => p.join(",")).join(" "), class: "route" }),
    ...pts.map((p, i) => mk("circle", { cx: p[0], cy: p[1], r: i === 0 ? 4 : 2.5, class: i === 0 ? "point first" : "point",
      "data-index": i, "data-rotor": plan.points[i][0], "data-turntable": plan.points[i][1] })));
}

let planTimer = null;
function replan() {
  clearTimeout(planTimer);
  planTimer = setTimeout(() => api("api/plan", settings()).then((plan) => {
    drawPath(plan);
    $("plan-summary").textContent = `${plan.points.length} positions, ${plan.photos} photos, about ${minutes(plan.estimated_duration_s)}`;
    say("");
  }).catch((e) => { $("plan-summary").textContent = ""; say(e.message); }), 150);
}

// -- the live state ------------------------------------------------------------------------------
function render(s) {
  status = s;
  const busy = s.busy, scan = s.scan, running = scan && ["starting", "scanning", "pausing", "paused", "cancelling"].includes(scan.state);
  $("rotor-angle").textContent = s.angles.rotor.toFixed(1);
  $("turntable-angle").textContent = s.angles.turntable.toFixed(1);
  $("light").checked = s.light;
  document.querySelectorAll("#setup button, #light, #camera button, #camera input").forEach((b) => { b.disabled = busy && b.id !== "stop-motion"; });
  $("home").hidden = !s.can_home;
  $("start").disabled = busy;
  $("pause").disabled = !running || scan.state !== "scanning";
  $("resume").disabled = !running || !["paused", "pausing"].includes(scan.state);
  $("cancel").disabled = !running || scan.state === "cancelling";
  $("continue").hidden = !scan || !["cancelled", "failed", "interrupted"].includes(scan.state);
  $("continue").disabled = busy;
  $("scan-state").textContent = scan ? scan.state : s.state;
  $("scan-state").dataset.state = scan ? scan.state : s.state;
  if (!scan) return;
  $("scan-name").textContent = scan.name + (scan.source !== "web" ? ` (started ${scan.source === "earlier run" ? "before the rig restarted" : "by the " + scan.source})` : "");
  $("count").textContent = `${scan.done} of ${scan.total}`;
  $("eta").textContent = running && scan.eta_s != null ? `ETA ${minutes(scan.eta_s)}` : (scan.error || "");
  $("scan-bar").value = 100 * scan.done / Math.max(scan.total, 1);
  if (scan.photo && scan.photo !== shownPhoto) {
    shownPhoto = scan.photo;
    $("latest").src = `${base}api/photo/latest.jpg?w=320&photo=${encodeURIComponent(scan.photo)}`;
    $("latest").hidden = false;
    $("latest").dataset.photo = scan.photo;
  }
  renderResult(s);
}

function renderResult(s) {
  const scan = s.scan, u = s.upload;
  const show = scan.state === "complete";
  $("result").hidden = !show;
  if (!show) return;
  $("upload-cancel").hidden = !(u && u.active);
  $("upload-retry").hidden = !(u && u.state === "failed");
  $("upload-now").hidden = !!(u && u.state !== "cancelled") || !cloud;
  if (!u) {
    $("upload-status").textContent = scan.upload_error || "not uploaded (upload when finished was off)";
    $("upload-status").dataset.state = "not sent";
    $("upload-bar").value = 0;
    return;
  }
  $("upload-status").dataset.state = u.state;
  $("upload-bar").value = u.percent;
  const text = { queued: "queued for upload", uploading: `uploading ${(u.bytes_done / 1e6 || 0).toFixed(1)} of ${(u.size / 1e6).toFixed(1)} MB`,
    processing: `processing in the cloud: ${u.stage || ""} ${Math.round(u.progress || 0)}%`, downloading: "downloading the model",
    done: "model ready", failed: `failed: ${u.error || ""}`, cancelled: "upload cancelled" }[u.state] || u.state;
  $("upload-status").textContent = text;
  if (u.state !== "done" || !cloud) return;
  const root = `${cloud}scans/${encodeURIComponent(scan.name)}/`;
  $("result-link").href = root + "result.zip"; $("result-link").hidden = false;
  const m = s.model || {};
  // file names come from the server (web/scans.py model_files): null when absent
  if (m.report) $("report-link").href = root + "model/" + m.report;
  $("report-link").hidden = !m.report;
  if (m.preview && !$("model-preview").src.endsWith(m.preview)) { $("model-preview").src = root + "model/" + m.preview; }
  $("model-preview").hidden = !m.preview;
  if (m.glb && $("model").getAttribute("src") !== root + "model/" + m.glb) $("model").setAttribute("src", root + "model/" + m.glb);
  $("model").hidden = !m.glb;
}

// the upload is the cloud panel's: its endpoints cancel, retry or queue it
const cloudAct = (path) => fetch(cloud + path, { method: "POST" }).then(async (r) => {
  if (!r.ok) throw new Error((await r.json().catch(() => ({}))).error || r.statusText);
  say("");
}).catch((e) => say(e.message));
$("upload-cancel").addEventListener("click", () => cloudAct(`api/uploads/${status.upload.id}/cancel`));
$("upload-retry").addEventListener("click", () => cloudAct(`api/uploads/${status.upload.id}/retry`));
$("upload-now").addEventListener("click", () => cloudAct(`api/scans/${encodeURIComponent(status.scan.name)}/upload`));

function connect() {
  const events = new EventSource(base + "api/events");
  events.addEventListener("status", (e) => render(JSON.parse(e.data)));
  events.onopen = () => { $("connection").textContent = "live"; $("connection").dataset.state = "live"; };
  events.onerror = () => { $("connection").textContent = "reconnecting…"; $("connection").dataset.state = "lost"; };
}

// -- controls ----------------------------------------------------------------------------------
document.querySelectorAll(".jog button").forEach((b) => b.addEventListener("click", () =>
  act("api/jog", { motor: b.parentElement.dataset.motor, degrees: Number(b.dataset.deg) })));
$("home").addEventListener("click", () => act("api/home"));
$("stop-motion").addEventListener("click", () => act("api/stop"));
$("light").addEventListener("change", () => act("api/light", { on: $("light").checked }));
$("pause").addEventListener("click", () => act("api/scan/pause"));
$("resume").addEventListener("click", () => act("api/scan/resume"));
$("cancel").addEventListener("click", () => act("api/scan/cancel"));
$("continue").addEventListener("click", () => act("api/scan/continue", { name: status.scan.name, upload: $("upload").checked }));
$("scan-form").addEventListener("submit", (ev) => { ev.preventDefault(); shownPhoto = null; act("api/scan/start", settings()); });
$("preset").addEventListener("change", () => { fillPreset(); replan(); });
["points", "mode", "rings", "rotor-min", "rotor-max", "stack"].forEach((id) => $(id).addEventListener("input", () => {
  $("preset").value = "custom"; $("rings-label").hidden = $("mode").value !== "turntable"; replan();
}));
$("camera-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const body = { exposure_us: Math.round(Number($("exposure").value) * 1000), analogue_gain: Number($("gain").value), autofocus: $("autofocus").checked };
  if (!body.autofocus && $("lens").value !== "") body.lens_position = Number($("lens").value);
  $("camera-message").textContent = "";
  api("api/camera", body).then(fillCamera).then(() => { $("camera-message").textContent = "applied"; say(""); })
    .catch((e) => say(e.message));
});
$("test-photo").addEventListener("click", () => api("api/test-photo", {}).then((r) => {
  $("test-photo-img").src = base + r.photo; $("test-photo-img").hidden = false; say("");
}).catch((e) => say(e.message)));

function fillCamera(c) {
  $("exposure").value = c.exposure_us / 1000; $("gain").value = c.analogue_gain;
  $("autofocus").checked = c.autofocus; $("lens").value = c.lens_position == null ? "" : c.lens_position.toFixed(2);
}

Promise.all([api("api/presets"), api("api/status")]).then(([p, s]) => {
  presets = p.presets;
  const [lo, hi] = s.rotor_limits;
  $("rotor-min").value = lo; $("rotor-max").value = hi;
  fillCamera(s.camera);
  if (s.scan && s.scan.settings) {      // after a reload: show the settings of the scan on the rig
    const k = s.scan.settings;
    $("preset").value = k.preset; $("points").value = k.points; $("mode").value = k.mode; $("stack").value = k.focus_stack;
    $("rings").value = k.rings.join(", "); $("upload").checked = k.upload;
    if (k.rotor_range) { $("rotor-min").value = k.rotor_range[0]; $("rotor-max").value = k.rotor_range[1]; }
    $("rings-label").hidden = k.mode !== "turntable";
  } else { $("preset").value = "quick"; fillPreset(); }
  render(s);
  replan();
  connect();
}).catch((e) => say(e.message));
