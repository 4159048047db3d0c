// The consoles' maps: one drawing for the board, the shopper's tracking and the rider's phone.
// Points are WGS-84 (as phones and Linli store them). Without a tile server the map draws the
// neighbourhood from Linli's own data, so no page needs the internet; with one
// (LINLI_MAP_TILE_URL), tiles lie underneath, and if they are drawn in GCJ-02 (China's servers:
// LINLI_MAP_TILE_DATUM=gcj02) every marker is shifted the same way, or it would sit in the
// wrong street. The datum formulas are shared/vocabulary/china_coordinates.py's (tested there
// against published points, and this copy against it in the browser tests).
import { config, h } from "/app/common/linli.js";

// ---------------------------------------------------------------- China's datums
const A = 6378245.0;
const EE = 0.00669342162296594323;
const BD_PI = Math.PI * 3000.0 / 180.0;

export function outOfChina(lat, lon) { return !(lon > 73.66 && lon < 135.05 && lat > 3.86 && lat < 53.55); }

function shiftLat(x, y) {
  let d = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * Math.sqrt(Math.abs(x));
  d += (20.0 * Math.sin(6.0 * x * Math.PI) + 20.0 * Math.sin(2.0 * x * Math.PI)) * 2.0 / 3.0;
  d += (20.0 * Math.sin(y * Math.PI) + 40.0 * Math.sin(y / 3.0 * Math.PI)) * 2.0 / 3.0;
  d += (160.0 * Math.sin(y / 12.0 * Math.PI) + 320.0 * Math.sin(y * Math.PI / 30.0)) * 2.0 / 3.0;
  return d;
}

function shiftLon(x, y) {
  let d = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * Math.sqrt(Math.abs(x));
  d += (20.0 * Math.sin(6.0 * x * Math.PI) + 20.0 * Math.sin(2.0 * x * Math.PI)) * 2.0 / 3.0;
  d += (20.0 * Math.sin(x * Math.PI) + 40.0 * Math.sin(x / 3.0 * Math.PI)) * 2.0 / 3.0;
  d += (150.0 * Math.sin(x / 12.0 * Math.PI) + 300.0 * Math.sin(x / 30.0 * Math.PI)) * 2.0 / 3.0;
  return d;
}

/** Where Amap (and a GCJ-02 tile server) draws a GPS point. */
export function wgs84ToGcj02(lat, lon) {
  if (outOfChina(lat, lon)) return { lat, lon };
  const rad = lat / 180.0 * Math.PI;
  const magic = 1 - EE * Math.sin(rad) ** 2;
  const sqrtMagic = Math.sqrt(magic);
  const dLat = (shiftLat(lon - 105.0, lat - 35.0) * 180.0) / ((A * (1 - EE)) / (magic * sqrtMagic) * Math.PI);
  const dLon = (shiftLon(lon - 105.0, lat - 35.0) * 180.0) / (A / sqrtMagic * Math.cos(rad) * Math.PI);
  return { lat: lat + dLat, lon: lon + dLon };
}

/** The GPS point a GCJ-02 point was shifted from, to well under a metre (a tap on GCJ-02 tiles). */
export function gcj02ToWgs84(lat, lon) {
  let guess = { lat, lon };
  for (let i = 0; i < 4; i++) {
    const there = wgs84ToGcj02(guess.lat, guess.lon);
    guess = { lat: guess.lat - (there.lat - lat), lon: guess.lon - (there.lon - lon) };
  }
  return guess;
}

/** Baidu's further shift of a GCJ-02 point. */
export function gcj02ToBd09(lat, lon) {
  const z = Math.sqrt(lon * lon + lat * lat) + 0.00002 * Math.sin(lat * BD_PI);
  const theta = Math.atan2(lat, lon) + 0.000003 * Math.cos(lon * BD_PI);
  return { lat: z * Math.sin(theta) + 0.006, lon: z * Math.cos(theta) + 0.0065 };
}

export function wgs84ToBd09(lat, lon) { const g = wgs84ToGcj02(lat, lon); return gcj02ToBd09(g.lat, g.lon); }

// ---------------------------------------------------------------- navigation
/**
 * Links that open the phone's map app at a WGS-84 point: always `geo:` (Android hands it to any
 * map app), and Amap's or Baidu's own when LINLI_MAP_APP names one, in the datum that app
 * expects (as shared/vocabulary/china_coordinates.py builds them). [{app, href}]
 */
export function navigationLinks({ lat, lon }, label = "") {
  if (lat === undefined || lat === null || lon === undefined || lon === null) return [];
  const f = (v) => Number(v).toFixed(6);
  const name = encodeURIComponent(label);
  const links = [{ app: "geo", href: `geo:${f(lat)},${f(lon)}?q=${f(lat)},${f(lon)}(${name})` }];
  if (config.map_app === "amap") {
    const g = wgs84ToGcj02(lat, lon);
    links.push({ app: "amap",
      href: `https://uri.amap.com/navigation?to=${f(g.lon)},${f(g.lat)},${name}&mode=ride&coordinate=gaode&callnative=1&src=linli` });
  } else if (config.map_app === "baidu") {
    const b = wgs84ToBd09(lat, lon);
    links.push({ app: "baidu",
      href: `https://api.map.baidu.com/direction?destination=latlng:${f(b.lat)},${f(b.lon)}|name:${name}&mode=riding&coord_type=bd09ll&output=html&src=linli` });
  }
  return links;
}

// ---------------------------------------------------------------- drawing
/** Where a WGS-84 point is drawn: shifted to GCJ-02 when the tiles underneath are. */
function onTiles(p) {
  return config.map_tile_url && config.map_tile_datum === "gcj02" ? { ...p, ...wgs84ToGcj02(p.lat, p.lon) } : p;
}

/**
 * Draw points and routes on an SVG with an equirectangular projection fitted to the points: a
 * neighbourhood is a few km across, so the distortion is invisible. With `config.map_tile_url`
 * set, raster tiles are laid underneath (web mercator at the fitted zoom).
 * points: [{id, lat, lon, kind, label, color}], routes: [{points: [{lat, lon}], color, dashed}]
 * Answers `pointAt(event)`: the WGS-84 point under a click or tap on the map, or null.
 */
export function drawMap(svg, { points = [], routes = [], around = [] }) {
  const width = svg.clientWidth || 600;
  const height = svg.clientHeight || 400;
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  points = points.map(onTiles);
  routes = routes.map((r) => ({ ...r, points: r.points.map(onTiles) }));
  const all = points.concat(routes.flatMap((r) => r.points), around.map(onTiles));
  if (!all.length) { svg.replaceChildren(); return { pointAt: () => null }; }
  let minLat = Math.min(...all.map((p) => p.lat)), maxLat = Math.max(...all.map((p) => p.lat));
  let minLon = Math.min(...all.map((p) => p.lon)), maxLon = Math.max(...all.map((p) => p.lon));
  const pad = 0.002;
  minLat -= pad; maxLat += pad; minLon -= pad; maxLon += pad;
  const k = Math.cos(((minLat + maxLat) / 2) * Math.PI / 180);
  const scale = Math.min(width / ((maxLon - minLon) * k), height / (maxLat - minLat));
  const cx = (minLon + maxLon) / 2, cy = (minLat + maxLat) / 2;
  const x = (lon) => width / 2 + (lon - cx) * k * scale;
  const y = (lat) => height / 2 - (lat - cy) * scale;
  const ns = "http://www.w3.org/2000/svg";
  const el = (tag, attrs) => {
    const node = document.createElementNS(ns, tag);
    for (const [a, v] of Object.entries(attrs)) node.setAttribute(a, String(v));
    return node;
  };
  const layers = [];
  if (config.map_tile_url) layers.push(...tiles(el, x, y, minLat, maxLat, minLon, maxLon, width));
  else {
    layers.push(el("rect", { x: 0, y: 0, width, height, class: "map-ground" }));
    const step = 0.0025;  // faint street grid every ~250 m, to read distances by eye
    for (let lon = Math.ceil(minLon / step) * step; lon < maxLon; lon += step) {
      layers.push(el("line", { x1: x(lon), y1: 0, x2: x(lon), y2: height, class: "map-grid" }));
    }
    for (let lat = Math.ceil(minLat / step) * step; lat < maxLat; lat += step) {
      layers.push(el("line", { x1: 0, y1: y(lat), x2: width, y2: y(lat), class: "map-grid" }));
    }
  }
  for (const route of routes) {
    layers.push(el("polyline", {
      points: route.points.map((p) => `${x(p.lon)},${y(p.lat)}`).join(" "), class: "map-route",
      stroke: route.color || "#1d4ed8", "stroke-dasharray": route.dashed ? "6 4" : "none",
    }));
  }
  for (const p of points) {
    const g = el("g", { class: `map-point ${p.kind || ""}`, "data-id": p.id || "", transform: `translate(${x(p.lon)},${y(p.lat)})` });
    const shape = p.kind === "shop" || p.kind === "market" || p.kind === "locker"
      ? el("rect", { x: -7, y: -7, width: 14, height: 14, rx: p.kind === "locker" ? 2 : 4, fill: p.color || "#444" })
      : el("circle", { r: p.small ? 4 : 7, fill: p.color || "#444" });
    const title = el("title", {});
    title.textContent = p.label || "";
    g.append(shape, title);
    if (p.label && !p.small) {
      const text = el("text", { x: 10, y: 4, class: "map-label" });
      text.textContent = p.label;
      g.append(text);
    }
    layers.push(g);
  }
  svg.replaceChildren(...layers);
  const pointAt = (event) => {
    const box = svg.getBoundingClientRect();
    if (!box.width || !box.height) return null;
    const px = (event.clientX - box.left) * (width / box.width), py = (event.clientY - box.top) * (height / box.height);
    const drawn = { lat: cy - (py - height / 2) / scale, lon: cx + (px - width / 2) / (k * scale) };
    return config.map_tile_url && config.map_tile_datum === "gcj02" ? gcj02ToWgs84(drawn.lat, drawn.lon) : drawn;
  };
  return { pointAt };
}

function tiles(el, x, y, minLat, maxLat, minLon, maxLon, width) {
  const zoom = Math.max(1, Math.min(19, Math.floor(Math.log2((width / 256) * 360 / (maxLon - minLon)))));
  const n = 2 ** zoom;
  const tx = (lon) => Math.floor(((lon + 180) / 360) * n);
  const ty = (lat) => Math.floor((1 - Math.log(Math.tan(lat * Math.PI / 180) + 1 / Math.cos(lat * Math.PI / 180)) / Math.PI) / 2 * n);
  const lonOf = (i) => (i / n) * 360 - 180;
  const latOf = (j) => Math.atan(Math.sinh(Math.PI * (1 - (2 * j) / n))) * 180 / Math.PI;
  const images = [];
  for (let i = tx(minLon); i <= tx(maxLon); i++) {
    for (let j = ty(maxLat); j <= ty(minLat); j++) {
      const left = x(lonOf(i)), right = x(lonOf(i + 1)), top = y(latOf(j)), bottom = y(latOf(j + 1));
      images.push(el("image", {
        href: config.map_tile_url.replace("{z}", zoom).replace("{x}", i).replace("{y}", j),
        x: left, y: top, width: right - left, height: bottom - top, preserveAspectRatio: "none",
      }));
    }
  }
  return images;
}

// ---------------------------------------------------------------- map legend
/** A legend for drawMap, drawn into `container`: items [{color, label, shape: "dot" | "square" | "ring"}]. */
export function mapLegend(container, items, title = "") {
  const list = h("ul", { class: "map-legend", "aria-label": title || null },
    ...items.map((item) => h("li", {},
      h("span", { class: `key ${item.shape || "dot"}`, style: `--key:${item.color}`, "aria-hidden": "true" }), item.label)));
  container.replaceChildren(list);
  return list;
}
