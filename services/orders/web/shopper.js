// The shopper's app: the circle around home, a basket, checkout, and the order followed live.
// Helpers (service-centre staff, family) use the same pages for the residents they order for.
import {
  act, addStrings, api, boot, config, drawMap, fen, h, lang, named, showWho, signInForm, stream, t,
  timeOf, toast, translate, uuid,
} from "/app/common/linli.js";
import { qrImage } from "/app/common/codes.js";
import { showNews } from "/app/news.js";
import { dealsNear, showDeal } from "/app/deals.js";

addStrings({
  zh: {
    "app.title": "邻里 · 买菜", "nav.shops": "附近", "nav.basket": "购物篮", "nav.orders": "订单", "nav.balance": "余额",
    "nav.residents": "我帮助的居民", "home.where": "送到哪里", "home.address": "地址", "home.lat": "纬度", "home.lon": "经度",
    "home.locate": "用我的位置", "home.save": "保存地址", "home.mode": "方式", "mode.delivery": "送货上门",
    "mode.pickup": "到店自取", "home.category": "类别", "category.all": "全部", "home.search": "搜索商品（中文、拼音或英文）",
    "home.search.go": "搜索", "home.shops": "附近的店", "home.noshops": "这里没有店能送到。试试到店自取，或换个地址。",
    "shop.open": "营业中", "shop.closed": "已打烊", "shop.opens": "{t} 开门", "shop.paused": "暂停接单",
    "shop.walk": "步行 {n} 分钟", "shop.fee": "配送费 {fee}", "shop.promise": "约 {n} 分钟送达", "shop.norider": "暂无骑手",
    "busy.quiet": "不忙", "busy.busy": "较忙", "busy.very_busy": "很忙", "shop.rating": "★ {stars}（{count}）",
    "shop.view": "进店", "store.add": "加入", "store.added": "已加入购物篮", "store.perkg": "/公斤",
    "store.out": "缺货", "store.low": "库存少", "store.other": "购物篮里是另一家店的商品，要清空后换成这家吗？",
    "basket.empty": "购物篮是空的。", "basket.sub": "缺货时", "sub.remembered": "按上次的选择", "sub.none": "不要替换，退款",
    "sub.best_match": "可以换类似商品", "sub.product": "换成：{name}", "basket.note": "给店家的备注", "basket.checkout": "去结算",
    "basket.estimate": "称重商品按估计重量计价，称重后多退少补。", "basket.remove": "移除",
    "checkout.title": "结算", "checkout.how": "怎么收货", "how.now": "现在送", "how.slot": "预约时段送",
    "how.pickup": "到店自取", "how.locker": "送到智能柜", "checkout.slot": "时段", "checkout.locker": "智能柜",
    "locker.free": "空格 {n}", "checkout.pay": "付款", "pay.balance": "余额支付", "pay.on_delivery": "货到付款（现金）",
    "checkout.goods": "商品", "checkout.delivery_fee": "配送费", "checkout.platform_fee": "平台费", "checkout.total": "合计",
    "checkout.balance": "余额 {b}", "checkout.short": "余额不足", "checkout.place": "下单", "checkout.phone": "联系电话",
    "checkout.placed": "已下单", "order.status": "状态", "order.timeline": "进度", "order.cancel": "取消订单",
    "order.reorder": "再来一单", "order.delivery_code": "收货码（给骑手）", "order.handover_code": "取货码（给店员）",
    "order.locker_code": "开柜码", "order.eta": "预计 {t} 送达", "order.promised": "承诺 {t} 前送达",
    "order.late": "可能晚到", "order.rider": "骑手：{name}", "order.approve": "同意", "order.decline": "不同意",
    "order.question.weight": "称重后比估计重：{actual} 克（估计 {estimated} 克），{price}", "order.question.substitution": "店家建议替换为：{name}，{price}",
    "order.ledger": "账目", "order.lines": "商品", "ledger.shown": "下单时显示", "ledger.paid": "已付", "ledger.final": "实际金额",
    "ledger.refund": "退回余额", "ledger.extra": "补扣", "ledger.due": "货到应付", "ledger.cash": "已收现金",
    "ledger.ok": "账目已核对", "order.rate": "评价", "rate.shop": "店铺", "rate.rider": "骑手", "rate.send": "提交评价",
    "rate.thanks": "谢谢评价", "order.pickup_offer": "暂时没有骑手。改为到店自取吗？", "order.pickup_yes": "我去店里取",
    "order.pickup_no": "取消订单", "orders.none": "还没有订单。", "balance.title": "余额", "balance.entries": "明细",
    "residents.title": "我帮助的居民", "residents.add": "登记居民", "residents.name": "姓名", "residents.phone": "电话",
    "residents.call": "送货前先打电话", "residents.pod": "货到付款", "residents.note": "备注", "residents.orderfor": "为 TA 下单",
    "addr.book": "小区和楼栋", "addr.find": "找小区（中文、拼音或英文）和楼号", "addr.unit": "单元", "addr.room": "室",
    "addr.none": "没有找到。换个写法，或在下面写地址并在地图上点您的家。", "addr.picked": "已选：{label}",
    "addr.room_needed": "请填写室号", "addr.other": "不在列表里", "addr.tap": "在地图上点您的家，或用我的位置",
    "addr.point_needed": "选一栋楼，或在地图上点您的家",
    "addr.flat": "{b} {u}单元 {r}室", "addr.flat_nounit": "{b} {r}室",
    "residents.me": "为自己下单", "forwhom": "正在为 {name} 下单", "residents.none": "还没有登记居民。",
    "status.PLACED": "已下单", "status.CONFIRMED": "已确认库存", "status.REJECTED": "未能接单", "status.ACCEPTED": "店家已接单",
    "status.PICKING": "正在拣货", "status.PACKED": "已打包", "status.OUT_FOR_DELIVERY": "配送中", "status.DELIVERED": "已送达",
    "status.DELIVERY_FAILED": "配送未成功", "status.RETURNED": "已退回", "status.READY_FOR_PICKUP": "可以取货",
    "status.COLLECTED": "已取货", "status.IN_LOCKER": "已放入智能柜", "status.CANCELLED": "已取消",
  },
  en: {
    "app.title": "Linli · shopping", "nav.shops": "Nearby", "nav.basket": "Basket", "nav.orders": "Orders", "nav.balance": "Balance",
    "nav.residents": "Residents I help", "home.where": "Deliver to", "home.address": "Address", "home.lat": "Latitude",
    "home.lon": "Longitude", "home.locate": "Use my location", "home.save": "Save address", "home.mode": "How",
    "mode.delivery": "Delivery", "mode.pickup": "Pick up at the shop", "home.category": "Category", "category.all": "All",
    "home.search": "Search products (Chinese, pinyin or English)", "home.search.go": "Search", "home.shops": "Shops near you",
    "home.noshops": "No shop delivers here. Try pickup, or another address.", "shop.open": "Open", "shop.closed": "Closed",
    "shop.opens": "opens {t}", "shop.paused": "Paused", "shop.walk": "{n} min walk", "shop.fee": "delivery {fee}",
    "shop.promise": "about {n} min", "shop.norider": "no rider now", "busy.quiet": "quiet", "busy.busy": "busy",
    "busy.very_busy": "very busy", "shop.rating": "★ {stars} ({count})", "shop.view": "Open shop", "store.add": "Add",
    "store.added": "Added to basket", "store.perkg": "/kg", "store.out": "out of stock", "store.low": "few left",
    "store.other": "Your basket holds another shop's goods. Empty it and shop here?", "basket.empty": "Your basket is empty.",
    "basket.sub": "If out of stock", "sub.remembered": "as last time", "sub.none": "no substitute, refund",
    "sub.best_match": "a similar product is fine", "sub.product": "instead: {name}", "basket.note": "Note for the shop", "basket.checkout": "Checkout",
    "basket.estimate": "Weighed goods are priced on an estimate; the difference is settled after weighing.",
    "basket.remove": "Remove", "checkout.title": "Checkout", "checkout.how": "How to receive it", "how.now": "Deliver now",
    "how.slot": "Deliver in a time slot", "how.pickup": "Pick up at the shop", "how.locker": "Smart locker",
    "checkout.slot": "Time slot", "checkout.locker": "Locker", "locker.free": "{n} free", "checkout.pay": "Payment",
    "pay.balance": "From my balance", "pay.on_delivery": "Cash on delivery", "checkout.goods": "Goods",
    "checkout.delivery_fee": "Delivery fee", "checkout.platform_fee": "Platform fee", "checkout.total": "Total",
    "checkout.balance": "Balance {b}", "checkout.short": "Balance too small", "checkout.place": "Place order",
    "checkout.phone": "Contact phone", "checkout.placed": "Order placed", "order.status": "Status", "order.timeline": "Progress",
    "order.cancel": "Cancel order", "order.reorder": "Order again", "order.delivery_code": "Delivery code (for the rider)",
    "order.handover_code": "Pickup code (for the counter)", "order.locker_code": "Locker code", "order.eta": "arrives about {t}",
    "order.promised": "promised by {t}", "order.late": "may be late", "order.rider": "Rider: {name}", "order.approve": "Accept",
    "order.decline": "Decline", "order.question.weight": "Heavier than estimated: {actual} g (estimate {estimated} g), {price}",
    "order.question.substitution": "The shop suggests instead: {name}, {price}", "order.ledger": "Money", "order.lines": "Items",
    "ledger.shown": "Shown at checkout", "ledger.paid": "Paid", "ledger.final": "Final amount", "ledger.refund": "Refunded to balance",
    "ledger.extra": "Charged extra", "ledger.due": "Due at the door", "ledger.cash": "Cash collected", "ledger.ok": "Reconciled",
    "order.rate": "Rate", "rate.shop": "Shop", "rate.rider": "Rider", "rate.send": "Send rating", "rate.thanks": "Thank you",
    "order.pickup_offer": "No rider is free right now. Collect it at the shop instead?", "order.pickup_yes": "I'll collect it",
    "order.pickup_no": "Cancel the order", "orders.none": "No orders yet.", "balance.title": "Balance", "balance.entries": "Entries",
    "residents.title": "Residents I help", "residents.add": "Register a resident", "residents.name": "Name",
    "residents.phone": "Phone", "residents.call": "Call before delivery", "residents.pod": "Pays on delivery",
    "residents.note": "Note", "residents.orderfor": "Order for them",
    "addr.book": "Estate and building", "addr.find": "Find your estate (Chinese, pinyin or English) and building",
    "addr.unit": "Unit", "addr.room": "Room", "addr.none": "Nothing found. Try another spelling, or write the address below and tap your home on the map.",
    "addr.picked": "Picked: {label}", "addr.room_needed": "Type your room number", "addr.other": "Not in the list",
    "addr.tap": "Tap your home on the map, or use your location", "addr.point_needed": "Pick a building, or tap your home on the map",
    "addr.flat": "{b}, unit {u}, room {r}", "addr.flat_nounit": "{b}, room {r}",
    "residents.me": "Order for myself",
    "forwhom": "Ordering for {name}", "residents.none": "No residents registered yet.",
    "status.PLACED": "Placed", "status.CONFIRMED": "Stock reserved", "status.REJECTED": "Not accepted",
    "status.ACCEPTED": "Accepted by the shop", "status.PICKING": "Being picked", "status.PACKED": "Packed",
    "status.OUT_FOR_DELIVERY": "On its way", "status.DELIVERED": "Delivered", "status.DELIVERY_FAILED": "Delivery failed",
    "status.RETURNED": "Returned", "status.READY_FOR_PICKUP": "Ready to collect", "status.COLLECTED": "Collected",
    "status.IN_LOCKER": "In the locker", "status.CANCELLED": "Cancelled",
  },
});

const view = document.getElementById("view");
let me = null;
let closeStreams = [];

// ---------------------------------------------------------------- saved state
const store = {
  get(key, fallback) { try { return JSON.parse(localStorage.getItem(key)) ?? fallback; } catch { return fallback; } },
  set(key, value) { localStorage.setItem(key, JSON.stringify(value)); },
};
const forWhom = () => store.get("linli.forWhom", null);  // {id, name, address, pay_on_delivery} for a helper
const homeKey = () => `linli.home.${forWhom()?.id || "me"}`;
const home = () => forWhom()?.address || store.get(homeKey(), null);
const basket = () => store.get("linli.basket", { store_id: null, store: null, lines: [], note: "" });
const saveBasket = (b) => store.set("linli.basket", b);
const mode = () => store.get("linli.mode", "delivery");
// Shop names as the circle listed them, so a basket or an order shows 小市菜场, not its id.
const storeName = (id) => { const known = store.get("linli.stores", {})[id]; return known ? named(known) : id; };
function rememberStores(rows) {
  const known = store.get("linli.stores", {});
  for (const s of rows) known[s.store_id] = { name_zh: s.name_zh, name_en: s.name_en };
  store.set("linli.stores", known);
}

function statusBadge(status) {
  const bad = ["REJECTED", "CANCELLED", "DELIVERY_FAILED", "RETURNED"].includes(status);
  const good = ["DELIVERED", "COLLECTED", "READY_FOR_PICKUP", "IN_LOCKER"].includes(status);
  return h("span", { class: `badge ${bad ? "bad" : good ? "good" : ""}`, "data-status": status }, t(`status.${status}`));
}

function field(id, labelKey, input) {
  input.id = id;
  return [h("label", { for: id }, t(labelKey)), input];
}

// ---------------------------------------------------------------- address: a building of the book, or a point
/** What the API is sent for an address: a building of the book with unit and room, or text and a point. */
function sentAddress(where) {
  return where.building_id ? { building_id: where.building_id, unit: where.unit || null, room: where.room }
    : { text: where.text, lat: where.lat, lon: where.lon };
}

/**
 * The resident picks their estate and building from the circle's address book (searched in
 * Chinese, pinyin or English) and types only unit and room; the building gives the point. A home
 * outside the book is written as text and placed by a tap on the map (or "use my location").
 * Field ids start with `prefix`. Answers {el, value()}: value() is {address} or {error}.
 */
function addressPicker(prefix, where, { withLocate = false } = {}) {
  const id = (name) => `${prefix}-${name}`;
  let picked = where?.building_id ? { building_id: where.building_id, label: where.building_label || where.text, lat: where.lat, lon: where.lon } : null;
  const query = h("input", { type: "search", autocomplete: "off", value: picked ? picked.label : "", "aria-controls": id("buildings") });
  const results = h("ul", { class: "buildings", id: id("buildings"), role: "listbox", "aria-label": t("addr.book") });
  const chosen = h("p", { class: "picked", id: id("picked"), "aria-live": "polite" }, picked ? t("addr.picked", { label: picked.label }) : "");
  const unit = h("input", { maxlength: 20, inputmode: "numeric", value: where?.unit || "" });
  const room = h("input", { maxlength: 20, inputmode: "numeric", value: where?.room || "" });
  const text = h("input", { autocomplete: "street-address", value: where && !where.building_id ? where.text || "" : "" });
  const lat = h("input", { type: "number", step: "0.000001", value: where && !where.building_id ? where.lat ?? "" : "" });
  const lon = h("input", { type: "number", step: "0.000001", value: where && !where.building_id ? where.lon ?? "" : "" });
  const map = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  for (const [a, v] of Object.entries({ class: "map small tap", id: id("map"), role: "img", "aria-label": t("addr.tap") })) map.setAttribute(a, v);
  let around = [];
  let drawn = { pointAt: () => null };
  const redraw = () => {
    const home = lat.value && lon.value ? [{ lat: Number(lat.value), lon: Number(lon.value), kind: "home", label: text.value || t("home.where"), color: "#0b6e4f" }] : [];
    const book = around.map((b) => ({ lat: b.lat, lon: b.lon, kind: "building", small: true, label: named({ name_zh: b.label_zh, name_en: b.label_en }), color: "#8a8579" }));
    drawn = drawMap(map, { points: [...book, ...home], around: book });
  };
  map.addEventListener("click", (event) => {
    const p = drawn.pointAt(event);
    if (!p) return;
    lat.value = p.lat.toFixed(6); lon.value = p.lon.toFixed(6);
    pick(null);
    redraw();
  });
  const pick = (b) => {
    picked = b ? { building_id: b.building_id, label: named({ name_zh: b.label_zh, name_en: b.label_en }), lat: b.lat, lon: b.lon } : null;
    chosen.textContent = picked ? t("addr.picked", { label: picked.label }) : "";
    for (const button of results.querySelectorAll("button")) button.setAttribute("aria-selected", String(button.dataset.building === picked?.building_id));
    if (picked) { results.replaceChildren(); query.value = picked.label; room.focus(); }
  };
  let asked = 0;
  const search = async () => {
    const mine = ++asked;
    const found = await api("orders", `/addresses/buildings?${new URLSearchParams({ q: query.value.trim(), limit: 12 })}`).catch(() => null);
    if (mine !== asked || !found) return;
    results.replaceChildren(...(found.length ? found.map((b) => {
      const button = h("button", { type: "button", role: "option", "data-building": b.building_id, "aria-selected": "false" },
        h("strong", {}, b.label_zh), " ", h("span", { class: "muted" }, b.label_en));
      button.addEventListener("click", () => pick(b));
      return h("li", {}, button);
    }) : [h("li", { class: "muted" }, t("addr.none"))]));
  };
  let timer = null;
  query.addEventListener("input", () => {
    if (picked && query.value !== picked.label) pick(null);
    clearTimeout(timer);
    timer = setTimeout(search, 200);
  });
  query.addEventListener("keydown", (e) => { if (e.key === "Enter") { e.preventDefault(); clearTimeout(timer); search(); } });
  for (const input of [lat, lon]) input.addEventListener("change", redraw);
  const locate = h("button", { type: "button", id: id("locate") }, t("home.locate"));
  locate.addEventListener("click", () => navigator.geolocation?.getCurrentPosition((p) => {
    lat.value = p.coords.latitude.toFixed(6); lon.value = p.coords.longitude.toFixed(6);
    pick(null);
    redraw();
  }, (e) => toast(e.message, "error")));
  // The map is fitted to the book's buildings, so a tap lands in the circle.
  api("orders", "/addresses/buildings?limit=200").then((rows) => { around = rows || []; redraw(); }).catch(() => redraw());
  const el = h("div", { class: "address-picker" },
    h("fieldset", { class: "book" }, h("legend", {}, t("addr.book")),
      ...field(id("building-q"), "addr.find", query), results, chosen,
      h("div", { class: "row" }, h("div", {}, ...field(id("unit"), "addr.unit", unit)), h("div", {}, ...field(id("room"), "addr.room", room)))),
    h("fieldset", { class: "outside" }, h("legend", {}, t("addr.other")),
      ...field(id("address"), "home.address", text),
      h("p", { class: "muted" }, t("addr.tap")), map,
      h("div", { class: "row" }, h("div", {}, ...field(id("lat"), "home.lat", lat)), h("div", {}, ...field(id("lon"), "home.lon", lon))),
      withLocate ? h("div", { class: "row" }, locate) : null));
  const value = () => {
    if (picked) {
      const r = room.value.trim(), u = unit.value.trim();
      if (!r) return { error: t("addr.room_needed") };
      const text = t(u ? "addr.flat" : "addr.flat_nounit", { b: picked.label, u, r });
      return { address: { building_id: picked.building_id, building_label: picked.label, unit: u || null, room: r, text, lat: picked.lat, lon: picked.lon } };
    }
    if (!lat.value || !lon.value) return { error: t("addr.point_needed") };
    return { address: { text: text.value.trim() || `${lat.value}, ${lon.value}`, lat: Number(lat.value), lon: Number(lon.value) } };
  };
  return { el, value };
}

// ---------------------------------------------------------------- home: where, shops, search
async function showHome() {
  const where = home();
  const picker = addressPicker("home", where, { withLocate: true });
  const save = h("button", { type: "submit", class: "primary", id: "save-home" }, t("home.save"));
  const whereForm = h("form", { class: "card", id: "where" }, picker.el, h("div", { class: "row" }, save));
  whereForm.addEventListener("submit", (e) => {
    e.preventDefault();
    const { address, error } = picker.value();
    if (error) { toast(error, "error"); return; }
    store.set(homeKey(), address);
    render();
  });
  // Once home is known, it folds into one line; a resident's address is the helper's to change.
  const whereBox = h("details", { class: "card where", open: !where },
    h("summary", {}, h("strong", {}, t("home.where")), " ", where ? where.text : ""), whereForm);
  whereForm.classList.remove("card");
  if (forWhom()) whereBox.hidden = true;

  const modeSelect = h("select", {}, ...["delivery", "pickup"].map((m) =>
    h("option", { value: m, selected: mode() === m }, t(`mode.${m}`))));
  modeSelect.addEventListener("change", () => { store.set("linli.mode", modeSelect.value); render(); });
  const category = h("select", {}, h("option", { value: "" }, t("category.all")),
    ...["supermarket", "fresh_store", "convenience", "wet_market", "pharmacy", "bakery", "breakfast"].map((c) =>
      h("option", { value: c, selected: store.get("linli.category", "") === c }, c.replace("_", " "))));
  category.addEventListener("change", () => { store.set("linli.category", category.value); render(); });
  const query = h("input", { type: "search", placeholder: t("home.search") });
  const searchForm = h("form", { class: "row", role: "search" }, h("label", { for: "search", class: "sr-only" }, t("home.search")),
    query, h("button", { type: "submit" }, t("home.search.go")));
  query.id = "search";
  const results = h("div", { id: "search-results" });
  const shops = h("div", { id: "shops" });
  const deals = h("div", { id: "deals" });
  view.replaceChildren(whereBox,
    h("div", { class: "row" }, h("div", {}, ...field("mode", "home.mode", modeSelect)), h("div", {}, ...field("category", "home.category", category))),
    searchForm, results, h("h2", {}, t("home.shops")), shops, h("h2", {}, t("deals.title")), deals);
  if (!where) return;
  searchForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!query.value.trim()) return;
    const q = new URLSearchParams({ q: query.value.trim(), lat: where.lat, lon: where.lon, mode: mode() });
    const found = await act(null, () => api("orders", `/circle/search?${q}`));
    if (found) results.replaceChildren(...found.map(searchResult));
  });
  const q = new URLSearchParams({ lat: where.lat, lon: where.lon, mode: mode() });
  if (category.value) q.set("category", category.value);
  const rows = await act(null, () => api("orders", `/circle/shops?${q}`));
  if (!rows) return;
  rememberStores(rows);
  shops.replaceChildren(...(rows.length ? rows.map(shopCard) : [h("p", { class: "muted" }, t("home.noshops"))]));
  await dealsNear(where, deals, storeName);  // the circle's group buys, next to its shops
}

function openness(s) {
  if (s.paused) return h("span", { class: "badge warn" }, t("shop.paused"));
  if (s.open_now) return h("span", { class: "badge good" }, t("shop.open"));
  return h("span", { class: "badge bad" }, s.opens_at ? t("shop.opens", { t: timeOf(s.opens_at) }) : t("shop.closed"));
}

function shopCard(s) {
  return h("article", { class: "card shop", "data-store": s.store_id },
    h("div", { class: "spread" }, h("span", { class: "name" }, named(s)), openness(s)),
    h("div", { class: "facts" },
      h("span", { class: "badge" }, t("shop.walk", { n: s.walk_minutes })),
      s.busy ? h("span", { class: `badge ${s.busy.level === "very_busy" ? "warn" : ""}` }, t(`busy.${s.busy.level}`)) : null,
      mode() === "delivery" ? h("span", { class: "badge" }, t("shop.fee", { fee: fen(s.delivery_fee_fen) })) : null,
      mode() === "delivery" ? h("span", { class: "badge" }, s.promise_minutes != null ? t("shop.promise", { n: s.promise_minutes }) : t("shop.norider")) : null,
      s.rating && s.rating.count ? h("span", { class: "badge secondary" }, t("shop.rating", { stars: s.rating.stars, count: s.rating.count })) : null),
    h("a", { href: `#/store/${encodeURIComponent(s.store_id)}`, class: "button-link" }, t("shop.view")));
}

function searchResult(p) {
  return h("div", { class: "card product", "data-product": p.product_id },
    h("div", {}, h("strong", {}, named(p)), " · ", h("a", { href: `#/store/${encodeURIComponent(p.store_id)}` }, named(p.shop || {}) || p.store_id),
      h("div", { class: "facts" }, availability(p.availability), p.shop && !p.shop.open_now ? h("span", { class: "badge bad" }, t("shop.closed")) : null)),
    h("span", { class: "price" }, fen(p.price_fen), p.unit === "g" ? t("store.perkg") : ""));
}

function availability(level) {
  if (level === "out") return h("span", { class: "badge bad" }, t("store.out"));
  if (level === "low") return h("span", { class: "badge warn" }, t("store.low"));
  return null;
}

// ---------------------------------------------------------------- a shop's products
async function showStore(storeId) {
  const products = await act(null, () => api("inventory", `/stores/${encodeURIComponent(storeId)}/products`));
  if (!products) return;
  const list = h("div", {});
  for (const p of products) {
    const qty = h("output", {}, "1");
    let n = 1;
    const minus = h("button", { type: "button", "aria-label": "−" }, "−");
    const plus = h("button", { type: "button", "aria-label": "+" }, "+");
    minus.addEventListener("click", () => { n = Math.max(1, n - 1); qty.value = String(n); });
    plus.addEventListener("click", () => { n = Math.min(99, n + 1); qty.value = String(n); });
    const add = h("button", { type: "button", class: "primary", "data-add": p.id, disabled: p.available <= 0 }, t("store.add"));
    add.addEventListener("click", () => addToBasket(storeId, p, n));
    const weighed = p.unit === "g";
    list.append(h("div", { class: "card product", "data-product": p.id },
      h("div", {}, h("strong", {}, named(p)), p.available <= 0 ? availability("out") : null,
        weighed && p.grams_per_piece ? h("div", { class: "muted" }, `≈ ${p.grams_per_piece} g`) : null),
      h("span", { class: "price" }, fen(p.price), weighed ? t("store.perkg") : ""),
      h("div", { class: "qty" }, minus, qty, plus), add));
  }
  view.replaceChildren(h("h2", {}, storeName(storeId)), list);
}

function addToBasket(storeId, p, quantity) {
  let b = basket();
  if (b.store_id && b.store_id !== storeId) {
    if (!confirm(t("store.other"))) return;
    b = { store_id: null, lines: [], note: "" };
  }
  b.store_id = storeId;
  const line = b.lines.find((l) => l.product_id === p.id);
  if (line) line.quantity += quantity;
  else b.lines.push({ product_id: p.id, name_zh: p.name_zh, name_en: p.name_en, unit: p.unit, price: p.price,
    grams_per_piece: p.grams_per_piece, quantity, substitution: null });
  saveBasket(b);
  toast(t("store.added"), "good");
}

function estimate(line) {
  if (line.unit === "g") return Math.round((line.grams_per_piece || 0) * line.quantity * line.price / 1000);
  return line.price * line.quantity;
}

// ---------------------------------------------------------------- basket
async function showBasket() {
  const b = basket();
  if (!b.lines.length) { view.replaceChildren(h("p", { class: "muted" }, t("basket.empty"))); return; }
  // A named substitute must come from the same shop or stall as the line it stands in for.
  const products = await api("inventory", `/stores/${encodeURIComponent(b.store_id)}/products`).catch(() => []);
  const byId = Object.fromEntries(products.map((p) => [p.id, p]));
  const rows = b.lines.map((line, i) => {
    const here = byId[line.product_id]?.location_id;
    const chosen = line.substitution?.mode === "product" ? `product:${line.substitution.product_id}` : (line.substitution?.mode || "");
    const sub = h("select", { id: `sub-${i}` },
      h("option", { value: "", selected: !chosen }, t("sub.remembered")),
      h("option", { value: "none", selected: chosen === "none" }, t("sub.none")),
      h("option", { value: "best_match", selected: chosen === "best_match" }, t("sub.best_match")),
      ...products.filter((p) => p.id !== line.product_id && p.location_id === here && p.available > 0).map((p) =>
        h("option", { value: `product:${p.id}`, selected: chosen === `product:${p.id}` }, t("sub.product", { name: named(p) }))));
    sub.addEventListener("change", () => {
      const nb = basket();
      nb.lines[i].substitution = !sub.value ? null : sub.value.startsWith("product:")
        ? { mode: "product", product_id: sub.value.slice("product:".length) } : { mode: sub.value };
      saveBasket(nb);
    });
    const remove = h("button", { type: "button", class: "ghost" }, t("basket.remove"));
    remove.addEventListener("click", () => { const nb = basket(); nb.lines.splice(i, 1); if (!nb.lines.length) nb.store_id = null; saveBasket(nb); render(); });
    return h("div", { class: "card", "data-line": line.product_id },
      h("div", { class: "spread" }, h("strong", {}, `${named(line)} × ${line.quantity}`), h("span", {}, fen(estimate(line)), line.unit === "g" ? " *" : "")),
      h("label", { for: `sub-${i}` }, t("basket.sub")), sub, remove);
  });
  const note = h("textarea", { id: "note", rows: 2, maxlength: 500 }, b.note || "");
  note.addEventListener("change", () => { const nb = basket(); nb.note = note.value; saveBasket(nb); });
  const weighed = b.lines.some((l) => l.unit === "g");
  view.replaceChildren(h("h2", {}, `${t("nav.basket")} · ${storeName(b.store_id)}`), ...rows,
    weighed ? h("p", { class: "muted" }, "* ", t("basket.estimate")) : null,
    h("label", { for: "note" }, t("basket.note")), note,
    h("p", {}, h("a", { href: "#/checkout", class: "button-link primary", id: "to-checkout" }, t("basket.checkout"))));
}

// ---------------------------------------------------------------- checkout
function orderBody(choice) {
  const b = basket();
  const where = home();
  const body = {
    store_id: b.store_id,
    lines: b.lines.map((l) => ({ product_id: l.product_id, quantity: l.quantity, ...(l.substitution ? { substitution: l.substitution } : {}) })),
    note: b.note || null, payment: choice.payment,
  };
  if (choice.how === "pickup") body.fulfilment = { mode: "pickup" };
  else if (choice.how === "locker") body.fulfilment = { mode: "locker", site_id: choice.site };
  else {
    body.fulfilment = { mode: "delivery", address: sentAddress(where) };
    if (choice.how === "slot" && choice.slot) body.fulfilment.slot = choice.slot;
  }
  if (choice.phone) body.contact_phone = choice.phone;
  if (forWhom()) body.on_behalf_of = forWhom().id;
  return body;
}

async function showCheckout() {
  const b = basket();
  const where = home();
  if (!b.lines.length || !where) { location.hash = b.lines.length ? "#/" : "#/basket"; return; }
  const choice = { how: "now", payment: forWhom()?.pay_on_delivery ? "on_delivery" : "balance", slot: null, site: null, phone: "" };
  const hows = ["now", "slot", "pickup", "locker"].map((how) => {
    const radio = h("input", { type: "radio", name: "how", value: how, id: `how-${how}`, checked: how === choice.how });
    radio.addEventListener("change", () => { choice.how = how; refresh(); });
    return h("label", { class: "check", for: `how-${how}` }, radio, t(`how.${how}`));
  });
  const slotSelect = h("select", { id: "slot" });
  const lockerSelect = h("select", { id: "locker" });
  const pays = ["balance", "on_delivery"].map((p) => {
    const radio = h("input", { type: "radio", name: "pay", value: p, id: `pay-${p}`, checked: p === choice.payment });
    radio.addEventListener("change", () => { choice.payment = p; refresh(); });
    return h("label", { class: "check", for: `pay-${p}` }, radio, t(`pay.${p}`));
  });
  const phone = h("input", { type: "tel", id: "phone", autocomplete: "tel" });
  phone.addEventListener("change", () => { choice.phone = phone.value.trim(); });
  const summary = h("div", { class: "card", id: "quote", "aria-live": "polite" });
  const place = h("button", { type: "button", class: "primary", id: "place" }, t("checkout.place"));
  const slotBox = h("div", { hidden: true }, h("label", { for: "slot" }, t("checkout.slot")), slotSelect);
  const lockerBox = h("div", { hidden: true }, h("label", { for: "locker" }, t("checkout.locker")), lockerSelect);
  slotSelect.addEventListener("change", () => { choice.slot = JSON.parse(slotSelect.value || "null"); refresh(); });
  lockerSelect.addEventListener("change", () => { choice.site = lockerSelect.value; refresh(); });
  view.replaceChildren(h("h2", {}, t("checkout.title")),
    h("fieldset", { class: "card" }, h("legend", {}, t("checkout.how")), ...hows, slotBox, lockerBox),
    h("fieldset", { class: "card" }, h("legend", {}, t("checkout.pay")), ...pays),
    h("label", { for: "phone" }, t("checkout.phone")), phone, summary, place);

  const q = new URLSearchParams({ lat: where.lat, lon: where.lon });
  api("orders", `/stores/${encodeURIComponent(b.store_id)}/slots?${q}`).then((offered) => {
    slotSelect.replaceChildren(...(offered.slots || []).filter((s) => s.available).map((s) =>
      h("option", { value: JSON.stringify({ start: s.start, end: s.end }) }, `${timeOf(s.start)}–${timeOf(s.end)}`)));
    if (slotSelect.value) choice.slot = JSON.parse(slotSelect.value);
  }).catch(() => {});
  api("orders", `/circle/lockers?${q}`).then((sites) => {
    lockerSelect.replaceChildren(...sites.map((s) => {
      const free = Object.values(s.free || {}).reduce((a, b) => a + b, 0);
      return h("option", { value: s.site_id, disabled: free === 0 }, `${s.name} · ${t("locker.free", { n: free })}`);
    }));
    choice.site = lockerSelect.value || null;
  }).catch(() => {});

  let key = uuid();  // one key per checkout: a double tap or a retry places one order
  async function refresh() {
    slotBox.hidden = choice.how !== "slot";
    lockerBox.hidden = choice.how !== "locker";
    key = uuid();
    try {
      const quote = await api("orders", "/orders/quote", { method: "POST", body: orderBody(choice) });
      const lines = [["checkout.goods", quote.goods_fen], ["checkout.delivery_fee", quote.delivery_fee_fen],
        ["checkout.platform_fee", quote.platform_fee_fen]];
      summary.replaceChildren(...lines.map(([k, v]) => h("div", { class: "spread" }, h("span", {}, t(k)), h("span", {}, fen(v)))),
        h("div", { class: "spread total" }, h("span", {}, t("checkout.total")), h("span", { id: "total" }, fen(quote.total_fen))),
        quote.promise_minutes != null ? h("p", { id: "promise" }, t("shop.promise", { n: quote.promise_minutes })) : null,
        quote.slot ? h("p", { id: "promise" }, `${timeOf(quote.slot.start)}–${timeOf(quote.slot.end)}`) : null,
        quote.balance_fen != null ? h("div", { class: `spread ${quote.balance_enough === false ? "error" : "muted"}` },
          h("span", {}, t("checkout.balance", { b: fen(quote.balance_fen) })),
          quote.balance_enough === false ? h("span", {}, t("checkout.short")) : null) : null);
      place.disabled = false;
    } catch (e) {
      summary.replaceChildren(h("p", { class: "error", role: "alert" }, e.message));
      place.disabled = true;
    }
  }
  place.addEventListener("click", () => act(place, async () => {
    const order = await api("orders", "/orders", { method: "POST", body: orderBody(choice), key });
    saveBasket({ store_id: null, lines: [], note: "" });
    toast(t("checkout.placed"), "good");
    location.hash = `#/order/${order.id}`;
  }));
  refresh();
}

// ---------------------------------------------------------------- orders
async function showOrders() {
  const orders = await act(null, () => api("orders", "/orders"));
  if (!orders) return;
  view.replaceChildren(h("h2", {}, t("nav.orders")), ...(orders.length ? orders.map((o) =>
    h("a", { href: `#/order/${o.id}`, class: "card spread", "data-order": o.id },
      h("span", {}, `${storeName(o.store_id)} · ${timeOf(o.created_at)}`), statusBadge(o.status), h("span", {}, fen(o.final_fen ?? o.total_fen))))
    : [h("p", { class: "muted" }, t("orders.none"))]));
}

async function showOrder(orderId) {
  const body = h("div", { id: "order" });
  const map = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  map.setAttribute("class", "map small");
  map.setAttribute("role", "img");
  map.setAttribute("aria-label", "rider");
  map.style.display = "none";
  view.replaceChildren(body, map);
  let order = null;
  let rider = null;
  const paint = async () => {
    if (!order) return;
    const ledger = await api("orders", `/orders/${orderId}/ledger`).catch(() => null);
    body.replaceChildren(...orderParts(order, ledger));
    if (rider && order.status === "OUT_FOR_DELIVERY") {
      const where = order.fulfilment?.address;
      map.style.display = "";
      drawMap(map, { points: [{ lat: rider.lat, lon: rider.lon, kind: "rider", label: t("rate.rider"), color: "#1d4ed8" },
        ...(where ? [{ lat: where.lat, lon: where.lon, kind: "home", label: where.text, color: "#0b6e4f" }] : [])] });
    } else map.style.display = "none";
  };
  order = await act(null, () => api("orders", `/orders/${orderId}`));
  await paint();
  closeStreams.push(stream("orders", `/orders/${orderId}/stream`, { order: (o) => { order = o; paint(); } }));
  if (order && order.fulfilment?.mode !== "pickup") {
    closeStreams.push(stream("dispatch", `/orders/${orderId}/live`, {
      rider_position: (d) => { rider = d.data || d; paint(); },
    }));
  }
}

// The timeline's causes are written by the services in English; the common ones read in Chinese too.
const CAUSES_ZH = [
  [/^placed/, "已下单"], [/^stock reserved/, "库存已预留"], [/^waiting for the shop to accept/, "等待店家接单"],
  [/^delivery promised in about (\d+) min/, "承诺约 $1 分钟送达"], [/^accepted by the shop/, "店家已接单"],
  [/^(.+) accepted its part/, "$1 已接单"], [/^(the shop started picking|picking started)/, "开始拣货"],
  [/^(.+) started picking its part/, "$1 开始拣货"], [/^line (\d+) picked: (.+)/, "第 $1 行已拣货：$2"],
  [/^line (\d+) out of stock: (.+) refunded/, "第 $1 行缺货，已退 $2"],
  [/^line (\d+) weighs (\d+) g instead of about (\d+) g/, "第 $1 行称重 $2 克（估计约 $3 克），等您确认"],
  [/^line (\d+): .*accepted by/, "第 $1 行：已同意"], [/^line (\d+): .*declined by/, "第 $1 行：已拒绝"],
  [/^(.+) packed its part: (\d+) bags?, (\d+) g/, "$1 已打包：$2 袋，$3 克"], [/^ready at the counter/, "可到柜台取货"],
  [/^rider (.+) \(.+\) assigned/, "骑手 $1 已接单"], [/^rider (.+) is at the shop/, "骑手 $1 已到店"],
  [/^picked up by rider (.+) with/, "骑手 $1 已取货"], [/^rider (.+) is at the door/, "骑手 $1 已到门口"],
  [/^collected at the counter/, "已在柜台取货"], [/^in locker/, "已放入智能柜"], [/^collected from locker/, "已从智能柜取出"],
  [/^delivery failed/, "配送未成功，袋子退回店里"], [/^bag returned/, "袋子已退回店里"],
  [/^no rider has taken the order yet/, "暂无骑手接单，可改为到店自取"], [/^pickup accepted/, "已改为到店自取"],
  [/^pickup declined/, "不改自取：没有骑手时订单会取消"], [/^cancelled/, "已取消"], [/^rejected: (.*)/, "未能接单：$1"],
  [/^rider (.+) no longer carries the order/, "骑手 $1 不再配送此单，正在另派"],
];

function causeText(cause) {
  if (lang() !== "zh" || !cause) return cause;
  for (const [pattern, zh] of CAUSES_ZH) {
    const found = cause.match(pattern);
    if (found) return zh.replace(/\$(\d)/g, (_, i) => found[Number(i)] ?? "");
  }
  return cause;
}

function orderParts(o, ledger) {
  const parts = [h("div", { class: "spread" }, h("h2", {}, storeName(o.store_id)), statusBadge(o.status))];
  if (o.reject_reason) parts.push(h("p", { class: "error" }, o.reject_reason));
  if (o.promised_at || o.eta_door_at) {
    const when = [o.eta_door_at ? t("order.eta", { t: timeOf(o.eta_door_at) }) : null,
      o.promised_at ? t("order.promised", { t: timeOf(o.promised_at) }) : null].filter(Boolean).join(" · ");
    parts.push(h("p", { id: "when" }, when, o.late_risk ? h("span", { class: "badge warn" }, t("order.late")) : null));
  }
  if (o.rider) parts.push(h("p", {}, t("order.rider", { name: o.rider.name || o.rider.rider_id })));
  const codes = [["order.delivery_code", o.delivery_code, "delivery-code", "delivery"],
    ["order.handover_code", o.handover_code, "handover-code", "pickup"],
    ["order.locker_code", o.locker?.code, "locker-code", "locker"]].filter(([, v]) => v);
  // Each code also as a QR code to hold up to the counter's, the rider's or the locker's camera.
  for (const [k, v, id, kind] of codes) {
    parts.push(h("div", { class: "card code-card" }, h("div", {}, h("div", { class: "muted" }, t(k)), h("div", { class: "code", id }, v)),
      qrImage(`${config.urls.orders || ""}/orders/${encodeURIComponent(o.id)}/codes/${kind}.svg`, kind, v)));
  }
  for (const ln of o.lines.filter((l) => l.pending_approval && l.pending_approval.answer === null)) parts.push(approvalCard(o, ln));
  if (o.pickup_offer && ["PICKING", "PACKED", "ACCEPTED"].includes(o.status)) parts.push(pickupOfferCard(o));
  parts.push(h("h3", {}, t("order.timeline")), h("ol", { class: "timeline", id: "timeline" }, ...o.timeline.map((e) =>
    h("li", { "data-status": e.status || "" }, h("strong", {}, timeOf(e.at)), " ", e.status ? t(`status.${e.status}`) : causeText(e.cause),
      e.status && e.cause && !e.cause.startsWith("placed") ? h("span", { class: "muted secondary" }, ` — ${causeText(e.cause)}`) : null))));
  parts.push(h("h3", {}, t("order.lines")),
    ...o.lines.map((ln) => h("div", { class: "spread" }, h("span", {}, `${named(ln)} × ${ln.quantity}`),
      h("span", {}, ln.final_fen != null ? fen(ln.final_fen) : fen(ln.estimated_fen)))));
  if (ledger) parts.push(ledgerCard(ledger));
  const actions = h("div", { class: "row" });
  if (["PLACED", "CONFIRMED", "ACCEPTED"].includes(o.status)) {
    const cancel = h("button", { type: "button", class: "danger", id: "cancel" }, t("order.cancel"));
    cancel.addEventListener("click", () => act(cancel, () => api("orders", `/orders/${o.id}/cancel`, { method: "POST", key: true })));
    actions.append(cancel);
  }
  const again = h("button", { type: "button", id: "reorder" }, t("order.reorder"));
  again.addEventListener("click", () => act(again, () => reorder(o.id)));
  actions.append(again);
  parts.push(actions);
  if (["DELIVERED", "COLLECTED"].includes(o.status) || (o.status === "IN_LOCKER" && o.locker?.collected)) parts.push(ratingCard(o));
  return parts;
}

function approvalCard(o, ln) {
  const p = ln.pending_approval;
  const n = p.numbers || {};
  const text = p.kind === "weight"
    ? t("order.question.weight", { actual: n.actual_quantity ?? "?", estimated: n.estimated_quantity ?? "?", price: fen(n.actual_fen) })
    : t("order.question.substitution", { name: named(n.substitute || n) || n.product_id || "", price: fen(n.price_fen) });
  const answer = (accept) => (event) => act(event.currentTarget, () =>
    api("orders", `/orders/${o.id}/lines/${ln.line_no}/approval`, { method: "POST", body: { accept }, key: true }));
  return h("div", { class: "card approval", "data-approval": ln.line_no, role: "group" },
    h("strong", {}, named(ln)), h("p", {}, text),
    h("div", { class: "row" }, h("button", { type: "button", class: "primary", onclick: answer(true), "data-answer": "accept" }, t("order.approve")),
      h("button", { type: "button", onclick: answer(false), "data-answer": "decline" }, t("order.decline"))));
}

function pickupOfferCard(o) {
  const answer = (accept) => (event) => act(event.currentTarget, () =>
    api("orders", `/orders/${o.id}/pickup-offer`, { method: "POST", body: { accept }, key: true }));
  return h("div", { class: "card approval" }, h("p", {}, t("order.pickup_offer")),
    h("div", { class: "row" }, h("button", { type: "button", class: "primary", onclick: answer(true) }, t("order.pickup_yes")),
      h("button", { type: "button", onclick: answer(false) }, t("order.pickup_no"))));
}

function ledgerCard(l) {
  const rows = [["ledger.shown", l.shown_fen], ["ledger.paid", l.paid_fen], ["ledger.final", l.final_fen],
    ["ledger.refund", l.refund_fen], ["ledger.extra", l.extra_charged_fen], ["ledger.due", l.due_at_door_fen],
    ["ledger.cash", l.cash_collected_fen]].filter(([, v]) => v !== null && v !== undefined && !(v === 0 && l.payment === "on_delivery"));
  return h("div", { class: "card", id: "ledger" }, h("h3", {}, t("order.ledger"), " · ", t(`pay.${l.payment}`)),
    ...rows.map(([k, v]) => h("div", { class: "spread", "data-ledger": k }, h("span", {}, t(k)), h("span", {}, fen(v)))),
    l.settled && l.reconciles ? h("p", { class: "badge good" }, t("ledger.ok")) : null);
}

function ratingCard(o) {
  const chosen = { shop: null, rider: null };
  const stars = (who) => h("div", { class: "stars", role: "group", "aria-label": t(`rate.${who}`) },
    ...[1, 2, 3, 4, 5].map((n) => {
      const b = h("button", { type: "button", "aria-pressed": "false", "aria-label": `${n}` }, "★".repeat(1));
      b.addEventListener("click", () => {
        chosen[who] = n;
        for (const [i, s] of [...b.parentElement.children].entries()) s.setAttribute("aria-pressed", String(i < n));
      });
      return b;
    }));
  const send = h("button", { type: "button", class: "primary" }, t("rate.send"));
  const card = h("div", { class: "card", id: "rating" }, h("h3", {}, t("order.rate")),
    h("div", {}, t("rate.shop"), stars("shop")), o.rider ? h("div", {}, t("rate.rider"), stars("rider")) : null, send);
  send.addEventListener("click", () => act(send, async () => {
    await api("orders", `/orders/${o.id}/rating`, { method: "POST", body: {
      shop_stars: chosen.shop, ...(o.rider && chosen.rider ? { rider_stars: chosen.rider } : {}) } });
    card.replaceChildren(h("p", {}, t("rate.thanks")));
  }));
  return card;
}

async function reorder(orderId) {
  const draft = await api("orders", `/orders/${orderId}/reorder`);
  const body = draft.body || draft;
  const products = await api("inventory", `/stores/${encodeURIComponent(body.store_id)}/products`).catch(() => []);
  const known = Object.fromEntries(products.map((p) => [p.id, p]));
  saveBasket({ store_id: body.store_id, note: body.note || "", lines: body.lines.map((l) => {
    const p = known[l.product_id] || {};
    return { product_id: l.product_id, name_zh: p.name_zh || l.product_id, name_en: p.name_en || l.product_id, unit: p.unit || "piece",
      price: p.price || 0, grams_per_piece: p.grams_per_piece, quantity: l.quantity, substitution: l.substitution || null };
  }) });
  for (const change of draft.changes || []) toast(change.message || JSON.stringify(change));
  location.hash = "#/basket";
}

// ---------------------------------------------------------------- balance
async function showBalance() {
  const q = forWhom() ? `?resident=${encodeURIComponent(forWhom().id)}` : "";
  const balance = await act(null, () => api("orders", `/balance${q}`));
  if (!balance) return;
  view.replaceChildren(h("h2", {}, t("balance.title")), h("p", { class: "total", id: "balance" }, fen(balance.balance_fen)),
    h("h3", {}, t("balance.entries")), h("table", {}, h("tbody", {}, ...(balance.entries || []).map((e) =>
      h("tr", {}, h("td", {}, timeOf(e.at)), h("td", {}, e.kind), h("td", {}, e.order_id || e.note || ""), h("td", {}, fen(e.amount_fen)))))));
}

// ---------------------------------------------------------------- helpers and residents
async function showResidents() {
  const residents = await act(null, () => api("orders", "/residents"));
  if (!residents) return;
  const name = h("input", { required: true });
  const picker = addressPicker("r", null);
  const phone = h("input", { type: "tel" });
  const call = h("input", { type: "checkbox", id: "r-call" });
  const pod = h("input", { type: "checkbox", id: "r-pod" });
  const form = h("form", { class: "card", id: "register" }, h("h3", {}, t("residents.add")),
    ...field("r-name", "residents.name", name), picker.el,
    ...field("r-phone", "residents.phone", phone),
    h("label", { class: "check", for: "r-call" }, call, t("residents.call")),
    h("label", { class: "check", for: "r-pod" }, pod, t("residents.pod")),
    h("button", { type: "submit", class: "primary" }, t("save")));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const { address, error } = picker.value();
    if (error) { toast(error, "error"); return; }
    act(form.querySelector("button[type=submit]"), async () => {
      await api("orders", "/residents", { method: "POST", key: true, body: {
        name: name.value.trim(), address: sentAddress(address),
        phone: phone.value.trim() || null, call_before_delivery: call.checked, pay_on_delivery: pod.checked } });
      render();
    });
  });
  const mine = h("button", { type: "button" }, t("residents.me"));
  mine.addEventListener("click", () => { store.set("linli.forWhom", null); render(); });
  view.replaceChildren(h("h2", {}, t("residents.title")),
    ...(residents.length ? residents.map((r) => {
      const pick = h("button", { type: "button", class: "primary", "data-resident": r.resident_id }, t("residents.orderfor"));
      pick.addEventListener("click", () => {
        store.set("linli.forWhom", { id: r.resident_id, name: r.name, address: r.address, pay_on_delivery: r.pay_on_delivery });
        saveBasket({ store_id: null, lines: [], note: "" });
        location.hash = "#/";
      });
      return h("div", { class: "card spread" }, h("span", {}, h("strong", {}, r.name), " · ", r.address?.text || "",
        r.call_before_delivery ? h("span", { class: "badge warn" }, t("residents.call")) : null,
        r.pay_on_delivery ? h("span", { class: "badge" }, t("residents.pod")) : null), pick);
    }) : [h("p", { class: "muted" }, t("residents.none"))]), forWhom() ? mine : null, form);
}

// ---------------------------------------------------------------- routing
async function render() {
  for (const close of closeStreams) close();
  closeStreams = [];
  const who = forWhom();
  const banner = document.getElementById("for-whom");
  banner.hidden = !who;
  banner.textContent = who ? t("forwhom", { name: who.name }) : "";
  const [, route, arg] = (location.hash || "#/").split("/");
  for (const a of document.querySelectorAll("nav.app-nav a")) {
    a.toggleAttribute("aria-current", a.getAttribute("href") === `#/${route || ""}`);
    if (a.hasAttribute("aria-current")) a.setAttribute("aria-current", "page");
  }
  const id = arg ? decodeURIComponent(arg) : null;
  if (route === "store" && id) await showStore(id);
  else if (route === "basket") await showBasket();
  else if (route === "checkout") await showCheckout();
  else if (route === "orders") await showOrders();
  else if (route === "order" && id) await showOrder(id);
  else if (route === "balance") await showBalance();
  else if (route === "residents") await showResidents();
  else if (route === "news") await showNews(view, me);
  else if (route === "deal" && id) await showDeal(view, id, forWhom(), storeName, render);
  else await showHome();
  translate(view);
}

me = await boot({ title: "app.title" });
if (!me) {
  me = await signInForm(view, { roles: ["shopper", "helper"] });
  showWho(me);
}
if (!["shopper", "helper", "admin"].includes(me.role)) {
  view.replaceChildren(h("p", { class: "error" }, `${t(`role.${me.role}`)}: ${config.urls.inventory}/app/ · ${config.urls.dispatch}/app/`));
} else {
  document.querySelector("nav.app-nav").hidden = false;
  for (const el of document.querySelectorAll(".helper-only")) el.hidden = me.role !== "helper";
  if (me.role !== "helper") store.set("linli.forWhom", null);
  window.addEventListener("hashchange", render);
  document.addEventListener("linli:lang", render);
  await render();
}
