// The rider's phone: state, live offers, the deliveries in hand and their steps, the position.
// Steps go through an outbox kept in localStorage: each gets its Idempotency-Key when the rider
// taps, so a step sent again after a lost connection is answered, never applied twice.

import {
  ApiError, act, api, boot, countdown, drawMap, fen, h, lang, mapLegend, named, navigationLinks, showWho, signInForm,
  stream, t, timeOf, toast, translate, uuid,
} from "/app/common/linli.js";
import { scanButton } from "/app/common/codes.js";

const POSITION_EVERY_MS = 3000;  // the server calls a rider silent after a few quiet seconds
const OFFERS_EVERY_MS = 1000;  // while the live stream is down: offers last only seconds
const OFFERS_LIVE_EVERY_MS = 10000;  // with the stream up, a slow poll only as a safety net
const REFRESH_EVERY_MS = 5000;
const RETRY_EVERY_MS = 4000;

const STRINGS = {
  zh: {
    "rider.title": "邻里 · 骑手", "status.title": "状态",
    "state.offline": "离线", "state.available": "在线接单", "state.on_break": "休息中", "state.busy": "在线 · 已满载",
    "act.online": "上线接单", "act.break": "休息一下", "act.offline": "下线", "act.back": "结束休息，继续接单",
    "shift.today": "今日班次：{times}", "shift.none": "今日无排班",
    "rating": "评分 {stars} ★（{n} 次）", "rating.bare": "评分 {stars} ★",
    "pos.sent": "位置已发送 {time}", "pos.never": "尚未发送位置", "pos.error": "无法获取定位：{msg}",
    "pos.off": "离线时不发送位置", "pos.failed": "位置发送失败（上次成功 {time}）",
    "net.lost": "网络中断：操作已保存，恢复连接后自动按顺序发送。",
    "outbox.title": "待发送", "outbox.waiting": "等待发送", "outbox.refused": "未被接受",
    "outbox.dismiss": "知道了", "outbox.tapped": "点击于 {time}",
    "offer.title": "新订单", "offer.accept": "接单", "offer.decline": "拒绝", "offer.left": "剩余",
    "addition.title": "追加一单", "addition.joins": "顺路加到你已接的行程（{orders}，尚未取货）。拒绝不影响已接的订单。",
    "addition.accept": "加上这一单", "addition.decline": "不加",
    "offer.distance": "距店 {d}", "offer.bags": "{n} 袋 · {w}", "offer.to_locker": "送到快递柜",
    "flag.call_first": "先打电话", "flag.pod": "货到付款 {amount}", "flag.pod_any": "货到付款",
    "deliveries.title": "当前配送", "deliveries.none": "暂无配送",
    "status.assigned": "前往取货", "status.at_shop": "在取货点", "status.picked_up": "配送中",
    "status.at_door": "已到门口", "status.delivered": "已送达", "status.failed": "未送达，退回",
    "status.in_locker": "已放入快递柜",
    "pickup.counter": "取货：柜台", "pickup.stall": "取货：摊位", "pickup.of": "{place}（{store}）",
    "packed.no": "还在打包", "packed.yes": "已打包",
    "customer.hidden": "取货后才显示顾客地址和电话。", "customer.address": "地址", "customer.phone": "电话",
    "customer.note": "备注", "call": "拨打 {phone}",
    "nav.shop": "导航去取货点", "nav.door": "导航去门口", "nav.amap.shop": "高德导航去取货点", "nav.amap.door": "高德导航去门口",
    "nav.baidu.shop": "百度导航去取货点", "nav.baidu.door": "百度导航去门口",
    "map.title": "地图", "map.you": "我的位置", "map.shop": "取货点", "map.door": "门口",
    "step.at-shop": "已到取货点", "step.picked-up": "已取货", "step.at-door": "已到门口", "step.delivered": "已送达",
    "step.locker-deposit": "已放入快递柜", "step.failed": "退回货物（未送达）",
    "code.handover": "店家交货码", "code.delivery": "顾客收货码", "cash": "收到现金（元）",
    "code.missing": "请先输入代码", "cash.missing": "请输入收到的现金",
    "fail.open": "无人在家？", "fail.help": "先打电话，在门口等候规定时间，再把货退回店里。",
    "fail.reason": "原因", "reason.nobody_home": "无人在家", "reason.no_answer": "电话无人接听",
    "reason.refused": "顾客拒收",
    "profile.missing": "没有你的骑手档案：请联系调度员创建。", "signin.need": "请以骑手身份登录。",
    "order": "订单 {id}", "locker.where": "快递柜 {site} · 格口 {c}", "eta.shop": "预计到店 {time}",
    "eta.door": "预计送达 {time}", "step.sent": "已发送：{step}", "queued.note": "{step} · 等待发送",
  },
  en: {
    "rider.title": "Linli · rider", "status.title": "Status",
    "state.offline": "Offline", "state.available": "Online", "state.on_break": "On a break",
    "state.busy": "Online · full",
    "act.online": "Go online", "act.break": "Take a break", "act.offline": "Go offline", "act.back": "Back to work",
    "shift.today": "Today's shift: {times}", "shift.none": "No shift today",
    "rating": "Rating {stars} ★ ({n})", "rating.bare": "Rating {stars} ★",
    "pos.sent": "Location sent {time}", "pos.never": "Location not sent yet", "pos.error": "Cannot get your location: {msg}",
    "pos.off": "Location is not sent while offline", "pos.failed": "Location not sent (last sent {time})",
    "net.lost": "No connection: your steps are kept and sent in order when it returns.",
    "outbox.title": "Waiting to send", "outbox.waiting": "waiting to send", "outbox.refused": "not accepted",
    "outbox.dismiss": "Dismiss", "outbox.tapped": "tapped {time}",
    "offer.title": "New offer", "offer.accept": "Accept", "offer.decline": "Decline", "offer.left": "left",
    "addition.title": "Add to your trip", "addition.joins": "Joins the trip you accepted ({orders}, not picked up yet). Declining keeps that trip as it is.",
    "addition.accept": "Add this order", "addition.decline": "No, thanks",
    "offer.distance": "{d} to the shop", "offer.bags": "{n} bag(s) · {w}", "offer.to_locker": "To a locker",
    "flag.call_first": "Call first", "flag.pod": "Pay on delivery {amount}", "flag.pod_any": "Pay on delivery",
    "deliveries.title": "Current deliveries", "deliveries.none": "No deliveries right now",
    "status.assigned": "Going to pick up", "status.at_shop": "At the pickup point", "status.picked_up": "On the way",
    "status.at_door": "At the door", "status.delivered": "Delivered", "status.failed": "Not delivered: returning",
    "status.in_locker": "In the locker",
    "pickup.counter": "Pick up at the counter", "pickup.stall": "Pick up at the stall", "pickup.of": "{place} ({store})",
    "packed.no": "still being packed", "packed.yes": "packed",
    "customer.hidden": "The customer's address and phone appear once you have the bag.",
    "customer.address": "Address", "customer.phone": "Phone", "customer.note": "Note",
    "call": "Call {phone}",
    "nav.shop": "Navigate to the pickup", "nav.door": "Navigate to the door", "nav.amap.shop": "Pickup in Amap",
    "nav.amap.door": "Door in Amap", "nav.baidu.shop": "Pickup in Baidu Maps", "nav.baidu.door": "Door in Baidu Maps",
    "map.title": "Map", "map.you": "You", "map.shop": "Pickup", "map.door": "Door",
    "step.at-shop": "At the pickup point", "step.picked-up": "Picked up", "step.at-door": "At the door",
    "step.delivered": "Delivered", "step.locker-deposit": "Deposited in the locker",
    "step.failed": "Return the bag (not delivered)",
    "code.handover": "Shop's handover code", "code.delivery": "Shopper's delivery code", "cash": "Cash collected (¥)",
    "code.missing": "Enter the code first", "cash.missing": "Enter the cash you collected",
    "fail.open": "Nobody home?", "fail.help": "Call the shopper, wait at the door for the set time, then return the bag to the shop.",
    "fail.reason": "Reason", "reason.nobody_home": "Nobody home", "reason.no_answer": "Phone not answered",
    "reason.refused": "Refused at the door",
    "profile.missing": "You have no rider profile yet: ask a dispatcher to create one.",
    "signin.need": "Sign in as a rider.",
    "order": "Order {id}", "locker.where": "Locker {site} · compartment {c}", "eta.shop": "At the shop by {time}",
    "eta.door": "At the door by {time}", "step.sent": "Sent: {step}", "queued.note": "{step} · waiting to send",
  },
};

// What each step leaves the delivery in, to show queued steps as if already taken.
const RESULT = {
  "at-shop": "at_shop", "picked-up": "picked_up", "at-door": "at_door", "delivered": "delivered",
  "failed": "failed", "locker-deposit": "in_locker",
};
const FINISHED = new Set(["delivered", "failed", "in_locker"]);
const ONLINE = new Set(["available", "busy"]);

const $ = (id) => document.getElementById(id);

const app = {
  me: null,  // GET /riders/me
  offers: [],  // GET /riders/me/offers, each with a local deadline
  // Steps not yet answered: {key, order_id, step, body, tapped_at, state: waiting|refused, error, tries, deferred}
  outbox: [],
  errors: {},  // order id -> the server's last refusal of a step, shown on the card
  drafts: {},  // order id -> typed codes, kept across re-renders
  position: { sentAt: null, error: null, failing: false },
  reachable: true,
  flushing: false,
  flushAgain: false,
  cards: new Map(),  // order id -> {sig, el}
  offerSig: "",
  missing: false,  // no rider profile: nothing to do until a dispatcher makes one
};

// ---------------------------------------------------------------- outbox
function outboxKey() { return `linli.rider.outbox.${app.me ? app.me.id : "?"}`; }

function loadOutbox() {
  try { app.outbox = JSON.parse(localStorage.getItem(outboxKey()) || "[]"); } catch { app.outbox = []; }
}

function saveOutbox() { localStorage.setItem(outboxKey(), JSON.stringify(app.outbox)); }

/** The rider tapped a step: its key is made now, so every later resend is the same request. */
function take(orderId, step, body) {
  const behind = app.outbox.some((e) => e.state === "waiting");
  app.outbox.push({ key: uuid(), order_id: orderId, step, body, tapped_at: new Date().toISOString(),
                    state: "waiting", error: null, tries: 0, deferred: behind });
  delete app.errors[orderId];
  saveOutbox();
  render();
  flush();
}

function retryable(error) {
  return !(error instanceof ApiError) || error.status >= 500 || error.status === 408 || error.status === 429;
}

/** Send the waiting steps in the order they were taken; stop at the first that cannot get through. */
async function flush() {
  // A call while one is sending (the network back, a new tap) must not be lost: it goes again after.
  if (app.flushing) { app.flushAgain = true; return; }
  app.flushing = true;
  app.flushAgain = false;
  let sent = false;
  try {
    for (;;) {
      const entry = app.outbox.find((e) => e.state === "waiting");
      if (!entry) break;
      try {
        await api("dispatch", `/deliveries/${encodeURIComponent(entry.order_id)}/${entry.step}`,
          { method: "POST", body: entry.body, key: entry.key });
        app.outbox = app.outbox.filter((e) => e !== entry);
        reachable(true);
        sent = true;
        if (entry.deferred) toast(t("step.sent", { step: t(`step.${entry.step}`) }), "good");
      } catch (error) {
        if (retryable(error)) {
          entry.tries += 1;
          // Everything still waiting now counts as sent later: a refusal then must stay in view.
          for (const e of app.outbox) if (e.state === "waiting") e.deferred = true;
          reachable(error instanceof ApiError);
          break;
        }
        reachable(true);
        app.errors[entry.order_id] = error.message;  // shown on the card (role=alert), not as a toast
        if (entry.deferred) {
          // A step sent later that the server refuses stays in view until the rider has read why.
          entry.state = "refused";
          entry.error = error.message;
        } else {
          app.outbox = app.outbox.filter((e) => e !== entry);
        }
        sent = true;
      } finally {
        saveOutbox();
      }
    }
  } finally {
    app.flushing = false;
  }
  if (sent) await refresh();
  else render();
  if (app.flushAgain && app.outbox.some((e) => e.state === "waiting")) flush();
}

function dismiss(entry) {
  app.outbox = app.outbox.filter((e) => e.key !== entry.key);
  saveOutbox();
  render();
}

// ---------------------------------------------------------------- server state
function reachable(on) {
  app.reachable = on;
  $("connection").hidden = on && navigator.onLine;
}

async function refresh() {
  try {
    app.me = await api("dispatch", "/riders/me");
    reachable(true);
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) {
      app.missing = true;
      showMissingProfile();
      return;
    }
    reachable(error instanceof ApiError);
  }
  render();
}

async function pollOffers() {
  if (!app.me || !ONLINE.has(app.me.state)) {
    if (app.offers.length) { app.offers = []; renderOffers(); }
    return;
  }
  try {
    const offers = await api("dispatch", "/riders/me/offers");
    const now = Date.now();
    const known = new Map(app.offers.map((o) => [o.id, o]));
    // The countdown runs on the phone's clock from the server's seconds left (clocks disagree).
    app.offers = offers.map((o) => ({ ...o, deadline: known.get(o.id)?.deadline
      ?? new Date(now + 1000 * (o.seconds_left ?? 0)).toISOString() }));
    reachable(true);
  } catch (error) {
    reachable(error instanceof ApiError);
  }
  renderOffers();
}

async function setState(button, state) {
  await act(button, async () => {
    app.me = { ...app.me, ...(await api("dispatch", "/riders/me/state", { method: "POST", body: { state }, key: true })) };
    if (ONLINE.has(state)) sendPosition();
    render();
    pollOffers();
  });
}

async function answer(button, offer, verb) {
  await act(button, async () => {
    await api("dispatch", `/offers/${encodeURIComponent(offer.id)}/${verb}`, { method: "POST", key: true });
    app.offers = app.offers.filter((o) => o.id !== offer.id);
    renderOffers();
    await refresh();
  });
  // Whatever happened (taken, lapsed), show the offers as they are now.
  pollOffers();
}

// ---------------------------------------------------------------- position
function sending() {
  if (!app.me) return false;
  return ONLINE.has(app.me.state) || (app.me.deliveries || []).length > 0;
}

function sendPosition() {
  if (!sending()) { renderPosition(); return; }
  if (!navigator.geolocation) { app.position.error = "no geolocation"; renderPosition(); return; }
  navigator.geolocation.getCurrentPosition(async (fix) => {
    app.position.error = null;
    app.position.fix = { lat: fix.coords.latitude, lon: fix.coords.longitude };
    renderMap();
    try {
      await api("dispatch", "/riders/me/location", { method: "POST",
        body: { lat: fix.coords.latitude, lon: fix.coords.longitude } });
      app.position.sentAt = new Date();
      app.position.failing = false;
      reachable(true);
    } catch (error) {
      app.position.failing = true;
      reachable(error instanceof ApiError);
    }
    renderPosition();
  }, (error) => {
    app.position.error = error.message || String(error.code);
    renderPosition();
  }, { enableHighAccuracy: true, maximumAge: 2000, timeout: 10000 });
}

// ---------------------------------------------------------------- rendering
function render() {
  if (!app.me) return;
  renderStatus();
  renderOutbox();
  renderDeliveries();
  renderMap();
  renderOffers();
  renderStateActions();
}

function renderStatus() {
  const me = app.me;
  $("status").hidden = false;
  $("work").hidden = false;
  $("dock").hidden = false;
  const badge = $("state");
  badge.textContent = t(`state.${me.state}`);
  badge.className = `badge state ${ONLINE.has(me.state) ? "good" : me.state === "on_break" ? "warn" : ""}`;
  const shifts = me.shifts_today || [];
  $("shift").textContent = shifts.length
    ? t("shift.today", { times: shifts.map((s) => `${timeOf(s.starts_at)}–${timeOf(s.ends_at)}`).join(", ") })
    : t("shift.none");
  $("rating").textContent = ratingText(me);
  renderPosition();
}

/** The rider's rating, in whichever shape the API gives it (it may give none). */
function ratingText(me) {
  const r = me.rating;
  const stars = typeof r === "number" ? r : (r && (r.average ?? r.stars ?? r.avg)) ?? me.rating_average ?? me.rating_avg;
  if (stars === undefined || stars === null) return "";
  const n = (r && typeof r === "object" ? r.count : undefined) ?? me.rating_count;
  const shown = Number(stars).toFixed(1);
  return n === undefined || n === null ? t("rating.bare", { stars: shown }) : t("rating", { stars: shown, n });
}

function renderPosition() {
  const el = $("position");
  if (!app.me) return;
  const p = app.position;
  const when = p.sentAt ? p.sentAt.toLocaleTimeString(lang() === "zh" ? "zh-CN" : "en-GB") : null;
  let text;
  if (!sending()) text = t("pos.off");
  else if (p.error) text = t("pos.error", { msg: p.error });
  else if (p.failing) text = t("pos.failed", { time: when || "—" });
  else text = when ? t("pos.sent", { time: when }) : t("pos.never");
  el.textContent = text;
  el.classList.toggle("error", Boolean(sending() && (p.error || p.failing)));
  el.dataset.sentAt = p.sentAt ? p.sentAt.toISOString() : "";
}

function renderOutbox() {
  const list = $("outbox-list");
  $("outbox").hidden = app.outbox.length === 0;
  list.replaceChildren(...app.outbox.map((e) => h("li", { class: `card queued ${e.state}`, "data-key": e.key },
    h("div", { class: "spread" },
      h("strong", {}, t(`step.${e.step}`)),
      h("span", { class: `badge ${e.state === "refused" ? "bad" : "warn"}` }, t(`outbox.${e.state}`))),
    h("p", { class: "muted" }, `${t("order", { id: shortId(e.order_id) })} · ${t("outbox.tapped", { time: timeOf(e.tapped_at) })}`),
    e.error ? h("p", { class: "error", role: "alert" }, e.error) : null,
    e.state === "refused" ? h("button", { type: "button", class: "wide", onclick: () => dismiss(e) }, t("outbox.dismiss")) : null)));
}

function queuedFor(orderId) { return app.outbox.filter((e) => e.order_id === orderId && e.state === "waiting"); }

/** The delivery as it will be once the queued steps are sent. */
function projected(d) {
  let status = d.status;
  for (const e of queuedFor(d.order_id)) status = RESULT[e.step] || status;
  return status;
}

function nextStep(status, mode) {
  if (status === "assigned") return "at-shop";
  if (status === "at_shop") return "picked-up";
  if (status === "picked_up") return mode === "locker" ? "locker-deposit" : "at-door";
  if (status === "at_door") return "delivered";
  return null;
}

function renderDeliveries() {
  const list = $("deliveries");
  const deliveries = app.me.deliveries || [];
  // Steps for orders the server no longer lists (just delivered offline) still show until sent.
  const shown = deliveries.slice();
  for (const e of app.outbox.filter((x) => x.state === "waiting")) {
    if (!shown.some((d) => d.order_id === e.order_id)) shown.push({ order_id: e.order_id, status: "unknown", ghost: true });
  }
  $("deliveries-none").hidden = shown.length > 0;
  const keep = new Set();
  const items = shown.map((d, i) => {
    keep.add(d.order_id);
    const sig = JSON.stringify([lang(), i, d, queuedFor(d.order_id).map((e) => e.key), app.errors[d.order_id] || ""]);
    const cached = app.cards.get(d.order_id);
    if (cached && cached.sig === sig) return cached.el;
    const el = deliveryCard(d, i + 1);
    app.cards.set(d.order_id, { sig, el });
    return el;
  });
  for (const id of [...app.cards.keys()]) if (!keep.has(id)) app.cards.delete(id);
  // Replace only what changed, so a code being typed keeps its focus.
  if (list.children.length !== items.length || items.some((el, i) => list.children[i] !== el)) {
    const focused = document.activeElement && document.activeElement.id;
    list.replaceChildren(...items);
    const again = focused && document.getElementById(focused);
    if (again && again !== document.activeElement) again.focus();
  }
}

function deliveryCard(d, n) {
  const status = d.ghost ? null : projected(d);
  const queued = queuedFor(d.order_id);
  const step = status ? nextStep(status, d.mode) : null;
  const card = h("li", { class: "card delivery", "data-order": d.order_id, "data-status": status || "" },
    h("div", { class: "spread" },
      h("h3", { title: d.order_id }, `${n}. ${t("order", { id: shortId(d.order_id) })}`),
      status ? h("span", { class: `badge ${queued.length ? "warn" : FINISHED.has(status) ? "good" : ""}` },
        t(`status.${status}`)) : null),
    queued.length ? h("p", { class: "badge warn waiting" },
      queued.map((e) => t("queued.note", { step: t(`step.${e.step}`) })).join(" · ")) : null);
  if (d.ghost) {
    card.append(h("p", { class: "muted" }, t("outbox.waiting")));
    return card;
  }
  card.append(flags(d), pickupBlock(d, status));
  if (d.mode === "locker" && d.locker_site_id) {
    card.append(h("p", {}, t("locker.where", { site: d.locker_site_id, c: d.compartment_id || "—" })));
  }
  card.append(customerBlock(d, status));
  const eta = status === "assigned" || status === "at_shop" ? (d.eta_shop_at && t("eta.shop", { time: timeOf(d.eta_shop_at) }))
    : (d.eta_door_at && !FINISHED.has(status) && t("eta.door", { time: timeOf(d.eta_door_at) }));
  if (eta) card.append(h("p", { class: "muted" }, eta));
  const error = app.errors[d.order_id];
  card.append(h("p", { class: "error", role: "alert" }, error || ""));
  if (step) card.append(stepForm(d, step));
  if (status === "at_door" && d.mode !== "locker") card.append(failForm(d));
  return card;
}

// ---------------------------------------------------------------- map
const MAP_COLOURS = { you: "#1d4ed8", shop: "#b45309", door: "#0b6e4f" };

/** Where the rider is, the pickups still to make and the doors of the bags in hand, on one map. */
function renderMap() {
  const section = $("trip-map");
  if (!section || !app.me) return;
  const deliveries = app.me.deliveries || [];
  const here = app.position.fix || app.me.position;
  const points = [];
  if (here) points.push({ id: "you", lat: here.lat, lon: here.lon, kind: "rider", label: t("map.you"), color: MAP_COLOURS.you });
  deliveries.forEach((d, i) => {
    const status = projected(d);
    const s = d.shop || {};
    if ((status === "assigned" || status === "at_shop") && s.lat !== undefined && s.lat !== null) {
      points.push({ id: `shop-${d.order_id}`, lat: s.lat, lon: s.lon, kind: "shop", label: `${i + 1}. ${named(s) || t("map.shop")}`, color: MAP_COLOURS.shop });
    }
    const door = d.customer && d.customer.address;
    if (door && door.lat !== undefined && door.lat !== null && !FINISHED.has(status)) {
      points.push({ id: `door-${d.order_id}`, lat: door.lat, lon: door.lon, kind: "home", label: `${i + 1}. ${t("map.door")}`, color: MAP_COLOURS.door });
    }
  });
  section.hidden = points.length < 2 && !deliveries.length;
  if (section.hidden) return;
  const sig = JSON.stringify([lang(), points]);
  if (section.dataset.sig === sig) return;
  section.dataset.sig = sig;
  drawMap($("rider-map"), { points });
  mapLegend($("rider-map-legend"), [
    { color: MAP_COLOURS.you, label: t("map.you") },
    { color: MAP_COLOURS.shop, label: t("map.shop"), shape: "square" },
    { color: MAP_COLOURS.door, label: t("map.door") },
  ], t("map.title"));
}

/** "Navigate" links for a place: geo: for any map app, and Amap's or Baidu's own if configured. */
function navigateLinks(where, label, to) {
  return navigationLinks(where || {}, label).map((link) => h("a", {
    class: "button wide", href: link.href, "data-navigate": `${to}-${link.app}`, rel: "noopener",
  }, t(link.app === "geo" ? `nav.${to}` : `nav.${link.app}.${to}`)));
}

/** Enough of an order id to tell the bags in hand apart. */
function shortId(id) { return id.length > 12 ? `#${id.slice(0, 8)}` : id; }

function dueOf(thing) { return thing.due_at_door_fen ?? thing.amount_to_collect_fen ?? null; }

function flags(thing) {
  const parts = [];
  if (thing.bags !== undefined && thing.bags !== null) {
    parts.push(h("span", { class: "badge" }, t("offer.bags", { n: thing.bags, w: weight(thing.weight_g) })));
  }
  if (thing.call_first) parts.push(h("span", { class: "badge warn" }, t("flag.call_first")));
  if (thing.pay_on_delivery) {
    const due = dueOf(thing);
    parts.push(h("span", { class: "badge warn pod" }, due !== null ? t("flag.pod", { amount: fen(due) }) : t("flag.pod_any")));
  }
  if (thing.mode === "locker") parts.push(h("span", { class: "badge" }, t("offer.to_locker")));
  return h("p", { class: "row flags" }, ...parts);
}

function weight(grams) {
  if (grams === undefined || grams === null) return "—";
  return grams >= 1000 ? `${(grams / 1000).toFixed(1)} kg` : `${grams} g`;
}

function distance(m) {
  if (m === undefined || m === null) return "—";
  return m >= 1000 ? `${(m / 1000).toFixed(1)} km` : `${Math.round(m)} m`;
}

/** Where the bag is collected: a market's stall, or the shop's counter. */
function pickupBlock(d, status) {
  const p = d.pickup || {};
  const kind = p.kind || d.pickup_kind
    || (d.pickup_location && d.shop && d.pickup_location !== d.shop.id ? "stall" : "counter");
  const place = named(p) || named({ name_zh: d.pickup_name_zh, name_en: d.pickup_name_en }) || named(d.shop)
    || (d.shop && d.shop.id) || "";
  const store = named(d.store) || named({ name_zh: d.store_name_zh, name_en: d.store_name_en });
  const where = store && store !== place ? t("pickup.of", { place, store }) : place;
  const packed = d.packed === undefined ? null : t(d.packed ? "packed.yes" : "packed.no");
  const current = status === "assigned" || status === "at_shop";
  return h("div", { class: `pickup ${current ? "current" : "done"}` },
    h("strong", {}, t(`pickup.${kind}`)), h("span", {}, ` ${where}`),
    packed && current ? h("span", { class: "muted" }, ` · ${packed}`) : null,
    current ? h("div", { class: "row links" }, ...navigateLinks(d.shop, where, "shop")) : null);
}

/** The customer only while the rider carries the bag: the server sends it only then. */
function customerBlock(d, status) {
  const c = d.customer;
  if (!c) {
    return status === "assigned" || status === "at_shop" ? h("p", { class: "muted" }, t("customer.hidden")) : h("span");
  }
  const address = c.address && typeof c.address === "object" ? c.address : { text: c.address };
  const label = address.text || address.line || "";
  const door = { lat: address.lat ?? c.lat, lon: address.lon ?? c.lon };
  const phone = c.contact_phone || c.phone;
  return h("div", { class: "customer" },
    h("p", { class: "address" }, h("span", { class: "sr-only" }, t("customer.address")), label),
    c.note ? h("p", {}, h("strong", {}, `${t("customer.note")}: `), c.note) : null,
    h("div", { class: "row links" },
      ...navigateLinks(door, label, "door"),
      phone ? h("a", { class: "button wide", href: `tel:${phone.replace(/[^+\d]/g, "")}` }, t("call", { phone })) : null));
}

function draft(orderId, field, input) {
  const drafts = (app.drafts[orderId] ||= {});
  if (drafts[field] !== undefined) input.value = drafts[field];
  input.addEventListener("input", () => { drafts[field] = input.value; });
  return input;
}

/** The next step's form: a code when the step needs one, and one full-width button. */
function stepForm(d, step) {
  const id = (name) => `${name}-${d.order_id}`;
  const fields = [];
  let code = null, cash = null;
  if (step === "picked-up" || step === "delivered") {
    const label = step === "picked-up" ? "code.handover" : "code.delivery";
    code = draft(d.order_id, step, h("input", { id: id(step), name: "code", inputmode: "numeric",
      autocomplete: "one-time-code", maxlength: 20, required: true }));
    fields.push(h("label", { for: id(step) }, t(label)), code);
    // A scanned QR code (the counter's screen or bag label, the shopper's phone) fills the code
    // in and is sent exactly as a typed one.
    fields.push(scanButton({ id: id(`scan-${step}`), order: d.order_id, kinds: [step === "picked-up" ? "pickup" : "delivery"],
      onCode: (found) => {
        const input = document.getElementById(id(step)) || code;  // the card may have been redrawn meanwhile
        input.value = found.code;
        input.form.requestSubmit();
      } }));
  }
  if (step === "delivered" && d.pay_on_delivery) {
    const due = dueOf(d);
    cash = draft(d.order_id, "cash", h("input", { id: id("cash"), name: "cash", inputmode: "decimal",
      value: due !== null ? (due / 100).toFixed(2) : "" }));
    fields.push(h("label", { for: id("cash") }, t("cash")), cash);
  }
  const form = h("form", { class: "step" }, ...fields,
    h("button", { type: "submit", class: "primary wide", "data-step": step }, t(`step.${step}`)));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    let body;
    if (code) {
      if (!code.value.trim()) { toast(t("code.missing"), "error"); code.focus(); return; }
      body = { code: code.value.trim() };
    }
    if (cash) {
      const yuan = Number(cash.value.replace(",", "."));
      if (!cash.value.trim() || Number.isNaN(yuan) || yuan < 0) { toast(t("cash.missing"), "error"); cash.focus(); return; }
      body.cash_collected_fen = Math.round(yuan * 100);
    }
    delete app.drafts[d.order_id];
    take(d.order_id, step, body);
  });
  return form;
}

function failForm(d) {
  const reasonId = `reason-${d.order_id}`;
  const reason = h("select", { id: reasonId, name: "reason" },
    ...["nobody_home", "no_answer", "refused"].map((r) => h("option", { value: r }, t(`reason.${r}`))));
  const form = h("form", { class: "step fail" },
    h("p", {}, t("fail.help")),
    h("label", { for: reasonId }, t("fail.reason")), reason,
    h("button", { type: "submit", class: "danger wide", "data-step": "failed" }, t("step.failed")));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    // The dispatchers' log reads the same whatever language the rider uses.
    take(d.order_id, "failed", { reason: STRINGS.en[`reason.${reason.value}`] });
  });
  return h("details", { class: "nobody-home" }, h("summary", {}, t("fail.open")), form);
}

function renderOffers() {
  const list = $("offer-list");
  const sig = JSON.stringify([lang(), app.offers.map((o) => [o.id, o.adds_to || []])]);
  if (sig === app.offerSig) return;
  app.offerSig = sig;
  list.replaceChildren(...app.offers.map(offerCard));
}

function offerCard(o) {
  const left = h("strong", { class: "countdown", "aria-label": t("offer.left") });
  countdown(left, o.deadline, () => {
    app.offers = app.offers.filter((x) => x.id !== o.id);
    renderOffers();
  });
  // An addition joins a trip the rider accepted and has not picked up: the same answer, said as such.
  const addition = Array.isArray(o.adds_to) && o.adds_to.length > 0;
  const accept = h("button", { type: "button", class: "primary wide", "data-offer": o.id },
    t(addition ? "addition.accept" : "offer.accept"));
  const decline = h("button", { type: "button", class: "wide", "data-offer": o.id },
    t(addition ? "addition.decline" : "offer.decline"));
  accept.addEventListener("click", () => answer(accept, o, "accept"));
  decline.addEventListener("click", () => answer(decline, o, "decline"));
  const trip = addition ? o.adds_to.map((id) => `#${id.length > 12 ? id.slice(0, 8) : id}`).join(", ") : "";
  return h("article", { class: `card offer${addition ? " addition" : ""}`, "data-offer": o.id, "data-order": o.order_id },
    h("div", { class: "spread" },
      h("h3", {}, t(addition ? "addition.title" : "offer.title"), " · ", named(o.pickup) || named(o.shop) || o.shop?.id || ""),
      h("span", { class: "muted" }, left, " ", t("offer.left"))),
    addition ? h("p", { class: "adds-to" }, t("addition.joins", { orders: trip })) : null,
    h("p", {}, t("offer.distance", { d: distance(o.distance_to_shop_m) }),
      o.eta_door_at ? ` · ${t("eta.door", { time: timeOf(o.eta_door_at) })}` : ""),
    flags(o),
    h("div", { class: "answer" }, decline, accept));
}

function renderStateActions() {
  const state = app.me.state;
  const button = (key, target, cls = "") => {
    const b = h("button", { type: "button", class: `wide ${cls}`, "data-state": target }, t(key));
    b.addEventListener("click", () => setState(b, target));
    return b;
  };
  const buttons = state === "offline" ? [button("act.online", "available", "primary")]
    : state === "on_break" ? [button("act.offline", "offline"), button("act.back", "available", "primary")]
      : [button("act.offline", "offline"), button("act.break", "on_break")];
  const box = $("state-actions");
  const sig = JSON.stringify([lang(), state]);
  if (box.dataset.sig !== sig) { box.dataset.sig = sig; box.replaceChildren(...buttons); }
}

function showMissingProfile() {
  $("signin").replaceChildren(h("p", { class: "card error", role: "alert" }, t("profile.missing")));
}

// ---------------------------------------------------------------- start
async function start() {
  let me = await boot({ title: "rider.title", strings: STRINGS });
  if (!me || me.role !== "rider") {
    $("signin").replaceChildren(h("p", { class: "muted" }, t("signin.need")));
    const holder = h("div");
    $("signin").append(holder);
    me = await signInForm(holder, { roles: ["rider"] });
    $("signin").replaceChildren();
    showWho(me);
  }
  app.me = { id: me.subject, state: "offline", deliveries: [] };
  loadOutbox();
  await refresh();
  if (app.missing) return;
  sendPosition();
  pollOffers();
  flush();
  setInterval(sendPosition, POSITION_EVERY_MS);
  // Offers and changes to this rider's deliveries arrive on the rider's own stream; polling fast
  // only while it is down keeps a patchy connection working.
  let lastPoll = Date.now();
  let changed = null;
  stream("dispatch", "/riders/me/live", {
    change: () => {
      clearTimeout(changed);
      changed = setTimeout(() => { lastPoll = Date.now(); pollOffers(); refresh(); }, 150);
    },
  }, (on) => { app.live = on; });
  setInterval(() => {
    const every = app.live ? OFFERS_LIVE_EVERY_MS : OFFERS_EVERY_MS;
    if (Date.now() - lastPoll >= every - 50) { lastPoll = Date.now(); pollOffers(); }
  }, OFFERS_EVERY_MS);
  setInterval(refresh, REFRESH_EVERY_MS);
  setInterval(() => { if (app.outbox.some((e) => e.state === "waiting")) flush(); }, RETRY_EVERY_MS);
  window.addEventListener("online", () => { reachable(true); flush(); refresh(); sendPosition(); });
  window.addEventListener("offline", () => reachable(false));
  document.addEventListener("linli:lang", () => {
    translate();
    app.cards.clear();
    app.offerSig = "";
    delete $("state-actions").dataset.sig;
    render();
  });
}

start();
