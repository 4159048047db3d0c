// The consoles' shared kit: configuration, sign-in, API calls, live streams, two languages,
// money, a header, and a map drawn from Linli's own data. No dependencies, no build step.

export let config = { service: "", urls: {}, map_tile_url: null, dev_sign_in: false };

// ---------------------------------------------------------------- language
const STRINGS = { zh: {}, en: {} };
const COMMON = {
  zh: {
    "lang.switch": "English", "text.large": "大字", "text.normal": "标准字号", "signout": "退出",
    "signin.title": "登录", "signin.role": "身份", "signin.subject": "用户名", "signin.store": "店铺 / 摊位编号",
    "signin.token": "或粘贴令牌", "signin.submit": "登录", "signin.dev": "开发环境：按身份登录",
    "role.shopper": "居民", "role.helper": "助老员 / 家属", "role.store_staff": "店员", "role.rider": "骑手",
    "role.dispatcher": "调度员", "role.admin": "管理员",
    "live.on": "实时更新中", "live.off": "连接中断，正在重连…", "error": "出错了", "loading": "加载中…",
    "offline": "离线", "online": "在线", "none": "暂无", "cancel": "取消", "save": "保存", "close": "关闭",
    "minutes": "{n} 分钟", "seconds": "{n} 秒",
  },
  en: {
    "lang.switch": "中文", "text.large": "Large text", "text.normal": "Normal text", "signout": "Sign out",
    "signin.title": "Sign in", "signin.role": "Role", "signin.subject": "User name", "signin.store": "Shop / stall id",
    "signin.token": "or paste a token", "signin.submit": "Sign in", "signin.dev": "Development: sign in by role",
    "role.shopper": "Resident", "role.helper": "Helper / family", "role.store_staff": "Store staff",
    "role.rider": "Rider", "role.dispatcher": "Dispatcher", "role.admin": "Admin",
    "live.on": "Live", "live.off": "Connection lost, reconnecting…", "error": "Something went wrong",
    "loading": "Loading…", "offline": "Offline", "online": "Online", "none": "None", "cancel": "Cancel",
    "save": "Save", "close": "Close", "minutes": "{n} min", "seconds": "{n} s",
  },
};

export function addStrings(strings) {
  for (const lang of Object.keys(STRINGS)) Object.assign(STRINGS[lang], strings[lang] || {});
}
addStrings(COMMON);

export function lang() {
  const saved = localStorage.getItem("linli.lang");
  if (saved === "zh" || saved === "en") return saved;
  return (navigator.language || "zh").toLowerCase().startsWith("zh") ? "zh" : "en";
}

export function t(key, vars = {}) {
  const text = STRINGS[lang()][key] ?? STRINGS.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (vars[name] ?? `{${name}}`));
}

/** Fill every [data-i18n] (text), [data-i18n-placeholder] and [data-i18n-label] (aria-label) under root. */
export function translate(root = document) {
  document.documentElement.lang = lang() === "zh" ? "zh-CN" : "en";
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-placeholder]")) el.placeholder = t(el.dataset.i18nPlaceholder);
  for (const el of root.querySelectorAll("[data-i18n-label]")) el.setAttribute("aria-label", t(el.dataset.i18nLabel));
}

export function setLang(value) {
  localStorage.setItem("linli.lang", value);
  translate();
  document.dispatchEvent(new CustomEvent("linli:lang"));
}

/** A product's or shop's name in the reader's language. */
export function named(thing) {
  if (!thing) return "";
  return lang() === "zh" ? (thing.name_zh || thing.name_en || "") : (thing.name_en || thing.name_zh || "");
}

// ---------------------------------------------------------------- text size
export function largeText(on) {
  if (on === undefined) on = localStorage.getItem("linli.large") === "1";
  localStorage.setItem("linli.large", on ? "1" : "0");
  document.documentElement.classList.toggle("large", on);
  return on;
}

// ---------------------------------------------------------------- API
export class ApiError extends Error {
  constructor(status, message, body) { super(message); this.status = status; this.body = body; }
}

export function uuid() {
  if (crypto.randomUUID) return crypto.randomUUID();
  return "10000000-1000-4000-8000-100000000000".replace(/[018]/g,
    (c) => (c ^ (crypto.getRandomValues(new Uint8Array(1))[0] & (15 >> (c / 4)))).toString(16));
}

function explain(body, status) {
  const detail = body && body.detail;
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) {
    return detail.map((d) => `${(d.loc || []).filter((p) => p !== "body").join(".")}: ${d.msg}`).join("; ");
  }
  return `HTTP ${status}`;
}

/** Call a service's API with the session cookie. `key: true` sends a fresh Idempotency-Key. */
export async function api(service, path, { method = "GET", body, key } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (key) headers["Idempotency-Key"] = key === true ? uuid() : key;
  const base = config.urls[service] || "";
  const response = await fetch(base + path, {
    method, headers, credentials: "include", body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let parsed = null;
  try { parsed = text ? JSON.parse(text) : null; } catch { parsed = { detail: text }; }
  if (!response.ok) throw new ApiError(response.status, explain(parsed, response.status), parsed);
  return parsed;
}

// ---------------------------------------------------------------- sign-in
export async function whoami() {
  try { return await api(config.service, "/auth/me"); } catch (e) {
    if (e.status === 401) return null;
    throw e;
  }
}

/** The cookie is set by this page's own service; cookies ignore ports, so every service sees it. */
export async function signIn(fields) {
  return api(config.service, "/auth/session", { method: "POST", body: fields });
}

export async function signOut() {
  await api(config.service, "/auth/session", { method: "DELETE" });
  location.reload();
}

/** A sign-in form for the given roles; resolves with the principal once signed in. */
export function signInForm(container, { roles, withStore = false }) {
  return new Promise((resolve) => {
    const roleSelect = h("select", { id: "signin-role", name: "role" },
      ...roles.map((r) => h("option", { value: r, "data-i18n": `role.${r}` }, t(`role.${r}`))));
    const subject = h("input", { id: "signin-subject", name: "subject", required: true, autocomplete: "username" });
    const store = h("input", { id: "signin-store", name: "store" });
    const token = h("textarea", { id: "signin-token", name: "token", rows: 2 });
    const error = h("p", { class: "error", role: "alert" });
    const form = h("form", { class: "card signin", "aria-labelledby": "signin-title" },
      h("h2", { id: "signin-title", "data-i18n": "signin.title" }, t("signin.title")),
      config.dev_sign_in ? h("p", { class: "muted", "data-i18n": "signin.dev" }, t("signin.dev")) : null,
      h("label", { for: "signin-role", "data-i18n": "signin.role" }, t("signin.role")), roleSelect,
      h("label", { for: "signin-subject", "data-i18n": "signin.subject" }, t("signin.subject")), subject,
      withStore ? h("label", { for: "signin-store", "data-i18n": "signin.store" }, t("signin.store")) : null,
      withStore ? store : null,
      h("label", { for: "signin-token", "data-i18n": "signin.token" }, t("signin.token")), token,
      error,
      h("button", { type: "submit", class: "primary", "data-i18n": "signin.submit" }, t("signin.submit")));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      error.textContent = "";
      const fields = token.value.trim() ? { token: token.value.trim() }
        : { role: roleSelect.value, subject: subject.value.trim(), store: store.value.trim() || null };
      if (!fields.token) subject.required = true;
      try {
        const me = await signIn(fields);
        form.remove();
        resolve(me);
      } catch (e) { error.textContent = e.message; }
    });
    container.replaceChildren(form);
    (subject).focus();
  });
}

// ---------------------------------------------------------------- page start
/** Load the configuration, apply language and text size, draw the header; returns the principal or null. */
export async function boot({ title, strings }) {
  config = await (await fetch("/app/config.json")).json();
  if (strings) addStrings(strings);
  largeText();
  const header = document.querySelector("header.bar");
  if (header) {
    const langButton = h("button", { type: "button", class: "ghost", id: "lang-switch" }, t("lang.switch"));
    langButton.addEventListener("click", () => { setLang(lang() === "zh" ? "en" : "zh"); langButton.textContent = t("lang.switch"); });
    const sizeButton = h("button", { type: "button", class: "ghost", id: "text-size", "aria-pressed": String(largeText()) },
      t(largeText() ? "text.normal" : "text.large"));
    sizeButton.addEventListener("click", () => {
      const on = largeText(!document.documentElement.classList.contains("large"));
      sizeButton.setAttribute("aria-pressed", String(on));
      sizeButton.textContent = t(on ? "text.normal" : "text.large");
    });
    document.addEventListener("linli:lang", () => {
      if (shownWho) showWho(shownWho);
      sizeButton.textContent = t(document.documentElement.classList.contains("large") ? "text.normal" : "text.large");
    });
    const who = h("span", { class: "who", id: "who" });
    const out = h("button", { type: "button", class: "ghost", id: "sign-out", hidden: true, "data-i18n": "signout" }, t("signout"));
    out.addEventListener("click", signOut);
    header.replaceChildren(h("h1", { "data-i18n": title }, t(title)), h("div", { class: "tools" }, who, langButton, sizeButton, out));
  }
  translate();
  const me = await whoami();
  if (me) showWho(me);
  return me;
}

let shownWho = null;
export function showWho(me) {
  shownWho = me;
  const who = document.getElementById("who");
  if (who) who.textContent = `${t(`role.${me.role}`)} · ${me.subject}${me.store ? ` · ${me.store}` : ""}`;
  const out = document.getElementById("sign-out");
  if (out) out.hidden = false;
}

// ---------------------------------------------------------------- live streams
/** Follow a server-sent event stream; `handlers` maps event names to callbacks. Returns a closer. */
export function stream(service, path, handlers, onState = () => {}) {
  // The browser retries a dropped stream by itself, but gives up for good on an answer that is
  // not 200 (a 404 because another service has not heard of the order yet, a 503 while a
  // service restarts): then open it again, waiting a little longer each time.
  let source = null;
  let closed = false;
  let pause = 1000;
  let timer = null;
  const open = () => {
    source = new EventSource((config.urls[service] || "") + path, { withCredentials: true });
    source.onopen = () => { pause = 1000; onState(true); };
    source.onerror = () => {
      onState(false);
      if (source.readyState === EventSource.CLOSED && !closed) {
        timer = setTimeout(open, pause);
        pause = Math.min(pause * 2, 30000);
      }
    };
    for (const [name, handle] of Object.entries(handlers)) {
      source.addEventListener(name, (event) => {
        let data = event.data;
        try { data = JSON.parse(event.data); } catch { /* plain text */ }
        handle(data, event);
      });
    }
  };
  open();
  return () => { closed = true; clearTimeout(timer); source.close(); };
}

/** A small "Live" / "reconnecting" badge that a stream's onState drives. */
export function liveBadge(el) {
  return (on) => {
    el.textContent = t(on ? "live.on" : "live.off");
    el.classList.toggle("off", !on);
  };
}

// ---------------------------------------------------------------- small helpers
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(props || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") el.addEventListener(name.slice(2), value);
    else if (name === "class") el.className = value;
    else if (value === true) el.setAttribute(name, "");
    else el.setAttribute(name, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function fen(amount) {
  if (amount === null || amount === undefined) return "—";
  const sign = amount < 0 ? "−" : "";
  return `${sign}¥${(Math.abs(amount) / 100).toFixed(2)}`;
}

export function timeOf(iso) {
  if (!iso) return "—";
  return new Date(iso).toLocaleTimeString(lang() === "zh" ? "zh-CN" : "en-GB", { hour: "2-digit", minute: "2-digit" });
}

export function secondsUntil(iso) {
  return Math.max(0, Math.round((new Date(iso).getTime() - Date.now()) / 1000));
}

/** Keep `el` showing the seconds left until `iso`; calls onZero once. */
export function countdown(el, iso, onZero) {
  let fired = false;
  const tick = () => {
    const left = secondsUntil(iso);
    el.textContent = left >= 120 ? t("minutes", { n: Math.ceil(left / 60) }) : t("seconds", { n: left });
    el.classList.toggle("urgent", left < 30);
    if (left === 0 && !fired) { fired = true; if (onZero) onZero(); }
  };
  tick();
  const timer = setInterval(() => { if (!el.isConnected) clearInterval(timer); else tick(); }, 1000);
}

let toastRegion = null;
export function toast(message, kind = "info") {
  if (!toastRegion) {
    toastRegion = h("div", { class: "toasts", role: "status", "aria-live": "polite" });
    document.body.append(toastRegion);
  }
  const item = h("div", { class: `toast ${kind}` }, message);
  toastRegion.append(item);
  setTimeout(() => item.remove(), kind === "error" ? 8000 : 4000);
}

/** Run an action from a button: disable it meanwhile, show the API's message if it fails. */
export async function act(button, action) {
  if (button) button.disabled = true;
  try { return await action(); } catch (e) {
    toast(e.message || t("error"), "error");
    return undefined;
  } finally { if (button) button.disabled = false; }
}

// ---------------------------------------------------------------- map
/**
 * Draw points and routes on an SVG with an equirectangular projection fitted to the points: a
 * neighbourhood is a few km across, so the distortion is invisible. With `config.map_tile_url`
 * set, raster tiles are laid underneath (web mercator at the fitted zoom).
 * points: [{id, lat, lon, kind, label, color}], routes: [{points: [{lat, lon}], color, dashed}]
 */
export function drawMap(svg, { points = [], routes = [] }) {
  const width = svg.clientWidth || 600;
  const height = svg.clientHeight || 400;
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  const all = points.concat(routes.flatMap((r) => r.points));
  if (!all.length) { svg.replaceChildren(); return; }
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
      : el("circle", { r: 7, fill: p.color || "#444" });
    const title = el("title", {});
    title.textContent = p.label || "";
    g.append(shape, title);
    if (p.label) {
      const text = el("text", { x: 10, y: 4, class: "map-label" });
      text.textContent = p.label;
      g.append(text);
    }
    layers.push(g);
  }
  svg.replaceChildren(...layers);
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
