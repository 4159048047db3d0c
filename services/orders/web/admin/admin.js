// The operator console: the people who run the circle bring shops and markets with their stalls onto
// Linli, load price lists (a preview first: each row's change and every refused row with its reason),
// keep the staff registry, riders and their shifts, lockers, residents and their helpers, group
// leaders, and read the record of changes, merged from the three services' GET /admin/audit.
// Every change goes to the service that owns it; what the page shows is what those APIs answer.

import {
  act, api, boot, config, drawMap, fen, h, mapLegend, named, showWho, signInForm, t, toast, translate,
} from "/app/common/linli.js";

const STRINGS = {
  zh: {
    "admin.title": "邻里 · 运营后台", "admin.forbidden": "运营后台仅供管理员使用。", "nav.label": "后台栏目",
    "nav.locations": "店铺与市场", "nav.prices": "价目表", "nav.staff": "店员登记", "nav.riders": "骑手与班次",
    "nav.lockers": "自提柜", "nav.residents": "居民与助老员", "nav.leaders": "团长", "nav.record": "变更记录",
    "nav.desk": "收银台", "nav.reports": "报表",
    "loc.title": "店铺、市场与摊位", "loc.map": "生活圈地图：店铺、市场与摊位", "loc.map_hint": "点地图可设置正在编辑的店铺或市场的位置。",
    "loc.name": "名称", "loc.kind": "类型", "loc.hours": "营业时间", "loc.fee": "配送费", "loc.limits": "限制",
    "loc.edit": "编辑", "loc.edit_of": "编辑 {name}", "loc.saved": "{name} 已保存", "loc.always": "全天",
    "loc.limits_value": "{accept} · 配送 {radius} 米 · 备货 {picking} 分钟", "loc.paused": "暂停接单",
    "loc.inactive": "未上线", "loc.accept_s": "接单 {n} 秒", "loc.accept_default": "接单时限默认", "loc.stall_of": "{market} 的摊位",
    "kind.shop": "店铺", "kind.market": "市场", "kind.stall": "摊位",
    "market.title": "新市场入驻", "market.stalls": "摊位", "market.add_stall": "添加摊位",
    "market.save": "保存市场及其摊位", "market.saved": "{name} 及 {n} 个摊位已保存", "market.stall_n": "摊位 {n}",
    "market.remove_stall": "删除摊位 {n}",
    "field.id": "编号", "field.category": "类别", "field.name_zh": "中文名称", "field.name_en": "英文名称",
    "field.lat": "纬度", "field.lon": "经度", "field.fee": "配送费（元）", "field.hours": "每日营业时间",
    "field.hours_hint": "如 06:00-12:00, 16:00-19:00；留空为全天", "field.radius": "配送半径（米）",
    "field.accept": "接单时限（秒）", "field.picking": "备货时间（分钟）", "field.active": "上线接单", "field.paused": "暂停接单",
    "field.bad_hours": "营业时间写法：06:00-12:00, 16:00-19:00",
    "prices.title": "导入价目表", "prices.columns": "列：product_id、name_zh、name_en、unit、price_fen、grams_per_piece、stall、counted。CSV 或 .xlsx。",
    "prices.location": "店铺或市场", "prices.file": "文件", "prices.preview": "预览", "prices.apply": "应用",
    "prices.choose_file": "请先选择文件", "prices.refused": "被拒绝的行（全部正确之前不会写入任何内容）",
    "prices.rows": "每行的变化", "prices.line": "行", "prices.product": "商品", "prices.reason": "原因", "prices.stall": "摊位",
    "prices.change": "变化", "prices.price": "价格", "prices.stock": "盘点库存", "prices.products": "在售商品",
    "prices.available": "可售", "prices.summary": "新增 {new} · 变化 {changed} · 不变 {unchanged} · 拒绝 {refused}",
    "prices.applied": "价目表已应用：新增 {new}，变化 {changed}", "prices.fix_first": "有被拒绝的行：改好文件后再预览",
    "change.new": "新增", "change.price": "改价", "change.stock": "库存", "change.details": "信息", "change.none": "不变",
    "staff.title": "谁可以代表哪家店", "staff.note": "一家店有登记后，只有登记的店员可以代表它；撤销在其下一次请求时生效。",
    "staff.location": "店铺、市场或摊位", "staff.subject": "店员账号", "staff.add": "登记", "staff.granted": "登记于",
    "staff.revoke": "撤销", "staff.revoked": "{subject} 已从 {location} 撤销", "staff.added": "{subject} 已登记到 {location}",
    "riders.title": "骑手", "riders.name": "骑手", "riders.vehicle": "交通工具", "riders.state": "状态",
    "riders.shifts": "今日班次", "riders.form": "骑手资料", "riders.capacity": "一次可带袋数", "riders.today": "今日班次",
    "riders.start": "开始", "riders.end": "结束", "riders.shift_note": "两项都留空则保留今日班次；填写后替换今日班次。",
    "riders.saved": "{name} 已保存", "riders.no_shift": "无班次", "riders.bad_shift": "请同时填写开始和结束时间",
    "vehicle.foot": "步行", "vehicle.bicycle": "自行车", "vehicle.e_bike": "电动车",
    "lockers.title": "自提柜点", "lockers.free": "空闲格口", "lockers.form": "自提柜点", "lockers.compartments": "格口（编号:尺寸，S、M 或 L）",
    "lockers.saved": "{name} 已保存", "lockers.bad": "格口写法：A1:S, A2:M",
    "residents.title": "助老员代购的居民", "residents.name": "居民", "residents.helper": "助老员", "residents.flags": "需要",
    "residents.form": "为助老员登记居民", "residents.phone": "电话", "residents.note": "备注", "residents.call": "送达前先打电话",
    "residents.cash": "货到付款", "residents.add": "登记", "residents.added": "{name} 已登记给 {helper}",
    "helpers.title": "居民指定的家属助手", "helpers.shopper": "居民账号", "helpers.form": "为居民指定助手", "helpers.add": "指定",
    "helpers.remove": "移除", "helpers.added": "{helper} 可以为 {shopper} 下单了", "helpers.removed": "{helper} 不再为 {shopper} 下单",
    "leaders.title": "团长", "leaders.note": "团长为邻居发起团购。管理员的授权适用于所有店铺。", "leaders.grant": "授权",
    "leaders.scope": "店铺", "leaders.by": "授权人", "leaders.any": "所有店铺", "leaders.granted": "{shopper} 成为团长",
    "leaders.revoked": "{shopper} 的团长资格已撤销",
    "record.title": "变更记录", "record.entity": "对象", "record.all": "全部", "record.actor": "操作人",
    "record.actor_hint": "操作人，如 admin:ops-1", "record.filter": "显示", "record.when": "时间", "record.who": "操作人",
    "record.what": "对象", "record.action": "变更", "record.detail": "详情", "record.more": "更早的变更", "record.none": "暂无变更",
    "record.service": "{service} 服务",
    "entity.location": "店铺/市场/摊位", "entity.product": "商品", "entity.price_list": "价目表", "entity.staff": "店员登记",
    "entity.rider": "骑手", "entity.shifts": "班次", "entity.locker": "自提柜", "entity.resident": "居民",
    "entity.helper": "助手", "entity.group_leader": "团长", "entity.address_book": "地址簿",
    "action.created": "新建", "action.updated": "修改", "action.applied": "应用", "action.registered": "登记",
    "action.revoked": "撤销", "action.replaced": "替换", "action.changed": "修改", "action.named": "指定",
    "action.unnamed": "移除", "action.granted": "授权",
    "flag.call": "先打电话", "flag.cash": "货到付款",
  },
  en: {
    "admin.title": "Linli · operator console", "admin.forbidden": "The operator console is for admins.", "nav.label": "Sections",
    "nav.locations": "Shops and markets", "nav.prices": "Price lists", "nav.staff": "Staff registry",
    "nav.riders": "Riders and shifts", "nav.lockers": "Lockers", "nav.residents": "Residents and helpers",
    "nav.leaders": "Group leaders", "nav.record": "Record of changes", "nav.desk": "Cash desk", "nav.reports": "Reports",
    "loc.title": "Shops, markets and stalls", "loc.map": "Map of the circle: shops, markets and stalls",
    "loc.map_hint": "Tap the map to place the shop or market you are editing.",
    "loc.name": "Name", "loc.kind": "Kind", "loc.hours": "Hours", "loc.fee": "Delivery fee", "loc.limits": "Limits",
    "loc.edit": "Edit", "loc.edit_of": "Edit {name}", "loc.saved": "{name} saved", "loc.always": "All day",
    "loc.limits_value": "{accept} · delivers {radius} m · picks in {picking} min", "loc.paused": "Paused",
    "loc.inactive": "Not live", "loc.accept_s": "accept in {n} s", "loc.accept_default": "default time to accept", "loc.stall_of": "stall of {market}",
    "kind.shop": "Shop", "kind.market": "Market", "kind.stall": "Stall",
    "market.title": "Bring a market onto Linli", "market.stalls": "Stalls", "market.add_stall": "Add a stall",
    "market.save": "Save the market and its stalls", "market.saved": "{name} saved with {n} stalls", "market.stall_n": "Stall {n}",
    "market.remove_stall": "Remove stall {n}",
    "field.id": "Id", "field.category": "Category", "field.name_zh": "Name (Chinese)", "field.name_en": "Name (English)",
    "field.lat": "Latitude", "field.lon": "Longitude", "field.fee": "Delivery fee (¥)", "field.hours": "Hours every day",
    "field.hours_hint": "e.g. 06:00-12:00, 16:00-19:00; empty: all day", "field.radius": "Delivery radius (m)",
    "field.accept": "Time to accept an order (s)", "field.picking": "Picking time (min)", "field.active": "Takes orders (live)",
    "field.paused": "Paused", "field.bad_hours": "Write hours as 06:00-12:00, 16:00-19:00",
    "prices.title": "Load a price list", "prices.columns": "Columns: product_id, name_zh, name_en, unit, price_fen, grams_per_piece, stall, counted. CSV or .xlsx.",
    "prices.location": "Shop or market", "prices.file": "File", "prices.preview": "Preview", "prices.apply": "Apply",
    "prices.choose_file": "Choose a file first", "prices.refused": "Rows refused (nothing is written until every row is right)",
    "prices.rows": "Each row's change", "prices.line": "Line", "prices.product": "Product", "prices.reason": "Reason",
    "prices.stall": "Stall", "prices.change": "Change", "prices.price": "Price", "prices.stock": "Stock counted",
    "prices.products": "Products now on sale", "prices.available": "Available",
    "prices.summary": "New {new} · changed {changed} · unchanged {unchanged} · refused {refused}",
    "prices.applied": "Price list applied: {new} new, {changed} changed", "prices.fix_first": "Some rows are refused: fix the file and preview again",
    "change.new": "new", "change.price": "price", "change.stock": "stock", "change.details": "details", "change.none": "no change",
    "staff.title": "Who may act for which shop", "staff.note": "Once a shop has entries, only the staff registered here may act for it; a revocation counts at their next request.",
    "staff.location": "Shop, market or stall", "staff.subject": "Staff account", "staff.add": "Register", "staff.granted": "Registered",
    "staff.revoke": "Revoke", "staff.revoked": "{subject} revoked from {location}", "staff.added": "{subject} registered for {location}",
    "riders.title": "Riders", "riders.name": "Rider", "riders.vehicle": "Vehicle", "riders.state": "State",
    "riders.shifts": "Shifts today", "riders.form": "A rider", "riders.capacity": "Bags at once", "riders.today": "Shift today",
    "riders.start": "Starts", "riders.end": "Ends", "riders.shift_note": "Leave both empty to keep today's shifts; saving a shift replaces today's.",
    "riders.saved": "{name} saved", "riders.no_shift": "No shift", "riders.bad_shift": "Give both a start and an end",
    "vehicle.foot": "On foot", "vehicle.bicycle": "Bicycle", "vehicle.e_bike": "E-bike",
    "lockers.title": "Locker sites", "lockers.free": "Free compartments", "lockers.form": "A locker site",
    "lockers.compartments": "Compartments (id:size, S M or L)", "lockers.saved": "{name} saved", "lockers.bad": "Write compartments as A1:S, A2:M",
    "residents.title": "Residents a helper orders for", "residents.name": "Resident", "residents.helper": "Helper",
    "residents.flags": "Needs", "residents.form": "Register a resident for a helper", "residents.phone": "Phone",
    "residents.note": "Note", "residents.call": "Call before delivery", "residents.cash": "Pays on delivery",
    "residents.add": "Register", "residents.added": "{name} registered for {helper}",
    "helpers.title": "Helpers shoppers named", "helpers.shopper": "Shopper", "helpers.form": "Name a helper for a shopper",
    "helpers.add": "Name", "helpers.remove": "Remove", "helpers.added": "{helper} may now order for {shopper}",
    "helpers.removed": "{helper} no longer orders for {shopper}",
    "leaders.title": "Group leaders", "leaders.note": "A group leader opens group buys for neighbours. An admin's grant covers every shop.",
    "leaders.grant": "Grant", "leaders.scope": "Shops", "leaders.by": "Granted by", "leaders.any": "every shop",
    "leaders.granted": "{shopper} is a group leader", "leaders.revoked": "{shopper} is no longer a group leader",
    "record.title": "Record of changes", "record.entity": "What", "record.all": "Everything", "record.actor": "Who",
    "record.actor_hint": "who, e.g. admin:ops-1", "record.filter": "Show", "record.when": "When", "record.who": "Who",
    "record.what": "What", "record.action": "Change", "record.detail": "Details", "record.more": "Older changes",
    "record.none": "No changes yet", "record.service": "{service} service",
    "entity.location": "Location", "entity.product": "Product", "entity.price_list": "Price list", "entity.staff": "Staff registry",
    "entity.rider": "Rider", "entity.shifts": "Shifts", "entity.locker": "Locker", "entity.resident": "Resident",
    "entity.helper": "Helper", "entity.group_leader": "Group leader", "entity.address_book": "Address book",
    "action.created": "created", "action.updated": "updated", "action.applied": "applied", "action.registered": "registered",
    "action.revoked": "revoked", "action.replaced": "replaced", "action.changed": "changed", "action.named": "named",
    "action.unnamed": "removed", "action.granted": "granted",
    "flag.call": "call first", "flag.cash": "cash at door",
  },
};

const $ = (id) => document.getElementById(id);
const KIND_COLOUR = { shop: "#5b4636", market: "#0b6e4f", stall: "#b45309" };
let locations = [];
let editing = null;  // the location the edit form holds, or "market" while onboarding
let pricePreview = null;

// ---------------------------------------------------------------- small helpers
function rows(tbody, items, render, emptyCols) {
  const body = typeof tbody === "string" ? document.querySelector(`#${tbody} tbody`) : tbody;
  body.replaceChildren(...(items.length ? items.map(render)
    : [h("tr", {}, h("td", { colspan: emptyCols, class: "muted" }, t("none")))]));
}

function whenOf(iso) {
  if (!iso) return "—";
  return new Date(iso).toLocaleString(document.documentElement.lang, { timeZone: config.timezone || undefined,
    month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit" });
}

/** "06:00-12:00, 16:00-19:00" as the same windows on each day of the week; empty is all day (null). */
function windowsOf(text) {
  const spans = text.split(",").map((s) => s.trim()).filter(Boolean);
  if (!spans.length) return null;
  const parsed = spans.map((s) => /^(\d{1,2}:\d{2})\s*-\s*(\d{1,2}:\d{2})$/.exec(s));
  if (parsed.some((m) => !m)) throw new Error(t("field.bad_hours"));
  const pad = (v) => v.padStart(5, "0");
  return [0, 1, 2, 3, 4, 5, 6].flatMap((day) => parsed.map((m) => ({ day, opens: pad(m[1]), closes: pad(m[2]) })));
}

function hoursText(windows) {
  if (!windows || !windows.length) return "";
  const monday = windows.filter((w) => w.day === 0).map((w) => `${w.opens.slice(0, 5)}-${w.closes.slice(0, 5)}`);
  return monday.join(", ");
}

function yuanToFen(value) { return Math.round(Number(value || 0) * 100); }

/** Today's date where the circle is, and an ISO instant for a wall-clock time on it there. */
function todayThere() {
  return new Intl.DateTimeFormat("en-CA", { timeZone: config.timezone }).format(new Date());
}
function clockThere(iso) {
  return new Date(iso).toLocaleTimeString("en-GB", { timeZone: config.timezone, hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
}
function instantThere(day, time) {
  const guess = new Date(`${day}T${time}:00Z`);
  const parts = Object.fromEntries(new Intl.DateTimeFormat("en-US", {
    timeZone: config.timezone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit" }).formatToParts(guess).map((p) => [p.type, p.value]));
  const shown = Date.UTC(+parts.year, +parts.month - 1, +parts.day, +parts.hour, +parts.minute);
  return new Date(guess.getTime() - (shown - guess.getTime())).toISOString();
}

// ---------------------------------------------------------------- sections
const LOADERS = {
  locations: loadLocations, prices: loadPriceLocations, staff: loadStaff, riders: loadRiders, lockers: loadLockers,
  residents: loadResidents, leaders: loadLeaders, record: () => loadRecord(true),
};

function show(section) {
  for (const tab of document.querySelectorAll("#sections [role=tab]")) {
    tab.setAttribute("aria-selected", String(tab.dataset.section === section));
  }
  for (const panel of document.querySelectorAll("section.section")) panel.hidden = panel.id !== section;
  history.replaceState(null, "", `#${section}`);
  act(null, LOADERS[section]);
}

// ---------------------------------------------------------------- shops, markets and stalls
async function loadLocations() {
  locations = await api("inventory", "/admin/locations");
  const byId = Object.fromEntries(locations.map((l) => [l.id, l]));
  rows("loc-table", locations, (l) => h("tr", { "data-id": l.id },
    h("th", { scope: "row" }, named(l), h("div", { class: "muted small" }, l.id,
      l.parent_id ? ` · ${t("loc.stall_of", { market: named(byId[l.parent_id]) || l.parent_id })}` : "")),
    h("td", {}, t(`kind.${l.kind}`), l.active ? null : h("span", { class: "badge warn" }, t("loc.inactive")),
      l.paused ? h("span", { class: "badge bad" }, t("loc.paused")) : null),
    h("td", { class: "hours" }, hoursText(l.windows) ? hoursText(l.windows).split(", ").map((w) => h("div", {}, w)) : t("loc.always")),
    h("td", {}, fen(l.delivery_fee_fen)),
    h("td", { class: "small" }, t("loc.limits_value", { accept: l.accept_limit_s ? t("loc.accept_s", { n: l.accept_limit_s }) : t("loc.accept_default"), radius: l.delivery_radius_m, picking: l.picking_minutes })),
    h("td", {}, h("button", { type: "button", onclick: () => editLocation(l), "aria-label": t("loc.edit_of", { name: named(l) }) }, t("loc.edit")))),
  6);
  drawLocations();
}

function drawLocations() {
  const svg = $("loc-map");
  const points = locations.map((l) => ({ id: l.id, lat: l.lat, lon: l.lon, kind: l.kind === "stall" ? "stall" : l.kind,
    label: l.kind === "stall" ? "" : named(l), color: KIND_COLOUR[l.kind], small: l.kind === "stall" }));
  const placing = placingPoint();
  if (placing) points.push({ id: "placing", lat: placing.lat, lon: placing.lon, kind: "placing", label: "＋", color: "#1d4ed8" });
  const drawn = drawMap(svg, { points, around: points.length ? [] : [{ lat: 32.0425, lon: 118.787 }] });
  svg.onclick = (event) => {
    const at = drawn.pointAt(event);
    if (!at) return;
    const [lat, lon] = editing === "market" || !editing ? ["m-lat", "m-lon"] : ["l-lat", "l-lon"];
    $(lat).value = at.lat.toFixed(6);
    $(lon).value = at.lon.toFixed(6);
    drawLocations();
  };
  mapLegend($("loc-legend"), [
    { color: KIND_COLOUR.shop, label: t("kind.shop"), shape: "square" },
    { color: KIND_COLOUR.market, label: t("kind.market"), shape: "square" },
    { color: KIND_COLOUR.stall, label: t("kind.stall") },
  ]);
}

function placingPoint() {
  const [lat, lon] = editing && editing !== "market" ? [$("l-lat").value, $("l-lon").value] : [$("m-lat").value, $("m-lon").value];
  return lat && lon ? { lat: Number(lat), lon: Number(lon) } : null;
}

function stallRow(n) {
  const li = h("li", { class: "stall" },
    h("div", {}, h("label", { for: `st-id-${n}` }, t("field.id")), h("input", { id: `st-id-${n}`, class: "st-id", required: true, pattern: "[A-Za-z0-9._\\-]{1,100}" })),
    h("div", {}, h("label", { for: `st-zh-${n}` }, t("field.name_zh")), h("input", { id: `st-zh-${n}`, class: "st-zh", required: true })),
    h("div", {}, h("label", { for: `st-en-${n}` }, t("field.name_en")), h("input", { id: `st-en-${n}`, class: "st-en", required: true })),
    h("div", {}, h("label", { for: `st-cat-${n}` }, t("field.category")), h("input", { id: `st-cat-${n}`, class: "st-cat", required: true })),
    h("button", { type: "button", class: "ghost", "aria-label": t("market.remove_stall", { n }), onclick: () => li.remove() }, "✕"));
  return li;
}

let stallCount = 0;
function addStall() { $("m-stalls").append(stallRow(++stallCount)); }

async function saveMarket(event) {
  event.preventDefault();
  $("market-error").textContent = "";
  const id = $("m-id").value.trim();
  const lat = Number($("m-lat").value), lon = Number($("m-lon").value);
  let windows;
  try { windows = windowsOf($("m-hours").value); } catch (e) { $("market-error").textContent = e.message; return; }
  const stalls = [...document.querySelectorAll("#m-stalls li")].map((li) => ({
    id: li.querySelector(".st-id").value.trim(), name_zh: li.querySelector(".st-zh").value.trim(),
    name_en: li.querySelector(".st-en").value.trim(), category: li.querySelector(".st-cat").value.trim(),
    lat, lon, windows,
  }));
  const body = {
    category: $("m-category").value.trim(), name_zh: $("m-name-zh").value.trim(), name_en: $("m-name-en").value.trim(),
    lat, lon, windows, delivery_fee_fen: yuanToFen($("m-fee").value), stalls,
  };
  try {
    await api("inventory", `/admin/markets/${encodeURIComponent(id)}`, { method: "PUT", body, key: true });
  } catch (e) { $("market-error").textContent = e.message; return; }
  toast(t("market.saved", { name: body.name_zh, n: stalls.length }), "good");
  $("market-form").reset();
  $("m-stalls").replaceChildren();
  addStall();
  await loadLocations();
}

function editLocation(l) {
  editing = l;
  $("loc-form").hidden = false;
  $("loc-form-title").textContent = t("loc.edit_of", { name: `${named(l)} (${l.id})` });
  $("l-name-zh").value = l.name_zh; $("l-name-en").value = l.name_en; $("l-category").value = l.category;
  $("l-hours").value = hoursText(l.windows); $("l-hours").dataset.was = $("l-hours").value;
  $("l-lat").value = l.lat; $("l-lon").value = l.lon; $("l-fee").value = (l.delivery_fee_fen / 100).toFixed(2);
  $("l-radius").value = l.delivery_radius_m; $("l-accept").value = l.accept_limit_s ?? ""; $("l-picking").value = l.picking_minutes;
  $("l-active").checked = l.active; $("l-paused").checked = l.paused;
  $("l-name-zh").focus();
  drawLocations();
}

async function saveLocation(event) {
  event.preventDefault();
  const l = editing;
  $("loc-error").textContent = "";
  const body = {
    kind: l.kind, parent_id: l.parent_id, category: $("l-category").value.trim(), name_zh: $("l-name-zh").value.trim(),
    name_en: $("l-name-en").value.trim(), lat: Number($("l-lat").value), lon: Number($("l-lon").value),
    active: $("l-active").checked, paused: $("l-paused").checked, delivery_fee_fen: yuanToFen($("l-fee").value),
    delivery_radius_m: Number($("l-radius").value), picking_minutes: Number($("l-picking").value),
    accept_limit_s: $("l-accept").value ? Number($("l-accept").value) : null,
  };
  // Hours are sent only when edited: a week with different days stays as the counter set it.
  if ($("l-hours").value !== $("l-hours").dataset.was) {
    try { body.windows = windowsOf($("l-hours").value); } catch (e) { $("loc-error").textContent = e.message; return; }
  }
  try {
    await api("inventory", `/admin/locations/${encodeURIComponent(l.id)}`, { method: "PUT", body, key: true });
  } catch (e) { $("loc-error").textContent = e.message; return; }
  toast(t("loc.saved", { name: body.name_zh }), "good");
  closeLocation();
  await loadLocations();
}

function closeLocation() { editing = null; $("loc-form").hidden = true; drawLocations(); }

// ---------------------------------------------------------------- price lists
async function loadPriceLocations() {
  locations = await api("inventory", "/admin/locations");
  const select = $("p-location");
  const kept = select.value;
  select.replaceChildren(...locations.map((l) => h("option", { value: l.id },
    `${named(l)} · ${t(`kind.${l.kind}`)} (${l.id})`)));
  if (kept) select.value = kept;
}

async function upload(path) {
  const file = $("p-file").files[0];
  if (!file) throw new Error(t("prices.choose_file"));
  const type = file.name.toLowerCase().endsWith(".xlsx")
    ? "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" : "text/csv";
  const response = await fetch((config.urls.inventory || "") + path, {
    method: "POST", credentials: "include", headers: { "Content-Type": type, Accept: "application/json" }, body: file,
  });
  const answer = await response.json().catch(() => ({}));
  // Applying a list with a bad row is refused whole (422), naming every refused row.
  if (response.status === 422 && Array.isArray(answer.refused)) return { rows: [], refused: answer.refused };
  if (!response.ok) throw new Error(typeof answer.detail === "string" ? answer.detail : `HTTP ${response.status}`);
  return answer;
}

function showPlan(plan) {
  const refused = plan.refused || [];
  $("p-summary").textContent = t("prices.summary", {
    new: plan.new ?? 0, changed: plan.changed ?? 0, unchanged: plan.unchanged ?? 0, refused: refused.length });
  $("p-refused-box").hidden = !refused.length;
  rows("p-refused", refused, (r) => h("tr", { class: "refused", "data-line": r.line },
    h("td", {}, r.line), h("td", {}, r.product_id || "—"), h("td", { class: "reason" }, r.reason)), 3);
  $("p-rows-box").hidden = !(plan.rows || []).length;
  rows("p-rows", plan.rows || [], (r) => h("tr", { "data-product": r.product_id },
    h("td", {}, r.line), h("td", {}, r.product_id), h("td", {}, r.stall),
    h("td", { class: "change" }, r.changes.length ? r.changes.map((c) => t(`change.${c}`)).join(", ") : t("change.none")),
    h("td", {}, r.price_fen_before !== null && r.price_fen_before !== r.price_fen
      ? `${fen(r.price_fen_before)} → ${fen(r.price_fen)}` : fen(r.price_fen)),
    h("td", {}, r.on_hand_before !== null && r.on_hand_before !== r.counted ? `${r.on_hand_before} → ${r.counted}` : r.counted)), 6);
}

async function previewPrices(button) {
  $("p-apply").disabled = true;
  $("p-products-box").hidden = true;
  const plan = await act(button, () => upload(`/locations/${encodeURIComponent($("p-location").value)}/price-list/preview`));
  if (!plan) return;
  pricePreview = plan;
  showPlan(plan);
  $("p-apply").disabled = plan.refused.length > 0;
  if (plan.refused.length) toast(t("prices.fix_first"), "error");
}

async function applyPrices(button) {
  const location = $("p-location").value;
  const plan = await act(button, () => upload(`/locations/${encodeURIComponent(location)}/price-list`));
  if (!plan) return;
  showPlan(plan);
  $("p-apply").disabled = true;
  if (plan.refused && plan.refused.length) { toast(t("prices.fix_first"), "error"); return; }
  toast(t("prices.applied", { new: plan.new, changed: plan.changed }), "good");
  await showProducts(location);
}

async function showProducts(locationId) {
  const l = locations.find((x) => x.id === locationId);
  const store = l && l.kind === "stall" ? l.parent_id : locationId;
  const products = await api("inventory", `/stores/${encodeURIComponent(store)}/products`);
  const mine = l && l.kind === "stall" ? products.filter((p) => p.location_id === locationId) : products;
  $("p-products-box").hidden = false;
  rows("p-products", mine, (p) => h("tr", { "data-product": p.id },
    h("td", {}, named(p), h("div", { class: "muted small" }, p.id)), h("td", {}, p.location_id),
    h("td", {}, p.unit === "g" ? `${fen(p.price)}/kg` : fen(p.price)), h("td", {}, p.available)), 4);
}

// ---------------------------------------------------------------- staff registry
async function loadStaff() {
  const [entries, every] = await Promise.all([api("inventory", "/admin/staff"), api("inventory", "/admin/locations")]);
  locations = every;
  const select = $("s-location");
  const kept = select.value;
  select.replaceChildren(...every.map((l) => h("option", { value: l.id }, `${named(l)} (${l.id})`)));
  if (kept) select.value = kept;
  rows("staff-table", entries, (e) => h("tr", {},
    h("td", {}, e.location_id), h("td", {}, e.subject), h("td", {}, `${whenOf(e.granted_at)} · ${e.granted_by}`),
    h("td", {}, h("button", { type: "button", class: "danger", onclick: (ev) => act(ev.currentTarget, async () => {
      await api("inventory", `/admin/staff/${encodeURIComponent(e.location_id)}/${encodeURIComponent(e.subject)}`, { method: "DELETE" });
      toast(t("staff.revoked", { subject: e.subject, location: e.location_id }), "good");
      await loadStaff();
    }) }, t("staff.revoke")))), 4);
}

async function addStaff(event) {
  event.preventDefault();
  const location = $("s-location").value, subject = $("s-subject").value.trim();
  await act(event.submitter, async () => {
    await api("inventory", `/admin/staff/${encodeURIComponent(location)}/${encodeURIComponent(subject)}`, { method: "PUT" });
    toast(t("staff.added", { subject, location }), "good");
    $("s-subject").value = "";
    await loadStaff();
  });
}

// ---------------------------------------------------------------- riders and shifts
async function loadRiders() {
  const roster = await api("dispatch", "/riders");
  rows("rider-table", roster, (r) => h("tr", {},
    h("th", { scope: "row" }, r.name, h("div", { class: "muted small" }, r.id)),
    h("td", {}, t(`vehicle.${r.vehicle}`), ` · ${r.capacity}`), h("td", {}, r.state),
    h("td", {}, r.shifts_today.length ? r.shifts_today.map((s) => `${clockThere(s.starts_at)}–${clockThere(s.ends_at)}`).join(", ")
      : t("riders.no_shift")),
    h("td", {}, h("button", { type: "button", onclick: () => {
      $("r-id").value = r.id; $("r-name").value = r.name; $("r-vehicle").value = r.vehicle; $("r-capacity").value = r.capacity;
      $("r-name").focus();
    } }, t("loc.edit")))), 5);
}

async function saveRider(event) {
  event.preventDefault();
  $("rider-error").textContent = "";
  const id = $("r-id").value.trim();
  const start = $("r-start").value, end = $("r-end").value;
  if (!!start !== !!end) { $("rider-error").textContent = t("riders.bad_shift"); return; }
  try {
    await api("dispatch", `/riders/${encodeURIComponent(id)}`, { method: "PUT", key: true, body: {
      name: $("r-name").value.trim(), vehicle: $("r-vehicle").value, capacity: Number($("r-capacity").value) } });
    if (start) {
      const day = todayThere();
      await api("dispatch", `/riders/${encodeURIComponent(id)}/shifts`, { method: "PUT", key: true, body: {
        day, shifts: [{ starts_at: instantThere(day, start), ends_at: instantThere(day, end) }] } });
    }
  } catch (e) { $("rider-error").textContent = e.message; return; }
  toast(t("riders.saved", { name: $("r-name").value.trim() }), "good");
  $("rider-form").reset();
  await loadRiders();
}

// ---------------------------------------------------------------- lockers
async function loadLockers() {
  const sites = await api("dispatch", "/lockers");
  rows("locker-table", sites, (s) => h("tr", {},
    h("th", { scope: "row" }, s.name, h("div", { class: "muted small" }, s.id)),
    h("td", {}, Object.entries(s.free).map(([size, n]) => `${size} ${n}`).join(" · ") || "—"),
    h("td", {}, h("button", { type: "button", onclick: (ev) => act(ev.currentTarget, async () => {
      const detail = await api("dispatch", `/lockers/${encodeURIComponent(s.id)}`);
      $("k-id").value = detail.id; $("k-name").value = detail.name; $("k-lat").value = detail.lat; $("k-lon").value = detail.lon;
      $("k-compartments").value = detail.compartments.map((c) => `${c.id}:${c.size}`).join(", ");
      $("k-name").focus();
    }) }, t("loc.edit")))), 3);
}

async function saveLocker(event) {
  event.preventDefault();
  $("locker-error").textContent = "";
  const parts = $("k-compartments").value.split(/[,\n]/).map((s) => s.trim()).filter(Boolean);
  const compartments = parts.map((p) => /^([^:\s]+)\s*:\s*([SML])$/i.exec(p));
  if (compartments.some((m) => !m)) { $("locker-error").textContent = t("lockers.bad"); return; }
  const body = { name: $("k-name").value.trim(), lat: Number($("k-lat").value), lon: Number($("k-lon").value),
    compartments: compartments.map((m) => ({ id: m[1], size: m[2].toUpperCase() })) };
  try {
    await api("dispatch", `/lockers/${encodeURIComponent($("k-id").value.trim())}`, { method: "PUT", body, key: true });
  } catch (e) { $("locker-error").textContent = e.message; return; }
  toast(t("lockers.saved", { name: body.name }), "good");
  $("locker-form").reset();
  await loadLockers();
}

// ---------------------------------------------------------------- residents and helpers
async function loadResidents() {
  const [residents, helpers] = await Promise.all([api("orders", "/admin/residents"), api("orders", "/admin/helpers")]);
  rows("resident-table", residents, (r) => h("tr", {},
    h("th", { scope: "row" }, r.name, h("div", { class: "muted small" }, r.resident_id, r.phone ? ` · ${r.phone}` : "")),
    h("td", {}, r.helper),
    h("td", {}, [r.call_before_delivery ? t("flag.call") : null, r.pay_on_delivery ? t("flag.cash") : null].filter(Boolean).join(" · ") || "—")), 3);
  rows("helper-table", helpers, (n) => h("tr", {}, h("td", {}, n.shopper), h("td", {}, n.helper),
    h("td", {}, h("button", { type: "button", class: "danger", onclick: (ev) => act(ev.currentTarget, async () => {
      await api("orders", `/admin/helpers/${encodeURIComponent(n.shopper)}/${encodeURIComponent(n.helper)}`, { method: "DELETE" });
      toast(t("helpers.removed", n), "good");
      await loadResidents();
    }) }, t("helpers.remove")))), 3);
}

async function addResident(event) {
  event.preventDefault();
  $("resident-error").textContent = "";
  const body = { helper: $("v-helper").value.trim(), name: $("v-name").value.trim(),
    phone: $("v-phone").value.trim() || null, note: $("v-note").value.trim() || null,
    call_before_delivery: $("v-call").checked, pay_on_delivery: $("v-cash").checked };
  try { await api("orders", "/admin/residents", { method: "POST", body }); } catch (e) {
    $("resident-error").textContent = e.message; return;
  }
  toast(t("residents.added", body), "good");
  $("resident-form").reset();
  await loadResidents();
}

async function addHelper(event) {
  event.preventDefault();
  $("helper-error").textContent = "";
  const shopper = $("n-shopper").value.trim(), helper = $("n-helper").value.trim();
  try {
    await api("orders", `/admin/helpers/${encodeURIComponent(shopper)}/${encodeURIComponent(helper)}`, { method: "PUT" });
  } catch (e) { $("helper-error").textContent = e.message; return; }
  toast(t("helpers.added", { shopper, helper }), "good");
  $("helper-form").reset();
  await loadResidents();
}

// ---------------------------------------------------------------- group leaders
async function loadLeaders() {
  const grants = await api("orders", "/admin/group-leaders");
  rows("leader-table", grants, (g) => h("tr", {}, h("td", {}, g.shopper),
    h("td", {}, g.scope === "*" ? t("leaders.any") : g.scope), h("td", {}, `${g.granted_by} · ${whenOf(g.granted_at)}`),
    h("td", {}, g.scope === "*" ? h("button", { type: "button", class: "danger", onclick: (ev) => act(ev.currentTarget, async () => {
      await api("orders", `/group-leaders/${encodeURIComponent(g.shopper)}`, { method: "DELETE" });
      toast(t("leaders.revoked", g), "good");
      await loadLeaders();
    }) }, t("staff.revoke")) : null)), 4);
}

async function grantLeader(event) {
  event.preventDefault();
  const shopper = $("g-shopper").value.trim();
  await act(event.submitter, async () => {
    await api("orders", "/group-leaders", { method: "POST", body: { shopper } });
    toast(t("leaders.granted", { shopper }), "good");
    $("g-shopper").value = "";
    await loadLeaders();
  });
}

// ---------------------------------------------------------------- the record of changes
// Each service pages its own record newest first; the page merges what it has by time, and
// "Older changes" asks each service that has more for its next page.
const SERVICES = ["inventory", "dispatch", "orders"];
let cursors = {};
let shown = [];

async function loadRecord(fresh) {
  if (fresh) { cursors = Object.fromEntries(SERVICES.map((s) => [s, null])); shown = []; }
  const entity = $("a-entity").value, actor = $("a-actor").value.trim();
  const pages = await Promise.all(SERVICES.filter((s) => cursors[s] !== false).map(async (service) => {
    const query = new URLSearchParams({ limit: "25" });
    if (entity) query.set("entity", entity);
    if (actor) query.set("actor", actor);
    if (cursors[service]) query.set("before_id", cursors[service]);
    const page = await api(service, `/admin/audit?${query}`);
    cursors[service] = page.next_before_id ?? false;
    return page.changes;
  }));
  shown = shown.concat(pages.flat()).sort((a, b) => b.at.localeCompare(a.at));
  rows("record-table", shown, (c) => h("tr", { "data-entity": c.entity, "data-id": c.entity_id },
    h("td", {}, whenOf(c.at)), h("td", {}, c.actor),
    h("td", {}, `${t(`entity.${c.entity}`)} · ${c.entity_id}`, h("div", { class: "muted small" }, t("record.service", { service: c.service }))),
    h("td", {}, t(`action.${c.action}`)),
    h("td", { class: "detail" }, detail(c))), 5);
  $("record-more").hidden = SERVICES.every((s) => cursors[s] === false);
}

/** What changed, in a line: the fields whose values differ, or the price list's counts and rows. */
function detail(c) {
  if (c.entity === "price_list" && c.after) {
    const listed = (c.after.rows || []).slice(0, 6).map((r) => r.price_fen_before !== undefined && r.price_fen_before !== r.price_fen
      ? `${r.product_id} ${fen(r.price_fen_before)}→${fen(r.price_fen)}` : `${r.product_id} (${r.changes.map((x) => t(`change.${x}`)).join(", ")})`);
    return `${t("prices.summary", { new: c.after.new, changed: c.after.changed, unchanged: c.after.unchanged, refused: 0 })}: ${listed.join("; ")}`;
  }
  if (c.before && c.after) {
    const keys = Object.keys(c.after).filter((k) => JSON.stringify(c.before[k]) !== JSON.stringify(c.after[k]));
    return keys.slice(0, 6).map((k) => `${k}: ${brief(c.before[k])} → ${brief(c.after[k])}`).join("; ") || "—";
  }
  const one = c.after || c.before || {};
  return Object.entries(one).filter(([k]) => ["name_zh", "name", "kind", "parent_id", "subject", "helper", "shopper", "scope", "price_fen", "delivery_fee_fen"].includes(k))
    .map(([k, v]) => `${k}: ${brief(v)}`).join("; ") || "—";
}

function brief(value) {
  if (value === undefined || value === null) return "—";
  const text = typeof value === "string" ? value : JSON.stringify(value);
  return text && text.length > 40 ? `${text.slice(0, 40)}…` : text;
}

// ---------------------------------------------------------------- start
async function start() {
  let me = await boot({ title: "admin.title", strings: STRINGS });
  if (!me) me = await signInForm($("signin"), { roles: ["admin"] });
  showWho(me);
  if (me.role !== "admin") {
    $("forbidden").hidden = false;
    return;
  }
  $("console").hidden = false;
  for (const tab of document.querySelectorAll("#sections [role=tab]")) tab.addEventListener("click", () => show(tab.dataset.section));
  $("market-form").addEventListener("submit", saveMarket);
  $("m-add-stall").addEventListener("click", addStall);
  $("loc-form").addEventListener("submit", saveLocation);
  $("loc-cancel").addEventListener("click", closeLocation);
  for (const id of ["m-lat", "m-lon", "l-lat", "l-lon"]) $(id).addEventListener("change", drawLocations);
  $("p-preview").addEventListener("click", (e) => previewPrices(e.currentTarget));
  $("p-apply").addEventListener("click", (e) => applyPrices(e.currentTarget));
  $("p-file").addEventListener("change", () => { $("p-apply").disabled = true; pricePreview = null; });
  $("p-location").addEventListener("change", () => { $("p-apply").disabled = true; pricePreview = null; });
  $("staff-form").addEventListener("submit", addStaff);
  $("rider-form").addEventListener("submit", saveRider);
  $("locker-form").addEventListener("submit", saveLocker);
  $("resident-form").addEventListener("submit", addResident);
  $("helper-form").addEventListener("submit", addHelper);
  $("leader-form").addEventListener("submit", grantLeader);
  $("record-form").addEventListener("submit", (e) => { e.preventDefault(); act(e.submitter, () => loadRecord(true)); });
  $("record-more").addEventListener("click", (e) => act(e.currentTarget, () => loadRecord(false)));
  document.addEventListener("linli:lang", () => { translate(); const open = location.hash.slice(1) || "locations"; if (LOADERS[open]) act(null, LOADERS[open]); });
  addStall();
  addStall();
  const first = location.hash.slice(1);
  show(LOADERS[first] ? first : "locations");
}

start();
