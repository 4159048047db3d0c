// Group buys in the shopper's app: open deals near home next to the shops (joined, left, countdown), and a
// deal's page to join, change or leave one's share (a helper: the resident's) and, once the deal has
// closed, to show the bag's collection code and its QR at the pickup point.
import { act, addStrings, api, config, fen, h, named, t, toast } from "/app/common/linli.js";
import { qrImage } from "/app/common/codes.js";

addStrings({
  zh: {
    "deals.title": "附近的团购", "deals.none": "附近暂时没有团购。", "deals.joined": "已有 {n} 人参加",
    "deals.left": "剩 {n}", "deals.ends": "还剩 {t} 截止", "deals.ended": "已截止", "deals.view": "看看",
    "deal.pickup": "取货点：{name}", "deal.window": "取货时间：{from} – {to}", "deal.minimum.participants": "满 {n} 人成团",
    "deal.minimum.pieces": "满 {n} 件成团", "deal.rule.return_refund": "过时未取：退回店里并退款",
    "deal.rule.second_window": "过时未取：第二次取货 {from} – {to}", "deal.limit": "每人最多 {n}", "deal.shelf": "原价 {p}",
    "deal.join": "参加并付款", "deal.change": "修改", "deal.leave": "退出并退款", "deal.joined": "已参加",
    "deal.changed": "已修改", "deal.left_ok": "已退出，钱已退回余额", "deal.mine": "我的份额", "deal.paid": "已付 {p}",
    "deal.cash": "到取货点付现金", "deal.cash.due": "取货时付现金 {p}", "deal.packed": "实际 {p}（按打包结算）",
    "deal.status.open": "进行中", "deal.status.closed": "已成团", "deal.status.failed": "未成团，已退款",
    "deal.status.cancelled": "已取消，已退款", "deal.status.proposed": "等店家确认", "deal.status.accepted": "等店家备货",
    "deal.status.declined": "店家未接", "deal.code": "取货码（给团长）", "deal.bag": "第 {n} 号袋",
    "deal.bag.collected": "已取货", "deal.bag.returned": "未取，已退回店里并退款", "deal.commission": "团长佣金 {r}%",
    "code.kind.groupbuy": "团购取货码",
  },
  en: {
    "deals.title": "Group buys nearby", "deals.none": "No group buys near you right now.", "deals.joined": "{n} joined",
    "deals.left": "{n} left", "deals.ends": "closes in {t}", "deals.ended": "closed to joining", "deals.view": "Look",
    "deal.pickup": "Pickup point: {name}", "deal.window": "Pickup: {from} – {to}",
    "deal.minimum.participants": "goes ahead with {n} neighbours", "deal.minimum.pieces": "goes ahead with {n} pieces",
    "deal.rule.return_refund": "Not collected in time: back to the shop, refunded",
    "deal.rule.second_window": "Not collected in time: a second pickup {from} – {to}", "deal.limit": "at most {n} each",
    "deal.shelf": "usually {p}", "deal.join": "Join and pay", "deal.change": "Change", "deal.leave": "Leave, refunded",
    "deal.joined": "Joined", "deal.changed": "Changed", "deal.left_ok": "You left; the money is back on your balance",
    "deal.mine": "My share", "deal.paid": "paid {p}",
    "deal.cash": "Pay in cash at the pickup point", "deal.cash.due": "pay {p} in cash at pickup", "deal.packed": "came to {p} as packed", "deal.status.open": "Open", "deal.status.closed": "Going ahead",
    "deal.status.failed": "Did not go ahead, refunded", "deal.status.cancelled": "Cancelled, refunded",
    "deal.status.proposed": "Waiting for the shop", "deal.status.accepted": "The shop is setting stock aside",
    "deal.status.declined": "The shop declined", "deal.code": "Collection code (for the leader)", "deal.bag": "Bag {n}",
    "deal.bag.collected": "Collected", "deal.bag.returned": "Not collected: back to the shop, refunded",
    "deal.commission": "leader's commission {r}%", "code.kind.groupbuy": "group buy collection code",
  },
});

const when = (iso) => new Date(iso).toLocaleString(undefined, { weekday: "short", hour: "2-digit", minute: "2-digit" });

function countdown(seconds) {
  if (seconds <= 0) return t("deals.ended");
  const hrs = Math.floor(seconds / 3600), mins = Math.floor((seconds % 3600) / 60), secs = seconds % 60;
  const text = hrs ? `${hrs}:${String(mins).padStart(2, "0")}:${String(secs).padStart(2, "0")}` : `${mins}:${String(secs).padStart(2, "0")}`;
  return t("deals.ends", { t: text });
}

// One ticker for every countdown on the page: each element knows when its deal closes.
setInterval(() => {
  for (const el of document.querySelectorAll("[data-closes]")) {
    el.textContent = countdown(Math.max(0, Math.round((Number(el.dataset.closes) - Date.now()) / 1000)));
  }
}, 1000);

function countdownBadge(d) {
  return h("span", { class: "badge warn countdown", "data-closes": String(Date.now() + d.seconds_left * 1000) },
    countdown(d.seconds_left));
}

function dealCard(d, storeName) {
  return h("article", { class: "card deal", "data-deal": d.id },
    h("div", { class: "spread" }, h("span", { class: "name" }, d.title), countdownBadge(d)),
    h("div", { class: "muted" }, storeName(d.store_id), " · ", t("deal.pickup", { name: d.pickup.name })),
    h("div", { class: "facts" },
      h("span", { class: "badge good joined" }, t("deals.joined", { n: d.totals.participants })),
      ...d.items.map((i) => h("span", { class: "badge" }, `${named(i)} ${fen(i.group_price_fen)} · ${t("deals.left", { n: i.remaining })}`))),
    h("a", { href: `#/deal/${encodeURIComponent(d.id)}`, class: "button-link" }, t("deals.view")));
}

/** Open deals whose pickup point is a short walk from home, as cards for the home page. */
export async function dealsNear(where, box, storeName) {
  const q = new URLSearchParams({ lat: where.lat, lon: where.lon });
  const deals = await act(null, () => api("orders", `/group-buys?${q}`));
  if (!deals) return;
  box.replaceChildren(...(deals.length ? deals.map((d) => dealCard(d, storeName)) : [h("p", { class: "muted" }, t("deals.none"))]));
}

function codeCard(d, share) {
  const qr = `${config.urls.orders || ""}${share.collection_qr}`;
  return h("div", { class: "card code-card", id: "deal-code-card" },
    h("div", {}, h("div", { class: "muted" }, t("deal.code"), " · ", t("deal.bag", { n: share.number })),
      h("div", { class: "code", id: "deal-code" }, share.collection_code)),
    qrImage(qr, "groupbuy", share.collection_code));
}

/** A deal's page: what it offers and its rules (shown before joining), the share, and the bag's code. */
export async function showDeal(view, dealId, who, storeName, rerender) {
  const resident = who ? `?resident=${encodeURIComponent(who.id)}` : "";
  const d = await act(null, () => api("orders", `/group-buys/${encodeURIComponent(dealId)}${resident}`));
  if (!d) return;
  const share = d.my_share && d.my_share.status === "joined" ? d.my_share : null;
  const parts = [
    h("h2", {}, d.title),
    h("p", {}, h("span", { class: "badge", id: "deal-status" }, t(`deal.status.${d.status}`)), " ", storeName(d.store_id), " ",
      d.status === "open" ? countdownBadge(d) : null),
    h("p", {}, t("deal.pickup", { name: d.pickup.name }), h("br"), t("deal.window", { from: when(d.window.start), to: when(d.window.end) }),
      h("br"), t(`deal.minimum.${d.minimum_kind}`, { n: d.minimum }), " · ", t("deals.joined", { n: d.totals.participants }),
      h("br"), h("span", { id: "deal-rule" }, d.uncollected === "second_window" && d.second_window
        ? t("deal.rule.second_window", { from: when(d.second_window.start), to: when(d.second_window.end) })
        : t("deal.rule.return_refund")),
      d.totals.leader_commission_bp ? h("span", { class: "muted" }, " · ", t("deal.commission", { r: d.totals.leader_commission_bp / 100 })) : null),
  ];
  if (d.my_share && d.my_share.number && d.my_share.collection_code) parts.push(codeCard(d, d.my_share));
  else if (d.my_share && d.my_share.bag && d.my_share.bag !== "waiting") {
    parts.push(h("p", { class: "card", id: "deal-bag" }, t("deal.bag", { n: d.my_share.number }), " · ", t(`deal.bag.${d.my_share.bag}`)));
  }
  const inputs = {};
  const rows = d.items.map((i) => {
    const mine = share?.items?.[i.product_id] || 0;
    const input = h("input", { type: "number", min: "0", max: String(Math.min(i.per_person_limit, i.remaining + mine)),
      value: String(mine), id: `deal-qty-${i.product_id}`, inputmode: "numeric", disabled: d.status !== "open" });
    inputs[i.product_id] = input;
    return h("div", { class: "card product", "data-product": i.product_id },
      h("div", {}, h("strong", {}, named(i)), h("div", { class: "muted" }, t("deal.shelf", { p: fen(i.shelf_price_fen) }), " · ",
        t("deal.limit", { n: i.per_person_limit }), " · ", t("deals.left", { n: i.remaining }))),
      h("span", { class: "price" }, fen(i.group_price_fen)),
      h("label", { class: "qty" }, h("span", { class: "sr-only" }, named(i)), input));
  });
  parts.push(...rows);
  if (share) {
    const m = share.money;
    const paid = m.payment === "cash_at_pickup" ? t("deal.cash.due", { p: fen(m.due_fen) })
      : t("deal.paid", { p: fen(m.paid_fen + (m.extra_charged_fen || 0) - m.refund_fen) });
    parts.push(h("p", { id: "deal-mine" }, h("strong", {}, t("deal.mine")), " · ", paid,
      share.packed_fen !== null && share.packed_fen !== undefined ? ` · ${t("deal.packed", { p: fen(share.packed_fen) })}` : null));
  }
  // Cash at pickup only where the leader allowed it, chosen when joining (a share keeps how it pays).
  const cash = d.cash_allowed && !share && d.status === "open" ? h("input", { type: "checkbox", id: "deal-cash" }) : null;
  if (cash) parts.push(h("label", { for: "deal-cash", class: "row" }, cash, ` ${t("deal.cash")}`));
  if (d.status === "open") {
    const join = h("button", { type: "button", class: "primary", id: "deal-join" }, share ? t("deal.change") : t("deal.join"));
    join.addEventListener("click", async () => {
      const items = Object.entries(inputs).map(([product_id, el]) => ({ product_id, quantity: Number(el.value) || 0 }))
        .filter((i) => i.quantity > 0);
      if (!items.length) return;
      const payment = cash?.checked || share?.money.payment === "cash_at_pickup" ? "cash_at_pickup" : "balance";
      const body = { items, payment, ...(who ? { on_behalf_of: who.id } : {}) };
      const done = await act(join, () => api("orders", `/group-buys/${encodeURIComponent(dealId)}/share`, { method: "PUT", body }));
      if (done) { toast(share ? t("deal.changed") : t("deal.joined")); rerender(); }
    });
    const row = h("div", { class: "row" }, join);
    if (share) {
      const leave = h("button", { type: "button", id: "deal-leave" }, t("deal.leave"));
      leave.addEventListener("click", async () => {
        const done = await act(leave, () => api("orders", `/group-buys/${encodeURIComponent(dealId)}/share${resident}`, { method: "DELETE" }));
        if (done) { toast(t("deal.left_ok")); rerender(); }
      });
      row.append(leave);
    }
    parts.push(row);
  }
  view.replaceChildren(...parts);
}
