// One answer of the grading queue (templates/grading_answer.html): the grade is saved with a PUT
// of the service's JSON API with the page's XSRF token and the version of the grade the page
// showed. A 409 means someone else graded the answer meanwhile: nothing was saved, and the page
// shows their grade (and its new version) instead. Keys: j/k next/previous answer, n next
// waiting answer, 1..9 a rubric level; Enter saves (Ctrl+Enter in the comment).
// Nothing here builds HTML from text: messages are set with textContent.
import { fmt, number, request } from "./api.js";

(() => {
  const body = document.body;
  const zone = body.dataset.zone || "UTC";
  const lang = body.dataset.lang || "ko";
  const form = document.getElementById("grade-form");
  const msg = JSON.parse(document.getElementById("grading-messages").textContent);

  const shown = (iso) =>
    new Intl.DateTimeFormat(lang, {
      timeZone: zone,
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      hourCycle: "h23",
    }).format(new Date(iso));

  function notice(kind, text) {
    const box = document.getElementById("notice");
    box.replaceChildren();
    const alert = document.createElement("div");
    alert.className = `alert alert-${kind}`;
    alert.setAttribute("role", kind === "danger" || kind === "warning" ? "alert" : "status");
    alert.textContent = text;
    box.append(alert);
  }

  function go(id) {
    const link = document.getElementById(id);
    if (link) window.location.assign(link.href);
  }

  // the keys work from here on (a module runs after the page is shown: a key pressed before
  // this did nothing); tests wait for it
  const ready = () => {
    body.dataset.keys = "ready";
  };

  if (!form) {
    document.addEventListener("keydown", (event) => {
      if (event.key === "j") go("next");
      if (event.key === "k") go("prev");
    });
    ready();
    return;
  }

  const points = form.querySelector("#points");
  const comment = form.querySelector("#comment");
  const reason = form.querySelector("#reason");
  const levels = [...form.querySelectorAll("input.level")];
  const maximum = Number(points.max);

  function chooseLevel(key) {
    const level = levels.find((l) => l.dataset.key === String(key));
    if (!level) return false;
    level.checked = true;
    points.value = level.value;
    return true;
  }

  function markLevel() {
    for (const l of levels) l.checked = points.value !== "" && Number(l.value) === Number(points.value);
  }

  for (const level of levels) level.addEventListener("change", () => chooseLevel(level.dataset.key));
  points.addEventListener("input", markLevel);

  function show(grade) {
    form.dataset.version = String(grade.version);
    points.value = grade.score === null ? "" : String(grade.score);
    comment.value = grade.comment || "";
    markLevel();
    const line = document.getElementById("graded-by");
    line.replaceChildren();
    line.append(fmt(msg.by, { who: grade.graded_by, at: shown(grade.graded_at) }), " ");
    const version = document.createElement("span");
    version.className = "text-body-secondary";
    version.textContent = fmt(msg.version, { version: grade.version });
    line.append(version);
  }

  async function save() {
    const value = points.value === "" ? NaN : Number(points.value);
    if (!(value >= 0 && value <= maximum)) {
      notice("warning", fmt(msg.points, { max: number(maximum) }));
      points.focus();
      return;
    }
    if (reason && !reason.value.trim()) {
      notice("warning", msg.reason);
      reason.focus();
      return;
    }
    const payload = {
      points: value,
      comment: comment.value,
      version: Number(form.dataset.version),
    };
    if (reason) payload.reason = reason.value.trim();
    const button = form.querySelector("#save");
    button.disabled = true;
    try {
      const { ok, status, data, raw } = await request("PUT", form.dataset.url, payload);
      if (status === 409 && data && data.current) {
        show(data.current);
        notice("danger", msg.stale);
      } else if (!ok) {
        notice("danger", fmt(msg.failed, { message: raw }));
      } else {
        show(data.grade);
        notice(
          "success",
          fmt(msg.saved, {
            points: number(data.grade.score),
            max: number(data.grade.max_score),
            version: data.grade.version,
          }),
        );
      }
    } catch (e) {
      notice("danger", fmt(msg.failed, { message: e.message }));
    } finally {
      button.disabled = false;
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    save();
  });
  comment.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      save();
    }
  });

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const target = event.target;
    const typing =
      target instanceof HTMLTextAreaElement ||
      (target instanceof HTMLInputElement && target.type !== "radio" && target.type !== "checkbox");
    if (typing) return;
    if (event.key === "j") go("next");
    else if (event.key === "k") go("prev");
    else if (event.key === "n") go("next-waiting");
    else if (/^[1-9]$/.test(event.key) && chooseLevel(event.key)) {
      event.preventDefault();
      levels.find((l) => l.checked).focus();
    } else if (event.key === "Enter" && !(target instanceof HTMLButtonElement || target instanceof HTMLAnchorElement)) {
      event.preventDefault(); // on a level or the page: save, as in the points field
      save();
    }
  });
  ready();
})();
