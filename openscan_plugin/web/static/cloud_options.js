// The scan settings form (templates/_scan_options.html): load the rig's defaults, save them,
// and give the upload buttons this form's current choices (window.uploadOptions).
"use strict";
(() => {
  const base = document.body.dataset.base;
  const form = document.getElementById("scan-options-form");
  const msg = document.getElementById("scan-options-message");
  const BOOLS = ["texture", "notify", "consent"];

  function read() {
    const o = {};
    ["quality", "masking", "objecttype", "webhook"].forEach((k) => { o[k] = form.elements[k].value; });
    BOOLS.forEach((k) => { o[k] = form.elements[k].checked; });
    o.formats = [...form.querySelectorAll('input[name="formats"]:checked')].map((e) => e.value);
    return o;
  }

  function show(o) {
    ["quality", "masking", "objecttype"].forEach((k) => { form.elements[k].value = o[k]; });
    form.elements.webhook.value = o.webhook || "";
    BOOLS.forEach((k) => { form.elements[k].checked = !!o[k]; });
    form.querySelectorAll('input[name="formats"]').forEach((e) => { e.checked = o.formats.includes(e.value); });
  }

  async function call(options) {
    const r = await fetch(base + "api/scan-options", options);
    const body = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error(body.error || r.statusText);
    return body;
  }

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      const saved = await call({ method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify(read()) });
      show(saved.options);
      msg.textContent = "saved"; msg.className = "";
    } catch (e) { msg.textContent = e.message; msg.className = "error"; }
  });

  // once the form shows the rig's defaults, cloud.js sends its choices with Upload and Send
  // again (before that, or if loading failed, uploads get the rig's defaults on the server)
  call().then((s) => { show(s.options); window.uploadOptions = read; })
    .catch((e) => { msg.textContent = e.message; msg.className = "error"; });
})();
