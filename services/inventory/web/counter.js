// The shop counter: the live order queue, the pick list, packing, handover, returned bags,
// products and stock, opening hours and the pause switch. What a tablet at the counter needs;
// the API decides what this member of staff may see and do.
import {
  act, api, boot, config, countdown, fen, h, liveBadge, named, showWho, signInForm, stream, t, timeOf, toast, translate,
} from "/app/common/linli.js";
import { qrImage, scanButton } from "/app/common/codes.js";
import { dealItemText, dealLabelsSheet, labelsSheet, pickListSheet, preview } from "./print.js";
import { STRINGS } from "./strings.js";

const me0 = await boot({ title: "counter.title", strings: STRINGS });
const main = document.getElementById("main");
const state = {
  me: me0, here: null, places: {}, queue: [], scheduled: [], receivedAt: Date.now(), tab: "orders",
  open: null, pick: null, stock: [], stockPlace: null, seen: new Set(), first: true, rejecting: new Set(),
  substituting: new Set(),
};

const announce = (message) => { document.getElementById("announce").textContent = message; };
const short = (id) => id.length > 10 ? id.slice(-8) : id;
const placeName = (id) => named(state.places[id]) || id;
const field = (id, label, input) => [h("label", { for: id }, label), input];
/** Replace el's children, leaving out the parts that were not drawn (null). */
const fill = (el, ...children) => el.replaceChildren(...children.filter((c) => c !== null && c !== undefined));
const number = (id, props = {}) => h("input", { id, type: "number", inputmode: "numeric", ...props });

// ------------------------------------------------------------------ start
async function start() {
  if (!state.me) {
    state.me = await signInForm(main, { roles: ["store_staff", "admin"], withStore: true });
    showWho(state.me);
  }
  let id = state.me.store || new URLSearchParams(location.search).get("store") || localStorage.getItem("linli.counter.store");
  while (!id) id = await askForPlace();
  try {
    state.here = await api("inventory", `/locations/${encodeURIComponent(id)}`);
  } catch (e) {
    toast(e.message, "error");
    localStorage.removeItem("linli.counter.store");
    if (state.me.role === "admin" && !state.me.store) {
      history.replaceState(null, "", location.pathname);  // a wrong ?store= must not ask forever
      return start();
    }
    main.replaceChildren(h("p", { class: "error", role: "alert" }, e.message));
    return;
  }
  if (state.me.role === "admin") localStorage.setItem("linli.counter.store", id);
  await loadPlaces();
  layout();
  follow();
}

function askForPlace() {
  return new Promise((resolve) => {
    const input = h("input", { id: "place-id", required: true, autocomplete: "off" });
    const form = h("form", { class: "card signin" },
      h("h2", {}, t("pick.location")), h("p", { class: "muted" }, t("pick.location.help")),
      ...field("place-id", t("pick.location.id"), input),
      h("button", { type: "submit", class: "primary" }, t("pick.location.open")));
    form.addEventListener("submit", (e) => { e.preventDefault(); resolve(input.value.trim()); });
    main.replaceChildren(form);
    input.focus();
  });
}

/** Names of the place, its market and its stalls (GET /stores lists shops and markets with their stalls). */
async function loadPlaces() {
  state.places[state.here.id] = state.here;
  try {
    for (const store of await api("inventory", "/stores")) {
      state.places[store.id] = store;
      for (const stall of store.stalls || []) state.places[stall.id] = { ...stall, parent_id: store.id, kind: "stall" };
    }
  } catch { /* names only: the ids still work */ }
}

const stallsHere = () => state.here.kind === "market"
  ? Object.values(state.places).filter((p) => p.kind === "stall" && p.parent_id === state.here.id) : [];

// ------------------------------------------------------------------ layout
function layout() {
  const tabs = ["orders", "deals", "stock", "hours", "returns"];
  const nav = h("nav", { class: "tabs", role: "tablist", "aria-label": t("counter.title") },
    ...tabs.map((tab) => h("button", {
      type: "button", role: "tab", id: `tab-${tab}`, "aria-controls": `panel-${tab}`,
      "aria-selected": String(state.tab === tab), "data-i18n": `tab.${tab}`,
      onclick: () => { state.tab = tab; layout(); },
    }, t(`tab.${tab}`))));
  const live = h("span", { class: "live", id: "live", role: "status" }, t("live.off"));
  const head = h("section", { class: "card spread place", "aria-labelledby": "place-name" },
    h("div", {},
      h("h2", { id: "place-name" }, `${named(state.here)} `,
        h("span", { class: "badge" }, t(`kind.${state.here.kind}`))),
      state.here.kind === "market" ? h("p", { class: "muted" }, stallsHere().map((s) => named(s)).join(" · ")) : null),
    h("div", { class: "row" }, live, pauseSwitch(), state.me.role === "admin" ? changePlace() : null));
  const panel = h("section", { id: `panel-${state.tab}`, role: "tabpanel", "aria-labelledby": `tab-${state.tab}` });
  main.replaceChildren(head, nav, panel);
  state.badge = liveBadge(live);
  state.badge(state.live ?? false);
  ({ orders: drawOrders, deals: drawDeals, stock: drawStock, hours: drawHours, returns: drawReturns })[state.tab](panel);
}

function changePlace() {
  const button = h("button", { type: "button", class: "ghost dark", id: "change-place" }, t("place.change"));
  button.addEventListener("click", () => {
    localStorage.removeItem("linli.counter.store");
    location.replace(location.pathname);
  });
  return button;
}

function pauseSwitch() {
  const paused = state.here.paused;
  const button = h("button", { type: "button", id: "pause", class: paused ? "danger" : "", "aria-pressed": String(paused) },
    t(paused ? "resume" : "pause"));
  button.addEventListener("click", () => act(button, async () => {
    state.here = await api("inventory", `/locations/${state.here.id}`, { method: "PATCH", body: { paused: !paused }, key: true });
    toast(t(state.here.paused ? "paused.done" : "resumed.done"), "good");
    layout();
  }));
  return h("div", { class: "row" },
    h("span", { class: `badge ${paused ? "bad" : "good"}`, id: "paused-state" }, t(paused ? "paused.on" : "paused.off")), button);
}

// ------------------------------------------------------------------ group buys
// A closed deal's consolidated order is picked as one order and packed one labelled bag per participant.
const dealBase = (dealId) => `/stores/${encodeURIComponent(state.here.id)}/group-buys/${encodeURIComponent(dealId)}`;

async function drawDeals(panel) {
  if (state.deal) return drawDeal(panel, state.deal);
  const here = encodeURIComponent(state.here.id);
  const [proposed, deals] = await Promise.all([
    act(null, () => api("orders", `/group-buys?store_id=${here}&status=proposed`)),
    act(null, () => api("inventory", `/stores/${here}/group-buys`)),
  ]);
  fill(panel, h("h2", {}, t("deals.proposed")),
    (proposed || []).length ? null : h("p", { class: "muted" }, t("deals.proposed.none")),
    ...(proposed || []).map((d) => proposedCard(panel, d)),
    h("h2", {}, t("deals.title")),
    (deals || []).length ? null : h("p", { class: "muted" }, t("deals.none")),
    ...(deals || []).map((d) => {
      const open = h("button", { type: "button", class: "primary" }, t("deals.open"));
      open.addEventListener("click", () => { state.deal = d.deal_id; drawDeal(panel, d.deal_id); });
      return h("article", { class: "card spread", "data-deal": d.deal_id },
        h("div", {}, h("h3", {}, t("deal.title", { id: short(d.deal_id) })),
          d.note ? h("p", { class: "muted" }, d.note) : null,
          h("p", {}, t("deals.progress", { packed: d.packed, bags: d.bags }))), open);
    }));
}

/** A leader's deal waiting for this shop's answer: what it offers, at what price and cap, and until when. */
function proposedCard(panel, d) {
  const accept = h("button", { type: "button", class: "primary", id: `deal-accept-${d.id}` }, t("deal.accept"));
  accept.addEventListener("click", () => act(accept, async () => {
    await api("orders", `/group-buys/${encodeURIComponent(d.id)}/accept`, { method: "POST", key: true });
    toast(t("deal.accepted"), "good");
    await drawDeals(panel);
  }));
  const reason = h("input", { id: `deal-reason-${d.id}`, required: true, maxlength: 300, placeholder: t("reject.placeholder") });
  const decline = h("form", { class: "row" }, ...field(`deal-reason-${d.id}`, t("deal.decline.reason"), reason),
    h("button", { type: "submit", class: "danger" }, t("deal.decline")));
  decline.addEventListener("submit", (e) => {
    e.preventDefault();
    act(null, async () => {
      await api("orders", `/group-buys/${encodeURIComponent(d.id)}/decline`, { method: "POST", key: true, body: { reason: reason.value.trim() } });
      toast(t("deal.declined"), "good");
      await drawDeals(panel);
    });
  });
  return h("article", { class: "card", "data-proposed": d.id },
    h("div", { class: "spread" }, h("h3", {}, d.title), h("span", { class: "badge" }, t("deal.by", { leader: d.leader }))),
    h("ul", {}, d.items.map((i) => h("li", {}, h("strong", {}, named(i)),
      ` · ${t("deal.offer", { price: fen(i.group_price_fen), shelf: fen(i.shelf_price_fen), cap: i.cap })}`))),
    h("p", {}, t("deal.cutoff", { time: timeOf(d.cutoff_at), place: d.pickup.name })),
    h("div", { class: "row" }, accept), decline);
}

async function drawDeal(panel, dealId) {
  const answer = await act(null, () => api("inventory", `${dealBase(dealId)}/labels`));
  const back = h("button", { type: "button", class: "ghost dark", id: "deal-back" }, t("deal.back"));
  back.addEventListener("click", () => { state.deal = null; drawDeals(panel); });
  if (!answer) { fill(panel, back); return; }
  const print = h("button", { type: "button", id: "deal-print" }, t("deal.print"));
  print.addEventListener("click", () => preview("labels", t("deal.labels.title", { id: short(dealId) }),
    dealLabelsSheet(answer, { short })));
  fill(panel,
    h("div", { class: "spread" }, h("h2", { id: "deal-title" }, t("deal.title", { id: short(dealId) })), back),
    h("div", { class: "row print-row" }, print),
    ...answer.labels.map((label) => bagCard(panel, dealId, label)));
}

function bagCard(panel, dealId, label) {
  const head = h("div", { class: "spread" },
    h("h3", {}, `${t("deal.label.number", { n: label.number, of: label.of })} · ${label.name}`),
    h("span", { class: `badge ${label.packed ? "good" : ""}` },
      label.packed ? t("deal.packed", { fen: fen(label.goods_fen) }) : t("deal.waiting")));
  const helper = label.helper ? h("p", { class: "muted" }, t("deal.label.helper", { helper: label.helper })) : null;
  const card = h("article", { class: "card bag", "data-bag": String(label.number) }, head, helper);
  if (label.packed) {
    card.append(h("ul", {}, label.items.map((item) => h("li", {}, h("strong", {}, named(item)), ` · ${dealItemText(item)}`))));
    return card;
  }
  const rows = label.items.map((item) => {
    const id = `bag-${label.number}-line-${item.line_no}`;
    const filled = h("input", { type: "checkbox", id: `${id}-filled`, checked: true });
    const weight = item.unit === "g" ? number(`${id}-weight`, { min: 1, max: 100000, required: true }) : null;
    filled.addEventListener("change", () => { if (weight) { weight.disabled = !filled.checked; weight.required = filled.checked; } });
    return { item, filled, weight, el: h("li", { class: "row" },
      h("strong", {}, named(item)), ` · ${dealItemText(item)}`,
      h("label", { for: `${id}-filled` }, filled, ` ${t("deal.filled")}`),
      ...(weight ? field(`${id}-weight`, t("deal.weight"), weight) : [])) };
  });
  const go = h("button", { type: "submit", class: "primary", id: `bag-${label.number}-pack` }, t("deal.pack", { n: label.number }));
  const form = h("form", { class: "pack" }, h("ul", {}, rows.map((r) => r.el)), go);
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    act(go, async () => {
      const lines = rows.map((r) => ({ line_no: r.item.line_no, filled: r.filled.checked ? "filled" : "not_filled",
        ...(r.weight && r.filled.checked ? { weight_g: Number(r.weight.value) } : {}) }));
      const done = await api("inventory", `${dealBase(dealId)}/bags/${label.number}/packed`, { method: "POST", key: true, body: { lines } });
      toast(done.bags_left ? t("deal.packed.done", { n: label.number }) : t("deal.all.packed"), "good");
      announce(t("deal.packed.done", { n: label.number }));
      await drawDeal(panel, dealId);
    });
  });
  card.append(form);
  return card;
}

// ------------------------------------------------------------------ live
function follow() {
  stream("inventory", `/stores/${encodeURIComponent(state.here.id)}/live`, {
    queue: (data) => {
      state.queue = data.queue || [];
      state.scheduled = data.scheduled || [];
      state.receivedAt = Date.now();
      noticeNew();
      if (state.tab === "orders") redrawOrders();
      if (state.open) loadPick(state.open, true);
    },
  }, (on) => { state.live = on; if (state.badge) state.badge(on); });
}

function noticeNew() {
  const fresh = state.queue.filter((p) => p.status === "waiting" && !state.seen.has(p.order_id));
  for (const p of state.queue) state.seen.add(p.order_id);
  if (!state.first && fresh.length) announce(t("order.new", { id: short(fresh[0].order_id) }));
  state.first = false;
}

// ------------------------------------------------------------------ orders
function byOrder(parts) {
  const orders = new Map();
  for (const p of parts) {
    if (!orders.has(p.order_id)) orders.set(p.order_id, []);
    orders.get(p.order_id).push(p);
  }
  return [...orders.values()];
}

const RANK = { waiting: 0, accepted: 1, picking: 1, packed: 2 };

function drawOrders(panel) {
  const scan = scanButton({ id: "scan-code", kinds: ["pickup"], label: t("scan.counter"), onCode: handOverScanned });
  panel.replaceChildren(scan ? h("div", { class: "row scan-row" }, scan, h("span", { class: "muted" }, t("scan.counter.help"))) : "",
    h("div", { class: "counter" },
    h("div", { id: "queue", "aria-live": "polite" }), h("aside", { id: "pick", class: "pick", "aria-live": "polite" })));
  redrawOrders();
  drawPick();
}

/** Redraw `el` without losing what staff are typing: values and focus are carried over by element id. */
function keeping(el, draw) {
  const typed = new Map([...el.querySelectorAll("input[id], select[id]")].map((i) => [i.id, i.value]));
  const focused = el.contains(document.activeElement) ? document.activeElement.id : null;
  draw();
  for (const [id, value] of typed) {
    const input = document.getElementById(id);
    if (input && el.contains(input) && value !== "" && input.value !== value) input.value = value;
  }
  if (focused) document.getElementById(focused)?.focus();
}

function redrawOrders() {
  const el = document.getElementById("queue");
  if (!el) return;
  keeping(el, () => drawQueue(el));
}

function drawQueue(el) {
  const groups = [[], [], []];
  for (const parts of byOrder(state.queue)) groups[Math.min(...parts.map((p) => RANK[p.status] ?? 1))].push(parts);
  const section = (key, orders, draw) => h("section", { class: "lane", "aria-labelledby": `lane-${key}` },
    h("h2", { id: `lane-${key}` }, `${t(`queue.${key}`)} (${orders.length})`),
    orders.length ? orders.map(draw) : h("p", { class: "muted" }, t("queue.empty")));
  fill(el,
    section("waiting", groups[0], orderCard), section("working", groups[1], orderCard),
    section("packed", groups[2], orderCard),
    state.scheduled.length ? section("scheduled", byOrder(state.scheduled), scheduledCard) : null);
}

function flagsOf(first) {
  const flags = Object.entries(first.flags || {}).filter(([, on]) => on)
    .map(([name]) => h("span", { class: "badge warn flag" }, t(`flag.${name}`)));
  return [h("span", { class: "badge" }, t(`mode.${first.fulfilment_mode}`)), ...flags];
}

function orderHead(first) {
  return [
    h("div", { class: "spread" },
      h("h3", {}, t("order", { id: short(first.order_id) })),
      h("div", { class: "row" }, ...flagsOf(first))),
    first.slot ? h("p", { class: "muted" }, t("slot", { start: timeOf(first.slot.start), end: timeOf(first.slot.end) })) : null,
    first.note ? h("p", { class: "note" }, t("note", { note: first.note })) : null,
  ];
}

function linesSummary(lines) {
  return h("ul", { class: "lines" }, lines.map((ln) => h("li", {}, `${named(ln)} · ${quantityText(ln)}`)));
}

function orderCard(parts) {
  const first = parts[0];
  const card = h("article", { class: "card order", "data-order": first.order_id, "aria-label": t("order", { id: short(first.order_id) }) },
    ...orderHead(first), ...parts.map((p) => partBlock(p, parts.length > 1 || state.here.kind === "market")));
  const open = h("button", { type: "button", class: "open-pick", "aria-expanded": String(state.open === first.order_id) },
    t("open.pick"));
  open.addEventListener("click", () => loadPick(first.order_id));
  if (parts.some((p) => p.status !== "waiting")) card.append(h("div", { class: "row" }, open));
  if (first.handover_code) {
    card.append(h("div", { class: "code-row" }, h("p", { class: "code" }, t("rider.code", { code: first.handover_code })),
      qrImage(handoverQr(first.order_id), "pickup", first.handover_code, 120)));
  }
  if (first.order_status === "packed" && mayHandOver(first)) card.append(handoverForm(first));
  return card;
}

function partBlock(part, showPlace) {
  const block = h("div", { class: `part ${part.status}`, "data-part": part.location_id },
    h("div", { class: "spread" },
      h("strong", {}, showPlace ? placeName(part.location_id) : ""),
      h("span", { class: `badge ${part.status === "waiting" ? "warn" : "good"}` }, t(`part.status.${part.status}`))),
    linesSummary(part.lines));
  if (part.status === "waiting") {
    const left = h("span", { class: "countdown", role: "timer", "aria-label": t("accept.left") });
    countdown(left, new Date(state.receivedAt + (part.seconds_left ?? 0) * 1000).toISOString());
    const accept = h("button", { type: "button", class: "primary" }, t("accept"));
    accept.addEventListener("click", () => act(accept, async () => {
      await api("inventory", `/stores/${part.location_id}/orders/${part.order_id}/accept`, { method: "POST", key: true });
      toast(t("accepted"), "good");
    }));
    const key = `${part.order_id}/${part.location_id}`;
    const reject = state.rejecting.has(key) ? rejectForm(part) : h("button", { type: "button", class: "danger" }, t("reject"));
    reject.addEventListener("click", () => {
      if (reject.tagName !== "BUTTON") return;
      state.rejecting.add(key);
      const form = rejectForm(part);
      reject.replaceWith(form);
      form.querySelector("input").focus();
    });
    block.append(h("div", { class: "row" }, h("span", {}, `${t("accept.left")}: `), left, accept, reject));
  } else if (part.status === "accepted") {
    const others = part.order_status === "held";  // picking starts once every stall has accepted
    const go = h("button", { type: "button", class: "primary", disabled: others }, t("start.picking"));
    if (others) block.append(h("p", { class: "muted" }, t("wait.others")));
    go.addEventListener("click", () => act(go, async () => {
      await api("inventory", `/stores/${part.location_id}/orders/${part.order_id}/picking`, { method: "POST", key: true });
      toast(t("picking.started"), "good");
      await loadPick(part.order_id);
    }));
    block.append(h("div", { class: "row" }, go));
  }
  return block;
}

function rejectForm(part) {
  const id = `reject-${part.order_id}-${part.location_id}`;
  const input = h("input", { id, maxlength: 300, placeholder: t("reject.placeholder") });
  const go = h("button", { type: "submit", class: "danger" }, t("reject.confirm"));
  const form = h("form", { class: "inline" }, ...field(id, t("reject.reason"), input), go);
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    act(go, async () => {
      await api("inventory", `/stores/${part.location_id}/orders/${part.order_id}/reject`,
        { method: "POST", body: { note: input.value.trim() || null }, key: true });
      state.rejecting.delete(`${part.order_id}/${part.location_id}`);
      toast(t("rejected"), "good");
    });
  });
  return form;
}

function scheduledCard(parts) {
  const first = parts[0];
  return h("article", { class: "card order scheduled", "data-order": first.order_id },
    ...orderHead(first),
    first.release_at ? h("p", { class: "muted" }, t("release", { time: timeOf(first.release_at) })) : null,
    ...parts.map((p) => h("div", { class: "part" }, state.here.kind === "market" ? h("strong", {}, placeName(p.location_id)) : null,
      linesSummary(p.lines))));
}

const mayHandOver = (part) => state.here.id === part.store_id;
const handoverQr = (orderId) =>
  `${config.urls.inventory || ""}/stores/${encodeURIComponent(state.here.id)}/orders/${encodeURIComponent(orderId)}/handover-code.svg`;

/** A scanned pickup QR names its order: fill that order's handover form and send it as if typed. */
function handOverScanned(found) {
  const input = found.order ? document.getElementById(`code-${found.order}`) : null;
  if (!input) {
    toast(found.order ? t("scan.not_here", { id: short(found.order) }) : t("scan.need_order"), "error");
    return;
  }
  input.value = found.code;
  input.closest("article")?.scrollIntoView({ block: "center" });
  input.form.requestSubmit();
}

function handoverForm(part) {
  const id = `code-${part.order_id}`;
  const code = h("input", { id, inputmode: "numeric", autocomplete: "off", maxlength: 20, required: true });
  const to = h("select", { id: `to-${part.order_id}` },
    h("option", { value: part.fulfilment_mode === "pickup" ? "shopper" : "rider" },
      t(part.fulfilment_mode === "pickup" ? "handover.to.shopper" : "handover.to.rider")),
    h("option", { value: part.fulfilment_mode === "pickup" ? "rider" : "shopper" },
      t(part.fulfilment_mode === "pickup" ? "handover.to.rider" : "handover.to.shopper")));
  const go = h("button", { type: "submit", class: "primary" }, t("handover.submit"));
  // A pay-on-delivery order collected here (no rider came) is paid at the counter, in cash.
  const paysHere = Boolean(part.flags?.pay_on_delivery);
  const cash = h("input", { id: `cash-${part.order_id}`, type: "number", min: "0", step: "0.01", inputmode: "decimal" });
  const form = h("form", { class: "handover" }, h("h4", {}, t("handover.title")),
    h("div", { class: "grid2" },
      h("div", {}, ...field(id, t("handover.code"), code)),
      h("div", {}, ...field(`to-${part.order_id}`, t("handover.to"), to)),
      paysHere ? h("div", {}, ...field(`cash-${part.order_id}`, t("handover.cash"), cash)) : null), go);
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    act(go, async () => {
      await api("inventory", `/stores/${part.store_id}/orders/${part.order_id}/handover`,
        { method: "POST", key: true, body: { code: code.value.trim(), to: to.value,
          ...(paysHere && to.value === "shopper" && cash.value !== "" ? { cash_collected_fen: Math.round(Number(cash.value) * 100) } : {}) } });
      toast(t("handover.done"), "good");
      if (state.open === part.order_id) { state.open = null; state.pick = null; drawPick(); }
    });
  });
  return form;
}

// ------------------------------------------------------------------ pick list
function quantityText(ln) {
  if (ln.unit === "g") return t("line.grams", { g: ln.quantity, n: ln.pieces });
  return t("line.pieces", { n: ln.quantity });
}

async function loadPick(orderId, quiet = false) {
  const before = state.pick && state.pick.order_id === orderId ? state.pick : null;
  try {
    state.pick = await api("inventory", `/stores/${state.here.id}/orders/${orderId}/pick-list`);
    state.open = orderId;
  } catch (e) {
    if (e.status === 404) { state.open = null; state.pick = null; } else if (!quiet) toast(e.message, "error");
  }
  if (before && state.pick) {
    const was = new Map(allLines(before).map((ln) => [ln.line_no, ln.state]));
    for (const ln of allLines(state.pick)) {
      const old = was.get(ln.line_no);
      if ((old === "weight_pending" || old === "substitute_pending") && old !== ln.state) {
        announce(t("answered.live", { n: ln.line_no }));
        toast(t("answered.live", { n: ln.line_no }), "good");
      }
    }
  }
  drawPick();
  if (!quiet) redrawOrders();
}

const allLines = (pick) => pick.stalls.flatMap((s) => s.categories.flatMap((c) => c.lines));
const partOf = (orderId, locationId) => state.queue.find((p) => p.order_id === orderId && p.location_id === locationId);

function drawPick() {
  const el = document.getElementById("pick");
  if (el) keeping(el, () => drawPickIn(el));
}

function drawPickIn(el) {
  const pick = state.pick;
  if (!pick) { el.replaceChildren(h("p", { class: "muted" }, t("pick.none"))); return; }
  const close = h("button", { type: "button", class: "ghost dark" }, t("pick.close"));
  close.addEventListener("click", () => { state.open = null; state.pick = null; drawPick(); redrawOrders(); });
  const print = h("button", { type: "button", id: "print-list" }, t("print.list"));
  print.addEventListener("click", () => printList(pick, null));
  const packedHere = pick.stalls.some((s) => partOf(pick.order_id, s.location_id)?.status === "packed");
  const labels = packedHere ? h("button", { type: "button", id: "print-labels" }, t("print.labels")) : null;
  if (labels) labels.addEventListener("click", () => act(labels, () => printLabels(pick.order_id)));
  fill(el,
    h("div", { class: "spread" }, h("h2", { id: "pick-title" }, t("pick.title", { id: short(pick.order_id) })), close),
    h("div", { class: "row print-row" }, print, labels),
    h("div", { class: "row" }, ...flagsOf(pick)),
    pick.note ? h("p", { class: "note" }, t("note", { note: pick.note })) : null,
    ...pick.stalls.map((stall) => stallBlock(pick, stall)),
    historyOf(pick));
}

function stallBlock(pick, stall) {
  const part = partOf(pick.order_id, stall.location_id);
  const picking = part && part.status === "picking";
  let printPart = null;
  if (pick.stalls.length > 1) {
    printPart = h("button", { type: "button", class: "small", "data-print-part": stall.location_id }, t("print.part"));
    printPart.addEventListener("click", () => printList(pick, stall.location_id));
  }
  return h("section", { class: "stall", "aria-label": placeName(stall.location_id) },
    stall.location_id !== state.here.id || pick.stalls.length > 1
      ? h("div", { class: "spread" }, h("h3", {}, placeName(stall.location_id)), printPart) : null,
    ...stall.categories.map((cat) => h("div", {},
      cat.category ? h("h4", { class: "muted" }, cat.category) : null,
      h("ul", { class: "pick-lines" }, cat.lines.map((ln) => lineRow(pick, ln, picking))))),
    part && part.status === "picking" ? packForm(pick, stall) : null,
    part && part.status === "packed" ? h("p", { class: "badge good" }, t("packed.done")) : null);
}

// ------------------------------------------------------------------ printing
const printNames = {
  place: placeName, product: (ln) => named(ln), quantity: (ln) => quantityText(ln), short, qr: (id) => handoverQr(id),
};

function printList(pick, only) {
  const title = only ? `${t("print.list.title", { id: short(pick.order_id) })} · ${placeName(only)}`
    : t("print.list.title", { id: short(pick.order_id) });
  preview("list", title, pickListSheet(pick, only, printNames));
}

async function printLabels(orderId) {
  const answer = await api("inventory", `/stores/${encodeURIComponent(state.here.id)}/orders/${encodeURIComponent(orderId)}/labels`);
  preview("labels", t("print.labels.title", { id: short(orderId) }), labelsSheet(answer, printNames));
}

function lineState(ln) {
  const kind = { reserved: "", picked: "good", substituted: "good", weight_pending: "warn", substitute_pending: "warn" }[ln.state] ?? "bad";
  return h("span", { class: `badge ${kind} state`, "data-state": ln.state }, t(`line.state.${ln.state}`));
}

function lineRow(pick, ln, picking) {
  const row = h("li", { class: `pick-line ${ln.state}`, "data-line": ln.line_no },
    h("div", { class: "spread" },
      h("strong", {}, `${ln.line_no}. ${named(ln)}`), lineState(ln)),
    h("div", { class: "muted" }, t("line.ordered", { qty: quantityText(ln) }), " · ",
      t("line.estimate", { price: fen(ln.estimated_fen) }), ln.barcode ? ` · ${ln.barcode}` : ""),
    preference(ln));
  if (ln.state === "picked") {
    row.append(h("div", {}, t("line.picked.as", { qty: ln.unit === "g" ? `${ln.picked_quantity} g` : ln.picked_quantity,
      price: fen(ln.charged_fen) })));
  }
  if (ln.state === "weight_pending") row.append(h("div", { class: "pending" }, t("line.pending.weight", { g: ln.pending_quantity })));
  if (ln.substitute) {
    const s = ln.substitute;
    row.append(h("div", {}, t("line.substitute", { name: named(s), qty: s.unit === "g" ? `${s.quantity} g` : s.quantity,
      price: fen(s.price_fen) })));
  }
  if (picking && ln.state === "reserved") row.append(lineActions(pick, ln));
  return row;
}

function preference(ln) {
  const pref = ln.substitution || {};
  if (!pref.mode) return null;
  const name = pref.product_id ? (pref.product_id) : "";
  return h("div", { class: "muted small" }, t(`line.pref.${pref.mode}`, { name }));
}

function lineActions(pick, ln) {
  const base = `/stores/${ln.location_id}/orders/${pick.order_id}/lines/${ln.line_no}`;
  const box = h("div", { class: "actions" });
  const picked = h("button", { type: "submit", class: "primary" }, t("picked"));
  const form = h("form", { class: "row pick-form" });
  let weight = null;
  if (ln.unit === "g") {
    const id = `weight-${pick.order_id}-${ln.line_no}`;
    weight = number(id, { min: 1, max: 100000, required: true, placeholder: String(ln.quantity) });
    form.append(h("label", { for: id }, t("weight")), weight);
  }
  form.append(picked);
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    act(picked, async () => {
      await api("inventory", `${base}/picked`, { method: "POST", key: true,
        body: weight ? { weight_g: Number(weight.value) } : {} });
      await loadPick(pick.order_id, true);
    });
  });
  const out = h("button", { type: "button" }, t("out.of.stock"));
  out.addEventListener("click", () => act(out, async () => {
    await api("inventory", `${base}/out-of-stock`, { method: "POST", key: true });
    await loadPick(pick.order_id, true);
  }));
  const sub = h("button", { type: "button", "aria-expanded": "false" }, t("substitute"));
  const key = `${pick.order_id}/${ln.line_no}`;
  const openSubstitute = async () => {
    state.substituting.add(key);
    sub.setAttribute("aria-expanded", "true");
    const chooser = await substituteForm(pick, ln, base);
    if (sub.isConnected) sub.replaceWith(chooser);
    return chooser;
  };
  sub.addEventListener("click", async () => (await openSubstitute()).querySelector("select").focus());
  if (state.substituting.has(key)) openSubstitute();
  box.append(form, h("div", { class: "row" }, out, sub));
  return box;
}

async function substituteForm(pick, ln, base) {
  const products = (await act(null, () => api("inventory", `/locations/${ln.location_id}/stock`))) || [];
  const id = `sub-${pick.order_id}-${ln.line_no}`;
  const select = h("select", { id, required: true },
    h("option", { value: "" }, t("substitute.choose")),
    products.filter((p) => p.id !== ln.product_id && p.active && p.available > 0).map((p) =>
      h("option", { value: p.id, "data-unit": p.unit, "data-gpp": p.grams_per_piece || "" },
        `${named(p)} · ${p.unit === "g" ? t("line.price.kg", { price: fen(p.price_fen) }) : t("line.price.piece", { price: fen(p.price_fen) })}`)));
  const qty = number(`${id}-qty`, { min: 1, max: 100000, required: true, value: String(ln.unit === "g" ? ln.quantity : ln.quantity) });
  select.addEventListener("change", () => {
    const opt = select.selectedOptions[0];
    if (opt && opt.dataset.unit === "g") qty.value = String((Number(opt.dataset.gpp) || 500) * (ln.pieces || 1));
    else if (opt) qty.value = String(ln.pieces || ln.quantity);
  });
  const go = h("button", { type: "submit", class: "primary" }, t("substitute.propose"));
  const form = h("form", { class: "substitute" }, ...field(id, t("substitute.product"), select),
    ...field(`${id}-qty`, t("substitute.quantity"), qty), go);
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    act(go, async () => {
      await api("inventory", `${base}/substitute`, { method: "POST", key: true,
        body: { product_id: select.value, quantity: Number(qty.value) } });
      state.substituting.delete(`${pick.order_id}/${ln.line_no}`);
      await loadPick(pick.order_id, true);
    });
  });
  return form;
}

function packForm(pick, stall) {
  const lines = stall.categories.flatMap((c) => c.lines);
  const ready = lines.every((ln) => ["picked", "out_of_stock", "substituted", "refunded"].includes(ln.state));
  const id = `pack-${pick.order_id}-${stall.location_id}`;
  const grams = lines.reduce((sum, ln) => sum + (ln.state === "picked" && ln.unit === "g" ? ln.picked_quantity : 0), 0);
  const bags = number(`${id}-bags`, { min: 0, max: 100, required: true, value: "1" });
  const weight = number(`${id}-weight`, { min: 0, max: 1000000, required: true, value: String(grams || "") });
  const go = h("button", { type: "submit", class: "primary", disabled: !ready }, t("packed"));
  const form = h("form", { class: "pack card" }, h("h4", {}, t("pack.title", { place: placeName(stall.location_id) })),
    h("div", { class: "grid2" }, h("div", {}, ...field(`${id}-bags`, t("bags"), bags)),
      h("div", {}, ...field(`${id}-weight`, t("pack.weight"), weight))),
    ready ? null : h("p", { class: "muted" }, t("pack.waiting")), go);
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    act(go, async () => {
      await api("inventory", `/stores/${stall.location_id}/orders/${pick.order_id}/packed`, { method: "POST", key: true,
        body: { bags: Number(bags.value), weight_g: Number(weight.value) } });
      toast(t("packed.done"), "good");
    });
  });
  return form;
}

function historyOf(pick) {
  if (!pick.history || !pick.history.length) return null;
  return h("details", { class: "history" }, h("summary", {}, t("history")),
    h("ol", { class: "timeline" }, pick.history.map((e) => h("li", {},
      t("history.entry", { time: timeOf(e.at), n: e.line_no, action: e.action, actor: e.actor })))));
}

// ------------------------------------------------------------------ stock and catalog
function placeChooser(id, onChange) {
  if (state.here.kind !== "market") return null;
  const select = h("select", { id }, stallsHere().map((s) =>
    h("option", { value: s.id, selected: s.id === state.stockPlace }, named(s))));
  select.addEventListener("change", () => onChange(select.value));
  return h("div", { class: "chooser" }, ...field(id, t("stock.place"), select));
}

async function drawStock(panel) {
  panel.replaceChildren(h("p", { class: "muted" }, t("loading")));
  const rows = await act(null, () => api("inventory", `/locations/${state.here.id}/stock`));
  if (!rows) return;
  state.stock = rows;
  const body = h("tbody", {}, rows.map((r) => stockRow(r, panel)));
  const table = h("table", { class: "stock" }, h("caption", { class: "sr-only" }, t("stock.title")),
    h("thead", {}, h("tr", {}, ...["stock.name", "stock.price", "stock.on_hand", "stock.reserved", "stock.available", ""]
      .map((k) => h("th", { scope: "col" }, k ? t(k) : "")))), body);
  panel.replaceChildren(h("h2", {}, t("stock.title")), table, newProductForm(panel));
}

const unitText = (unit) => t(unit === "g" ? "stock.unit.g" : "stock.unit.piece");

function stockRow(r, panel) {
  const low = r.low_stock_threshold !== null && r.available < r.low_stock_threshold;
  const manage = h("button", { type: "button", "aria-expanded": "false" }, t("stock.manage"));
  const tr = h("tr", { "data-product": r.id },
    h("th", { scope: "row" }, named(r), state.here.kind === "market" ? h("div", { class: "muted small" }, placeName(r.location_id)) : null,
      low ? h("span", { class: "badge bad" }, t("stock.low")) : null, r.active ? null : h("span", { class: "badge" }, t("stock.inactive"))),
    h("td", {}, r.unit === "g" ? t("line.price.kg", { price: fen(r.price_fen) }) : t("line.price.piece", { price: fen(r.price_fen) })),
    h("td", {}, `${r.on_hand} ${unitText(r.unit)}`), h("td", {}, `${r.reserved}`), h("td", {}, `${r.available}`),
    h("td", {}, manage));
  manage.addEventListener("click", () => {
    const open = tr.nextElementSibling && tr.nextElementSibling.classList.contains("manage");
    if (open) { tr.nextElementSibling.remove(); manage.setAttribute("aria-expanded", "false"); return; }
    manage.setAttribute("aria-expanded", "true");
    tr.after(h("tr", { class: "manage" }, h("td", { colspan: 6 }, manageForms(r, panel))));
  });
  return tr;
}

function miniForm(id, title, fields, submit) {
  const go = h("button", { type: "submit", class: "primary" }, title);
  const form = h("form", { class: "mini", id }, ...fields, go);
  form.addEventListener("submit", (e) => { e.preventDefault(); act(go, submit); });
  return form;
}

function manageForms(r, panel) {
  const p = `m-${r.id}`;
  const qty = number(`${p}-qty`, { min: 1, required: true });
  const note = h("input", { id: `${p}-note`, maxlength: 200 });
  const delta = number(`${p}-delta`, { required: true });
  const why = h("input", { id: `${p}-why`, maxlength: 200, required: true });
  const price = h("input", { id: `${p}-price`, type: "number", step: "0.01", min: 0, required: true,
    value: (r.price_fen / 100).toFixed(2), inputmode: "decimal" });
  const done = async () => { toast(t("saved"), "good"); await drawStock(panel); };
  const toggle = h("button", { type: "button" }, t(r.active ? "active.toggle.off" : "active.toggle.on"));
  toggle.addEventListener("click", () => act(toggle, async () => {
    await api("inventory", `/products/${r.id}`, { method: "PATCH", body: { active: !r.active }, key: true });
    await done();
  }));
  return h("div", { class: "grid manage-forms" },
    miniForm(`${p}-restock`, t("restock"), [...field(`${p}-qty`, `${t("restock.quantity")} (${unitText(r.unit)})`, qty),
      ...field(`${p}-note`, t("restock.reason"), note)], async () => {
      await api("inventory", `/products/${r.id}/restock`, { method: "POST", key: true,
        body: { quantity: Number(qty.value), reason: note.value.trim() } });
      await done();
    }),
    miniForm(`${p}-adjust`, t("adjust"), [...field(`${p}-delta`, `${t("adjust.delta")} (${unitText(r.unit)})`, delta),
      ...field(`${p}-why`, t("adjust.reason"), why)], async () => {
      await api("inventory", `/products/${r.id}/adjust`, { method: "POST", key: true,
        body: { delta: Number(delta.value), reason: why.value.trim() } });
      await done();
    }),
    miniForm(`${p}-priceform`, t("price.set"), [...field(`${p}-price`, t("price.yuan"), price)], async () => {
      await api("inventory", `/products/${r.id}`, { method: "PATCH", key: true,
        body: { price_fen: Math.round(Number(price.value) * 100) } });
      await done();
    }),
    h("div", {}, toggle));
}

function newProductForm(panel) {
  const p = "np";
  if (state.here.kind === "market" && !state.stockPlace) state.stockPlace = stallsHere()[0]?.id || null;
  const nameZh = h("input", { id: `${p}-zh`, required: true, maxlength: 100 });
  const nameEn = h("input", { id: `${p}-en`, required: true, maxlength: 100 });
  const category = h("input", { id: `${p}-cat`, required: true, maxlength: 50 });
  const unit = h("select", { id: `${p}-unit` }, h("option", { value: "piece" }, t("product.unit.piece")),
    h("option", { value: "g" }, t("product.unit.g")));
  const price = h("input", { id: `${p}-price`, type: "number", step: "0.01", min: 0, required: true, inputmode: "decimal" });
  const gpp = number(`${p}-gpp`, { min: 1 });
  const onHand = number(`${p}-onhand`, { min: 0 });
  const chooser = placeChooser("np-place", (id) => { state.stockPlace = id; });
  const form = miniForm("new-product", t("product.create"), [
    chooser,
    h("div", { class: "grid2" }, h("div", {}, ...field(`${p}-zh`, t("product.name_zh"), nameZh)),
      h("div", {}, ...field(`${p}-en`, t("product.name_en"), nameEn)),
      h("div", {}, ...field(`${p}-cat`, t("product.category"), category)),
      h("div", {}, ...field(`${p}-unit`, t("product.unit"), unit)),
      h("div", {}, ...field(`${p}-price`, t("price.yuan"), price)),
      h("div", {}, ...field(`${p}-gpp`, t("product.grams_per_piece"), gpp)),
      h("div", {}, ...field(`${p}-onhand`, t("product.on_hand"), onHand)))], async () => {
    const where = state.here.kind === "market" ? state.stockPlace : state.here.id;
    await api("inventory", `/locations/${where}/products`, { method: "POST", key: true, body: {
      name_zh: nameZh.value.trim(), name_en: nameEn.value.trim(), category: category.value.trim(), unit: unit.value,
      price_fen: Math.round(Number(price.value) * 100), grams_per_piece: gpp.value ? Number(gpp.value) : null,
      on_hand: onHand.value ? Number(onHand.value) : null } });
    toast(t("saved"), "good");
    await drawStock(panel);
  });
  return h("section", { class: "card", "aria-labelledby": "np-title" }, h("h3", { id: "np-title" }, t("product.new")), form);
}

// ------------------------------------------------------------------ hours
async function drawHours(panel, which) {
  const id = which || (state.here.kind === "market" ? state.hoursPlace || state.here.id : state.here.id);
  state.hoursPlace = id;
  const place = id === state.here.id ? state.here : await act(null, () => api("inventory", `/locations/${id}`));
  if (!place) return;
  const windows = (place.windows || []).map((w) => ({ ...w }));
  const list = h("div", { class: "windows" });
  const draw = () => {
    list.replaceChildren(...(windows.length ? windows.map((w, i) => {
      const day = h("select", { id: `w-${i}-day` }, [0, 1, 2, 3, 4, 5, 6].map((d) =>
        h("option", { value: d, selected: d === w.day }, t(`day.${d}`))));
      const opens = h("input", { id: `w-${i}-opens`, type: "time", value: (w.opens || "").slice(0, 5), required: true });
      const closes = h("input", { id: `w-${i}-closes`, type: "time", value: (w.closes || "").slice(0, 5), required: true });
      day.addEventListener("change", () => { w.day = Number(day.value); });
      opens.addEventListener("change", () => { w.opens = opens.value; });
      closes.addEventListener("change", () => { w.closes = closes.value; });
      const remove = h("button", { type: "button", "aria-label": `${t("hours.remove")} ${t(`day.${w.day}`)}` }, t("hours.remove"));
      remove.addEventListener("click", () => { windows.splice(i, 1); draw(); });
      return h("div", { class: "window row" }, h("div", {}, ...field(`w-${i}-day`, t("hours.day"), day)),
        h("div", {}, ...field(`w-${i}-opens`, t("hours.opens"), opens)),
        h("div", {}, ...field(`w-${i}-closes`, t("hours.closes"), closes)), remove);
    }) : [h("p", { class: "muted" }, t("hours.always"))]));
  };
  draw();
  const add = h("button", { type: "button" }, t("hours.add"));
  add.addEventListener("click", () => { windows.push({ day: 0, opens: "08:00", closes: "20:00" }); draw(); });
  const save = h("button", { type: "submit", class: "primary" }, t("hours.save"));
  const form = h("form", {}, list, h("div", { class: "row" }, add, save));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    act(save, async () => {
      const saved = await api("inventory", `/locations/${id}`, { method: "PATCH", key: true, body: { windows } });
      if (id === state.here.id) state.here = saved;
      toast(t("saved"), "good");
    });
  });
  const chooser = state.here.kind === "market" ? h("div", { class: "chooser" }, ...field("hours-place", t("stock.place"),
    (() => {
      const select = h("select", { id: "hours-place" }, [state.here, ...stallsHere()].map((s) =>
        h("option", { value: s.id, selected: s.id === id }, s.id === state.here.id ? t("whole.market") : named(s))));
      select.addEventListener("change", () => drawHours(panel, select.value));
      return select;
    })())) : null;
  fill(panel, h("h2", {}, t("hours.title")), chooser, h("section", { class: "card" }, form));
}

// ------------------------------------------------------------------ returned bags
function drawReturns(panel) {
  const input = h("input", { id: "return-order", required: true, autocomplete: "off" });
  const find = h("button", { type: "submit", class: "primary" }, t("returns.load"));
  const result = h("div", { id: "return-lines" });
  const form = h("form", { class: "row" }, h("div", { class: "grow" }, ...field("return-order", t("returns.order"), input)), find);
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    act(find, async () => {
      const pick = await api("inventory", `/stores/${state.here.id}/orders/${encodeURIComponent(input.value.trim())}/pick-list`);
      result.replaceChildren(returnForm(pick));
    });
  });
  panel.replaceChildren(h("h2", {}, t("returns.title")), h("section", { class: "card" }, form), result);
}

function returnForm(pick) {
  const lines = allLines(pick).filter((ln) => ["picked", "substituted"].includes(ln.state));
  const inputs = lines.map((ln) => {
    const left = ln.state === "substituted" ? ln.substitute.quantity : ln.picked_quantity;
    const p = `r-${ln.line_no}`;
    const restocked = number(`${p}-back`, { min: 0, value: String(left), required: true });
    const off = number(`${p}-off`, { min: 0, value: "0", required: true });
    const reason = h("input", { id: `${p}-why`, maxlength: 200 });
    const row = h("div", { class: "card" }, h("strong", {}, `${ln.line_no}. ${named(ln.substitute || ln)}`),
      h("span", { class: "muted" }, ` · ${t("returns.left", { qty: left })}`),
      h("div", { class: "grid3" }, h("div", {}, ...field(`${p}-back`, t("returns.restocked"), restocked)),
        h("div", {}, ...field(`${p}-off`, t("returns.written_off"), off)),
        h("div", {}, ...field(`${p}-why`, t("returns.reason"), reason))));
    return { ln, row, restocked, off, reason };
  });
  const go = h("button", { type: "submit", class: "primary" }, t("returns.submit"));
  const form = h("form", {}, h("h3", {}, t("order", { id: short(pick.order_id) })), ...inputs.map((i) => i.row), go);
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    act(go, async () => {
      await api("inventory", `/stores/${pick.store_id}/orders/${pick.order_id}/return`, { method: "POST", key: true,
        body: { lines: inputs.map((i) => ({ line_no: i.ln.line_no, restocked: Number(i.restocked.value),
          written_off: Number(i.off.value), reason: i.reason.value.trim() })) } });
      toast(t("returns.done"), "good");
      form.replaceWith(h("p", { class: "badge good" }, t("returns.done")));
    });
  });
  return form;
}

// ------------------------------------------------------------------ language
document.addEventListener("linli:lang", () => { if (state.here) layout(); translate(); });
await start();
