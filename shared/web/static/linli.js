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
// The maps (drawing, tiles, China's datums, navigation links) live in map.js; these stay here so
// every console keeps importing them from the kit.
export { drawMap, mapLegend, navigationLinks } from "/app/common/map.js";
