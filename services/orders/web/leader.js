// The group leader's page (团长): open a deal with a shop, follow the neighbours joining it live, and at the
// pickup point see how the bags come (dispatch's one trip, a locker compartment each, or the counter),
// confirm they arrived, and check each bag out with its holder's code, typed or scanned from their QR.
import { act, addStrings, api, boot, fen, h, named, signInForm, stream, t, timeOf, toast, translate } from "/app/common/linli.js";
import { canScan, scanCode } from "/app/common/codes.js";

addStrings({
  zh: {
    "leader.title": "邻里 · 团长", "leader.nav.deals": "我的团购", "leader.nav.new": "发起团购", "leader.none": "还没有团购。",
    "leader.only": "团长用购物者账号登录。", "leader.store": "店铺编号", "leader.load": "看商品", "leader.title_field": "标题",
    "leader.pick": "参加", "leader.price": "团购价（分）", "leader.limit": "每人限购", "leader.cap": "总量", "leader.minimum": "成团人数",
    "leader.cutoff": "截止时间", "leader.pickup": "取货点名称", "leader.lat": "纬度", "leader.lon": "经度",
    "leader.delivered": "请骑手把所有袋子一次送到取货点", "leader.window_start": "取货开始", "leader.window_end": "取货结束",
    "leader.rule": "过时未取", "rule.return_refund": "退回店里并退款", "rule.second_window": "第二次取货",
    "leader.open": "发起（等店家确认）", "leader.opened": "已发起，等店家确认", "leader.live": "实时", "leader.offline": "重新连接中",
    "leader.joined": "已参加 {n} 人 · {p} 件", "leader.goods": "金额 {p}", "leader.shares": "参加的人", "leader.for": "代 {who} 参加",
    "share.joined": "已参加", "share.left": "已退出", "share.refunded": "已退款", "share.returned": "未取，已退回",
    "leader.trip": "怎么到取货点", "trip.delivery": "骑手一次送到（{bags} 袋{kg}，{vehicle}）", "trip.locker": "智能柜，每袋一格（{bags} 格）",
    "trip.counter": "团长到店里取，取货码 {code}", "trip.counter_wait": "团长到店里取（打包后显示取货码）",
    "trip.refused": "一趟送不了：{reason}", "trip.status.planned": "等店里打包", "trip.status.open": "已打包，在找骑手",
    "trip.status.at_pickup": "骑手已到取货点", "trip.status.arrived": "已到", "trip.status.refused": "到店里取",
    "trip.status.counter": "到店里取", "vehicle.foot": "步行", "vehicle.bicycle": "自行车", "vehicle.e_bike": "电动车",
    "leader.arrival": "确认袋子已到取货点", "leader.arrived": "{t} 已到（{by}）", "leader.bags": "袋子 {c}/{n} 已取",
    "bag.waiting": "待取", "bag.collected": "已取（{by}）", "bag.returned": "未取，已退回店里", "leader.checkout": "发袋",
    "leader.bag_no": "袋号", "leader.code": "取货码或扫到的内容", "leader.give": "核对并发袋", "leader.given": "第 {n} 号袋已发出",
    "leader.scan": "扫邻居的二维码", "leader.not_this_deal": "这是另一个团购的代码", "leader.which_bag": "请填袋号",
    "leader.cash": "现金 {p}（发袋时收）", "leader.status": "状态",
  },
  en: {
    "leader.title": "Linli · Group leader", "leader.nav.deals": "My deals", "leader.nav.new": "Open a deal",
    "leader.none": "No deals yet.", "leader.only": "Leaders sign in with their shopper account.", "leader.store": "Shop id",
    "leader.load": "Show products", "leader.title_field": "Title", "leader.pick": "In the deal", "leader.price": "Group price (fen)",
    "leader.limit": "Per person", "leader.cap": "Cap", "leader.minimum": "Neighbours to go ahead", "leader.cutoff": "Cutoff",
    "leader.pickup": "Pickup point", "leader.lat": "Latitude", "leader.lon": "Longitude",
    "leader.delivered": "A rider brings every bag to the pickup point in one trip", "leader.window_start": "Pickup from",
    "leader.window_end": "Pickup until", "leader.rule": "If not collected", "rule.return_refund": "back to the shop, refunded",
    "rule.second_window": "a second pickup window", "leader.open": "Open it (the shop accepts)",
    "leader.opened": "Opened: waiting for the shop", "leader.live": "Live", "leader.offline": "reconnecting",
    "leader.joined": "{n} joined · {p} pieces", "leader.goods": "goods {p}", "leader.shares": "Who joined",
    "leader.for": "joined for them by {who}", "share.joined": "joined", "share.left": "left", "share.refunded": "refunded",
    "share.returned": "uncollected, returned", "leader.trip": "How the bags get there",
    "trip.delivery": "One rider brings them ({bags} bags{kg}, {vehicle})", "trip.locker": "Locker site, one compartment per bag ({bags})",
    "trip.counter": "You collect them at the counter with code {code}", "trip.counter_wait": "You collect them at the counter (the code shows once packed)",
    "trip.refused": "One trip cannot carry them: {reason}", "trip.status.planned": "waiting for the shop to pack",
    "trip.status.open": "packed, finding a rider", "trip.status.at_pickup": "the rider is at the pickup point",
    "trip.status.arrived": "arrived", "trip.status.refused": "collect at the counter", "trip.status.counter": "collect at the counter",
    "vehicle.foot": "on foot", "vehicle.bicycle": "bicycle", "vehicle.e_bike": "e-bike",
    "leader.arrival": "Confirm the bags are at the pickup point", "leader.arrived": "arrived {t} ({by})",
    "leader.bags": "Bags: {c} of {n} collected", "bag.waiting": "waiting", "bag.collected": "collected ({by})",
    "bag.returned": "uncollected, back to the shop", "leader.checkout": "Hand out a bag", "leader.bag_no": "Bag number",
    "leader.code": "Code, or what the scanner read", "leader.give": "Check and hand out", "leader.given": "Bag {n} handed out",
    "leader.scan": "Scan a neighbour's QR", "leader.not_this_deal": "That code is for another group buy",
    "leader.which_bag": "Type the bag number", "leader.cash": "cash {p} (take it at hand-over)", "leader.status": "Status",
  },
});

const view = document.getElementById("view");
let me = await boot({ title: "leader.title" });
if (!me) me = await signInForm(view, { roles: ["shopper", "admin"] });
let closeStream = () => {};

const QR = /^linli:groupbuy:([^:\s]+):(\d+):(\d+)$/;

/** A typed code, or a scanned `linli:groupbuy:<deal>:<bag>:<code>`, as {number, code}; the number may come from the field. */
export function readCode(text, dealId, typedNumber) {
  const value = String(text || "").trim();
  const m = QR.exec(value);
  if (m) {
    if (m[1] !== dealId) throw new Error(t("leader.not_this_deal"));
    return { number: Number(m[2]), code: m[3] };
  }
  if (!typedNumber) throw new Error(t("leader.which_bag"));
  return { number: Number(typedNumber), code: value };
}

const field = (label, input) => h("label", {}, h("span", {}, label), input);
const localInput = (id, minutes) => {
  const at = new Date(Date.now() + minutes * 60000 - new Date().getTimezoneOffset() * 60000);
  return h("input", { type: "datetime-local", id, value: at.toISOString().slice(0, 16), required: true });
};
const iso = (el) => new Date(el.value).toISOString();

// ---------------------------------------------------------------- my deals
async function showDeals() {
  const q = new URLSearchParams();
  for (const s of ["proposed", "accepted", "open", "closed"]) q.append("status", s);
  const deals = await act(null, () => api("orders", `/group-buys?${q}`));
  if (!deals) return;
  const mine = deals.filter((d) => d.leader === me.subject || me.role === "admin");
  view.replaceChildren(h("h2", {}, t("leader.nav.deals")),
    ...(mine.length ? mine.map((d) => h("article", { class: "card deal", "data-deal": d.id },
      h("div", { class: "spread" }, h("span", { class: "name" }, d.title), h("span", { class: "badge" }, d.status)),
      h("div", { class: "muted" }, d.store_id, " · ", d.pickup.name, " · ", t("leader.joined", { n: d.totals.participants, p: d.totals.pieces })),
      h("a", { href: `#/deal/${encodeURIComponent(d.id)}`, class: "button-link" }, d.title))) : [h("p", { class: "muted" }, t("leader.none"))]));
}

// ---------------------------------------------------------------- opening a deal
function showNew() {
  const store = h("input", { id: "new-store", required: true });
  const products = h("div", { id: "new-products" });
  const load = h("button", { type: "button", id: "new-load" }, t("leader.load"));
  load.addEventListener("click", async () => {
    const list = await act(load, () => api("inventory", `/stores/${encodeURIComponent(store.value.trim())}/products`));
    if (!list) return;
    products.replaceChildren(...list.filter((p) => p.unit !== "g").map((p) => h("div", { class: "card product", "data-product": p.id },
      h("label", {}, h("input", { type: "checkbox", class: "pick", value: p.id }), " ", h("strong", {}, named(p)), " ", fen(p.price_fen)),
      field(t("leader.price"), h("input", { type: "number", class: "price", min: "0", max: String(p.price_fen), value: String(p.price_fen) })),
      field(t("leader.limit"), h("input", { type: "number", class: "limit", min: "1", value: "3" })),
      field(t("leader.cap"), h("input", { type: "number", class: "cap", min: "1", value: String(Math.max(1, Math.min(p.available || 1, 50))) })))));
  });
  const title = h("input", { id: "new-title", required: true, maxlength: "100" });
  const minimum = h("input", { type: "number", id: "new-minimum", min: "1", value: "2" });
  const cutoff = localInput("new-cutoff", 24 * 60);
  const start = localInput("new-window-start", 25 * 60);
  const end = localInput("new-window-end", 27 * 60);
  const pickup = h("input", { id: "new-pickup", required: true });
  const lat = h("input", { id: "new-lat", inputmode: "decimal", required: true });
  const lon = h("input", { id: "new-lon", inputmode: "decimal", required: true });
  const delivered = h("input", { type: "checkbox", id: "new-delivered" });
  const rule = h("select", { id: "new-rule" }, h("option", { value: "return_refund" }, t("rule.return_refund")));
  const open = h("button", { type: "submit", class: "primary", id: "new-open" }, t("leader.open"));
  const form = h("form", { class: "card stack", id: "new-deal" },
    field(t("leader.store"), store), load, products, field(t("leader.title_field"), title), field(t("leader.minimum"), minimum),
    field(t("leader.cutoff"), cutoff), field(t("leader.pickup"), pickup), field(t("leader.lat"), lat), field(t("leader.lon"), lon),
    h("label", {}, delivered, " ", t("leader.delivered")), field(t("leader.window_start"), start), field(t("leader.window_end"), end),
    field(t("leader.rule"), rule), open);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const items = [...products.querySelectorAll("[data-product]")].filter((row) => row.querySelector(".pick").checked).map((row) => ({
      product_id: row.dataset.product, group_price_fen: Number(row.querySelector(".price").value),
      per_person_limit: Number(row.querySelector(".limit").value), cap: Number(row.querySelector(".cap").value),
    }));
    const body = {
      store_id: store.value.trim(), title: title.value.trim(), items, minimum: Number(minimum.value), cutoff_at: iso(cutoff),
      pickup: { kind: "place", name: pickup.value.trim(), lat: Number(lat.value), lon: Number(lon.value), delivered: delivered.checked },
      window: { start: iso(start), end: iso(end) }, uncollected: rule.value,
    };
    const deal = await act(open, () => api("orders", "/group-buys", { method: "POST", body }));
    if (deal) { toast(t("leader.opened")); location.hash = `#/deal/${encodeURIComponent(deal.id)}`; }
  });
  view.replaceChildren(h("h2", {}, t("leader.nav.new")), form);
}

// ---------------------------------------------------------------- one deal, live
function sharesCard(d) {
  const rows = (d.shares || []).slice().sort((a, b) => (a.number ?? 1e9) - (b.number ?? 1e9) || a.holder.localeCompare(b.holder));
  return h("section", { class: "card", id: "deal-shares" }, h("h3", {}, t("leader.shares")),
    h("ul", {}, ...rows.map((s) => h("li", { "data-holder": s.holder, "data-status": s.status },
      s.number ? `#${s.number} ` : "", h("strong", {}, s.holder), " · ",
      Object.entries(s.items).map(([p, n]) => `${p} × ${n}`).join(", ") || "—", " · ", t(`share.${s.status}`),
      s.joined_by !== s.holder ? h("span", { class: "muted" }, " · ", t("leader.for", { who: s.joined_by })) : null))));
}

function tripCard(trip) {
  const kg = trip.weight_g != null ? `, ${(trip.weight_g / 1000).toFixed(1)} kg` : "";
  let text;
  if (trip.status === "refused") text = t("trip.refused", { reason: trip.reason || "" });
  else if (trip.kind === "delivery") text = t("trip.delivery", { bags: trip.bags ?? "?", kg, vehicle: t(`vehicle.${trip.vehicle}`) });
  else if (trip.kind === "locker") text = t("trip.locker", { bags: trip.compartments.length });
  else text = trip.counter_code ? t("trip.counter", { code: trip.counter_code }) : t("trip.counter_wait");
  const counterCode = trip.counter_code && (trip.kind === "counter" || trip.status === "refused")
    ? h("div", { class: "code", id: "trip-code" }, trip.counter_code) : null;
  return h("section", { class: "card", id: "deal-trip", "data-kind": trip.kind, "data-status": trip.status },
    h("h3", {}, t("leader.trip")), h("p", { id: "trip-text" }, text),
    h("p", {}, h("span", { class: "badge", id: "trip-status" }, t(`trip.status.${trip.status}`))), counterCode);
}

function bagsCard(deal, bags, refresh) {
  const arrived = bags.arrived_at
    ? h("p", { id: "deal-arrived", class: "badge good" }, t("leader.arrived", { t: timeOf(bags.arrived_at), by: bags.arrived_by }))
    : null;
  const arrive = h("button", { type: "button", class: "primary", id: "deal-arrive", hidden: Boolean(bags.arrived_at) }, t("leader.arrival"));
  arrive.addEventListener("click", async () => {
    if (await act(arrive, () => api("orders", `/group-buys/${encodeURIComponent(deal.id)}/arrival`, { method: "POST" }))) refresh();
  });
  const list = h("ul", { id: "deal-bags" }, ...bags.bags.map((b) => h("li", { "data-bag": String(b.number), "data-state": b.state },
    h("strong", {}, `#${b.number} ${b.name}`), " · ", Object.entries(b.items).map(([p, n]) => `${p} × ${n}`).join(", "), " · ",
    h("span", { class: `badge ${b.state === "collected" ? "good" : b.state === "returned" ? "bad" : ""}` },
      b.state === "collected" ? t("bag.collected", { by: b.collected_by }) : t(`bag.${b.state}`)),
    b.payment === "cash_at_pickup" && b.state === "waiting" ? h("span", { class: "muted" }, " · ", t("leader.cash", { p: fen(b.due_fen) })) : null)));
  const number = h("input", { type: "number", min: "1", id: "checkout-bag", inputmode: "numeric" });
  const code = h("input", { id: "checkout-code", autocomplete: "off" });
  const give = h("button", { type: "submit", class: "primary", id: "checkout-give" }, t("leader.give"));
  const form = h("form", { class: "card stack", id: "checkout" }, h("h3", {}, t("leader.checkout")),
    field(t("leader.bag_no"), number), field(t("leader.code"), code), give);
  const checkOut = async (text) => {
    let found;
    try { found = readCode(text, deal.id, number.value); } catch (e) { toast(e.message, "error"); return; }
    const bag = bags.bags.find((b) => b.number === found.number);
    const body = { code: found.code, ...(bag && bag.payment === "cash_at_pickup" ? { cash_fen: bag.due_fen } : {}) };
    const done = await act(give, () => api("orders", `/group-buys/${encodeURIComponent(deal.id)}/bags/${found.number}/collect`, { method: "POST", body }));
    if (done) { code.value = ""; number.value = ""; toast(t("leader.given", { n: found.number })); refresh(); }
  };
  form.addEventListener("submit", (e) => { e.preventDefault(); checkOut(code.value); });
  if (canScan()) {
    const scan = h("button", { type: "button", id: "checkout-scan" }, t("leader.scan"));
    scan.addEventListener("click", async () => { const text = await scanCode(); if (text) checkOut(text); });
    form.append(scan);
  }
  const collected = bags.bags.filter((b) => b.state === "collected").length;
  return h("section", { class: "card", id: "deal-collection" },
    h("h3", { id: "deal-count" }, t("leader.bags", { c: collected, n: bags.bags.length })), arrived, arrive, list, form);
}

async function showDeal(dealId) {
  const live = h("span", { class: "badge", id: "deal-live" }, t("leader.offline"));
  const head = h("div", {});
  const shares = h("div", {});
  const after = h("div", {});
  view.replaceChildren(head, shares, after);
  let last = null;
  // The stream and the page's own buttons both refresh the bags, and their answers can come back
  // out of order: only the newest refresh may draw, or a slow answer from before a hand-out would
  // show the bag as still waiting. A redraw keeps what the leader has typed into the check-out form.
  let generation = 0;
  const refreshAfter = async (d) => {
    const mine = ++generation;
    if (d.status !== "closed") { after.replaceChildren(); return; }
    const [trip, bags] = await Promise.all([
      api("orders", `/group-buys/${encodeURIComponent(dealId)}/trip`),
      api("orders", `/group-buys/${encodeURIComponent(dealId)}/bags`),
    ]).catch((e) => { toast(e.message, "error"); return [null, null]; });
    if (mine !== generation || !trip || !bags) return;
    const typed = ["checkout-bag", "checkout-code"].map((id) => [id, document.getElementById(id)?.value ?? ""]);
    after.replaceChildren(tripCard(trip), bagsCard(d, bags, () => refreshAfter(last)));
    for (const [id, value] of typed) { const input = document.getElementById(id); if (input && value) input.value = value; }
  };
  const render = (d) => {
    last = d;
    head.replaceChildren(h("h2", {}, d.title, " ", live),
      h("p", {}, h("span", { class: "badge", id: "deal-status" }, d.status), " ", d.store_id, " · ", d.pickup.name),
      h("p", { id: "deal-totals" }, t("leader.joined", { n: d.totals.participants, p: d.totals.pieces }), " · ",
        t("leader.goods", { p: fen(d.totals.goods_fen) })));
    shares.replaceChildren(sharesCard(d));
    refreshAfter(d);
  };
  const first = await act(null, () => api("orders", `/group-buys/${encodeURIComponent(dealId)}`));
  if (!first) return;
  render(first);
  closeStream = stream("orders", `/group-buys/${encodeURIComponent(dealId)}/stream`, { deal: render },
    (on) => { live.textContent = t(on ? "leader.live" : "leader.offline"); live.classList.toggle("good", on); });
}

async function route() {
  closeStream();
  closeStream = () => {};
  if (me.role !== "shopper" && me.role !== "admin") {
    view.replaceChildren(h("p", { class: "error", role: "alert" }, t("leader.only")));
    return;
  }
  const [, where, arg] = (location.hash || "#/").split("/");
  if (where === "deal" && arg) await showDeal(decodeURIComponent(arg));
  else if (where === "new") showNew();
  else await showDeals();
  translate();
}

window.addEventListener("hashchange", route);
document.addEventListener("linli:lang", route);
await route();
