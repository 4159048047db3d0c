// The dispatch board: a live map of riders, shops, lockers and open deliveries; the open orders
// with promise, ETA and late risk, assigned or reassigned by hand (a rider off shift only after an
// explicit override); the rider roster with shifts; what the rounds would do now (held orders and
// why, orders no plan carries in time, bundles, additions to accepted trips, shifts ending); alerts. Dispatch's event stream (GET /live) says when something changed; the lists are then
// fetched again (debounced), rider positions move on the map straight from the stream.

import {
  act, api, boot, config, drawMap, h, liveBadge, mapLegend, named, showWho, signInForm, stream, t, timeOf, fen, toast,
  translate,
} from "/app/common/linli.js";

const STRINGS = {
  zh: {
    "board.title": "邻里 · 调度台", "board.forbidden": "调度台仅供调度员和管理员使用。",
    "board.counts": "待完成订单 {orders} · 在线骑手 {riders}", "board.load_failed": "刷新失败：{message}",
    "map.title": "地图", "map.label": "地图：骑手、店铺、自提柜与待完成订单的路线",
    "alerts.title": "提醒", "alerts.none": "暂无提醒",
    "alert.late_risk": "可能迟到", "alert.no_rider": "无骑手", "alert.silent": "骑手失联", "alert.behind": "骑手落后",
    "alert.unassigned": "已撤单", "alert.code_locked": "验证码已锁定", "alert.other": "提醒",
    "orders.title": "待完成订单", "orders.order": "订单", "orders.shop": "店铺", "orders.status": "状态",
    "orders.times": "承诺 · 实时预计", "orders.promise": "承诺 {time}", "orders.eta": "预计 {time}", "orders.rider": "骑手", "orders.assign": "指派 / 改派",
    "orders.empty": "暂无待完成订单。", "orders.late": "可能迟到", "orders.choose": "选择骑手",
    "orders.choose_for": "为订单 {order} 选择骑手", "orders.choose_first": "请先选择一位骑手",
    "orders.assign_btn": "指派", "orders.reassign_btn": "改派", "orders.assigned": "订单 {order} 已指派给 {name}",
    "orders.nobody": "未指派", "orders.offered": "等待 {name} 确认", "orders.bags": "{n} 袋",
    "orders.due": "到付 {amount}", "orders.call_first": "先打电话", "orders.locker": "自提柜",
    "orders.slot": "时段 {from}–{to}", "orders.not_assignable": "已取货，不可改派",
    "status.pending": "待店铺接单", "status.open": "待派骑手", "status.assigned": "前往店铺", "status.at_shop": "骑手在店",
    "status.picked_up": "配送中", "status.at_door": "已到门口", "status.in_locker": "已存柜",
    "status.pickup_offered": "已建议自取",
    "riders.title": "骑手", "riders.name": "骑手", "riders.state": "状态", "riders.load": "当前单量",
    "riders.shifts": "今日班次", "riders.rating": "评分", "riders.actions": "操作", "riders.empty": "暂无骑手。",
    "riders.edit_shifts": "编辑班次", "riders.edit_shifts_of": "编辑 {name} 的班次", "riders.no_shift": "无班次",
    "riders.no_rating": "暂无评分", "riders.rating_value": "{stars} 星（{count} 次）",
    "state.available": "空闲", "state.offered": "已派单待确认", "state.to_shop": "前往店铺", "state.carrying": "配送中",
    "state.on_break": "休息中", "state.offline": "离线", "state.silent": "失联",
    "vehicle.foot": "步行", "vehicle.bicycle": "自行车", "vehicle.e_bike": "电动车",
    "legend.title": "图例", "legend.shop": "店铺 / 市场", "legend.locker": "自提柜", "legend.door": "收货地址",
    "legend.late": "可能迟到的地址", "legend.gone": "离线 / 失联",
    "shifts.title": "{name} 的班次", "shifts.replaces": "保存后，下列班次将替换该骑手今天的班次（其他日期不变）。",
    "shifts.add": "添加班次", "shifts.start": "开始", "shifts.end": "结束", "shifts.remove": "删除第 {n} 个班次",
    "shifts.saved": "{name} 的班次已保存", "shifts.bad": "第 {n} 个班次：请填写开始和结束时间，且结束晚于开始",
    "shifts.none": "暂无班次，点“添加班次”。",
    "plan.title": "派单轮次", "plan.pressure": "每位可用骑手 {p} 单（大于 1：骑手紧张）· {time} 计算",
    "plan.held": "暂缓派单", "plan.undeliverable": "无法按时送达", "plan.bundles": "合单", "plan.additions": "追加到已接行程",
    "plan.shift_ends": "即将下班", "plan.none": "无",
    "plan.held_for": "#{order} 留给 {rider}：{why}", "plan.bundle": "{rider}：{orders}（{state}）",
    "plan.bundle_offered": "待确认", "plan.bundle_accepted": "已接单", "plan.addition": "{rider}：#{order} 追加到 {trip}（{state}）",
    "plan.addition_offered": "已派单待确认", "plan.addition_planned": "本轮计划", "plan.shift_end": "{name} {time} 下班 · 手上 {n} 单",
    "plan.undeliverable_row": "#{order}：{reason}",
    "override.title": "骑手不在班", "override.note": "仍然指派会记录在订单时间线上，并注明是你操作的。",
    "override.confirm": "仍然指派", "override.done": "订单 {order} 已越班指派给 {name}",
  },
  en: {
    "board.title": "Linli · dispatch board", "board.forbidden": "The dispatch board is for dispatchers and admins.",
    "board.counts": "Open orders: {orders} · riders online: {riders}", "board.load_failed": "Could not refresh: {message}",
    "map.title": "Map", "map.label": "Map of riders, shops, lockers and the routes of open orders",
    "alerts.title": "Alerts", "alerts.none": "No alerts",
    "alert.late_risk": "Late risk", "alert.no_rider": "No rider", "alert.silent": "Rider silent",
    "alert.behind": "Rider behind", "alert.unassigned": "Taken off", "alert.code_locked": "Code locked",
    "alert.other": "Alert",
    "orders.title": "Open orders", "orders.order": "Order", "orders.shop": "Shop", "orders.status": "Status",
    "orders.times": "Promised · live ETA", "orders.promise": "Promised {time}", "orders.eta": "ETA {time}", "orders.rider": "Rider", "orders.assign": "Assign / reassign",
    "orders.empty": "No open orders.", "orders.late": "Late risk", "orders.choose": "Choose a rider",
    "orders.choose_for": "Rider for order {order}", "orders.choose_first": "Choose a rider first",
    "orders.assign_btn": "Assign", "orders.reassign_btn": "Reassign", "orders.assigned": "Order {order} assigned to {name}",
    "orders.nobody": "Not assigned", "orders.offered": "Offered to {name}", "orders.bags": "Bags: {n}",
    "orders.due": "Collect {amount}", "orders.call_first": "Call first", "orders.locker": "Locker",
    "orders.slot": "Slot {from}–{to}", "orders.not_assignable": "Picked up: no reassigning",
    "status.pending": "Shop to accept", "status.open": "Needs a rider", "status.assigned": "Rider to shop",
    "status.at_shop": "Rider at shop", "status.picked_up": "On the way", "status.at_door": "At the door",
    "status.in_locker": "In the locker", "status.pickup_offered": "Pickup offered",
    "riders.title": "Riders", "riders.name": "Rider", "riders.state": "State", "riders.load": "Load",
    "riders.shifts": "Shifts today", "riders.rating": "Rating", "riders.actions": "Actions", "riders.empty": "No riders yet.",
    "riders.edit_shifts": "Edit shifts", "riders.edit_shifts_of": "Edit the shifts of {name}", "riders.no_shift": "No shift",
    "riders.no_rating": "Not rated yet", "riders.rating_value": "{stars} stars ({count})",
    "state.available": "Available", "state.offered": "Offered", "state.to_shop": "To shop", "state.carrying": "Carrying",
    "state.on_break": "On break", "state.offline": "Offline", "state.silent": "Silent",
    "vehicle.foot": "On foot", "vehicle.bicycle": "Bicycle", "vehicle.e_bike": "E-bike",
    "legend.title": "Legend", "legend.shop": "Shop / market", "legend.locker": "Locker", "legend.door": "Door",
    "legend.late": "Door, late risk", "legend.gone": "Offline / silent",
    "shifts.title": "Shifts of {name}", "shifts.replaces": "Saving replaces this rider's shifts for today with the list below (other days stay as they are).",
    "shifts.add": "Add a shift", "shifts.start": "Starts", "shifts.end": "Ends", "shifts.remove": "Remove shift {n}",
    "shifts.saved": "Shifts of {name} saved", "shifts.bad": "Shift {n}: give a start and an end, the end after the start",
    "shifts.none": "No shifts: use “Add a shift”.",
    "plan.title": "Rounds", "plan.pressure": "{p} open orders per free rider (over 1: riders are scarce) · planned {time}",
    "plan.held": "Held", "plan.undeliverable": "No plan carries in time", "plan.bundles": "Bundles",
    "plan.additions": "Additions to accepted trips", "plan.shift_ends": "Shifts ending", "plan.none": "None",
    "plan.held_for": "#{order} held for {rider}: {why}", "plan.bundle": "{rider}: {orders} ({state})",
    "plan.bundle_offered": "offered", "plan.bundle_accepted": "accepted", "plan.addition": "{rider}: #{order} added to {trip} ({state})",
    "plan.addition_offered": "offered", "plan.addition_planned": "planned this round", "plan.shift_end": "{name} off at {time} · {n} in hand",
    "plan.undeliverable_row": "#{order}: {reason}",
    "override.title": "Rider off shift", "override.note": "Assigning anyway is recorded on the order's timeline with your name.",
    "override.confirm": "Assign anyway", "override.done": "Order {order} assigned to {name} off shift",
  },
};

// Rider colours on the map and in the roster, by what the rider is doing.
const COLOURS = {
  available: "#15803d", offered: "#c2410c", to_shop: "#1d4ed8", carrying: "#7e22ce", on_break: "#0e7490",
  offline: "#6b7280", silent: "#6b7280",
};
const SHOP_COLOUR = "#5b4636", LOCKER_COLOUR = "#334155", DOOR_COLOUR = "#111827", LATE_COLOUR = "#a11616";
const TO_SHOP = new Set(["assigned", "at_shop"]);
const CARRYING = new Set(["picked_up", "at_door"]);
// Pending is offered too: whether a not-yet-accepted order may be given a rider is the server's call.
const ASSIGNABLE = new Set(["pending", "open", "pickup_offered", "assigned", "at_shop"]);
// Every kind the stream sends (GET /live: snapshot, dispatch's own notes, the events it publishes).
// An EventSource hears only named events it listens for; a kind missing here is caught by the periodic refresh.
const KINDS = [
  "rider_state", "delivery_open", "delivery_dropped", "alert", "packed", "picked_up", "offer", "offer_lapsed",
  "offer_declined", "rider_rated", "DeliveryPromised", "RiderAssigned", "RiderUnassigned", "RiderAtShop",
  "DeliveryPickedUp", "RiderAtDoor", "DeliveryCompleted", "DeliveryFailed", "EtaUpdated", "PickupOffered",
  "DeliveryAbandoned", "LockerReserved", "LockerDeposited", "LockerCollected", "LockerExpired", "LockerSiteUpdated",
  "PromiseQuoted", "order_held", "offer_withdrawn",
];
const OFFER_GONE = new Set(["RiderAssigned", "delivery_dropped", "DeliveryAbandoned", "PickupOffered"]);
const SAFETY_REFRESH_MS = 15_000;  // silence and unknown kinds of change show up within this
const RECONNECT_AFTER_MS = 10_000;  // a stream that stays down this long is opened afresh (with a new snapshot)

const board = {
  riders: [], deliveries: [], alerts: [], stores: [], lockers: [], plan: null,
  offers: new Map(),  // order id -> {offer_id, rider_id, expires_at}
};

const $ = (id) => document.getElementById(id);

// ---------------------------------------------------------------- start
async function start() {
  let me = await boot({ title: "board.title", strings: STRINGS });
  if (!me) {
    me = await signInForm($("signin"), { roles: ["dispatcher", "admin"] });
    showWho(me);
  }
  if (me.role !== "dispatcher" && me.role !== "admin") {
    $("signin").replaceChildren(h("p", { class: "card error", role: "alert" }, t("board.forbidden")));
    return;
  }
  $("board").hidden = false;
  mapLegend($("legend"), legendItems(), t("legend.title"));
  document.addEventListener("linli:lang", () => {
    mapLegend($("legend"), legendItems(), t("legend.title"));
    render();
  });
  window.addEventListener("resize", () => drawSoon());
  await Promise.all([loadPlaces(), refresh()]);
  follow();
  setInterval(refresh, SAFETY_REFRESH_MS);
  setInterval(render, 5_000);  // offers run out, ETAs tick by
}

/** Shops and lockers: places that rarely change, for the map. */
async function loadPlaces() {
  const [stores, lockers] = await Promise.allSettled([api("inventory", "/stores"), api("dispatch", "/lockers")]);
  if (stores.status === "fulfilled") board.stores = stores.value || [];
  if (lockers.status === "fulfilled") board.lockers = lockers.value || [];
}

// ---------------------------------------------------------------- live updates
let closeStream = null, downTimer = null;

function follow() {
  const badge = liveBadge($("live"));
  let wasDown = false;
  const handlers = {
    snapshot: (data) => {
      board.offers = new Map((data.offers || []).map((o) => [o.order_id, o]));
      apply(data);
    },
    rider_position: (entry) => moveRider(entry.data || {}),
  };
  for (const kind of KINDS) handlers[kind] = (entry) => { noteOffer(kind, entry); refreshSoon(); };
  closeStream = stream("dispatch", "/live", handlers, (on) => {
    badge(on);
    if (on) {
      clearTimeout(downTimer);
      downTimer = null;
      if (wasDown) refreshSoon();  // a resumed stream replays what it retained; fetch anyway to be whole
      wasDown = false;
      return;
    }
    wasDown = true;
    // EventSource retries by itself, but gives up for good on an HTTP error: start afresh if still down.
    if (!downTimer) downTimer = setTimeout(() => { downTimer = null; closeStream(); follow(); }, RECONNECT_AFTER_MS);
  });
}

function noteOffer(kind, entry) {
  const orderId = entry && entry.order_id;
  const data = (entry && entry.data) || {};
  if (!orderId) return;
  if (kind === "offer") board.offers.set(orderId, { ...data, order_id: orderId });
  else if (kind === "offer_lapsed" || kind === "offer_declined") {
    const known = board.offers.get(orderId);
    if (known && (!data.offer_id || known.offer_id === data.offer_id)) board.offers.delete(orderId);
  } else if (OFFER_GONE.has(kind)) board.offers.delete(orderId);
}

function moveRider({ rider_id: id, lat, lon }) {
  const rider = board.riders.find((r) => r.id === id);
  if (!rider || lat === undefined) { refreshSoon(); return; }  // someone new: fetch the roster
  rider.position = { ...(rider.position || {}), lat, lon };
  rider.silent = false;
  drawSoon();
}

let refreshTimer = null, firstAsked = 0, fetching = false, askedAgain = false;

/** Fetch the lists soon: wait for a quiet 250 ms, but never more than a second after the first ask. */
function refreshSoon() {
  const now = Date.now();
  if (!refreshTimer) firstAsked = now;
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => { refreshTimer = null; refresh(); }, Math.max(0, Math.min(250, firstAsked + 1000 - now)));
}

async function refresh() {
  if (fetching) { askedAgain = true; return; }
  fetching = true;
  try {
    const [riders, deliveries, alerts, plan] = await Promise.all([
      api("dispatch", "/riders"), api("dispatch", "/deliveries"), api("dispatch", "/alerts"),
      api("dispatch", "/board/plan")]);
    $("counts").classList.remove("error");
    apply({ riders, deliveries, alerts, plan });
  } catch (e) {
    $("counts").textContent = t("board.load_failed", { message: e.message });
    $("counts").classList.add("error");
  } finally {
    fetching = false;
    if (askedAgain) { askedAgain = false; refreshSoon(); }
  }
}

function apply({ riders, deliveries, alerts, plan }) {
  if (riders) board.riders = riders;
  if (deliveries) board.deliveries = deliveries;
  if (alerts) board.alerts = alerts;
  if (plan) board.plan = plan;
  render();
}

// ---------------------------------------------------------------- what things are
function pendingOffer(orderId) {
  const offer = board.offers.get(orderId);
  if (!offer) return null;
  if (offer.expires_at && new Date(offer.expires_at).getTime() < Date.now()) return null;
  return offer;
}

function riderState(r) {
  if (r.state === "offline") return "offline";
  if (r.silent) return "silent";
  if (r.state === "on_break") return "on_break";
  const mine = board.deliveries.filter((d) => d.rider_id === r.id);
  if (mine.some((d) => CARRYING.has(d.status))) return "carrying";
  if (mine.some((d) => TO_SHOP.has(d.status))) return "to_shop";
  if (board.deliveries.some((d) => pendingOffer(d.order_id)?.rider_id === r.id)) return "offered";
  return "available";
}

const riderById = (id) => board.riders.find((r) => r.id === id);
const riderName = (id) => (riderById(id)?.name || id || "");
const storeById = (id) => board.stores.find((s) => s.id === id);
const shortId = (id) => (id.length > 12 ? id.slice(0, 8) : id);

function shopName(d) {
  const store = storeById(d.store_id);
  if (store) return named(store);
  const pickup = { name_zh: d.pickup_name_zh, name_en: d.pickup_name_en };
  return named(pickup) || d.store_id;
}

function at(place) {
  return place && typeof place.lat === "number" && typeof place.lon === "number" ? { lat: place.lat, lon: place.lon } : null;
}

// ---------------------------------------------------------------- render
function render() {
  renderOrders();
  renderRiders();
  renderAlerts();
  renderPlan();
  drawNow();
  const online = board.riders.filter((r) => !["offline", "silent"].includes(riderState(r))).length;
  const counts = t("board.counts", { orders: board.deliveries.length, riders: online });
  if (!$("counts").classList.contains("error") && $("counts").textContent !== counts) $("counts").textContent = counts;
}

function legendItems() {
  return [
    ...["available", "offered", "to_shop", "carrying", "on_break"].map((s) => ({ color: COLOURS[s], label: t(`state.${s}`) })),
    { color: COLOURS.offline, label: t("legend.gone") },
    { color: SHOP_COLOUR, label: t("legend.shop"), shape: "square" },
    { color: LOCKER_COLOUR, label: t("legend.locker"), shape: "square" },
    { color: DOOR_COLOUR, label: t("legend.door"), shape: "ring" },
    { color: LATE_COLOUR, label: t("legend.late"), shape: "ring" },
  ];
}

let drawPending = false;
function drawSoon() {
  if (drawPending) return;
  drawPending = true;
  setTimeout(() => { drawPending = false; drawNow(); }, 300);
}

function drawNow() {
  const points = [], routes = [], placed = new Set();
  for (const s of board.stores) {
    if (!at(s)) continue;
    placed.add(s.id);
    points.push({ id: `shop:${s.id}`, ...at(s), kind: s.kind === "market" ? "market" : "shop", label: named(s), color: SHOP_COLOUR });
  }
  for (const l of board.lockers) {
    if (at(l)) points.push({ id: `locker:${l.id}`, ...at(l), kind: "locker", label: l.name, color: LOCKER_COLOUR });
  }
  for (const d of board.deliveries) {
    const shop = at({ lat: d.shop_lat, lon: d.shop_lon });
    const door = at(d.address);
    if (shop && !placed.has(d.store_id)) {
      placed.add(d.store_id);
      points.push({ id: `shop:${d.store_id}`, ...shop, kind: "shop", label: shopName(d), color: SHOP_COLOUR });
    }
    if (door) {
      points.push({ id: `door:${d.order_id}`, ...door, kind: d.late_risk ? "door late" : "door", label: `#${shortId(d.order_id)}`,
        color: d.late_risk ? LATE_COLOUR : DOOR_COLOUR });
    }
    const rider = d.rider_id ? riderById(d.rider_id) : null;
    const from = rider ? at(rider.position) : null;
    const colour = rider ? COLOURS[riderState(rider)] : "#9ca3af";
    const path = [];
    if (from) path.push(from);
    if (shop && !CARRYING.has(d.status)) path.push(shop);
    if (door) path.push(door);
    if (path.length > 1) routes.push({ points: path, color: colour, dashed: !rider });
  }
  for (const r of board.riders) {
    const where = at(r.position);
    if (where) {
      const state = riderState(r);
      points.push({ id: `rider:${r.id}`, ...where, kind: `rider ${state}`, label: `${r.name} · ${t(`state.${state}`)}`,
        color: COLOURS[state] });
    }
  }
  drawMap($("map"), { points, routes });
}

// Rows are kept per order and per rider and updated in place, so a dispatcher's half-made choice
// (a rider picked in a select, the focus) survives the updates that keep arriving.
const orderRows = new Map();
const riderRows = new Map();

/** Replace an element's children, leaving out the absent ones (replaceChildren would write "null"). */
function fill(el, ...children) {
  el.replaceChildren(...children.filter((c) => c !== null && c !== undefined && c !== false));
}

function placeRows(tbody, rows) {
  rows.forEach((row, i) => {
    if (tbody.children[i] !== row) tbody.insertBefore(row, tbody.children[i] || null);
  });
  while (tbody.children.length > rows.length) tbody.lastElementChild.remove();
}

function renderOrders() {
  const seen = new Set();
  const rows = board.deliveries.map((d) => { seen.add(d.order_id); return updateOrderRow(d); });
  for (const id of [...orderRows.keys()]) if (!seen.has(id)) orderRows.delete(id);
  placeRows($("orders").tBodies[0], rows);
  $("orders-empty").hidden = rows.length > 0;
}

function orderRow(d) {
  const id = d.order_id;
  let row = orderRows.get(id);
  if (row) return row;
  const select = h("select", { id: `assign-${id}`, class: "assign-rider" });
  const label = h("label", { for: select.id, class: "sr-only" });
  const button = h("button", { type: "button", class: "primary assign" });
  const error = h("p", { class: "error", role: "alert" });
  button.addEventListener("click", () => assign(id, select, button, error));
  const cells = { order: h("th", { scope: "row" }), status: h("td"), times: h("td"), rider: h("td"), assign: h("td") };
  const controls = h("div", { class: "assign-controls" }, label, select, button);
  const fixed = h("span", { class: "muted" });
  cells.assign.append(controls, fixed, error);
  const tr = h("tr", { "data-order-id": id }, ...Object.values(cells));
  row = { tr, cells, select, label, button, error, controls, fixed, options: "" };
  orderRows.set(id, row);
  return row;
}

function updateOrderRow(d) {
  const row = orderRow(d);
  const { cells } = row;
  row.tr.classList.toggle("late", Boolean(d.late_risk));
  const tags = [];
  if (d.bags) tags.push(t("orders.bags", { n: d.bags }));
  if (d.mode === "locker") tags.push(t("orders.locker"));
  if (d.call_first) tags.push(t("orders.call_first"));
  const due = d.due_at_door_fen ?? (d.pay_on_delivery ? d.total_fen : null);
  if (d.pay_on_delivery && due !== null && due !== undefined) tags.push(t("orders.due", { amount: fen(due) }));
  if (d.slot_start && d.slot_end) tags.push(t("orders.slot", { from: timeOf(d.slot_start), to: timeOf(d.slot_end) }));
  fill(cells.order, h("span", { class: "order-id", title: d.order_id }, `#${shortId(d.order_id)}`),
    h("div", { class: "small" }, shopName(d)),
    tags.length ? h("div", { class: "muted small" }, tags.join(" · ")) : null);
  cells.status.replaceChildren(h("span", { class: `badge status-${d.status}` }, t(`status.${d.status}`)));
  fill(cells.times, h("div", { class: "promise" }, t("orders.promise", { time: timeOf(d.promised_at) })),
    h("div", { class: "eta" }, t("orders.eta", { time: timeOf(d.eta_door_at) })),
    d.late_risk ? h("span", { class: "badge bad late-risk" }, t("orders.late")) : null);
  const offer = pendingOffer(d.order_id);
  if (d.rider_id) {
    const rider = riderById(d.rider_id);
    cells.rider.replaceChildren(h("span", { class: "swatch", style: `background:${rider ? COLOURS[riderState(rider)] : "#999"}`,
      "aria-hidden": "true" }), h("span", { class: "assigned-rider", "data-rider-id": d.rider_id }, riderName(d.rider_id)));
  } else if (offer) {
    cells.rider.replaceChildren(h("span", { class: "muted" }, t("orders.offered", { name: riderName(offer.rider_id) })));
  } else {
    cells.rider.replaceChildren(h("span", { class: "muted" }, t("orders.nobody")));
  }
  const assignable = ASSIGNABLE.has(d.status);
  row.controls.hidden = !assignable;
  row.fixed.textContent = assignable ? "" : t("orders.not_assignable");
  if (!assignable) row.error.textContent = "";
  row.label.textContent = t("orders.choose_for", { order: shortId(d.order_id) });
  row.button.textContent = t(d.rider_id ? "orders.reassign_btn" : "orders.assign_btn");
  fillRiderChoice(row, d.rider_id);
  return row.tr;
}

function fillRiderChoice(row, current) {
  const choices = board.riders.filter((r) => r.id !== current).map((r) => {
    const state = riderState(r);
    return { id: r.id, text: `${r.name} · ${t(`state.${state}`)} · ${r.carrying ?? 0}/${r.capacity}` };
  });
  const signature = JSON.stringify([t("orders.choose"), choices]);
  if (signature === row.options) return;
  row.options = signature;
  const chosen = row.select.value;
  row.select.replaceChildren(h("option", { value: "" }, t("orders.choose")),
    ...choices.map((c) => h("option", { value: c.id }, c.text)));
  if (choices.some((c) => c.id === chosen)) row.select.value = chosen;
}

async function assign(orderId, select, button, error) {
  error.textContent = "";
  const riderId = select.value;
  if (!riderId) { error.textContent = t("orders.choose_first"); select.focus(); return; }
  button.disabled = true;
  const send = (override) => api("dispatch", `/orders/${encodeURIComponent(orderId)}/assign`,
    { method: "POST", body: { rider_id: riderId, override_shift: override }, key: true });
  try {
    let override = false;
    try {
      await send(false);
    } catch (e) {
      // A rider off shift: the server says why; the dispatcher decides, and the override is on the record.
      if (!(e.status === 409 && e.body && e.body.needs === "override_shift")) throw e;
      if (!(await confirmOverride(e.message))) { error.textContent = e.message; return; }
      await send(true);
      override = true;
    }
    const name = riderName(riderId), order = shortId(orderId);
    toast(t(override ? "override.done" : "orders.assigned", { order, name }), "good");
    select.value = "";
    refreshSoon();
  } catch (e) {
    error.textContent = e.message;  // the server's reason: already theirs, picked up, no such rider…
  } finally {
    button.disabled = false;
  }
}

/** Ask whether to assign a rider who is off shift anyway; resolves true when the dispatcher confirms. */
function confirmOverride(why) {
  const dialog = $("override-dialog");
  $("override-why").textContent = why;
  translate(dialog);
  return new Promise((resolve) => {
    const done = () => { dialog.removeEventListener("close", done); resolve(dialog.returnValue === "override"); };
    dialog.returnValue = "";
    dialog.addEventListener("close", done);
    dialog.showModal();
  });
}

// ---------------------------------------------------------------- the rounds' plan
function listOf(el, items) {
  el.replaceChildren(...(items.length ? items : [h("li", { class: "muted" }, t("plan.none"))]));
}

function renderPlan() {
  const plan = board.plan;
  if (!plan) return;
  $("plan-pressure").textContent = t("plan.pressure", { p: plan.pressure, time: timeOf(plan.planned_at) });
  const ids = (list) => list.map((id) => `#${shortId(id)}`).join(", ");
  listOf($("plan-held"), plan.held.map((x) => h("li", { class: `held ${x.reason}`, "data-order-id": x.order_id },
    t("plan.held_for", { order: shortId(x.order_id), rider: riderName(x.rider_id), why: x.why }))));
  listOf($("plan-undeliverable"), plan.undeliverable.map((x) => h("li", { class: "alert undeliverable", "data-order-id": x.order_id },
    h("span", { class: "badge bad" }, t("plan.undeliverable")), " ",
    t("plan.undeliverable_row", { order: shortId(x.order_id), reason: x.reason }))));
  listOf($("plan-bundles"), plan.bundles.map((x) => h("li", { class: "bundle", "data-rider-id": x.rider_id },
    t("plan.bundle", { rider: riderName(x.rider_id), orders: ids(x.order_ids),
      state: t(x.offered ? "plan.bundle_offered" : "plan.bundle_accepted") }))));
  listOf($("plan-additions"), plan.additions.map((x) => h("li", { class: "addition", "data-order-id": x.order_id },
    t("plan.addition", { rider: riderName(x.rider_id), order: shortId(x.order_id), trip: ids(x.adds_to),
      state: t(x.offer_id ? "plan.addition_offered" : "plan.addition_planned") }))));
  listOf($("plan-shift-ends"), plan.shift_ends.map((x) => h("li", { class: "shift-end", "data-rider-id": x.rider_id },
    t("plan.shift_end", { name: x.name, time: timeOf(x.ends_at), n: x.in_hand.length }))));
}

function renderRiders() {
  const seen = new Set();
  const sorted = [...board.riders].sort((a, b) => a.name.localeCompare(b.name));
  const rows = sorted.map((r) => { seen.add(r.id); return updateRiderRow(r); });
  for (const id of [...riderRows.keys()]) if (!seen.has(id)) riderRows.delete(id);
  placeRows($("riders").tBodies[0], rows);
  $("riders-empty").hidden = rows.length > 0;
}

function updateRiderRow(r) {
  let row = riderRows.get(r.id);
  if (!row) {
    const edit = h("button", { type: "button", class: "edit-shifts" });
    edit.addEventListener("click", () => editShifts(r.id));
    const cells = { name: h("th", { scope: "row" }), state: h("td"), load: h("td"), shifts: h("td"), rating: h("td"),
      actions: h("td", {}, edit) };
    row = { tr: h("tr", { "data-rider-id": r.id }, ...Object.values(cells)), cells, edit };
    riderRows.set(r.id, row);
  }
  const { cells } = row;
  const state = riderState(r);
  cells.name.replaceChildren(h("span", {}, r.name),
    h("div", { class: "muted small" }, `${r.id} · ${t(`vehicle.${r.vehicle}`)}`));
  cells.state.replaceChildren(h("span", { class: "swatch", style: `background:${COLOURS[state]}`, "aria-hidden": "true" }),
    h("span", { class: "rider-state" }, t(`state.${state}`)));
  cells.load.textContent = `${r.carrying ?? 0} / ${r.capacity}`;
  const shifts = r.shifts_today || [];
  cells.shifts.textContent = shifts.length
    ? shifts.map((s) => `${timeOf(s.starts_at)}–${timeOf(s.ends_at)}`).join(", ") : t("riders.no_shift");
  cells.rating.textContent = ratingText(r.rating);
  row.edit.textContent = t("riders.edit_shifts");
  row.edit.setAttribute("aria-label", t("riders.edit_shifts_of", { name: r.name }));
  return row.tr;
}

function ratingText(rating) {
  if (rating === null || rating === undefined) return t("riders.no_rating");
  if (typeof rating === "number") return t("riders.rating_value", { stars: rating.toFixed(1), count: "—" });
  if (rating.stars === null || rating.stars === undefined) return t("riders.no_rating");
  return t("riders.rating_value", { stars: Number(rating.stars).toFixed(1), count: rating.count ?? "—" });
}

function renderAlerts() {
  const list = $("alerts");
  const alerts = [...board.alerts].sort((a, b) => (b.created_at || "").localeCompare(a.created_at || "")).slice(0, 50);
  if (!alerts.length) { list.replaceChildren(h("li", { class: "muted" }, t("alerts.none"))); return; }
  list.replaceChildren(...alerts.map((a) => {
    const known = ["late_risk", "no_rider", "silent", "behind", "unassigned", "code_locked"].includes(a.kind);
    return h("li", { class: `alert ${a.kind}`, "data-order-id": a.order_id || "" },
      h("span", { class: `badge ${a.kind === "late_risk" || a.kind === "no_rider" ? "bad" : "warn"}` },
        known ? t(`alert.${a.kind}`) : (a.kind || t("alert.other"))),
      " ", h("time", { datetime: a.created_at }, timeOf(a.created_at)), " ", h("span", {}, a.message));
  }));
}

// ---------------------------------------------------------------- shifts
const pad = (n) => String(n).padStart(2, "0");
function localInput(iso) {
  const d = new Date(iso);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

let editing = null;

function editShifts(riderId) {
  const rider = riderById(riderId);
  if (!rider) return;
  editing = riderId;
  $("shifts-title").textContent = t("shifts.title", { name: rider.name });
  $("shifts-error").textContent = "";
  $("shifts-list").replaceChildren();
  for (const s of rider.shifts_today || []) addShiftRow(localInput(s.starts_at), localInput(s.ends_at));
  showEmptyShifts();
  translate($("shifts-dialog"));
  $("shifts-dialog").showModal();
}

let shiftSeq = 0;
function addShiftRow(starts = "", ends = "") {
  const n = ++shiftSeq;
  const start = h("input", { type: "datetime-local", id: `shift-start-${n}`, class: "shift-start", value: starts, required: true });
  const end = h("input", { type: "datetime-local", id: `shift-end-${n}`, class: "shift-end", value: ends, required: true });
  const remove = h("button", { type: "button", class: "ghost shift-remove" }, "✕");
  const item = h("li", { class: "shift" },
    h("div", {}, h("label", { for: start.id }, t("shifts.start")), start),
    h("div", {}, h("label", { for: end.id }, t("shifts.end")), end), remove);
  remove.addEventListener("click", () => { item.remove(); numberShifts(); showEmptyShifts(); $("shift-add").focus(); });
  $("shifts-list").append(item);
  numberShifts();
  showEmptyShifts();
  return start;
}

function numberShifts() {
  [...$("shifts-list").querySelectorAll(".shift-remove")].forEach((b, i) => b.setAttribute("aria-label", t("shifts.remove", { n: i + 1 })));
}

function showEmptyShifts() {
  const list = $("shifts-list");
  const empty = list.querySelector(".shifts-none");
  const has = list.querySelector(".shift");
  if (has && empty) empty.remove();
  if (!has && !empty) list.append(h("li", { class: "shifts-none muted" }, t("shifts.none")));
}

async function saveShifts(event) {
  event.preventDefault();
  const rider = riderById(editing);
  const error = $("shifts-error");
  error.textContent = "";
  const shifts = [];
  const items = [...$("shifts-list").querySelectorAll(".shift")];
  for (const [i, item] of items.entries()) {
    const starts = item.querySelector(".shift-start").value, ends = item.querySelector(".shift-end").value;
    if (!starts || !ends || new Date(ends) <= new Date(starts)) {
      error.textContent = t("shifts.bad", { n: i + 1 });
      return;
    }
    shifts.push({ starts_at: new Date(starts).toISOString(), ends_at: new Date(ends).toISOString() });
  }
  const saved = await act($("shifts-save"), async () => {
    try {
      return await api("dispatch", `/riders/${encodeURIComponent(editing)}/shifts`, { method: "PUT", body: { shifts, day: neighbourhoodToday() }, key: true });
    } catch (e) { error.textContent = e.message; return undefined; }
  });
  if (!saved) return;
  $("shifts-dialog").close();
  toast(t("shifts.saved", { name: rider ? rider.name : editing }), "good");
  riderRows.get(editing)?.edit.focus();
  refreshSoon();
}

function setUpOverrideDialog() {
  $("override-cancel").addEventListener("click", () => $("override-dialog").close());
}

function setUpShiftsDialog() {
  $("shifts-form").addEventListener("submit", saveShifts);
  $("shift-add").addEventListener("click", () => {
    const now = new Date();
    const later = new Date(now.getTime() + 4 * 3600_000);
    addShiftRow(localInput(now.toISOString()), localInput(later.toISOString())).focus();
  });
  $("shifts-cancel").addEventListener("click", () => $("shifts-dialog").close());
  $("shifts-dialog").addEventListener("close", () => { if (editing) riderRows.get(editing)?.edit.focus(); });
}

setUpShiftsDialog();
setUpOverrideDialog();
start().catch((e) => toast(e.message || t("error"), "error"));

/** Today's date where the riders work (the server's timezone), as YYYY-MM-DD. */
function neighbourhoodToday() {
  return new Intl.DateTimeFormat("en-CA", { timeZone: config.timezone || "Asia/Shanghai" }).format(new Date());
}
