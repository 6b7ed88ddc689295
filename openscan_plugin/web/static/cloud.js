// The cloud panel: polls the JSON endpoints and renders; every action is one POST.
"use strict";
const base = document.body.dataset.base;   // e.g. "/cloud/"
const api = (path, options) => fetch(base + path, options).then(async (r) => {
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(body.error || r.statusText);
  return body;
});
const mb = (n) => (n / 1e6).toFixed(1) + " MB";
const el = (tag, attrs = {}, ...children) => {
  const e = document.createElement(tag);
  Object.entries(attrs).forEach(([k, v]) => (k.startsWith("on") ? e.addEventListener(k.slice(2), v) : e.setAttribute(k, v)));
  children.forEach((c) => e.append(c));
  return e;
};

function statusCell(scan) {
  const u = scan.upload;
  const cell = el("td", { class: "status" });
  if (!u) { cell.append(scan.scan_status === "complete" || scan.scan_status === "photos" ? "not sent" : scan.scan_status); return cell; }
  cell.dataset.state = u.state;
  if (u.state === "uploading" || u.state === "queued") {
    const done = u.bytes_done || 0;
    cell.append(el("progress", { max: "100", value: String(u.percent.toFixed(1)) }),
      ` uploading ${mb(done)} / ${mb(u.size)}, part ${Math.min((u.parts_done || 0) + 1, u.parts)}/${u.parts}`);
  } else if (u.state === "processing") {
    cell.append(el("progress", { max: "100", value: String(u.percent.toFixed(1)) }),
      ` processing: ${u.stage || ""} ${Math.round(u.progress || 0)}%`);
  } else if (u.state === "downloading") {
    cell.append("downloading the model…");
  } else if (u.state === "done") {
    cell.classList.add("done");
    cell.append("done ",
      el("a", { href: `${base}scans/${encodeURIComponent(scan.name)}/result.zip`, class: "result-link" }, "result"),
      el("button", { type: "button", class: "view", onclick: () => showModel(scan) }, "view 3D"));
  } else {
    cell.append(el("span", { class: u.state === "failed" ? "error" : "" }, `${u.state}${u.error ? ": " + u.error : ""}`));
  }
  if (u.error && u.active) cell.append(el("div", { class: "error" }, u.error));
  return cell;
}

function actionCell(scan) {
  const u = scan.upload, cell = el("td");
  const act = (path, body) => () => {
    const b = body && body();
    return api(path, { method: "POST", ...(b && { headers: { "Content-Type": "application/json" }, body: JSON.stringify(b) }) })
      .then(refresh).catch((e) => alert(e.message));
  };
  // Upload, Send again and Run again carry the scan options form's choices (cloud_options.js),
  // read at click time: a row drawn before the form finished loading still sends them
  const withOptions = () => window.uploadOptions && { options: window.uploadOptions() };
  if (!u || u.state === "done" || u.state === "cancelled") {
    cell.append(el("button", { type: "button", class: "upload", onclick: act(`api/scans/${encodeURIComponent(scan.name)}/upload`, withOptions) },
      "Upload to OpenScanCloud"));
  } else if (u.active) {
    cell.append(el("button", { type: "button", class: "cancel", onclick: act(`api/uploads/${u.id}/cancel`) }, "Cancel"));
  } else if (u.state === "failed") {
    cell.append(el("button", { type: "button", class: "retry", onclick: act(`api/uploads/${u.id}/retry`) }, "Retry"),
      el("button", { type: "button", class: "reset", onclick: act(`api/uploads/${u.id}/reset`, withOptions) }, "Send again"));
  }
  // Run again: the server processes the photos it has with the form's choices (no upload)
  if (u && u.rerunnable) {
    cell.append(el("button", { type: "button", class: "rerun", title: "process the photos on the server again with the scan options below",
      onclick: act(`api/uploads/${u.id}/rerun`, withOptions) }, "Run again"));
  }
  return cell;
}

function showModel(scan) {
  const root = `${base}scans/${encodeURIComponent(scan.name)}/model/`;
  document.getElementById("viewer").hidden = false;
  document.getElementById("viewer-title").textContent = scan.name;
  const viewer = document.getElementById("model");
  // file names come from the server (web/scans.py model_files): null when absent
  if (scan.glb) viewer.setAttribute("src", root + scan.glb); else viewer.removeAttribute("src");
  const img = document.getElementById("preview");
  img.hidden = !scan.preview;
  if (scan.preview) img.src = root + scan.preview;
  for (const [id, role] of [["report-link", "report"], ["stl-link", "stl"]]) {
    const link = document.getElementById(id);
    if (scan[role]) link.href = root + scan[role];
    link.hidden = !scan[role];
  }
  document.getElementById("report-link").parentElement.hidden = !scan.report;
}

async function refresh() {
  const data = await api("api/scans");
  const body = document.querySelector("#scans tbody");
  body.replaceChildren(...data.scans.map((s) => el("tr", { "data-scan": s.name },
    el("td", {}, s.name), el("td", { class: "num" }, String(s.photos)), el("td", { class: "num" }, mb(s.size)),
    el("td", {}, s.date), statusCell(s), actionCell(s))));
  document.getElementById("no-scans").hidden = data.scans.length > 0;
}

async function loadSettings() {
  const s = await api("api/settings");
  document.getElementById("server").value = s.server || "";
  const status = document.getElementById("token-status");
  if (s.token_info) {
    const t = s.token_info;
    status.textContent = `${s.server}, token ${s.token}: credit ${mb(t.credit)}, up to ${t.limit_photos} photos and ${mb(t.limit_filesize)} per project`;
  } else {
    status.textContent = s.token_error || "No token yet: enter the server and your token.";
  }
}

document.getElementById("settings-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const form = new FormData(ev.target), msg = document.getElementById("settings-message");
  try {
    await api("api/settings", { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ server: form.get("server"), token: form.get("token") }) });
    msg.textContent = "saved"; msg.className = "";
    document.getElementById("token").value = "";
    loadSettings();
  } catch (e) { msg.textContent = e.message; msg.className = "error"; }
});

refresh(); loadSettings();
setInterval(() => refresh().catch(() => {}), 1000);
