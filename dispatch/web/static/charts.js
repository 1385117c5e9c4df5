// The supervisors' charts (Chart.js from npm, served by the app). No inline script: each chart's
// data comes from its canvas's data-chart attribute (JSON written by the page), and it is drawn
// again whenever htmx swaps in a fresh copy of the dashboard.
// - kind "rate": the very-satisfied rate per provider and day, with its 95% Wilson band;
// - kind "not_home": "customer not home" claims against the contradicted ones, per provider.
// Every point and bar carries the URL of its orders (the drill-down): a click opens it.
"use strict";
(function () {
  function percent(value) {
    return (value * 100).toFixed(1) + "%";
  }

  function translucent(hex) {
    return hex + "33"; // #RRGGBB + alpha 0.2
  }

  function rateChart(canvas, spec) {
    var datasets = [];
    spec.series.forEach(function (s) {
      var pick = function (field) {
        return s.points.map(function (p) {
          return p ? p[field] : null;
        });
      };
      // The band: the lower bound, then the upper bound filled down to it.
      datasets.push({ label: s.code + " lower", band: true, data: pick("lower"), borderWidth: 0, pointRadius: 0, pointHitRadius: 0, fill: false });
      datasets.push({
        label: s.code + " 95% interval",
        band: true,
        data: pick("upper"),
        borderWidth: 0,
        pointRadius: 0,
        pointHitRadius: 0,
        backgroundColor: translucent(s.colour),
        fill: "-1",
      });
      datasets.push({
        label: s.name + " (" + s.code + ")",
        data: pick("rate"),
        points: s.points,
        hrefs: pick("href"),
        borderColor: s.colour,
        backgroundColor: s.colour,
        borderWidth: 2,
        pointRadius: 5,
        pointHoverRadius: 8,
        spanGaps: false,
      });
    });
    return {
      type: "line",
      data: { labels: spec.labels, datasets: datasets },
      options: {
        scales: {
          y: { min: 0, max: 1, ticks: { callback: percent } },
        },
        plugins: {
          legend: {
            labels: {
              filter: function (item, data) {
                return !data.datasets[item.datasetIndex].band;
              },
            },
          },
          tooltip: {
            filter: function (item) {
              return !item.dataset.band;
            },
            callbacks: {
              label: function (ctx) {
                var p = ctx.dataset.points[ctx.dataIndex];
                if (!p) return "";
                return ctx.dataset.label + ": " + percent(p.rate) + " (" + p.k + " of " + p.n + "; 95%: " + percent(p.lower) + "–" + percent(p.upper) + ")";
              },
            },
          },
        },
      },
    };
  }

  function notHomeChart(canvas, spec) {
    return {
      type: "bar",
      data: {
        labels: spec.labels,
        datasets: [
          { label: "“Not home” claims", data: spec.claims, hrefs: spec.claims_href, backgroundColor: "#56B4E9" },
          { label: "… contradicted by the customer", data: spec.contradicted, hrefs: spec.contradicted_href, backgroundColor: "#D55E00" },
        ],
      },
      options: { scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } },
    };
  }

  function open(chart, event) {
    var found = chart.getElementsAtEventForMode(event, "nearest", { intersect: true }, true);
    for (var i = 0; i < found.length; i++) {
      var dataset = chart.data.datasets[found[i].datasetIndex];
      var href = dataset.hrefs && dataset.hrefs[found[i].index];
      if (href) {
        window.location.assign(href);
        return;
      }
    }
  }

  function clickable(chart, event) {
    var found = chart.getElementsAtEventForMode(event, "nearest", { intersect: true }, true);
    return found.some(function (el) {
      var dataset = chart.data.datasets[el.datasetIndex];
      return dataset.hrefs && dataset.hrefs[el.index];
    });
  }

  function draw(root) {
    if (typeof Chart === "undefined" || !root || !root.querySelectorAll) return;
    // Charts of a board that htmx has swapped out: free them.
    Object.values(Chart.instances).forEach(function (chart) {
      if (!chart.canvas.isConnected) chart.destroy();
    });
    root.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      var existing = Chart.getChart(canvas);
      if (existing) existing.destroy();
      var spec = JSON.parse(canvas.dataset.chart);
      var config = spec.kind === "rate" ? rateChart(canvas, spec) : notHomeChart(canvas, spec);
      config.options.animation = false; // a refresh redraws at once; a wall screen never flickers
      config.options.responsive = true;
      config.options.maintainAspectRatio = false;
      config.options.onClick = function (event, _elements, chart) {
        open(chart, event);
      };
      config.options.onHover = function (event, _elements, chart) {
        chart.canvas.style.cursor = clickable(chart, event) ? "pointer" : "default";
      };
      new Chart(canvas, config);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    draw(document);
  });
  document.addEventListener("htmx:load", function (event) {
    draw(event.target);
  });
})();
