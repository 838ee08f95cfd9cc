// conveyor dashboard: the little the pages need beyond htmx. A static file, as the
// Content-Security-Policy allows no inline script.
//
// - live parts ([data-poll]) are fetched again by htmx every few seconds; not while the tab
//   is hidden (document.visibilityState), and once at once when it shows again;
// - a jobs table with boxes ticked is left alone until they are unticked or acted on;
// - batch selection: select all, a count, buttons enabled only with a selection;
// - buttons with data-confirm ask first;
// - the overview's charts (uPlot), from /api/outcomes, refreshed while shown;
// - times show the reader's local time on hover.
(function () {
  "use strict";

  var body = document.body;
  var refresh = parseFloat(body.dataset.refresh || "3") * 1000;

  function hidden() {
    return document.visibilityState === "hidden";
  }

  // -- live updates, paused while hidden ----------------------------------------------------

  document.addEventListener("htmx:beforeRequest", function (event) {
    var element = event.detail.elt;
    if (!element.hasAttribute("data-poll")) return;
    if (hidden()) {
      event.preventDefault();
      return;
    }
    if (element.hasAttribute("data-keep-selection") && element.querySelector("input[name=job]:checked")) {
      event.preventDefault();
    }
  });

  document.addEventListener("htmx:afterRequest", function (event) {
    var failed = event.detail.failed && !event.detail.successful;
    var xhr = event.detail.xhr;
    body.classList.toggle("offline", Boolean(failed) && (!xhr || xhr.status === 0 || xhr.status >= 500));
  });
  document.addEventListener("htmx:sendError", function () {
    body.classList.add("offline");
  });

  document.addEventListener("visibilitychange", function () {
    body.classList.toggle("paused", hidden());
    if (!hidden()) {
      if (window.htmx) window.htmx.trigger(body, "conveyor:refresh");
      charts.forEach(function (chart) { chart.load(); });
    }
  });

  // -- batch selection ----------------------------------------------------------------------

  function boxes() {
    return Array.prototype.slice.call(document.querySelectorAll("input[name=job][type=checkbox]"));
  }

  function showSelection() {
    var chosen = boxes().filter(function (box) { return box.checked; }).length;
    var count = document.querySelector("[data-selected-count]");
    if (count) count.textContent = chosen ? chosen + " selected" : "none selected";
    document.querySelectorAll("[data-needs-selection]").forEach(function (button) {
      button.disabled = chosen === 0;
    });
    var all = document.querySelector("[data-select-all]");
    if (all) {
      var total = boxes().length;
      all.checked = total > 0 && chosen === total;
      all.indeterminate = chosen > 0 && chosen < total;
    }
  }

  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.matches("[data-select-all]")) {
      boxes().forEach(function (box) { box.checked = target.checked; });
    }
    if (target.matches("[data-select-all], input[name=job]")) showSelection();
  });

  // -- confirmations ------------------------------------------------------------------------

  document.addEventListener("submit", function (event) {
    var button = event.submitter;
    var question = button && button.getAttribute("data-confirm");
    if (question && !window.confirm(question)) event.preventDefault();
  });

  // -- local times --------------------------------------------------------------------------

  function localTimes(root) {
    root.querySelectorAll("time[datetime]").forEach(function (time) {
      var moment = new Date(time.getAttribute("datetime"));
      if (!isNaN(moment)) time.title = moment.toLocaleString() + " (your time)";
    });
  }

  document.addEventListener("htmx:afterSwap", function (event) {
    localTimes(event.detail.target);
    showSelection();
  });

  // -- charts -------------------------------------------------------------------------------

  var SERIES = [
    ["succeeded", "--ok"],
    ["failed", "--bad"],
    ["retried", "--warn"],
    ["cancelled", "--idle"],
  ];

  function color(name) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || "#888";
  }

  function Chart(element) {
    this.element = element;
    this.url = element.getAttribute("data-chart");
    this.plot = null;
  }

  var AXIS_FONT = "12px system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif";
  var measuring = document.createElement("canvas").getContext("2d");

  // the y axis as wide as its widest label (a busy minute reads 120,000), plus the tick
  // and the gap uPlot draws beside it; uPlot asks again once it knows the labels
  function yAxisSize(plot, labels) {
    measuring.font = AXIS_FONT;
    var widest = (labels || []).reduce(function (width, label) {
      return Math.max(width, measuring.measureText(String(label)).width);
    }, 0);
    return Math.max(44, Math.ceil(widest) + 20);
  }

  Chart.prototype.options = function () {
    var text = color("--muted");
    var grid = color("--line");
    var axis = {
      stroke: text, font: AXIS_FONT,
      grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 },
    };
    return {
      width: Math.max(this.element.clientWidth, 200),
      height: 220,
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true }, y: { range: function (u, min, max) { return [0, Math.max(max, 4)]; } } },
      axes: [axis, Object.assign({}, axis, { size: yAxisSize })],
      series: [{}].concat(SERIES.map(function (entry) {
        return { label: entry[0], stroke: color(entry[1]), width: 1.6, points: { show: false } };
      })),
    };
  };

  Chart.prototype.load = function () {
    var chart = this;
    if (hidden() || !window.uPlot) return;
    fetch(chart.url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) throw new Error(response.status);
        return response.json();
      })
      .then(function (data) {
        var columns = [data.t].concat(SERIES.map(function (entry) { return data[entry[0]]; }));
        // what the chart shows, in words: for screen readers (and the browser tests)
        chart.element.setAttribute("role", "img");
        chart.element.setAttribute("aria-label", SERIES.map(function (entry) {
          var total = data[entry[0]].reduce(function (sum, n) { return sum + n; }, 0);
          return total + " " + entry[0];
        }).join(", "));
        if (chart.plot) {
          chart.plot.setData(columns);
        } else {
          chart.plot = new window.uPlot(chart.options(), columns, chart.element);
        }
        body.classList.remove("offline");
      })
      .catch(function () {
        body.classList.add("offline");
      });
  };

  Chart.prototype.redraw = function () {
    if (!this.plot) return;
    var data = this.plot.data;
    this.plot.destroy();
    this.plot = new window.uPlot(this.options(), data, this.element);
  };

  var charts = Array.prototype.slice.call(document.querySelectorAll("[data-chart]")).map(function (element) {
    return new Chart(element);
  });

  if (charts.length) {
    charts.forEach(function (chart) { chart.load(); });
    window.setInterval(function () {
      charts.forEach(function (chart) { chart.load(); });
    }, Math.max(refresh * 3, 10000));
    if (window.ResizeObserver) {
      var resizing = new ResizeObserver(function () {
        charts.forEach(function (chart) {
          if (chart.plot) chart.plot.setSize({ width: Math.max(chart.element.clientWidth, 200), height: 220 });
        });
      });
      charts.forEach(function (chart) { resizing.observe(chart.element); });
    }
    var scheme = window.matchMedia("(prefers-color-scheme: dark)");
    if (scheme.addEventListener) {
      scheme.addEventListener("change", function () {
        charts.forEach(function (chart) { chart.redraw(); });
      });
    }
  }

  body.classList.toggle("paused", hidden());
  localTimes(document);
  showSelection();
})();
