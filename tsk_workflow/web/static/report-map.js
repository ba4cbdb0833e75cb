/* The map picker of the page /report: under each event's latitude and longitude fields, a
   small map drawn with the vendored Leaflet. A click (or tap) on the map marks the point and
   fills both fields (6 decimals); typing in the fields moves the mark; "Remove the point"
   empties both. The settings (the tiles, where the map starts) come from the JSON data island
   #report-map-data. Without JavaScript, Leaflet or the island, the pickers stay hidden and the
   two number fields are the way to give a point, as they always remain. A picker is drawn
   once (data-drawn); blocks swapped in by htmx are drawn after the swap. */
(function () {
  "use strict";

  function number(input) {
    var text = input.value.trim().replace(",", ".");
    if (text === "") {
      return null;
    }
    var value = Number(text);
    return isFinite(value) ? value : null;
  }

  function pointOf(latitude, longitude) {
    var lat = number(latitude);
    var lon = number(longitude);
    if (lat === null || lon === null || Math.abs(lat) > 90 || Math.abs(lon) > 180) {
      return null;
    }
    return [lat, lon];
  }

  function picker(holder, data) {
    if (holder.hasAttribute("data-drawn")) {
      return;
    }
    holder.setAttribute("data-drawn", "");
    var index = holder.getAttribute("data-event");
    var latitude = document.getElementById("e" + index + "-latitude");
    var longitude = document.getElementById("e" + index + "-longitude");
    var box = document.getElementById("e" + index + "-map");
    var remove = document.getElementById("e" + index + "-map-remove");
    if (!latitude || !longitude || !box || !remove) {
      return;
    }
    holder.hidden = false;
    box.classList.add("drawn");
    var L = window.L;
    var start = pointOf(latitude, longitude);
    var map = L.map(box, { scrollWheelZoom: false });
    var attribution = document.createElement("span");
    attribution.textContent = data.attribution || "";
    L.tileLayer(data.tiles, { maxZoom: 19, attribution: attribution.innerHTML }).addTo(map);
    map.setView(start || data.centre, start ? Math.max(data.zoom, 15) : data.zoom);
    var marker = null;

    function mark(point) {
      if (point === null) {
        if (marker !== null) {
          marker.remove();
          marker = null;
        }
        return;
      }
      if (marker === null) {
        marker = L.circleMarker(point, {
          radius: 9,
          color: "#0b5394",
          weight: 3,
          fillColor: "#0072B2",
          fillOpacity: 0.5
        }).addTo(map);
      } else {
        marker.setLatLng(point);
      }
      if (!map.getBounds().contains(point)) {
        map.panTo(point);
      }
    }

    mark(start);
    map.on("click", function (event) {
      var where = event.latlng.wrap();
      latitude.value = where.lat.toFixed(6);
      longitude.value = where.lng.toFixed(6);
      mark([where.lat, where.lng]);
    });
    function typed() {
      mark(pointOf(latitude, longitude));
    }
    latitude.addEventListener("input", typed);
    longitude.addEventListener("input", typed);
    remove.addEventListener("click", function () {
      latitude.value = "";
      longitude.value = "";
      mark(null);
    });
  }

  function draw() {
    var island = document.getElementById("report-map-data");
    if (!island || typeof window.L === "undefined") {
      return;
    }
    var data = JSON.parse(island.textContent);
    if (!data.tiles) {
      return;
    }
    var holders = document.querySelectorAll(".map-picker[data-event]");
    Array.prototype.forEach.call(holders, function (holder) {
      picker(holder, data);
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
  // "Add another event", "Remove event N" and a refused form may come back through htmx,
  // which swaps the page's main part in place: the new blocks get their maps then.
  document.addEventListener("htmx:afterSettle", draw);
})();
