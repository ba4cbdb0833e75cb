/* The lägesbild dashboard's chart: incidents per month and category, stacked bars drawn with
   the vendored Chart.js from the JSON data island #lagesbild-chart-data. Without JavaScript, or
   without Chart.js, nothing is drawn: the table under it says the same. */
(function () {
  "use strict";
  function draw() {
    var holder = document.getElementById("lagesbild-chart");
    var island = document.getElementById("lagesbild-chart-data");
    if (!holder || !island || typeof window.Chart === "undefined") {
      return;
    }
    var data = JSON.parse(island.textContent);
    var canvas = document.createElement("canvas");
    canvas.setAttribute("role", "img");
    canvas.setAttribute("aria-label", holder.getAttribute("data-label") || data.title);
    holder.appendChild(canvas);
    new window.Chart(canvas, {
      type: "bar",
      data: {
        labels: data.labels,
        datasets: data.datasets.map(function (set) {
          return { label: set.label, data: set.data, backgroundColor: set.colour };
        })
      },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        plugins: { title: { display: true, text: data.title } },
        scales: {
          x: { stacked: true },
          y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } }
        }
      }
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
