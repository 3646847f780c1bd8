// The submissions table (templates/submissions.html): filter chips and sortable columns, in the
// page, without reloading. Rows carry their values in data-* attributes; the server already
// applied the filter of ?show=, so the page works without this script too.
"use strict";

(() => {
  const table = document.getElementById("submissions");
  const tbody = table.tBodies[0];
  const msg = JSON.parse(document.getElementById("table-messages").textContent);
  const shownLine = document.getElementById("shown");
  const rows = Array.from(tbody.rows);

  const matches = (row, filter) =>
    filter === "all" ||
    row.dataset.status === filter ||
    (filter === "late" && row.dataset.late === "1");

  function count() {
    const visible = rows.filter((r) => !r.hidden).length;
    shownLine.textContent = msg.shown.replace("{shown}", visible).replace("{total}", rows.length);
  }

  function filterBy(filter) {
    for (const row of rows) row.hidden = !matches(row, filter);
    for (const chip of document.querySelectorAll("a.filter")) {
      const on = chip.dataset.filter === filter;
      chip.classList.toggle("btn-secondary", on);
      chip.classList.toggle("active", on);
      chip.classList.toggle("btn-outline-secondary", !on);
      if (on) chip.setAttribute("aria-current", "true");
      else chip.removeAttribute("aria-current");
    }
    const url = new URL(window.location.href);
    url.searchParams.set("show", filter);
    window.history.replaceState(null, "", url);
    count();
  }

  for (const chip of document.querySelectorAll("a.filter")) {
    chip.addEventListener("click", (event) => {
      event.preventDefault();
      filterBy(chip.dataset.filter);
    });
  }

  const headers = Array.from(table.tHead.rows[0].cells);
  headers.forEach((th, index) => {
    const button = th.querySelector("button.sort");
    if (!button) return;
    button.addEventListener("click", () => {
      const ascending = th.getAttribute("aria-sort") !== "ascending";
      for (const other of headers) other.removeAttribute("aria-sort");
      th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
      const numeric = th.dataset.type === "number";
      const key = (row) => {
        const v = row.cells[index].dataset.value ?? row.cells[index].textContent;
        return numeric ? Number(v) : v.toLocaleLowerCase();
      };
      const sorted = rows.slice().sort((a, b) => {
        const x = key(a);
        const y = key(b);
        const order = numeric ? x - y : x.localeCompare(y);
        return ascending ? order : -order;
      });
      tbody.append(...sorted);
      button.title = ascending ? msg.ascending : msg.descending;
    });
  });

  count();
})();
