// The service centre's cash desk (operator console): take a resident's cash onto their balance or pay
// part of it back, print the receipt, read the day's report and close the day with the drawer's count.
// An admin does everything; a helper tops up and refunds for the residents they help.
import { act, addStrings, api, boot, config, fen, h, lang, named, signInForm, t, toast, translate } from "/app/common/linli.js";

addStrings({
  zh: {
    "desk.title": "邻里 · 收银台", "desk.console": "运营后台", "desk.only": "收银台只供服务中心工作人员（管理员或助老员）使用。",
    "desk.pick": "收银台", "desk.none": "还没有收银台，请先添加一个。", "desk.setup": "添加或修改收银台",
    "desk.id": "编号（如 centre-1）", "desk.name_zh": "中文名称", "desk.name_en": "英文名称", "desk.float": "每日备用金（元）",
    "desk.save": "保存收银台", "desk.saved": "收银台已保存",
    "cash.title": "充值 / 退款", "cash.resident": "居民编号", "cash.amount": "金额（元）", "cash.note": "备注（可不填）",
    "cash.balance": "查余额", "cash.balance.is": "{who} 当前余额 {fen}", "cash.top_up": "现金充值", "cash.refund": "现金退款",
    "cash.bad_amount": "请输入金额，如 50 或 12.50", "cash.need_resident": "请输入居民编号",
    "cash.done.top_up": "已为 {who} 充值 {fen}，小票 {code}", "cash.done.refund": "已为 {who} 退款 {fen}，小票 {code}",
    "day.title": "{day} 收银日报", "day.open": "营业中", "day.closed": "已日结", "day.pick": "查看日期", "day.show": "查看",
    "day.back": "回到当前营业日", "day.print": "打印日报", "day.empty": "这一天还没有交易。",
    "col.no": "小票号", "col.time": "时间", "col.resident": "居民", "col.kind": "类型", "col.amount": "金额",
    "col.after": "交易后余额", "col.operator": "操作员", "col.print": "小票",
    "kind.top_up": "充值", "kind.refund": "退款", "receipt.reprint": "补打",
    "total.float": "备用金", "total.in": "收入现金", "total.out": "付出现金", "total.expected": "应有现金", "total.count": "笔数",
    "total.hand_in": "其中骑手交回",
    "close.title": "日结：清点现金", "close.counted": "实点现金（元）", "close.note": "说明（可不填）", "close.go": "日结",
    "close.confirm": "确认以实点 {counted} 日结 {day}？日结后这一天不再变更，之后的交易记入下一天。",
    "close.done": "{day} 已日结", "close.expected": "应有", "close.counted_is": "实点", "close.difference": "差额",
    "close.short": "短款 {fen}", "close.over": "长款 {fen}", "close.exact": "账实相符", "close.by": "{who} 于 {time} 日结",
    "close.later": "日结后的交易记入下一营业日。",
    "receipt.title": "收银小票", "receipt.no": "小票号 {code}", "receipt.kind": "类型", "receipt.resident": "居民",
    "receipt.amount": "金额", "receipt.after": "余额", "receipt.operator": "操作员", "receipt.time": "时间",
    "receipt.day": "计入营业日", "receipt.note": "备注：{note}", "receipt.keep": "请妥善保管此小票。",
    "report.title": "收银日报", "report.sign": "清点人签字",
    "print.paper": "纸张", "print.paper.58": "58 毫米小票", "print.paper.80": "80 毫米小票", "print.paper.a4": "A4",
    "print.go": "打印", "print.close": "关闭",
  },
  en: {
    "desk.title": "Linli · Cash desk", "desk.console": "Operator console",
    "desk.only": "The cash desk is for the service centre's staff (an admin, or a helper).",
    "desk.pick": "Desk", "desk.none": "No cash desk yet: add one first.", "desk.setup": "Add or change a desk",
    "desk.id": "Id (e.g. centre-1)", "desk.name_zh": "Name in Chinese", "desk.name_en": "Name in English",
    "desk.float": "Daily float (yuan)", "desk.save": "Save desk", "desk.saved": "Desk saved",
    "cash.title": "Top up / refund", "cash.resident": "Resident id", "cash.amount": "Amount (yuan)",
    "cash.note": "Note (optional)", "cash.balance": "Balance", "cash.balance.is": "{who}'s balance is {fen}",
    "cash.top_up": "Top up (cash in)", "cash.refund": "Refund (cash out)", "cash.bad_amount": "Enter an amount, e.g. 50 or 12.50",
    "cash.need_resident": "Enter the resident's id",
    "cash.done.top_up": "{who} topped up {fen}, receipt {code}", "cash.done.refund": "{who} refunded {fen}, receipt {code}",
    "day.title": "Desk day {day}", "day.open": "Open", "day.closed": "Closed", "day.pick": "Day", "day.show": "Show",
    "day.back": "Back to the open day", "day.print": "Print the report", "day.empty": "No transactions this day yet.",
    "col.no": "Receipt", "col.time": "Time", "col.resident": "Resident", "col.kind": "Kind", "col.amount": "Amount",
    "col.after": "Balance after", "col.operator": "Operator", "col.print": "Receipt",
    "kind.top_up": "Top-up", "kind.refund": "Refund", "receipt.reprint": "Reprint",
    "total.float": "Float", "total.in": "Cash in", "total.out": "Cash out", "total.expected": "Expected cash",
    "total.hand_in": "of which riders handed in",
    "total.count": "Transactions",
    "close.title": "Close the day: count the cash", "close.counted": "Cash counted (yuan)", "close.note": "Note (optional)",
    "close.go": "Close the day",
    "close.confirm": "Close {day} with {counted} counted? A closed day never changes; later transactions go to the next day.",
    "close.done": "{day} closed", "close.expected": "Expected", "close.counted_is": "Counted", "close.difference": "Difference",
    "close.short": "Short by {fen}", "close.over": "Over by {fen}", "close.exact": "Exact", "close.by": "Closed by {who} at {time}",
    "close.later": "Transactions after the close go to the next day.",
    "receipt.title": "Cash desk receipt", "receipt.no": "Receipt {code}", "receipt.kind": "Kind", "receipt.resident": "Resident",
    "receipt.amount": "Amount", "receipt.after": "Balance after", "receipt.operator": "Operator", "receipt.time": "Time",
    "receipt.day": "Desk day", "receipt.note": "Note: {note}", "receipt.keep": "Please keep this receipt.",
    "report.title": "Cash desk report", "report.sign": "Counted by (signature)",
    "print.paper": "Paper", "print.paper.58": "58 mm roll", "print.paper.80": "80 mm roll", "print.paper.a4": "A4",
    "print.go": "Print", "print.close": "Close",
  },
});

const view = document.getElementById("view");
let me = await boot({ title: "desk.title" });
if (!me) me = await signInForm(view, { roles: ["admin", "helper"] });
const isAdmin = me.role === "admin";
let desks = [];
let deskId = new URLSearchParams(location.search).get("desk") || localStorage.getItem("linli.desk") || "";
let shownDay = null; // null: the desk's open day

// ---------------------------------------------------------------- small helpers
/** "12.5" -> 1250 fen; null when it is not an amount (no floats touch money). */
export function toFen(text) {
  const m = /^\s*(\d{1,7})(?:[.,](\d{1,2}))?\s*$/.exec(text || "");
  return m ? Number(m[1]) * 100 + Number((m[2] || "").padEnd(2, "0")) : null;
}

const when = (iso) => new Date(iso).toLocaleString(lang() === "zh" ? "zh-CN" : "en-GB",
  { timeZone: config.timezone || undefined, dateStyle: "medium", timeStyle: "short" });
const clock = (iso) => new Date(iso).toLocaleTimeString(lang() === "zh" ? "zh-CN" : "en-GB",
  { timeZone: config.timezone || undefined, hour: "2-digit", minute: "2-digit" });
const desk = () => desks.find((d) => d.id === deskId);

function difference(close, id = null) {
  const d = close.difference_fen;
  const kind = d < 0 ? "short" : d > 0 ? "over" : "exact";
  return h("span", { class: `difference ${kind}`, id, "data-fen": d },
    kind === "exact" ? t("close.exact") : t(`close.${kind}`, { fen: fen(Math.abs(d)) }));
}

// ---------------------------------------------------------------- printing
const PAGE = {
  receipt: { 58: "size: 58mm 200mm; margin: 3mm 2mm", 80: "size: 80mm 200mm; margin: 3mm", a4: "size: A4; margin: 15mm" },
  report: { 58: "size: 58mm 297mm; margin: 3mm 2mm", 80: "size: 80mm 297mm; margin: 3mm", a4: "size: A4; margin: 15mm" },
};

/** The sheet in a print preview at the paper's width, with the paper switch and Print. */
function preview(kind, title, content) {
  document.getElementById("print-preview")?.remove();
  const sheet = h("div", {}, content);
  const style = h("style", { id: "print-page" });
  const remembered = localStorage.getItem(`linli.desk.paper.${kind}`);
  const paper = h("select", { id: "print-paper" }, ["58", "80", "a4"].map((p) =>
    h("option", { value: p, selected: p === (remembered || (kind === "report" ? "a4" : "80")) }, t(`print.paper.${p}`))));
  const apply = () => {
    localStorage.setItem(`linli.desk.paper.${kind}`, paper.value);
    sheet.className = `sheet ${kind} paper-${paper.value}`;
    style.textContent = `@page { ${PAGE[kind][paper.value]}; }`;
  };
  paper.addEventListener("change", apply);
  const go = h("button", { type: "button", class: "primary", id: "print-go" }, t("print.go"));
  go.addEventListener("click", () => window.print());
  const close = h("button", { type: "button", id: "print-close" }, t("print.close"));
  const box = h("section", { id: "print-preview", class: "print-preview", role: "dialog", "aria-modal": "true",
    "aria-labelledby": "print-title" }, style,
  h("div", { class: "print-tools card row" }, h("h2", { id: "print-title" }, title),
    h("label", { for: "print-paper" }, t("print.paper")), paper, go, close),
  h("div", { class: "print-desk" }, sheet));
  const opener = document.activeElement;
  const shut = () => { box.remove(); if (opener && opener.isConnected) opener.focus(); };
  close.addEventListener("click", shut);
  box.addEventListener("keydown", (e) => { if (e.key === "Escape") shut(); });
  apply();
  document.body.append(box);
  go.focus();
}

function receiptSheet(r) {
  const d = desks.find((x) => x.id === r.desk_id);
  const dayOfTime = new Date(r.at).toLocaleDateString("en-CA", { timeZone: config.timezone || undefined });
  return h("article", { class: "receipt-sheet", "data-code": r.code, "aria-label": t("receipt.no", { code: r.code }) },
    h("h1", {}, d ? named(d) : r.desk_id),
    h("p", { class: "small", style: "text-align:center" }, `${t("receipt.title")} · ${r.desk_id}`),
    h("p", { class: "receipt-no" }, t("receipt.no", { code: r.code })),
    h("dl", { class: "lines" },
      h("dt", {}, t("receipt.kind")), h("dd", { class: "receipt-kind" }, t(`kind.${r.movement}`)),
      h("dt", {}, t("receipt.resident")), h("dd", { class: "receipt-resident" }, r.resident),
      h("dt", {}, t("receipt.amount")), h("dd", { class: "receipt-amount big" }, fen(r.amount_fen)),
      h("dt", {}, t("receipt.after")), h("dd", { class: "receipt-after" }, fen(r.balance_after_fen)),
      h("dt", {}, t("receipt.operator")), h("dd", { class: "receipt-operator" }, r.operator),
      h("dt", {}, t("receipt.time")), h("dd", { class: "receipt-time" }, when(r.at)),
      r.business_day !== dayOfTime ? h("dt", {}, t("receipt.day")) : null,
      r.business_day !== dayOfTime ? h("dd", {}, r.business_day) : null),
    r.note ? h("p", {}, t("receipt.note", { note: r.note })) : null,
    h("p", { class: "small", style: "text-align:center" }, t("receipt.keep")));
}

function reportSheet(day) {
  return h("article", { class: "report-sheet", "aria-label": t("day.title", { day: day.business_day }) },
    h("h1", {}, `${named(day.desk)} · ${t("report.title")}`),
    h("p", { style: "text-align:center" }, `${day.desk.id} · ${day.business_day}`),
    h("table", {}, h("thead", {}, h("tr", {}, ...["no", "time", "resident", "kind"].map((c) => h("th", {}, t(`col.${c}`))),
      h("th", { class: "fen" }, t("col.amount")), h("th", {}, t("col.operator")))),
    h("tbody", {}, ...day.receipts.map((r) => h("tr", {}, h("td", {}, r.code), h("td", {}, clock(r.at)),
      h("td", {}, r.resident), h("td", {}, t(`kind.${r.movement}`)), h("td", { class: "fen" }, fen(r.cash_fen)),
      h("td", {}, r.operator))))),
    h("dl", { class: "lines" },
      h("dt", {}, t("total.count")), h("dd", {}, String(day.receipts.length)),
      h("dt", {}, t("total.float")), h("dd", {}, fen(day.float_fen)),
      h("dt", {}, t("total.in")), h("dd", {}, fen(day.in_fen)),
      day.hand_in_fen ? [h("dt", {}, t("total.hand_in")), h("dd", {}, fen(day.hand_in_fen))] : null,
      h("dt", {}, t("total.out")), h("dd", {}, fen(-day.out_fen)),
      h("dt", {}, t("total.expected")), h("dd", {}, fen(day.expected_fen)),
      day.closed ? [h("dt", {}, t("close.counted_is")), h("dd", {}, fen(day.closed.counted_fen)),
        h("dt", {}, t("close.difference")), h("dd", {}, difference(day.closed))] : null),
    day.closed ? h("p", { class: "small" }, t("close.by", { who: day.closed.closed_by, time: when(day.closed.closed_at) })) : null,
    h("p", { class: "sign" }, t("report.sign")));
}

// ---------------------------------------------------------------- the page
function setupForm() {
  const current = desk();
  const field = (id, key, value, extra = {}) => [h("label", { for: id }, t(key)), h("input", { id, value: value ?? "", ...extra })];
  const form = h("form", { id: "desk-setup" },
    field("desk-id", "desk.id", current?.id, { required: true, pattern: "[A-Za-z0-9][A-Za-z0-9_.\\-]*", maxlength: 50 }),
    field("desk-name-zh", "desk.name_zh", current?.name_zh, { required: true, maxlength: 100 }),
    field("desk-name-en", "desk.name_en", current?.name_en, { required: true, maxlength: 100 }),
    field("desk-float", "desk.float", current ? (current.float_fen / 100).toFixed(2) : "0", { inputmode: "decimal" }),
    h("p", { class: "error", role: "alert", id: "desk-setup-error" }),
    h("button", { type: "submit", class: "primary" }, t("desk.save")));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const floatFen = toFen(form.querySelector("#desk-float").value);
    const error = form.querySelector("#desk-setup-error");
    if (floatFen === null) { error.textContent = t("cash.bad_amount"); return; }
    act(form.querySelector("button"), async () => {
      const id = form.querySelector("#desk-id").value.trim();
      await api("orders", `/desks/${encodeURIComponent(id)}`, { method: "PUT", body: {
        name_zh: form.querySelector("#desk-name-zh").value.trim(), name_en: form.querySelector("#desk-name-en").value.trim(),
        float_fen: floatFen } });
      toast(t("desk.saved"));
      deskId = id;
      await show();
    });
  });
  return h("details", { class: "card", open: desks.length === 0 }, h("summary", {}, t("desk.setup")), form);
}

function cashForm() {
  const resident = h("input", { id: "cash-resident", required: true, maxlength: 100, autocomplete: "off", list: "cash-residents" });
  const amount = h("input", { id: "cash-amount", inputmode: "decimal", required: true });
  const note = h("input", { id: "cash-note", maxlength: 200 });
  const balance = h("p", { id: "cash-balance", class: "muted", "aria-live": "polite" });
  const error = h("p", { class: "error", role: "alert", id: "cash-error" });
  const lookup = h("button", { type: "button", id: "cash-lookup" }, t("cash.balance"));
  const names = h("datalist", { id: "cash-residents" });
  if (!isAdmin) {
    api("orders", "/residents").then((list) => names.replaceChildren(...list.map((r) =>
      h("option", { value: r.resident_id }, r.name)))).catch(() => {});
  }
  lookup.addEventListener("click", () => act(lookup, async () => {
    const who = resident.value.trim();
    if (!who) { error.textContent = t("cash.need_resident"); return; }
    const b = await api("orders", `/balance?resident=${encodeURIComponent(who)}`);
    balance.textContent = t("cash.balance.is", { who, fen: fen(b.balance_fen) });
  }));
  const move = (movement, button) => act(button, async () => {
    error.textContent = "";
    const who = resident.value.trim();
    const amountFen = toFen(amount.value);
    if (!who) { error.textContent = t("cash.need_resident"); return; }
    if (!amountFen) { error.textContent = t("cash.bad_amount"); return; }
    const path = `/desks/${encodeURIComponent(deskId)}/${movement === "top_up" ? "top-ups" : "refunds"}`;
    let receipt;
    try {
      receipt = await api("orders", path, { method: "POST", key: true,
        body: { resident: who, amount_fen: amountFen, note: note.value.trim() || null } });
    } catch (e) { error.textContent = e.message; return; }
    toast(t(`cash.done.${movement}`, { who, fen: fen(amountFen), code: receipt.code }));
    balance.textContent = t("cash.balance.is", { who, fen: fen(receipt.balance_after_fen) });
    amount.value = ""; note.value = "";
    if (isAdmin) await showDay();
    preview("receipt", t("receipt.no", { code: receipt.code }), receiptSheet(receipt));
  });
  const topUp = h("button", { type: "button", class: "primary", id: "cash-top-up" }, t("cash.top_up"));
  const refund = h("button", { type: "button", id: "cash-refund" }, t("cash.refund"));
  topUp.addEventListener("click", () => move("top_up", topUp));
  refund.addEventListener("click", () => move("refund", refund));
  const form = h("form", { class: "card", id: "desk-cash", "aria-labelledby": "cash-title" },
    h("h2", { id: "cash-title" }, t("cash.title")),
    h("label", { for: "cash-resident" }, t("cash.resident")), h("div", { class: "row" }, resident, lookup), names, balance,
    h("div", { class: "amount-row" },
      h("div", {}, h("label", { for: "cash-amount" }, t("cash.amount")), amount),
      h("div", {}, h("label", { for: "cash-note" }, t("cash.note")), note)),
    error, h("div", { class: "row" }, topUp, refund));
  form.addEventListener("submit", (e) => { e.preventDefault(); move("top_up", topUp); });
  return form;
}

const dayBox = h("section", { id: "desk-day", "aria-live": "polite" });

async function showDay() {
  const base = `/desks/${encodeURIComponent(deskId)}`;
  const day = await api("orders", shownDay ? `${base}/days/${shownDay}` : `${base}/day`);
  renderDay(day);
}

function renderDay(day) {
  const picker = h("input", { type: "date", id: "day-pick", value: day.business_day });
  const pick = h("button", { type: "button", id: "day-show" }, t("day.show"));
  pick.addEventListener("click", () => act(pick, async () => { shownDay = picker.value || null; await showDay(); }));
  const back = shownDay ? h("button", { type: "button", id: "day-back", class: "ghost" }, t("day.back")) : null;
  back?.addEventListener("click", () => act(back, async () => { shownDay = null; await showDay(); }));
  const print = h("button", { type: "button", id: "day-print" }, t("day.print"));
  print.addEventListener("click", () => preview("report", t("day.title", { day: day.business_day }), reportSheet(day)));
  const rows = day.receipts.map((r) => {
    const again = h("button", { type: "button", class: "ghost reprint" }, t("receipt.reprint"));
    again.addEventListener("click", () => act(again, async () => {
      const fresh = await api("orders", `/desks/${encodeURIComponent(r.desk_id)}/receipts/${r.number}`);
      preview("receipt", t("receipt.no", { code: fresh.code }), receiptSheet(fresh));
    }));
    return h("tr", { class: `receipt ${r.movement}`, "data-number": r.number },
      h("td", {}, r.code), h("td", {}, clock(r.at)), h("td", {}, r.resident), h("td", {}, t(`kind.${r.movement}`)),
      h("td", { class: r.cash_fen > 0 ? "cash-in" : "cash-out" }, fen(r.cash_fen)), h("td", {}, fen(r.balance_after_fen)),
      h("td", {}, r.operator), h("td", {}, again));
  });
  const table = rows.length ? h("table", { id: "desk-report" },
    h("thead", {}, h("tr", {}, ...["no", "time", "resident", "kind", "amount", "after", "operator", "print"]
      .map((c) => h("th", { scope: "col" }, t(`col.${c}`))))),
    h("tbody", {}, ...rows)) : h("p", { class: "muted" }, t("day.empty"));
  const total = (key, value, id) => h("div", {}, h("dt", {}, t(key)), h("dd", { id }, value));
  const totals = h("dl", { class: "desk-totals" },
    total("total.count", String(day.receipts.length), "total-count"), total("total.float", fen(day.float_fen), "total-float"),
    total("total.in", fen(day.in_fen), "total-in"),
    day.hand_in_fen ? total("total.hand_in", fen(day.hand_in_fen), "total-hand-in") : null,
    total("total.out", fen(day.out_fen), "total-out"),
    total("total.expected", fen(day.expected_fen), "total-expected"));
  dayBox.replaceChildren(h("div", { class: "card" },
    h("div", { class: "spread" },
      h("h2", { id: "day-title" }, t("day.title", { day: day.business_day }), " ",
        h("span", { class: `badge ${day.closed ? "warn" : "good"}`, id: "day-state" }, t(day.closed ? "day.closed" : "day.open"))),
      h("div", { class: "row" }, h("label", { for: "day-pick" }, t("day.pick")), picker, pick, back, print)),
    table, totals, day.closed ? closedBox(day.closed) : closeForm(day)));
  translate(dayBox);
}

function closedBox(close) {
  return h("div", { class: "card", id: "day-close" },
    h("h3", {}, t("close.done", { day: close.business_day })),
    h("dl", { class: "desk-totals" },
      h("div", {}, h("dt", {}, t("close.expected")), h("dd", { id: "close-expected" }, fen(close.expected_fen))),
      h("div", {}, h("dt", {}, t("close.counted_is")), h("dd", { id: "close-counted-is" }, fen(close.counted_fen))),
      h("div", {}, h("dt", {}, t("close.difference")), h("dd", {}, difference(close, "close-difference")))),
    close.note ? h("p", {}, close.note) : null,
    h("p", { class: "muted" }, t("close.by", { who: close.closed_by, time: when(close.closed_at) }), " ", t("close.later")));
}

function closeForm(day) {
  const counted = h("input", { id: "close-counted", inputmode: "decimal", required: true });
  const note = h("input", { id: "close-note", maxlength: 300 });
  const error = h("p", { class: "error", role: "alert", id: "close-error" });
  const go = h("button", { type: "button", class: "danger", id: "close-go" }, t("close.go"));
  go.addEventListener("click", () => act(go, async () => {
    error.textContent = "";
    const countedFen = toFen(counted.value);
    if (countedFen === null) { error.textContent = t("cash.bad_amount"); return; }
    if (!window.confirm(t("close.confirm", { day: day.business_day, counted: fen(countedFen) }))) return;
    try {
      const closed = await api("orders", `/desks/${encodeURIComponent(deskId)}/days/${day.business_day}/close`,
        { method: "POST", key: true, body: { counted_fen: countedFen, note: note.value.trim() || null } });
      shownDay = closed.business_day;
      renderDay(closed);
    } catch (e) { error.textContent = e.message; }
  }));
  return h("div", { class: "card", id: "day-close-form" }, h("h3", {}, t("close.title")),
    h("div", { class: "amount-row" },
      h("div", {}, h("label", { for: "close-counted" }, t("close.counted")), counted),
      h("div", {}, h("label", { for: "close-note" }, t("close.note")), note)),
    error, go);
}

async function show() {
  if (!["admin", "helper"].includes(me.role)) {
    view.replaceChildren(h("p", { class: "error", role: "alert" }, t("desk.only")));
    return;
  }
  desks = await api("orders", "/desks");
  if (!desk()) deskId = desks[0]?.id || "";
  if (deskId) {
    localStorage.setItem("linli.desk", deskId);
    history.replaceState(null, "", `?desk=${encodeURIComponent(deskId)}`);
  }
  const select = h("select", { id: "desk-pick" }, desks.map((d) =>
    h("option", { value: d.id, selected: d.id === deskId }, `${named(d)} (${d.id})`)));
  select.addEventListener("change", () => { deskId = select.value; shownDay = null; show(); });
  const top = h("div", { class: "spread" },
    h("div", { class: "row" }, h("label", { for: "desk-pick" }, t("desk.pick")), select),
    isAdmin ? h("a", { href: "/app/admin/" }, t("desk.console")) : null);
  view.replaceChildren(...[top, desks.length ? null : h("p", { class: "muted", id: "desk-none" }, t("desk.none")),
    isAdmin ? setupForm() : null, deskId ? cashForm() : null, isAdmin && deskId ? dayBox : null].filter(Boolean));
  if (isAdmin && deskId) await showDay();
}

document.addEventListener("linli:lang", () => { show(); });
await show();
