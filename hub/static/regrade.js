// Regrading one submission, from its page (templates/submission.html) or from the submissions
// table (templates/submissions.html): a reason is required, POST
// assessments/AID/submissions/SID/regrade queues the grading again (the API answers 202 at once
// with the URL of its progress), then the progress is polled, as the board polls its grading,
// until the service's grading loop has graded it; the page shows the new result in place, without
// reloading. A page opened while a regrade is queued or running picks the watching up.
// Nothing here builds HTML from text: everything is set with textContent.
import { call, fmt, number } from "./api.js";

(() => {
  const body = document.body;
  const api = `${body.dataset.prefix}api/v1/`;
  const lang = body.dataset.lang || "ko";
  const msg = JSON.parse(document.getElementById("regrade-messages").textContent);
  const POLL_MS = 1000;
  const BUSY = ["queued", "running"];


  function notice(box, kind, text) {
    box.replaceChildren();
    const alert = document.createElement("div");
    alert.className = `alert alert-${kind} mb-2`;
    alert.textContent = text;
    box.append(alert);
  }

  const progressUrl = (aid, sid) =>
    `${api}assessments/${aid}/submissions/${sid}/grading?lang=${encodeURIComponent(lang)}`;

  // poll until the submission's grading is neither queued nor running; `step(p)` on each answer
  function watch(aid, sid, step) {
    return new Promise((resolve, reject) => {
      async function tick() {
        try {
          const p = await call("GET", progressUrl(aid, sid));
          step(p);
          if (!BUSY.includes(p.grading)) {
            resolve(p);
            return;
          }
        } catch (e) {
          reject(e);
          return;
        }
        setTimeout(tick, POLL_MS);
      }
      tick();
    });
  }

  async function regrade(aid, sid, reason) {
    return call("POST", `${api}assessments/${aid}/submissions/${sid}/regrade`, { reason });
  }

  function outcome(p) {
    const r = p.result;
    if (p.job && p.job.status === "failed") {
      return ["danger", fmt(msg.failed, { error: p.job.error || (r && r.reason) || "" })];
    }
    if (r && r.status === "failed") return ["danger", fmt(msg.failed, { error: r.reason })];
    if (r) return ["success", fmt(msg.done, { final: number(r.final_score), max: number(r.max_score) })];
    return ["info", msg.status[p.status] || p.status];
  }

  function statusSpan(status) {
    const span = document.createElement("span");
    span.className = `status status-${status}`;
    span.textContent = msg.status[status] || status;
    return span;
  }

  // --- one submission's page ------------------------------------------------------------------

  const area = document.getElementById("regrade-area");
  if (area) {
    const { aid, sid } = area.dataset;
    const form = area.querySelector("form.regrade-form");
    const details = document.getElementById("regrade");
    const progress = area.querySelector(".regrade-progress");
    const text = area.querySelector(".regrade-text");
    const box = area.querySelector(".regrade-notice");

    const show = (id, value, visible = true) => {
      const dd = document.getElementById(id);
      dd.replaceChildren(...(Array.isArray(value) ? value : [value]));
      dd.hidden = !visible;
      dd.previousElementSibling.hidden = !visible;
    };

    function render(p) {
      const r = p.result;
      document.getElementById("status").replaceChildren(statusSpan(p.status));
      if (r) {
        show("raw", `${number(r.raw_score)} / ${number(r.max_score)}`);
        show("penalty", `${number(r.penalty * 100, 1)}%`);
        const strong = document.createElement("strong");
        strong.textContent = number(r.final_score);
        show("final", [strong, ` / ${number(r.max_score)}`]);
        show("reason", r.reason || "", !!r.reason);
      }
      for (const c of p.cells) {
        const row = document.querySelector(
          `#tests tr.grade[data-notebook="${CSS.escape(c.notebook)}"][data-cell="${CSS.escape(c.cell)}"]`,
        );
        if (!row) continue;
        const cell = row.querySelector("td.points");
        cell.textContent = `${c.score === null ? msg.waiting : number(c.score)} / ${number(c.max_score)}`;
      }
    }

    async function follow() {
      progress.hidden = false;
      details.hidden = true;
      try {
        const p = await watch(aid, sid, (p) => {
          text.textContent = p.grading === "running" ? msg.running : msg.queued;
        });
        render(p);
        notice(box, ...outcome(p));
      } catch (e) {
        notice(box, "danger", fmt(msg.error, { message: e.message }));
      }
      progress.hidden = true;
      details.hidden = false;
    }

    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (!form.reportValidity()) return;
      const button = form.querySelector("button[type=submit]");
      button.disabled = true;
      try {
        await regrade(aid, sid, form.elements.reason.value.trim());
        form.reset();
        details.open = false;
        box.replaceChildren();
        await follow();
      } catch (e) {
        notice(box, "danger", fmt(msg.error, { message: e.message }));
      }
      button.disabled = false;
    });

    if (BUSY.includes(area.dataset.grading)) follow();
  }

  // --- the submissions table ------------------------------------------------------------------

  const dialog = document.getElementById("regrade-dialog");
  if (dialog) {
    const aid = dialog.dataset.aid;
    const form = dialog.querySelector("form");
    const box = document.querySelector(".regrade-notice");
    let row = null;

    function renderRow(tr, p) {
      const r = p.result;
      const status = tr.querySelector("td.status-cell");
      status.dataset.value = p.status;
      tr.dataset.status = p.status;
      const badge = status.querySelector(".regrade-badge");
      status.replaceChildren(statusSpan(p.status), " ", badge);
      const set = (cls, value, text) => {
        const td = tr.querySelector(`td.${cls}`);
        td.dataset.value = String(value);
        td.textContent = text;
      };
      if (r) {
        set("raw", r.raw_score, `${number(r.raw_score)} / ${number(r.max_score)}`);
        set("penalty", r.penalty, `${number(r.penalty * 100, 1)}%`);
        set("final", r.final_score, number(r.final_score));
        tr.querySelector("td.reason").textContent = (r.reason || "").slice(0, 300);
      }
    }

    async function follow(tr) {
      const badge = tr.querySelector(".regrade-badge");
      const button = tr.querySelector("button.regrade");
      button.disabled = true;
      badge.hidden = false;
      try {
        const p = await watch(aid, tr.dataset.sid, (p) => {
          badge.textContent = p.grading === "running" ? msg.running : msg.queued;
        });
        badge.hidden = true;
        renderRow(tr, p);
        const [kind, text] = outcome(p);
        notice(box, kind, `${tr.dataset.username}: ${text}`);
      } catch (e) {
        notice(box, "danger", fmt(msg.error, { message: e.message }));
      }
      badge.hidden = true;
      button.disabled = false;
    }

    for (const tr of document.querySelectorAll("#submissions tbody tr")) {
      const button = tr.querySelector("button.regrade");
      if (!button) continue;
      button.addEventListener("click", () => {
        row = tr;
        dialog.querySelector("#regrade-title").textContent = fmt(msg.who, {
          username: tr.dataset.username,
        });
        form.reset();
        dialog.showModal();
      });
      if (BUSY.includes(tr.dataset.grading)) follow(tr);
    }
    dialog.querySelector(".regrade-cancel").addEventListener("click", () => dialog.close());
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (!form.reportValidity() || !row) return;
      const tr = row;
      const submit = form.querySelector("button[type=submit]");
      submit.disabled = true;
      try {
        await regrade(aid, tr.dataset.sid, form.elements.reason.value.trim());
        dialog.close();
        box.replaceChildren();
        follow(tr);
      } catch (e) {
        dialog.close();
        notice(box, "danger", fmt(msg.error, { message: e.message }));
      }
      submit.disabled = false;
    });
  }
})();
