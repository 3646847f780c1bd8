// The analytics pages (templates/analytics_*.html): draws the charts with Chart.js (served by the
// service from node_modules, see handlers/analytics.py) from the data the service embedded in
// the page (#analytics-data, JSON that is never executed). Each chart tells its series apart by
// more than colour (solid vs hatched bars, solid lines with circles vs dashed lines with
// triangles, the numbers written on the bars) and the same data is in the table under it. A PNG
// of each chart downloads from Chart.js's own export (toBase64Image). Nothing here builds HTML
// from text.
"use strict";

(() => {
  const source = document.getElementById("analytics-data");
  if (!source) return;
  const data = JSON.parse(source.textContent);
  const msg = JSON.parse(document.getElementById("analytics-messages").textContent);
  const kind = source.dataset.kind;
  const name = source.dataset.name || "analytics";
  const lang = document.body.dataset.lang || "ko";
  const BLUE = "#0b5ed7";
  const ORANGE = "#b35900";
  const TEAL = "#157a6e";

  if (typeof window.Chart === "undefined") {
    for (const canvas of document.querySelectorAll(".chart-box canvas")) {
      const note = document.createElement("p");
      note.className = "chart-note mb-0";
      note.textContent = msg.no_charts;
      canvas.replaceWith(note);
    }
    return;
  }

  const page = getComputedStyle(document.body);
  const ink = page.color;
  const paper = page.backgroundColor;
  const rule = page.getPropertyValue("--bs-border-color").trim() || "#dee2e6";
  Chart.defaults.color = ink;
  Chart.defaults.borderColor = rule;
  Chart.defaults.font.family = page.fontFamily;
  Chart.defaults.animation = false;
  Chart.defaults.maintainAspectRatio = false;

  const number = (value, digits) =>
    new Intl.NumberFormat(lang, { maximumFractionDigits: digits }).format(value);
  const short = (text, most) => (text.length > most ? `${text.slice(0, most - 1)}…` : text);

  // diagonal stripes of `color` on a light ground: a fill that reads without colour
  function hatch(color) {
    const tile = document.createElement("canvas");
    tile.width = 8;
    tile.height = 8;
    const g = tile.getContext("2d");
    g.fillStyle = "rgba(255, 255, 255, 0.85)";
    g.fillRect(0, 0, 8, 8);
    g.strokeStyle = color;
    g.lineWidth = 2;
    g.beginPath();
    g.moveTo(-2, 2);
    g.lineTo(2, -2);
    g.moveTo(0, 8);
    g.lineTo(8, 0);
    g.moveTo(6, 10);
    g.lineTo(10, 6);
    g.stroke();
    return g.createPattern(tile, "repeat");
  }

  // the page's background under the chart, so the PNG export is not transparent
  const background = {
    id: "background",
    beforeDraw(chart) {
      const { ctx, width, height } = chart;
      ctx.save();
      ctx.globalCompositeOperation = "destination-over";
      ctx.fillStyle = paper;
      ctx.fillRect(0, 0, width, height);
      ctx.restore();
    },
  };

  // each bar's value written at its end (datasets with a `valueLabel` function)
  const valueLabels = {
    id: "valueLabels",
    afterDatasetsDraw(chart) {
      const { ctx } = chart;
      const horizontal = chart.options.indexAxis === "y";
      ctx.save();
      ctx.fillStyle = ink;
      ctx.font = `12px ${page.fontFamily}`;
      chart.data.datasets.forEach((dataset, d) => {
        if (!dataset.valueLabel || !chart.isDatasetVisible(d)) return;
        chart.getDatasetMeta(d).data.forEach((bar, i) => {
          const value = dataset.data[i];
          if (value === null || value === undefined) return;
          const text = dataset.valueLabel(value, i);
          if (horizontal) {
            ctx.textAlign = "left";
            ctx.textBaseline = "middle";
            ctx.fillText(text, bar.x + 6, bar.y);
          } else {
            ctx.textAlign = "center";
            ctx.textBaseline = value < 0 ? "top" : "bottom";
            ctx.fillText(text, bar.x, value < 0 ? bar.y + 4 : bar.y - 4);
          }
        });
      });
      ctx.restore();
    },
  };

  // the deadline as a dashed vertical line with its word (options.plugins.dueLine.index:
  // a fractional position among the categories)
  const dueLine = {
    id: "dueLine",
    afterDatasetsDraw(chart, args, options) {
      if (options.index === null || options.index === undefined) return;
      const x0 = chart.scales.x;
      const i = Math.floor(options.index);
      const left = x0.getPixelForValue(i);
      const right = i + 1 < chart.data.labels.length ? x0.getPixelForValue(i + 1) : left;
      const x = left + (right - left) * (options.index - i);
      const { top, bottom } = chart.chartArea;
      const { ctx } = chart;
      ctx.save();
      ctx.strokeStyle = ink;
      ctx.lineWidth = 2;
      ctx.setLineDash([2, 3]);
      ctx.beginPath();
      ctx.moveTo(x, top);
      ctx.lineTo(x, bottom);
      ctx.stroke();
      ctx.setLineDash([]);
      ctx.fillStyle = ink;
      ctx.font = `bold 12px ${page.fontFamily}`;
      ctx.textAlign = x > (chart.chartArea.left + chart.chartArea.right) / 2 ? "right" : "left";
      ctx.textBaseline = "top";
      ctx.fillText(`${options.label} ▼`, x + (ctx.textAlign === "left" ? 4 : -4), top + 2);
      ctx.restore();
    },
  };

  const charts = {};

  function draw(id, config) {
    const canvas = document.getElementById(`chart-${id}`);
    if (!canvas) return;
    config.plugins = [background, valueLabels, ...(config.plugins || [])];
    charts[id] = new Chart(canvas, config);
    canvas.dataset.drawn = "1";
    const button = document.querySelector(`button.png[data-chart="${id}"]`);
    if (button) {
      button.hidden = false;
      button.addEventListener("click", () => {
        const link = document.createElement("a");
        link.href = charts[id].toBase64Image("image/png", 1);
        link.download = `${name}-${id}.png`;
        document.body.append(link);
        link.click();
        link.remove();
      });
    }
  }

  const axisTitle = (text) => ({ display: true, text });

  function assessmentCharts() {
    const bins = data.histogram;
    draw("histogram", {
      type: "bar",
      data: {
        labels: bins.map((b) => `${number(b.lo, 0)}–${number(b.hi, 0)}`),
        datasets: [
          {
            label: msg.trainees,
            data: bins.map((b) => b.count),
            backgroundColor: BLUE,
            borderColor: BLUE,
            borderWidth: 1,
            valueLabel: (v) => number(v, 0),
          },
        ],
      },
      options: {
        layout: { padding: { top: 18 } },
        plugins: { legend: { display: false } },
        scales: {
          x: { title: axisTitle(msg.final_score) },
          y: { beginAtZero: true, ticks: { precision: 0 }, title: axisTitle(msg.trainees) },
        },
      },
    });

    const qs = data.questions;
    if (qs.length) {
      draw("questions", {
        type: "bar",
        data: {
          labels: qs.map((q) => short(q.label, 24)),
          datasets: [
            {
              label: msg.mean_share,
              data: qs.map((q) => (q.mean_share === null ? null : q.mean_share * 100)),
              backgroundColor: BLUE,
              borderColor: BLUE,
              borderWidth: 1,
              yAxisID: "y",
              valueLabel: (v) => `${number(v, 0)}%`,
            },
            {
              label: msg.discrimination,
              data: qs.map((q) => q.discrimination),
              backgroundColor: hatch(ORANGE),
              borderColor: ORANGE,
              borderWidth: 2,
              yAxisID: "y2",
              valueLabel: (v) => number(v, 2),
            },
          ],
        },
        options: {
          layout: { padding: { top: 18 } },
          scales: {
            y: { min: 0, max: 100, position: "left", title: axisTitle(msg.mean_share) },
            y2: {
              min: -1,
              max: 1,
              position: "right",
              grid: { drawOnChartArea: false },
              title: axisTitle(msg.discrimination),
            },
          },
        },
      });
    }

    const line = data.timeline;
    const many = line.points.length > 60;
    draw("timeline", {
      type: "line",
      data: {
        labels: line.points.map((p) => p.label),
        datasets: [
          {
            label: msg.on_time,
            data: line.points.map((p) => p.on_time),
            borderColor: BLUE,
            backgroundColor: BLUE,
            pointStyle: "circle",
            pointRadius: many ? 2 : 4,
            borderWidth: 2,
          },
          {
            label: msg.late,
            data: line.points.map((p) => p.late),
            borderColor: ORANGE,
            backgroundColor: ORANGE,
            borderDash: [7, 4],
            pointStyle: "triangle",
            pointRadius: many ? 3 : 6,
            borderWidth: 2,
          },
        ],
      },
      options: {
        plugins: {
          legend: { labels: { usePointStyle: true } },
          dueLine: { index: line.due_index, label: msg.deadline },
        },
        scales: {
          x: { ticks: { autoSkip: true, maxRotation: 0 } },
          y: { beginAtZero: true, ticks: { precision: 0 }, title: axisTitle(msg.submissions) },
        },
      },
      plugins: [dueLine],
    });
  }

  function cohortCharts() {
    const steps = data.funnel;
    const pick = (text) => (text && (text[lang] || text.ko || text.en)) || "";
    draw("funnel", {
      type: "bar",
      data: {
        labels: steps.map((s) => `${s.position}. ${pick(s.name)}`),
        datasets: [
          {
            label: msg.reached,
            data: steps.map((s) => s.reached),
            backgroundColor: steps.map((s, i) => (i % 2 ? hatch(TEAL) : TEAL)),
            borderColor: TEAL,
            borderWidth: 2,
            valueLabel: (v, i) =>
              steps[i].of_enrolled === null
                ? number(v, 0)
                : `${number(v, 0)} (${number(steps[i].of_enrolled * 100, 0)}%)`,
          },
        ],
      },
      options: {
        indexAxis: "y",
        layout: { padding: { right: 80 } },
        plugins: { legend: { display: false } },
        scales: {
          x: { beginAtZero: true, ticks: { precision: 0 }, title: axisTitle(msg.trainees) },
        },
      },
    });
  }

  if (kind === "assessment") assessmentCharts();
  if (kind === "cohort") cohortCharts();
})();
