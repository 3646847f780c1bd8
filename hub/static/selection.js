// The selection and teams pages (templates/selection.html, teams.html): each form of class
// "api-form" is sent as JSON to the service's API path in its data-api (the selection and team
// endpoints of handlers/selection.py) with the page's XSRF token, then the page goes to data-next
// (data-next="created": this transition's page showing the selection just made) with a notice
// that outlives the navigation. The "Why" buttons show and hide a trainee's explanation row
// (shown when scripts do not run). Nothing here builds HTML from text: messages are set with
// textContent.
import { call as request, oneLanguage } from "./api.js";

(() => {
  const body = document.body;
  const api = `${body.dataset.prefix}api/v1/`;
  const lang = body.dataset.lang || "ko";
  const source = document.getElementById("selection-messages");
  const msg = source ? JSON.parse(source.textContent) : {};
  const NOTICE = "sadari-selection-notice";

  function showNotice(kind, text, details) {
    const box = document.getElementById("notice");
    if (!box) return;
    box.replaceChildren();
    const alert = document.createElement("div");
    alert.className = `alert alert-${kind}`;
    const p = document.createElement("p");
    p.className = "mb-0";
    p.textContent = text;
    alert.append(p);
    if (details && details.length) {
      const ul = document.createElement("ul");
      ul.className = "mb-0 mt-2";
      for (const line of details.slice(0, 50)) {
        const li = document.createElement("li");
        li.textContent = line;
        ul.append(li);
      }
      alert.append(ul);
    }
    box.append(alert);
    box.scrollIntoView({ block: "nearest" });
  }

  const kept = sessionStorage.getItem(NOTICE);
  if (kept) {
    sessionStorage.removeItem(NOTICE);
    try {
      const n = JSON.parse(kept);
      showNotice(n.kind, n.text, n.details);
    } catch (e) {
      /* not ours */
    }
  }

  async function call(path, payload) {
    try {
      return (await request("POST", api + path, payload)) || {};
    } catch (e) {
      e.message = oneLanguage(e.message);
      throw e;
    }
  }

  function payloadOf(form) {
    const out = {};
    for (const el of form.elements) {
      if (!el.name || el.disabled) continue;
      const value = el.value.trim();
      if (el.dataset.type === "int") {
        if (value !== "") out[el.name] = Number.parseInt(value, 10);
      } else {
        out[el.name] = value;
      }
    }
    return out;
  }

  // what the answer says beyond "done": rule warnings of a move, the hub's group changes
  function detailsOf(data) {
    const lines = [];
    for (const w of data.warnings || []) lines.push(oneLanguage(w));
    const sync = data.hub_sync;
    if (sync && sync.status && sync.status !== "skipped") {
      const changes = [];
      for (const [group, users] of Object.entries(sync.added || {})) changes.push(`+${group}: ${users.join(", ")}`);
      for (const [group, users] of Object.entries(sync.removed || {})) changes.push(`−${group}: ${users.join(", ")}`);
      if (changes.length) lines.push(`${msg.hub_sync || "JupyterHub"} ${changes.join("; ")}`);
    }
    return lines;
  }

  for (const form of document.querySelectorAll("form.api-form")) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (!form.reportValidity()) return;
      const buttons = form.querySelectorAll("button");
      for (const b of buttons) b.disabled = true;
      showNotice("info", msg.working || "…");
      try {
        const data = await call(form.dataset.api, payloadOf(form));
        let next = form.dataset.next || window.location.href;
        if (next === "created") next = `${form.dataset.here}&id=${encodeURIComponent(data.id)}`;
        const notice = { kind: "success", text: msg[form.dataset.done] || "OK", details: detailsOf(data) };
        if (notice.details.length && (data.warnings || []).length) notice.kind = "warning";
        sessionStorage.setItem(NOTICE, JSON.stringify(notice));
        window.location.assign(next);
      } catch (error) {
        const lines = String(error.message).split("\n");
        showNotice("danger", `${msg.failed || "Error:"} ${lines[0]}`, [...lines.slice(1), ...(error.problems || [])]);
        for (const b of buttons) b.disabled = false;
      }
    });
  }

  for (const button of document.querySelectorAll("button.row-toggle")) {
    const row = document.getElementById(button.getAttribute("aria-controls"));
    if (!row) continue;
    row.hidden = true;
    button.addEventListener("click", () => {
      const open = button.getAttribute("aria-expanded") === "true";
      button.setAttribute("aria-expanded", open ? "false" : "true");
      row.hidden = open;
    });
  }
})();
