// Reports to look at (operator console): how the circle served its residents over a period of local days.
// Each report is drawn as plain SVG bar charts, made here without any library or network, with a link
// to the same report as CSV. An admin sees the whole circle or one shop; a shop's staff their own shop.
import { addStrings, api, boot, config, h, lang, signInForm, t, translate } from "/app/common/linli.js";

addStrings({
  zh: {
    "reports.title": "邻里 · 报表", "reports.console": "运营后台", "reports.only": "报表只供管理员和本店店员查看。",
    "period.from": "开始日期", "period.to": "结束日期（含）", "period.store": "店铺 / 市场 / 摊位（不填为全部）",
    "period.show": "查看", "period.tz": "按 {tz} 当地日期统计下单时间在此期间的订单。", "csv": "下载 CSV",
    "r.volume": "订单量", "r.on-time": "准时送达", "r.timings": "接单与送达用时", "r.fill-rate": "拣货满足率",
    "r.ratings": "评分", "r.care": "助老代下单与“送达前来电”", "r.products": "热销商品",
    "c.per_day": "每天订单", "c.per_hour": "各时段订单（当地时间）", "c.by_store": "按店铺", "c.by_mode": "按履约方式",
    "c.on_time_day": "每天送达：准时 / 迟到", "c.timings": "中位用时（分钟），提示里有 90 分位",
    "c.fill": "各店 / 摊位的订单行", "c.shop_stars": "店铺星级", "c.rider_stars": "骑手星级",
    "c.helpers_day": "每天订单：助老员代下单 / 本人下单", "c.call_day": "每天送货订单：需来电 / 其他", "c.products": "订单数最多的商品",
    "f.orders": "订单", "f.arrived": "已送达（有承诺时间）", "f.on_time": "准时率", "f.first": "对比最初承诺准时率",
    "f.late_median": "迟到中位（分钟）", "f.failed": "投递失败", "f.no_promise": "无承诺时间", "f.lines": "已拣订单行",
    "f.picked_pct": "按原样拣到", "f.filled_pct": "拣到或替换", "f.ratings": "评价数", "f.shop_avg": "店铺均分",
    "f.rider_avg": "骑手均分", "f.by_helper": "助老员代下单", "f.for_residents": "其中为登记居民", "f.call_before": "需送达前来电",
    "f.call_before_delivered": "其中已送达",
    "mode.delivery": "送货上门", "mode.pickup": "到店自提", "mode.locker": "自提柜", "mode.*": "全部",
    "m.to_acceptance": "到商家接单", "m.to_door": "到交付",
    "o.picked": "按原样拣到", "o.substituted": "替换", "o.out_of_stock": "缺货", "o.substitute_declined": "替换被拒",
    "o.refused": "摊位拒单", "s.on_time": "准时", "s.late": "迟到", "s.helper": "助老员代下单", "s.self": "本人下单",
    "s.call": "需来电", "s.other": "其他", "stars": "{n} 星", "empty": "这段时间没有数据。",
    "staff.no_on_time": "准时送达报表涉及骑手与承诺时间，只供管理员查看。",
  },
  en: {
    "reports.title": "Linli · Reports", "reports.console": "Operator console",
    "reports.only": "Reports are for operators (admin) and a shop's own staff.",
    "period.from": "From", "period.to": "To (included)", "period.store": "Shop / market / stall (empty: all)",
    "period.show": "Show", "period.tz": "Orders placed in these local days ({tz}).", "csv": "Download CSV",
    "r.volume": "Orders", "r.on-time": "On time against the promise", "r.timings": "Time to acceptance and to the door",
    "r.fill-rate": "Fill rate", "r.ratings": "Ratings", "r.care": "Helpers' orders and “call before delivery”",
    "r.products": "Busiest products",
    "c.per_day": "Orders per day", "c.per_hour": "Orders by hour of day (local)", "c.by_store": "By shop",
    "c.by_mode": "By fulfilment", "c.on_time_day": "Arrived per day: on time / late",
    "c.timings": "Median minutes (the tooltip has the 90th percentile)", "c.fill": "Lines by shop or stall",
    "c.shop_stars": "Shop stars", "c.rider_stars": "Rider stars", "c.helpers_day": "Orders per day: by a helper / by the resident",
    "c.call_day": "Deliveries per day: call first / other", "c.products": "Products in the most orders",
    "f.orders": "Orders", "f.arrived": "Arrived (with a promise)", "f.on_time": "On time", "f.first": "On time vs first promise",
    "f.late_median": "Late, median (min)", "f.failed": "Failed at the door", "f.no_promise": "No promise",
    "f.lines": "Lines settled", "f.picked_pct": "Picked as ordered", "f.filled_pct": "Picked or substituted",
    "f.ratings": "Ratings", "f.shop_avg": "Shop average", "f.rider_avg": "Rider average", "f.by_helper": "Placed by a helper",
    "f.for_residents": "for registered residents", "f.call_before": "Call before delivery", "f.call_before_delivered": "of them delivered",
    "mode.delivery": "Delivery", "mode.pickup": "Pickup", "mode.locker": "Locker", "mode.*": "All",
    "m.to_acceptance": "to acceptance", "m.to_door": "to the door",
    "o.picked": "Picked as ordered", "o.substituted": "Substituted", "o.out_of_stock": "Out of stock",
    "o.substitute_declined": "Substitute declined", "o.refused": "Stall refused", "s.on_time": "On time", "s.late": "Late",
    "s.helper": "By a helper", "s.self": "By the resident", "s.call": "Call first", "s.other": "Other",
    "stars": "{n} stars", "empty": "Nothing in this period.",
    "staff.no_on_time": "On-time delivery is about riders and promises: it is for operators (admin).",
  },
});

const SVG = "http://www.w3.org/2000/svg";
const REPORTS = ["volume", "on-time", "timings", "fill-rate", "ratings", "care", "products"];

const view = document.getElementById("view");
let me = await boot({ title: "reports.title" });
if (!me) me = await signInForm(view, { roles: ["admin", "store_staff"], withStore: true });
const operator = me.role === "admin";

// ---------------------------------------------------------------- the charts (plain SVG)
function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) el.setAttribute(name, String(value));
  for (const child of children) el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return el;
}

/** A bar chart: `bars` [{label, parts: [{value, cls, name}], tip}], stacked when a bar has several parts. */
function barChart(id, bars, { height = 190, legend = null } = {}) {
  // One width for every chart, so its text shows at one size whatever the number of bars.
  const width = 360, left = 30, bottom = 30, top = 14;
  const plot = height - bottom - top;
  const totals = bars.map((b) => b.parts.reduce((s, p) => s + (p.value || 0), 0));
  const max = Math.max(1, ...totals);
  const step = (width - left - 6) / Math.max(1, bars.length);
  const barWidth = Math.max(3, Math.min(40, step * 0.7));
  const chart = svg("svg", { class: "chart", "data-chart": id, viewBox: `0 0 ${width} ${height}`, role: "img" });
  chart.append(svg("title", {}, id));
  for (const f of [0.5, 1]) {
    const y = top + plot * (1 - f);
    chart.append(svg("line", { class: "grid", x1: left, x2: width - 4, y1: y, y2: y }));
    chart.append(svg("text", { x: left - 4, y: y + 4, "text-anchor": "end" }, String(Math.round(max * f * 10) / 10)));
  }
  chart.append(svg("line", { class: "axis", x1: left, x2: width - 4, y1: top + plot, y2: top + plot }));
  const every = Math.ceil(bars.length / 12);  // at most a dozen labels under the bars
  const fits = Math.max(2, Math.floor((step * every) / 6.5));  // characters of 11px text in that room
  bars.forEach((bar, i) => {
    const x = left + step * i + (step - barWidth) / 2;
    const group = svg("g", { class: "bar", "data-label": bar.label, "data-value": totals[i] });
    group.append(svg("title", {}, bar.tip || `${bar.label}: ${totals[i]}`));
    let y = top + plot;
    for (const part of bar.parts) {
      const size = (plot * (part.value || 0)) / max;
      y -= size;
      group.append(svg("rect", { x, y, width: barWidth, height: Math.max(0, size), class: part.cls || "p1" }));
    }
    if (totals[i] && bars.length <= 12) {
      group.append(svg("text", { class: "value", x: x + barWidth / 2, y: y - 2, "text-anchor": "middle" }, String(totals[i])));
    }
    if (i % every === 0) {
      const label = bar.label.length > fits ? `${bar.label.slice(0, fits - 1)}…` : bar.label;
      group.append(svg("text", { x: x + barWidth / 2, y: top + plot + 14, "text-anchor": "middle" }, label));
    }
    chart.append(group);
  });
  const keys = legend ? h("ul", { class: "legend" },
    ...legend.map(([cls, name]) => h("li", {}, h("span", { class: `key ${cls}` }), name))) : null;
  return [chart, keys];
}

function figure(id, caption, bars, options) {
  return h("figure", { class: "chart" }, h("figcaption", {}, caption), ...barChart(id, bars, options));
}

const one = (label, value, tip) => ({ label, parts: [{ value }], tip });
const dayLabel = (iso) => iso.slice(5);
const modeName = (m) => t(`mode.${m}`);
const pct = (v) => (v === null || v === undefined ? "—" : `${v}%`);
const num = (v) => (v === null || v === undefined ? "—" : String(v));
const figures = (...pairs) => h("div", { class: "figures" },
  ...pairs.map(([key, value]) => h("div", { "data-figure": key }, h("b", {}, value), t(key))));

// ---------------------------------------------------------------- each report
const DRAW = {
  volume: (r) => [
    figures(["f.orders", num(r.total)]),
    h("div", { class: "charts" },
      figure("volume-day", t("c.per_day"), r.by_day.map((d) => one(dayLabel(d.date), d.orders, `${d.date}: ${d.orders}`))),
      figure("volume-hour", t("c.per_hour"), r.by_hour.map((d) => one(String(d.hour), d.orders, `${d.hour}:00–${d.hour}:59: ${d.orders}`))),
      figure("volume-store", t("c.by_store"), r.by_store.map((s) => one(s.store_id, s.orders))),
      figure("volume-mode", t("c.by_mode"), r.by_mode.map((m) => one(modeName(m.mode), m.orders)))),
  ],
  "on-time": (r) => [
    figures(["f.arrived", num(r.arrived)], ["f.on_time", pct(r.on_time_pct)], ["f.first", pct(r.on_time_first_promise_pct)],
      ["f.late_median", num(r.late_median_min)], ["f.failed", num(r.failed)], ["f.no_promise", num(r.no_promise)]),
    h("div", { class: "charts" },
      figure("on-time-day", t("c.on_time_day"), r.by_day.map((d) => ({
        label: dayLabel(d.date),
        parts: [{ value: d.on_time, cls: "p1" }, { value: d.late, cls: "p3" }],
        tip: `${d.date}: ${t("s.on_time")} ${d.on_time}, ${t("s.late")} ${d.late}`,
      })), { legend: [["p1", t("s.on_time")], ["p3", t("s.late")]] })),
  ],
  timings: (r) => {
    const bars = [];
    for (const m of r.by_mode) {
      for (const measure of ["to_acceptance", "to_door"]) {
        if (!m[measure]) continue;
        const d = m[measure];
        bars.push({
          label: `${modeName(m.mode)} ${t(`m.${measure}`)}`,
          parts: [{ value: d.median_min || 0, cls: measure === "to_door" ? "p2" : "p1" }],
          tip: `${modeName(m.mode)} ${t(`m.${measure}`)}: median ${num(d.median_min)} min, p90 ${num(d.p90_min)} min (${d.orders})`,
        });
      }
    }
    return [h("div", { class: "charts" }, figure("timings", t("c.timings"), bars,
      { legend: [["p1", t("m.to_acceptance")], ...(operator ? [["p2", t("m.to_door")]] : [])] }))];
  },
  "fill-rate": (r) => {
    const outcomes = ["picked", "substituted", "out_of_stock", "substitute_declined", "refused"];
    return [
      figures(["f.lines", num(r.lines)], ["f.picked_pct", pct(r.picked_pct)], ["f.filled_pct", pct(r.filled_pct)]),
      h("div", { class: "charts" }, figure("fill-rate", t("c.fill"), r.by_location.map((loc) => ({
        label: loc.location_id,
        parts: outcomes.map((o, i) => ({ value: loc[o], cls: `p${i + 1}` })),
        tip: `${loc.location_id}: ${outcomes.map((o) => `${t(`o.${o}`)} ${loc[o]}`).join(", ")}`,
      })), { legend: outcomes.map((o, i) => [`p${i + 1}`, t(`o.${o}`)]) })),
    ];
  },
  ratings: (r) => [
    figures(["f.ratings", num(r.ratings)], ["f.shop_avg", num(r.shop.average)],
      ...(r.rider ? [["f.rider_avg", num(r.rider.average)]] : [])),
    h("div", { class: "charts" },
      figure("ratings-shop", t("c.shop_stars"), [1, 2, 3, 4, 5].map((n) => one(t("stars", { n }), r.shop.stars[n]))),
      r.rider ? figure("ratings-rider", t("c.rider_stars"), [1, 2, 3, 4, 5].map((n) => one(t("stars", { n }), r.rider.stars[n]))) : null),
  ],
  care: (r) => [
    figures(["f.orders", num(r.orders)], ["f.by_helper", `${r.by_helper} (${pct(r.by_helper_pct)})`],
      ["f.for_residents", num(r.for_residents)], ["f.call_before", num(r.call_before)],
      ["f.call_before_delivered", num(r.call_before_delivered)]),
    h("div", { class: "charts" },
      figure("care-helpers", t("c.helpers_day"), r.by_day.map((d) => ({
        label: dayLabel(d.date), parts: [{ value: d.by_helper, cls: "p2" }, { value: d.orders - d.by_helper, cls: "p5" }],
      })), { legend: [["p2", t("s.helper")], ["p5", t("s.self")]] }),
      figure("care-call", t("c.call_day"), r.by_day.map((d) => ({
        label: dayLabel(d.date), parts: [{ value: d.call_before, cls: "p4" }, { value: d.deliveries - d.call_before, cls: "p5" }],
      })), { legend: [["p4", t("s.call")], ["p5", t("s.other")]] })),
  ],
  products: (r) => [
    h("div", { class: "charts" }, figure("products", t("c.products"), r.products.map((p) => one(
      lang() === "en" ? p.name_en : p.name_zh, p.orders,
      `${p.rank}. ${p.name_zh} ${p.name_en}: ${p.orders} orders, ${p.pieces} pieces`)))),
  ],
};

// ---------------------------------------------------------------- the page
function localToday() {
  // en-CA formats a date as YYYY-MM-DD; the neighbourhood's timezone, not the browser's.
  return new Intl.DateTimeFormat("en-CA", { timeZone: config.timezone || "Asia/Shanghai" }).format(new Date());
}

function daysBefore(iso, n) {
  const d = new Date(`${iso}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() - n);
  return d.toISOString().slice(0, 10);
}

const query = new URLSearchParams(location.search);
const state = {
  from: query.get("from") || daysBefore(localToday(), 6),
  to: query.get("to") || localToday(),
  store: operator ? (query.get("store") || "") : (me.store || ""),
};

function params(extra = {}) {
  const p = new URLSearchParams({ from: state.from, to: state.to });
  if (operator && state.store) p.set("store", state.store);
  for (const [k, v] of Object.entries(extra)) p.set(k, v);
  return p.toString();
}

function periodForm() {
  const from = h("input", { type: "date", id: "from", name: "from", value: state.from, required: true });
  const to = h("input", { type: "date", id: "to", name: "to", value: state.to, required: true });
  const store = h("input", { id: "store", name: "store", value: state.store, disabled: !operator });
  const form = h("form", { class: "card period", id: "period" },
    h("div", {}, h("label", { for: "from" }, t("period.from")), from),
    h("div", {}, h("label", { for: "to" }, t("period.to")), to),
    h("div", {}, h("label", { for: "store" }, t("period.store")), store),
    h("button", { type: "submit", class: "primary" }, t("period.show")),
    h("p", { class: "muted" }, t("period.tz", { tz: config.timezone })));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    Object.assign(state, { from: from.value, to: to.value, store: operator ? store.value.trim() : state.store });
    history.replaceState(null, "", `?${params()}`);
    show();
  });
  return form;
}

async function section(name) {
  const csv = h("a", { class: "csv", href: `${config.urls.orders || ""}/reports/${name}?${params({ format: "csv" })}`, download: "" }, t("csv"));
  const card = h("section", { class: "card report", id: `report-${name}`, "data-report": name },
    h("div", { class: "spread" }, h("h2", {}, t(`r.${name}`)), csv));
  if (!operator && name === "on-time") {
    card.append(h("p", { class: "muted" }, t("staff.no_on_time")));
    csv.remove();
    return card;
  }
  const body = h("div", {}, h("p", { class: "muted" }, t("loading")));
  card.append(body);
  try {
    const report = await api("orders", `/reports/${name}?${params(name === "products" ? { limit: "10" } : {})}`);
    body.replaceChildren(...DRAW[name](report).filter(Boolean));
  } catch (e) {
    body.replaceChildren(h("p", { class: "error", role: "alert" }, e.message));
  }
  return card;
}

async function show() {
  if (!["admin", "store_staff"].includes(me.role)) {
    view.replaceChildren(h("p", { class: "error", role: "alert" }, t("reports.only")));
    return;
  }
  const back = operator ? h("p", {}, h("a", { href: "/app/admin/" }, `← ${t("reports.console")}`)) : null;
  const cards = await Promise.all(REPORTS.map(section));
  view.replaceChildren(...[back, periodForm(), ...cards].filter(Boolean));
  translate(view);
}

document.addEventListener("linli:lang", show);
await show();
