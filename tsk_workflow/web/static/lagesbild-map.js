/* The lägesbild dashboard's map: the month's incidents as circle markers, drawn with the
   vendored Leaflet from the JSON data island #lagesbild-map-data. The tiles come from the
   service's settings (TSK_MAP_TILES; none when it is empty): circle markers are drawn by the
   browser, so the points show without tiles. The table under the map lists the same points. */
(function () {
  "use strict";
  function text(value) {
    var span = document.createElement("span");
    span.textContent = value;
    return span;
  }
  function draw() {
    var holder = document.getElementById("lagesbild-map");
    var island = document.getElementById("lagesbild-map-data");
    if (!holder || !island || typeof window.L === "undefined") {
      return;
    }
    var data = JSON.parse(island.textContent);
    if (!data.points.length) {
      return;
    }
    holder.classList.add("drawn");
    var map = window.L.map(holder, { scrollWheelZoom: false });
    if (data.tiles) {
      var attribution = document.createElement("span");
      attribution.textContent = data.attribution || "";
      window.L.tileLayer(data.tiles, {
        maxZoom: 18,
        attribution: attribution.innerHTML
      }).addTo(map);
    }
    var bounds = [];
    data.points.forEach(function (point) {
      var where = [point.lat, point.lon];
      bounds.push(where);
      window.L.circleMarker(where, {
        radius: 6 + Math.min(point.count, 10),
        color: "#0b5394",
        weight: 2,
        fillColor: "#0072B2",
        fillOpacity: 0.6
      }).bindTooltip(text(point.label + " (" + point.count + ")")).addTo(map);
    });
    map.fitBounds(bounds, { padding: [24, 24], maxZoom: 15 });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
