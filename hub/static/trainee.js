// The trainee's page (templates/trainee.html): each open assessment's countdown keeps counting
// down while the page stays open. The server renders the first value in the page's language;
// this only recomputes it each minute from the due instant, with the unit words the server gave
// (`data-units`: one day, one hour, one minute as the language writes them) and the template
// `data-left` ("{left} left"). Text is set with textContent.
"use strict";

(() => {
  const MINUTE = 60 * 1000;

  function unit(words, n) {
    return words.replace("1", String(n));
  }

  function left(el, now) {
    const ms = Date.parse(el.dataset.due) - now;
    if (!(ms > 0)) {
      return el.dataset.over;
    }
    const [day, hour, minute] = JSON.parse(el.dataset.units);
    const minutes = Math.max(1, Math.round(ms / MINUTE));
    const d = Math.floor(minutes / (24 * 60));
    const h = Math.floor((minutes % (24 * 60)) / 60);
    const m = minutes % 60;
    const parts = [];
    if (d) parts.push(unit(day, d));
    if (h) parts.push(unit(hour, h));
    if (m && !d) parts.push(unit(minute, m));
    return el.dataset.left.replace("{left}", parts.join(" "));
  }

  function tick() {
    const now = Date.now();
    for (const el of document.querySelectorAll(".countdown[data-due]")) {
      el.textContent = left(el, now);
    }
  }

  setInterval(tick, MINUTE);
})();
