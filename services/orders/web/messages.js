// The text messages console (admin, read-only): what was sent, what waits for a retry, what failed.
// With the recorder (the default notifier) this is where every message can be read.
import { act, addStrings, api, boot, h, signInForm, t, timeOf, translate } from "/app/common/linli.js";

addStrings({
  zh: {
    "messages.title": "邻里 · 短信", "messages.notifier": "发送方式：{n}", "notifier.recorder": "记录器（不真正发送）",
    "notifier.sms_gateway": "短信网关", "messages.all": "全部", "status.pending": "待发送", "status.sent": "已发送",
    "status.failed": "发送失败", "status.withheld": "已退订，未发送", "messages.refresh": "刷新",
    "messages.none": "还没有短信。", "col.when": "时间", "col.to": "收件人", "col.moment": "时刻", "col.text": "内容",
    "col.status": "状态", "col.tries": "尝试", "col.error": "最后错误", "messages.admin": "只有管理员能看短信。",
  },
  en: {
    "messages.title": "Linli · Text messages", "messages.notifier": "Sent through: {n}",
    "notifier.recorder": "the recorder (nothing really sent)", "notifier.sms_gateway": "the SMS gateway",
    "messages.all": "All", "status.pending": "Waiting", "status.sent": "Sent", "status.failed": "Failed",
    "status.withheld": "Opted out, not sent", "messages.refresh": "Refresh", "messages.none": "No messages yet.",
    "col.when": "When", "col.to": "To", "col.moment": "Moment", "col.text": "Text", "col.status": "Status",
    "col.tries": "Tries", "col.error": "Last error", "messages.admin": "Only an admin may read the messages.",
  },
});

const view = document.getElementById("view");
let me = await boot({ title: "messages.title" });
if (!me) me = await signInForm(view, { roles: ["admin"] });
let filter = new URLSearchParams(location.search).get("status") || "";

async function show() {
  if (me.role !== "admin") {
    view.replaceChildren(h("p", { class: "error", role: "alert" }, t("messages.admin")));
    return;
  }
  const answer = await api("orders", `/news/messages${filter ? `?status=${filter}` : ""}`);
  const tabs = h("div", { class: "tabs", role: "group" },
    ...["", "pending", "sent", "failed", "withheld"].map((s) => {
      const label = s ? `${t(`status.${s}`)} (${answer.counts[s]})` : t("messages.all");
      const b = h("button", { type: "button", class: "ghost", "aria-pressed": String(s === filter), "data-status": s }, label);
      b.addEventListener("click", () => { filter = s; history.replaceState(null, "", s ? `?status=${s}` : "?"); show(); });
      return b;
    }));
  const refresh = h("button", { type: "button", id: "refresh" }, t("messages.refresh"));
  refresh.addEventListener("click", () => act(refresh, show));
  const rows = answer.messages.map((m) => h("tr", { class: `message ${m.status}`, "data-id": m.message_id },
    h("td", {}, timeOf(m.created_at)),
    h("td", {}, `${m.recipient}`, h("br"), h("small", { class: "muted" }, m.phone)),
    h("td", {}, m.moment),
    h("td", { lang: m.language === "zh" ? "zh-CN" : "en" }, m.body),
    h("td", { class: "status" }, t(`status.${m.status}`)),
    h("td", {}, String(m.attempts)),
    h("td", { class: "muted" }, m.last_error || "")));
  const table = rows.length ? h("table", { class: "messages" },
    h("thead", {}, h("tr", {}, ...["when", "to", "moment", "text", "status", "tries", "error"]
      .map((c) => h("th", { scope: "col" }, t(`col.${c}`))))),
    h("tbody", {}, ...rows)) : h("p", { class: "muted" }, t("messages.none"));
  view.replaceChildren(
    h("p", { id: "notifier" }, t("messages.notifier", { n: t(`notifier.${answer.notifier}`) })),
    h("div", { class: "tools" }, tabs, refresh), table);
  translate(view);
}

document.addEventListener("linli:lang", show);
await show();
