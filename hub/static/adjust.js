// Changing an autograded cell's points by hand, from the submission's page
// (templates/submission.html): the forms show only when GET .../grades/SID says the caller may
// (the cohort's instructors, admins). A save is a PUT of .../grades/SID/NOTEBOOK/CELL with the
// points, the required reason, the comment and the version of the grade the page showed; a 409
// means someone else changed it meanwhile: nothing was saved and the form shows their grade (and
// its version) instead. The cell's points, who changed them, when and why, the grading's own
// points and the submission's raw and final score follow in place.
// Nothing here builds HTML from text: everything is set with textContent.

import { api, fmt, number, request, when } from "./api.js";

const section = document.getElementById("tests");
const forms = [...document.querySelectorAll("form.adjust-form")];
const msg = JSON.parse(document.getElementById("adjust-messages").textContent);

function notice(form, kind, text) {
  const box = form.querySelector(".adjust-notice");
  box.replaceChildren();
  const alert = document.createElement("div");
  alert.className = `alert alert-${kind} py-1 px-2 mb-0`;
  alert.setAttribute("role", kind === "success" ? "status" : "alert");
  alert.textContent = text;
  box.append(alert);
}

const rowOf = (form) => form.closest("tr.grade");

// the grade as stored now (a PUT's answer, or a 409's `current`) everywhere the page shows it
function show(form, grade) {
  form.dataset.version = String(grade.version);
  form.elements.points.value = String(grade.score);
  form.elements.comment.value = grade.comment || "";
  const row = rowOf(form);
  const points = `${number(grade.score)} / ${number(grade.max_score)}`;
  row.querySelector("td.points").textContent = points;
  const badge = document.querySelector(
    `.nb-points [data-notebook="${CSS.escape(grade.notebook)}"][data-cell="${CSS.escape(grade.cell)}"]`,
  );
  if (badge) {
    badge.textContent = `${grade.cell}: ${points}`;
    const full = grade.score === grade.max_score;
    badge.classList.toggle("text-bg-success", full);
    badge.classList.toggle("text-bg-danger", !full);
  }
  const info = row.querySelector(".adjusted");
  if (grade.origin !== "sadari") {
    // a grading's points (a regrade since the page loaded): nobody's change to show
    info.hidden = true;
    form.dataset.auto = String(grade.score);
    return;
  }
  info.querySelector(".adjusted-by").textContent = fmt(msg.by, {
    who: grade.graded_by,
    at: when(grade.graded_at),
  });
  info.querySelector(".adjusted-reason").textContent = grade.reason || "";
  const auto = form.dataset.auto;
  info.querySelector(".adjusted-auto").textContent =
    `${auto === "" ? "" : number(Number(auto))} / ${number(grade.max_score)}`;
  info.querySelector(".adjusted-comment").textContent = grade.comment || "";
  info.querySelector(".adjusted-comment-line").hidden = !grade.comment;
  info.hidden = false;
}

function showResult(r) {
  if (!r) return;
  const raw = document.getElementById("raw");
  raw.textContent = `${number(r.raw_score)} / ${number(r.max_score)}`;
  const strong = document.createElement("strong");
  strong.textContent = number(r.final_score);
  document.getElementById("final").replaceChildren(strong, ` / ${number(r.max_score)}`);
}

async function refreshResult() {
  const { aid, sid } = section.dataset;
  const answer = await request("GET", `${api}assessments/${aid}/submissions/${sid}/grading`);
  if (answer.ok) showResult(answer.data.result);
}

async function save(form) {
  const { aid, sid } = section.dataset;
  const maximum = Number(form.dataset.max);
  const field = form.elements.points;
  const reason = form.elements.reason;
  const value = field.value.trim() === "" ? NaN : Number(field.value);
  for (const input of [field, reason]) input.removeAttribute("aria-invalid");
  if (!(value >= 0 && value <= maximum)) {
    field.setAttribute("aria-invalid", "true");
    notice(form, "warning", fmt(msg.points, { max: number(maximum) }));
    field.focus();
    return;
  }
  if (!reason.value.trim()) {
    reason.setAttribute("aria-invalid", "true");
    notice(form, "warning", msg.reason);
    reason.focus();
    return;
  }
  const cell = `${encodeURIComponent(form.dataset.notebook)}/${encodeURIComponent(form.dataset.cell)}`;
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    const answer = await request("PUT", `${api}assessments/${aid}/grades/${sid}/${cell}`, {
      points: value,
      reason: reason.value.trim(),
      comment: form.elements.comment.value,
      version: Number(form.dataset.version),
    });
    const data = answer.data;
    if (answer.status === 409 && data && data.current) {
      const c = data.current;
      show(form, c);
      notice(
        form,
        "danger",
        fmt(msg.stale, {
          who: c.graded_by,
          points: number(c.score),
          max: number(c.max_score),
          at: when(c.graded_at),
        }),
      );
      await refreshResult();
    } else if (!answer.ok) {
      notice(form, "danger", fmt(msg.failed, { message: answer.message }));
    } else {
      show(form, data.grade);
      showResult(data.result);
      reason.value = "";
      notice(
        form,
        "success",
        fmt(msg.saved, {
          points: number(data.grade.score),
          max: number(data.grade.max_score),
          final: number(data.result.final_score),
          total: number(data.result.max_score),
        }),
      );
    }
  } catch (e) {
    notice(form, "danger", fmt(msg.failed, { message: e.message }));
  } finally {
    button.disabled = false;
  }
}

async function start() {
  if (!section || !forms.length) return;
  const { aid, sid } = section.dataset;
  const answer = await request("GET", `${api}assessments/${aid}/grades/${sid}`);
  if (!answer.ok || !answer.data.may_adjust) return; // not theirs to change: no forms
  for (const form of forms) {
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      save(form);
    });
    form.closest("details.adjust").hidden = false;
  }
}

start();
