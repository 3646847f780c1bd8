// Roster import (templates/roster.html): the chosen file is sent as it is to
// POST api/v1/roster/preview with the page's mapping as query options (the CLI's --map, --value,
// --cohort), the preview is shown (columns, values, every row and every problem), and Import sends
// the same file and options to POST api/v1/roster, which imports all rows or none. Both calls
// carry the page's XSRF token. Nothing here builds HTML from text: file content is set with
// textContent only.
import { call, fmt, oneLanguage } from "./api.js";

(() => {
  const body = document.body;
  const api = `${body.dataset.prefix}api/v1/`;
  const lang = body.dataset.lang || "ko";
  const msg = JSON.parse(document.getElementById("roster-messages").textContent);
  const remembered = JSON.parse(document.getElementById("roster-remembered").textContent);
  const form = document.getElementById("roster-form");
  const input = document.getElementById("roster-file");
  const cohort = document.getElementById("roster-cohort");
  const confirmButton = document.getElementById("roster-confirm");
  const limit = Number(form.dataset.limit || 0);

  let file = null; // {name, bytes}
  let mapped = {}; // header -> target, as the admin chose here
  let values = {}; // field or attribute -> {raw: value}, as the admin wrote here

  function el(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  }

  function notice(kind, text, details) {
    const box = document.getElementById("notice");
    box.replaceChildren();
    const alert = el("div", undefined, `alert alert-${kind}`);
    alert.append(el("p", text, "mb-0"));
    if (details && details.length) {
      const ul = el("ul", undefined, "mb-0 mt-2");
      for (const line of details) ul.append(el("li", line));
      alert.append(ul);
    }
    box.append(alert);
  }

  function query() {
    const q = new URLSearchParams();
    q.set("filename", file.name);
    for (const [header, target] of Object.entries(mapped)) q.append("map", `${header}=${target}`);
    for (const [name, table] of Object.entries(values)) {
      for (const [raw, value] of Object.entries(table)) {
        if (value) q.append("value", `${name}:${raw}=${value}`);
      }
    }
    if (cohort.value) q.set("cohort", cohort.value);
    return q.toString();
  }

  const send = (path) =>
    call("POST", `${api}${path}?${query()}`, file.bytes, "application/octet-stream");

  function problemText(p, withLine = true) {
    const where = p.line && withLine ? fmt(msg.line, { line: p.line }) : "";
    const column = p.column ? `${p.column}: ` : "";
    const value = p.value ? ` (${JSON.stringify(p.value)})` : "";
    return `${where}${where ? " · " : ""}${column}${oneLanguage(p.message)}${value}`;
  }

  function targetName(column) {
    return column.target.startsWith("attr:") ? column.target.slice(5) : column.target;
  }

  function valueOf(name, raw) {
    const key = raw.toLowerCase();
    const mine = values[name] || {};
    if (raw in mine) return mine[raw];
    const table = (remembered.values || {})[name] || {};
    return table[key] || "";
  }

  function renderColumns(p) {
    const tbody = document.querySelector("#columns tbody");
    tbody.replaceChildren();
    const fields = p.fields;
    for (const c of p.columns) {
      const tr = el("tr");
      tr.dataset.header = c.header;
      tr.append(el("th", c.header || `#${c.index + 1}`));
      tr.lastChild.scope = "row";
      const td = el("td");
      const select = el("select", undefined, "form-select form-select-sm column-target");
      select.id = `column-${c.index}`;
      select.setAttribute("aria-label", c.header || `#${c.index + 1}`);
      for (const f of fields) {
        const option = el("option", msg.fields[f] || f);
        option.value = f;
        select.append(option);
      }
      const attr = el("option", msg.attribute);
      attr.value = "attr";
      const ignore = el("option", msg.ignore);
      ignore.value = "ignore";
      select.append(attr, ignore);
      select.value = c.target.startsWith("attr:") ? "attr" : c.target;
      select.addEventListener("change", () => {
        const header = c.header;
        mapped[header] =
          select.value === "attr" ? `attr:${header.split(/\s+/).join(" ")}` : select.value;
      });
      td.append(select);
      tr.append(td);
      const samples = el("td", (c.samples || []).join(", "), "small text-body-secondary");
      samples.setAttribute("translate", "no");
      tr.append(samples);
      tbody.append(tr);
    }
  }

  function renderValues(p) {
    const box = document.getElementById("values");
    box.replaceChildren();
    let any = false;
    for (const c of p.columns) {
      if (!c.samples || !c.samples.length || c.target === "ignore") continue;
      if (["username", "name", "email"].includes(c.target)) continue;
      any = true;
      const name = targetName(c);
      const fieldset = el("fieldset", undefined, "mb-3");
      fieldset.append(el("legend", c.label, "h6"));
      const row = el("div", undefined, "row g-2");
      for (const raw of c.samples) {
        const col = el("div", undefined, "col-sm-3");
        const id = `value-${c.index}-${raw}`.replace(/[^\w-]/g, (ch) => ch.charCodeAt(0).toString(16));
        const label = el("label", raw, "form-label small mb-0");
        label.htmlFor = id;
        const field = el("input", undefined, "form-control form-control-sm value-map");
        field.id = id;
        field.type = "text";
        field.maxLength = 200;
        field.placeholder = msg.keep;
        field.value = valueOf(name, raw);
        field.dataset.name = name;
        field.dataset.raw = raw;
        field.addEventListener("change", () => {
          values[name] = values[name] || {};
          values[name][raw] = field.value.trim();
        });
        col.append(label, field);
        row.append(col);
      }
      fieldset.append(row);
      box.append(fieldset);
    }
    document.getElementById("values-area").hidden = !any;
  }

  function renderRows(p) {
    const tbody = document.querySelector("#rows tbody");
    tbody.replaceChildren();
    for (const r of p.rows) {
      const tr = el("tr", undefined, `row-${r.status}`);
      tr.dataset.status = r.status;
      tr.append(el("td", r.line), el("td", r.username, "text-nowrap"));
      tr.append(el("td", r.name, "text-nowrap"));
      tr.lastChild.setAttribute("translate", "no");
      const badge = el("span", msg.status[r.status] || r.status, `badge status-${r.status}`);
      badge.classList.add(
        {
          new: "text-bg-success",
          updated: "text-bg-primary",
          unchanged: "text-bg-secondary",
          problem: "text-bg-danger",
        }[r.status] || "text-bg-secondary",
      );
      const status = el("td");
      status.append(badge);
      tr.append(status);
      const what = el("td", undefined, "small");
      if (r.problems.length) {
        what.textContent = r.problems.map((p) => problemText(p, false)).join("; ");
      } else {
        what.textContent = r.changes
          .map((c) => `${msg.fields[c.field] || c.field}: ${c.old ?? "—"} → ${c.new ?? "—"}`)
          .join("; ");
      }
      tr.append(what);
      tbody.append(tr);
    }
  }

  function render(p) {
    document.getElementById("file-facts").textContent = fmt(msg.facts, {
      file: p.file,
      format: `${p.format.toUpperCase()}${p.encoding ? ` (${p.encoding})` : ""}`,
      rows: p.rows.length,
    });
    renderColumns(p);
    renderValues(p);
    renderRows(p);
    document.getElementById("counts").textContent = fmt(msg.counts, p.counts);
    const list = document.getElementById("problems");
    list.replaceChildren();
    for (const problem of p.problems) list.append(el("li", problemText(problem)));
    document.getElementById("problems-area").hidden = p.ok;
    confirmButton.disabled = !p.ok;
    document.getElementById("mapping").hidden = false;
    document.getElementById("preview").hidden = false;
  }

  async function preview() {
    if (!file) return;
    notice("info", msg.working);
    try {
      const p = await send("roster/preview");
      render(p);
      document.getElementById("notice").replaceChildren();
      if (!p.ok) notice("warning", msg.blocked);
    } catch (e) {
      confirmButton.disabled = true;
      notice("danger", fmt(msg.failed, { message: oneLanguage(e.message) }), e.problems);
    }
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const chosen = input.files && input.files[0];
    if (!chosen) return;
    if (limit && chosen.size > limit) {
      notice("danger", fmt(msg.too_big, { limit }));
      return;
    }
    file = { name: chosen.name, bytes: await chosen.arrayBuffer() };
    mapped = {};
    values = {};
    await preview();
  });

  document.getElementById("roster-again").addEventListener("click", preview);
  cohort.addEventListener("change", () => {
    if (file) preview();
  });

  confirmButton.addEventListener("click", async () => {
    if (!file) return;
    confirmButton.disabled = true;
    notice("info", msg.working);
    try {
      const done = await send("roster");
      notice(
        "success",
        fmt(msg.imported, {
          created: done.created.length,
          updated: done.updated.length,
          unchanged: done.unchanged,
        }),
      );
    } catch (e) {
      notice("danger", fmt(msg.failed, { message: oneLanguage(e.message) }), e.problems);
    }
  });
})();
