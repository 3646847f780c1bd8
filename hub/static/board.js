// The assessment board (templates/board.html): its actions call the service's JSON API with
// the page's XSRF token (the API accepts the hub's OAuth cookie only with it); grading shows live
// progress from GET assessments/AID/grading (done/total, rate, time left) and survives a reload,
// since the page starts watching every assessment the server says is being graded.
// Releasing feedback first shows what it would do (GET assessments/AID/feedback/preview: who
// gets feedback, who is held back or left out, and why) in a dialog; only its confirmation posts.
// Nothing here builds HTML from text: messages and trainees' names are set with textContent.
import { call as request, fmt } from "./api.js";

(() => {
  const body = document.body;
  const api = `${body.dataset.prefix}api/v1/`;
  const zone = body.dataset.zone || "UTC";
  const lang = body.dataset.lang || "ko";
  const board = document.getElementById("board");
  const cohort = board.dataset.cohort;
  const msg = JSON.parse(document.getElementById("board-messages").textContent);
  const NOTICE = "sadari-board-notice";
  const POLL_MS = 1000;

  const call = (method, path, payload) => request(method, api + path, payload);

  function showNotice(kind, text, details) {
    const box = document.getElementById("notice");
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

  // a notice that outlives the reload after an action
  function reloadWith(kind, text, details) {
    sessionStorage.setItem(NOTICE, JSON.stringify({ kind, text, details }));
    window.location.reload();
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

  // --- times in the cohort's zone -----------------------------------------------------------

  function offsetMinutes(utcMs) {
    const parts = {};
    for (const p of new Intl.DateTimeFormat("en-US", {
      timeZone: zone,
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
    }).formatToParts(new Date(utcMs))) {
      parts[p.type] = Number(p.value);
    }
    const wall = Date.UTC(parts.year, parts.month - 1, parts.day, parts.hour, parts.minute, parts.second);
    return Math.round((wall - utcMs) / 60000);
  }

  // "2026-12-05T18:00" on the cohort's clock -> "2026-12-05T18:00:00+09:00"
  function zoned(local) {
    const [date, time] = local.split("T");
    const [y, m, d] = date.split("-").map(Number);
    const [hh, mm] = time.split(":").map(Number);
    const wall = Date.UTC(y, m - 1, d, hh, mm);
    let utc = wall - offsetMinutes(wall) * 60000;
    utc = wall - offsetMinutes(utc) * 60000;
    const off = offsetMinutes(utc);
    const pad = (n) => String(n).padStart(2, "0");
    const sign = off < 0 ? "-" : "+";
    const abs = Math.abs(off);
    return `${date}T${pad(hh)}:${pad(mm)}:00${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
  }

  function shown(iso) {
    return new Intl.DateTimeFormat(lang, {
      timeZone: zone,
      dateStyle: "medium",
      timeStyle: "short",
    }).format(new Date(iso));
  }

  // --- grading progress -----------------------------------------------------------------------

  function duration(minutes) {
    if (minutes < 1) return fmt(msg.seconds, { n: Math.max(1, Math.round(minutes * 60)) });
    return fmt(msg.minutes, { n: Math.round(minutes) });
  }

  function watch(section) {
    const aid = section.dataset.aid;
    const area = section.querySelector(".progress-area");
    const bar = area.querySelector("progress");
    const text = area.querySelector(".progress-text");
    const samples = [];
    area.hidden = false;
    let stopped = false;
    async function tick() {
      if (stopped) return;
      try {
        const p = await call("GET", `assessments/${aid}/grading?cohort=${encodeURIComponent(cohort)}`);
        const finished = p.jobs.done + p.jobs.failed;
        const now = Date.now();
        samples.push([now, finished]);
        if (samples.length > 30) samples.shift();
        bar.max = Math.max(p.total, 1);
        bar.value = finished;
        const parts = [fmt(msg.progress, { done: finished, total: p.total })];
        const [t0, f0] = samples[0];
        const perMinute = (finished - f0) / ((now - t0) / 60000);
        if (samples.length > 1 && perMinute > 0) {
          parts.push(fmt(msg.rate, { rate: perMinute.toFixed(1) }));
          parts.push(fmt(msg.eta, { eta: duration((p.total - finished) / perMinute) }));
        }
        text.textContent = parts.join(" · ");
        const idle = p.jobs.queued + p.jobs.running === 0;
        if (idle && !section.dataset.busy && section.dataset.state === "grading") {
          stopped = true; // the grading ended: show the new counts
          if (section.dataset.mine) {
            reloadWith("success", fmt(msg.graded, { summary: summary({ done: p.jobs.done, failed: p.jobs.failed }) }));
          } else {
            window.location.reload();
          }
          return;
        }
      } catch (e) {
        text.textContent = fmt(msg.failed, { message: e.message });
      }
      setTimeout(tick, POLL_MS);
    }
    tick();
    return () => {
      stopped = true;
    };
  }

  // --- actions ----------------------------------------------------------------------------------

  function setBusy(section, busy) {
    for (const el of section.querySelectorAll("button")) el.disabled = busy;
    if (busy) section.dataset.busy = "1";
    else delete section.dataset.busy;
  }

  function summary(counts) {
    const parts = Object.entries(counts || {}).map(([k, v]) => `${k} ${v}`);
    return parts.length ? parts.join(", ") : msg.nothing;
  }

  async function act(section, action) {
    const aid = section.dataset.aid;
    const path = `assessments/${aid}/${action}?cohort=${encodeURIComponent(cohort)}`;
    setBusy(section, true);
    showNotice("info", msg.working);
    const stop = action === "autograde" ? watch(section) : null;
    try {
      const data = await call("POST", path);
      const result = data.result;
      if (action === "release") {
        const mine = (Array.isArray(result) ? result : []).find((r) => r.cohort === cohort) || {};
        reloadWith("success", fmt(msg.released, { version: mine.version ?? "?" }));
      } else if (action === "autograde") {
        // queued (202): the service's worker grades; the progress shows until the queue is
        // empty, then the page reloads with what the grading gave
        section.dataset.mine = "1";
        section.dataset.state = "grading";
        delete section.dataset.busy;
        return;
      } else {
        const released = (result && result.released) || [];
        const held = (result && result.held) || [];
        const lines = held.map((h) => fmt(msg.held, { username: h.username, reason: h.reason || h.why }));
        lines.push(...leftOut(result));
        reloadWith(
          held.length ? "warning" : "success",
          fmt(msg.feedback, { released: released.length, held: held.length }),
          lines,
        );
      }
    } catch (e) {
      if (stop && e instanceof TypeError) {
        // the connection dropped (a long grading outlives proxies' patience): the service keeps
        // grading, so keep watching the queue and reload when it is empty
        section.dataset.state = "grading";
        delete section.dataset.busy;
        return;
      }
      if (stop) stop();
      setBusy(section, false);
      showNotice("danger", fmt(msg.failed, { message: e.message }), e.problems);
    }
  }

  async function submitForm(section, form) {
    const aid = section.dataset.aid;
    const kind = form.dataset.kind; // due | extensions
    const values = Object.fromEntries(new FormData(form));
    const due = zoned(values.due_at);
    const payload = { due_at: due, reason: values.reason.trim(), cohort };
    if (kind === "extensions") payload.username = values.username;
    setBusy(section, true);
    try {
      await call("POST", `assessments/${aid}/${kind}`, payload);
      const text =
        kind === "due"
          ? fmt(msg.due, { due: shown(due) })
          : fmt(msg.extension, { username: values.username, due: shown(due) });
      reloadWith("success", text);
    } catch (e) {
      setBusy(section, false);
      showNotice("danger", fmt(msg.failed, { message: e.message }), e.problems);
    }
  }

  // --- the feedback preview -------------------------------------------------------------------

  const dialog = document.getElementById("feedback-preview");
  const pmsg = JSON.parse(document.getElementById("preview-messages").textContent);
  let previewing = null; // the section whose feedback the dialog shows

  function detail(t) {
    const parts = [];
    if (t.category === "manual") parts.push(fmt(pmsg.cells, { n: (t.pending_manual || []).length }));
    if (t.category === "held") {
      parts.push(pmsg.why[t.why] || t.why);
      parts.push(t.until ? fmt(pmsg.until, { until: shown(t.until) }) : pmsg.no_date);
    }
    if (t.category === "waiting") parts.push(pmsg[t.grading] || t.grading);
    if (t.category === "failed" && t.reason) parts.push(t.reason.slice(0, 200));
    if (t.earlier_feedback && t.category !== "release" && t.category !== "manual") {
      parts.push(pmsg.earlier);
    }
    return parts.join(" · ");
  }

  function fillPreview(data) {
    const total = data.trainees.length;
    const n = data.counts;
    const releasing = n.release + n.manual;
    for (const group of dialog.querySelectorAll(".preview-group")) {
      const mine = data.trainees.filter((t) => t.category === group.dataset.category);
      group.hidden = mine.length === 0;
      group.querySelector(".preview-count").textContent = String(mine.length);
      const list = group.querySelector(".preview-names");
      list.replaceChildren();
      for (const t of mine) {
        const li = document.createElement("li");
        li.dataset.username = t.username;
        const who = document.createElement("span");
        who.className = "fw-semibold";
        who.textContent = t.username;
        li.append(who);
        if (t.name) {
          const name = document.createElement("span");
          name.setAttribute("translate", "no");
          name.textContent = ` (${t.name})`;
          li.append(name);
        }
        const more = detail(t);
        if (more) {
          const small = document.createElement("span");
          small.className = "text-body-secondary";
          small.textContent = ` — ${more}`;
          li.append(small);
        }
        list.append(li);
      }
    }
    const lines = [fmt(pmsg.summary, { release: releasing, total, left: total - releasing })];
    if (!releasing) lines.push(pmsg.nothing);
    if (data.hidden_tests.length) lines.push(fmt(pmsg.hidden, { n: data.hidden_tests.length }));
    dialog.querySelector(".preview-summary").textContent = lines.join(" ");
    const confirm = dialog.querySelector(".preview-confirm");
    confirm.textContent = fmt(pmsg.confirm, { n: releasing });
    confirm.disabled = releasing === 0;
  }

  async function preview(section) {
    previewing = section;
    const aid = section.dataset.aid;
    dialog.querySelector(".preview-which").textContent = section.querySelector("h2").textContent;
    dialog.querySelector(".preview-summary").textContent = pmsg.checking;
    for (const group of dialog.querySelectorAll(".preview-group")) group.hidden = true;
    dialog.querySelector(".preview-confirm").disabled = true;
    dialog.showModal();
    try {
      const path = `assessments/${aid}/feedback/preview?cohort=${encodeURIComponent(cohort)}&lang=${lang}`;
      fillPreview(await call("GET", path));
    } catch (e) {
      dialog.querySelector(".preview-summary").textContent = fmt(msg.failed, { message: e.message });
    }
  }

  dialog.querySelector(".preview-cancel").addEventListener("click", () => dialog.close());
  dialog.querySelector(".preview-confirm").addEventListener("click", () => {
    dialog.close();
    if (previewing) act(previewing, "feedback");
  });

  function leftOut(result) {
    const parts = [];
    for (const key of ["waiting", "not_graded", "failed", "no_submission"]) {
      const n = ((result && result[key]) || []).length;
      if (n) parts.push(`${pmsg.labels[key]} ${n}`);
    }
    return parts.length ? [fmt(pmsg.left_out, { list: parts.join(", ") })] : [];
  }

  for (const section of board.querySelectorAll("section.assessment")) {
    for (const button of section.querySelectorAll("button.act")) {
      const action = button.dataset.action;
      button.addEventListener("click", () =>
        action === "feedback" ? preview(section) : act(section, action),
      );
    }
    for (const form of section.querySelectorAll("form")) {
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        if (form.reportValidity()) submitForm(section, form);
      });
    }
    if (section.dataset.state === "grading") watch(section);
  }
})();
