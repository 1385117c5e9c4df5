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

  // Each day's 95% interval as a whisker on its point: a band needs two days in a row to show,
  // a whisker shows the interval of a lone day too.
  var whiskers = {
    id: "dispatchWhiskers",
    afterDatasetsDraw: function (chart) {
      var ctx = chart.ctx;
      var y = chart.scales.y;
      chart.data.datasets.forEach(function (dataset, d) {
        if (!dataset.points || !chart.isDatasetVisible(d)) return;
        chart.getDatasetMeta(d).data.forEach(function (el, i) {
          var p = dataset.points[i];
          if (!p) return;
          var top = y.getPixelForValue(p.upper);
          var bottom = y.getPixelForValue(p.lower);
          ctx.save();
          ctx.strokeStyle = dataset.borderColor;
          ctx.lineWidth = 2;
          ctx.beginPath();
          ctx.moveTo(el.x, top);
          ctx.lineTo(el.x, bottom);
          ctx.moveTo(el.x - 6, top);
          ctx.lineTo(el.x + 6, top);
          ctx.moveTo(el.x - 6, bottom);
          ctx.lineTo(el.x + 6, bottom);
          ctx.stroke();
          ctx.restore();
        });
      });
    },
  };

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
        clip: 10,
      });
    });
    return {
      type: "line",
      data: { labels: spec.shown, datasets: datasets },
      plugins: [whiskers],
      options: {
        layout: { padding: { top: 10 } },
        scales: {
          x: { offset: true },
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
          { label: "“Not home” claims", data: spec.claims, hrefs: spec.claims_href, backgroundColor: "#56B4E9", maxBarThickness: 56 },
          { label: "… contradicted by the customer", data: spec.contradicted, hrefs: spec.contradicted_href, backgroundColor: "#D55E00", maxBarThickness: 56 },
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
    // The wallboard is read from across the room.
    Chart.defaults.font.size = document.body.classList.contains("wallboard") ? 18 : 13;
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
