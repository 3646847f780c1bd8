// One trainee's page (templates/trainee_detail.html): the stage move (admins) calls
// POST api/v1/trainees/NAME/stage, the server buttons POST and DELETE api/v1/trainees/NAME/server,
// each with the page's XSRF token; after a start or stop the state is asked again until it
// settles. Nothing here builds HTML from text: messages are set with textContent.
import { call as request, fmt } from "./api.js";

(() => {
  const body = document.body;
  const api = `${body.dataset.prefix}api/v1/`;
  const msg = JSON.parse(document.getElementById("trainee-messages").textContent);
  const NOTICE = "sadari-trainee-notice";

  const call = (method, path, payload) => request(method, api + path, payload);

  function showNotice(kind, text) {
    const box = document.getElementById("notice");
    box.replaceChildren();
    const alert = document.createElement("div");
    alert.className = `alert alert-${kind}`;
    alert.textContent = text;
    box.append(alert);
    box.scrollIntoView({ block: "nearest" });
  }

  function reloadWith(kind, text) {
    sessionStorage.setItem(NOTICE, JSON.stringify({ kind, text }));
    window.location.reload();
  }

  const kept = sessionStorage.getItem(NOTICE);
  if (kept) {
    sessionStorage.removeItem(NOTICE);
    try {
      const n = JSON.parse(kept);
      showNotice(n.kind, n.text);
    } catch (e) {
      /* a notice of another version: dropped */
    }
  }

  const form = document.getElementById("move-form");
  if (form) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const select = document.getElementById("move-stage");
      const reason = document.getElementById("move-reason");
      if (!reason.value.trim()) {
        showNotice("warning", msg.reason);
        reason.focus();
        return;
      }
      const submit = document.getElementById("move-submit");
      submit.disabled = true;
      const user = encodeURIComponent(form.dataset.username);
      try {
        const result = await call("POST", `trainees/${user}/stage`, {
          stage: select.value,
          reason: reason.value,
        });
        const label = select.options[select.selectedIndex].textContent;
        if (result.changed) reloadWith("success", fmt(msg.moved, { stage: label }));
        else showNotice("info", msg.unchanged);
      } catch (e) {
        showNotice("danger", fmt(msg.failed, { message: e.message }));
      } finally {
        submit.disabled = false;
      }
    });
  }

  const server = document.getElementById("server");
  const start = document.getElementById("server-start");
  const stop = document.getElementById("server-stop");
  if (server && start && stop) {
    const user = encodeURIComponent(server.dataset.username);
    const settle = async (want) => {
      for (let i = 0; i < 120; i += 1) {
        const now = await call("GET", `trainees/${user}/server`);
        if (now.state === want) return;
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    };
    const act = async (method, waiting, want) => {
      start.disabled = true;
      stop.disabled = true;
      showNotice("info", waiting);
      try {
        await call(method, `trainees/${user}/server`);
        await settle(want);
        window.location.reload();
      } catch (e) {
        showNotice("danger", fmt(msg.failed, { message: e.message }));
        start.disabled = server.dataset.state !== "stopped";
        stop.disabled = server.dataset.state === "stopped";
      }
    };
    start.addEventListener("click", () => act("POST", msg.starting, "ready"));
    stop.addEventListener("click", () => act("DELETE", msg.stopping, "stopped"));
  }
})();
