/* The TPS map of one desa or a kecamatan, drawn with Leaflet from the JSON in #tps-data (GeoJSON layers
   and the legend's figures). Included raw in tpsmap.html: no Jinja delimiters (double braces, brace-percent
   or brace-hash) may appear in this file. Text from the data is set as textContent, never as HTML. */
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("tps-data").textContent);
  var palette = data.palette;
  var el = document.getElementById("peta");
  var map = L.map(el, { zoomSnap: 0.25, minZoom: 3, maxZoom: 19 });
  var b = data.bounds;   // [west, south, east, north]
  var box = [[b[1], b[0]], [b[3], b[2]]];
  map.fitBounds(box, { padding: [12, 12] });

  function colour(tps) { return palette[(tps - 1) % palette.length]; }
  function text(tag, value, cls) {
    var node = document.createElement(tag);
    node.textContent = value;
    if (cls) { node.className = cls; }
    return node;
  }
  function rtName(p) {
    return (p.rt === null ? "RT ?" : "RT " + p.rt) + " / " + (p.rw === null ? "RW ?" : "RW " + p.rw);
  }

  // Basemap: OpenStreetMap tiles when online; offline the plain background of #peta shows through.
  var note = L.control({ position: "bottomleft" });
  note.onAdd = function () { return text("div", "Peta dasar tidak tersedia (offline): titik, wilayah dan skala tetap benar.", "offline"); };
  var offline = navigator.onLine === false;
  if (!offline) {
    var tiles = L.tileLayer("https://tile.openstreetmap.org/{z}/{x}/{y}.png", {
      maxZoom: 19, referrerPolicy: "strict-origin-when-cross-origin",
      attribution: "&copy; <a href=\"https://www.openstreetmap.org/copyright\">OpenStreetMap</a> contributors"
    });
    var failed = false;
    tiles.on("tileerror", function () { if (!failed) { failed = true; note.addTo(map); } });
    tiles.addTo(map);
  } else {
    note.addTo(map);
  }

  // Desa outlines (the RTs' hull grown a little): where the TPS areas end.
  var outlines = L.geoJSON(data.outlines, {
    interactive: false, style: function () { return { color: "#333", weight: 2, dashArray: "6 4", fill: false }; }
  }).addTo(map);
  if (data.kind === "kecamatan") {
    // Each desa's name above its outline, clear of the TPS badges and RT points inside it.
    outlines.eachLayer(function (layer) {
      var edge = layer.getBounds();
      L.tooltip({ permanent: true, direction: "top", className: "desa-label", interactive: false })
        .setLatLng([edge.getNorth(), edge.getCenter().lng]).setContent(text("span", layer.feature.properties.desa))
        .addTo(map);
    });
  }

  // TPS areas.
  L.geoJSON(data.areas, {
    style: function (f) {
      return { color: colour(f.properties.tps), weight: 1.5, opacity: 0.9, fillColor: colour(f.properties.tps), fillOpacity: 0.28 };
    },
    onEachFeature: function (f, layer) {
      layer.bindTooltip(text("span", (f.properties.desa ? f.properties.desa + ": " : "") + "TPS " + f.properties.tps +
                                ", " + f.properties.voters + " pemilih"), { sticky: true });
    }
  }).addTo(map);

  // RT points: a circle per RT and TPS, its area by the voters there; a black ring where the point is approximate.
  L.geoJSON(data.points, {
    pointToLayer: function (f, latlng) {
      var p = f.properties;
      return L.circleMarker(latlng, {
        radius: (data.kind === "desa" ? 3 + 7 : 2 + 4) * Math.sqrt(p.voters / data.max_point_voters), color: p.lokasi === "rt" ? "#fff" : "#000",
        weight: p.lokasi === "rt" ? 1 : 2, fillColor: colour(p.tps), fillOpacity: 0.9
      });
    },
    onEachFeature: function (f, layer) {
      var p = f.properties;
      var where = p.lokasi === "rt" ? "" : " (lokasi: " + p.lokasi + ")";
      layer.bindTooltip(text("span", (p.desa ? p.desa + ", " : "") + rtName(p) + ": TPS " + p.tps + ", " + p.voters +
                             " pemilih" + where));
      if (data.kind === "desa") {
        layer.bindPopup(text("span", rtName(p) + " · TPS " + p.tps + " · " + p.voters + " pemilih" + where));
      }
    }
  }).addTo(map);

  // RT labels, only when zoomed in close enough for them not to overlap.
  if (data.kind === "desa") {
    L.geoJSON(data.points, {
      pointToLayer: function (f, latlng) {
        return L.marker(latlng, { opacity: 0, interactive: false, keyboard: false,
                                  icon: L.divIcon({ className: "", iconSize: [0, 0] }) })
          .bindTooltip(text("span", rtName(f.properties) + " · TPS " + f.properties.tps),
                       { permanent: true, direction: "right", offset: [6, 0], className: "rt-label" });
      }
    }).addTo(map);
  }
  // Close up, labels (desa map: RT labels; overview: TPS numbers) have room: #peta gets class "dekat".
  var near = function () { el.classList.toggle("dekat", map.getZoom() >= data.label_zoom); };
  map.on("zoomend", near);

  // The proposed TPS sites: a badge with the TPS number (round: an RT's point, square: a candidate
  // building, dashed: the voters' mean point, no site proposed).
  L.geoJSON(data.sites, {
    pointToLayer: function (f, latlng) {
      var p = f.properties;
      var node = text("div", String(p.tps), "tps-site " + p.site_kind + (p.over ? " over" : "") +
                      (data.kind === "kecamatan" ? " kecil" : ""));
      node.style.borderColor = colour(p.tps);
      return L.marker(latlng, { icon: L.divIcon({ html: node, className: "", iconSize: [26, 26], iconAnchor: [13, 13] }),
                                zIndexOffset: 1000, riseOnHover: true, keyboard: false });
    },
    onEachFeature: function (f, layer) {
      var p = f.properties;
      var kinds = { "rt": "di titik RT", "kandidat": "lokasi kandidat", "rata-rata": "titik rata-rata pemilih" };
      layer.bindTooltip(text("span", (p.desa ? p.desa + ": " : "") + "TPS " + p.tps + " (" + p.voters + " pemilih" +
                             (p.over ? ", melebihi kapasitas" : "") + ")" + " · " + (kinds[p.site_kind] || p.site_kind) +
                             (p.site_name ? ": " + p.site_name : "")));
    }
  }).addTo(map);

  // Legend.
  var legend = L.control({ position: "topright" });
  legend.onAdd = function () {
    var panel = text("div", "", "legenda");
    L.DomEvent.disableClickPropagation(panel);
    L.DomEvent.disableScrollPropagation(panel);
    panel.appendChild(text("h2", data.legend_title));
    data.legend.forEach(function (item) {
      var row = item.href ? document.createElement("a") : document.createElement("div");
      row.className = "baris" + (item.over ? " over" : "");
      if (item.href) { row.href = item.href; }
      if (item.tps) {
        var swatch = text("span", "", "kotak");
        swatch.style.background = colour(item.tps);
        row.appendChild(swatch);
      }
      row.appendChild(text("span", item.label));
      panel.appendChild(row);
    });
    panel.appendChild(document.createElement("hr"));
    data.notes.forEach(function (line) { panel.appendChild(text("div", line, "catatan")); });
    return panel;
  };
  legend.addTo(map);
  L.control.scale({ metric: true, imperial: false, maxWidth: 160 }).addTo(map);
  // Fit again, the legend's width kept clear on the right (when the window is wide enough for both).
  var room = legend.getContainer().offsetWidth + 24;
  if (el.clientWidth > 2 * room) {
    map.fitBounds(box, { paddingTopLeft: [12, 12], paddingBottomRight: [room, 12] });
  }

  near();
  el.setAttribute("data-ready", "1");
}());
