/* Draws the dashboard's charts from the figures the server embedded in the page.
   window.switchboardCharts keeps each Chart by name, for people poking in the console
   and for the browser tests. */
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("figures").textContent);
  var daily = data.daily || [];
  var days = daily.map(function (d) { return d.day; });
  var palette = ["#1f73b7", "#c2410c", "#2f855a", "#805ad5", "#b7791f", "#e53e3e", "#319795", "#718096"];
  var charts = {};

  function pick(name, scale) {
    return daily.map(function (d) { return d[name] === null ? null : d[name] * (scale || 1); });
  }
  function draw(id, config) {
    var canvas = document.getElementById(id);
    if (!canvas) { return; }  // the page says in words that there is nothing to draw
    config.options = Object.assign({ responsive: true, maintainAspectRatio: false, animation: false,
                                     spanGaps: true }, config.options || {});
    charts[id.replace("chart-", "")] = new Chart(canvas, config);
  }
  var percent = { ticks: { callback: function (v) { return v + "%"; } }, min: 0, max: 100 };
  var count = { beginAtZero: true, ticks: { precision: 0 } };  // no half conversations
  // Days are slots, as bars are: a day's point sits in the middle of its slot, not on
  // the chart's edge, and a point on a day with neighbours missing is still seen.
  // Level dates, skipping some when they do not all fit, rather than a slanted wall of them.
  var dayAxis = { offset: true, ticks: { maxRotation: 0, autoSkipPadding: 12 } };
  Chart.defaults.elements.point.radius = 4;

  draw("chart-volume", { data: { labels: days, datasets: [
    { type: "bar", label: "Conversations", data: pick("conversations"), backgroundColor: "#90cdf4", yAxisID: "y",
      order: 2 },
    { type: "line", label: "Contained %", data: pick("containment_rate", 100), borderColor: palette[2],
      backgroundColor: palette[2], yAxisID: "y1", order: 1 }  // drawn over the bars
  ] }, options: { scales: { x: dayAxis, y: count, y1: Object.assign({ position: "right",
    grid: { drawOnChartArea: false } }, percent) },
    plugins: { legend: { labels: { sort: function (a, b) { return a.datasetIndex - b.datasetIndex; } } } } } });
  draw("chart-rates", { type: "line", data: { labels: days, datasets: [
    { label: "Escalated %", data: pick("escalation_rate", 100), borderColor: palette[1], backgroundColor: palette[1] },
    { label: "Reopened %", data: pick("reopen_rate", 100), borderColor: palette[3], backgroundColor: palette[3] }
  ] }, options: { scales: { x: dayAxis, y: percent } } });
  // The server picks the times' unit (the cards' rule, for the largest value charted).
  var times = document.getElementById("chart-times");
  var unit = times ? times.dataset : { unitName: "seconds", unitSymbol: "s", unitSeconds: "1" };
  var perUnit = 1 / Number(unit.unitSeconds);
  draw("chart-times", { type: "line", data: { labels: days, datasets: [
    { label: "First response", data: pick("first_response_avg_s", perUnit), borderColor: palette[0],
      backgroundColor: palette[0] },
    { label: "Handle time", data: pick("handle_time_avg_s", perUnit), borderColor: palette[4],
      backgroundColor: palette[4] },
    { label: "Time to resolution", data: pick("resolution_time_avg_s", perUnit), borderColor: palette[5],
      backgroundColor: palette[5] }
  ] }, options: { scales: { x: dayAxis, y: { beginAtZero: true, title: { display: true, text: unit.unitName } } },
    plugins: { tooltip: { callbacks: { label: function (c) {
      return c.dataset.label + ": " + c.parsed.y.toFixed(1) + " " + unit.unitSymbol; } } } } } });
  draw("chart-csat", { type: "line", data: { labels: days, datasets: [
    { label: "Average CSAT (1–5)", data: pick("csat_avg"), borderColor: palette[6], backgroundColor: palette[6] }
  ] }, options: { scales: { x: dayAxis, y: { min: 1, max: 5 } } } });
  var reasons = data.escalation_reasons || [];
  draw("chart-reasons", { type: "doughnut", data: {
    labels: reasons.map(function (r) { return r.reason.replace(/_/g, " "); }),
    datasets: [{ label: "Handoffs", data: reasons.map(function (r) { return r.count; }),
                 backgroundColor: reasons.map(function (_, i) { return palette[i % palette.length]; }) }]
  }, options: { plugins: { legend: { position: "right" } } } });
  var levels = data.by_automation || [];
  var automation = document.getElementById("chart-automation");
  var names = automation ? JSON.parse(automation.dataset.labels) : {};  // the segment table's words
  draw("chart-automation", { type: "bar", data: {
    labels: levels.map(function (l) { return names[l.segment] || l.segment; }),
    datasets: [{ label: "Conversations", data: levels.map(function (l) { return l.conversations; }),
                 backgroundColor: palette[0] },
               { label: "Resolved", data: levels.map(function (l) { return l.resolved; }),
                 backgroundColor: palette[2] }]
  }, options: { scales: { y: count } } });
  window.switchboardCharts = charts;
}());
