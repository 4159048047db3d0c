// Settings: text messages. A person chooses which moments of their orders reach their phone, in
// which language; a helper chooses for the residents they registered (who have no app), and for
// themselves about the orders of everyone they help. Nothing is sent until chosen.
import { act, addStrings, api, h, t, toast } from "/app/common/linli.js";

addStrings({
  zh: {
    "nav.news": "短信通知", "news.title": "短信通知", "news.intro": "不打开应用也能知道订单的进展。勾选要收到短信的时刻。",
    "news.me": "我自己", "news.for": "{name}", "news.choice.answer": "订单确认或未能成功", "news.choice.on_the_way": "骑手已从店里出发",
    "news.choice.late": "预计晚到 {n} 分钟以上", "news.choice.arrived": "骑手到门口，或已放入智能柜",
    "news.language": "短信语言", "news.phone": "手机号（不填则用居民或订单的电话）", "news.save": "保存", "news.saved": "已保存",
    "news.helper_note": "作为帮助人，您会收到您帮助的人的订单短信（按您自己的选择）。",
  },
  en: {
    "nav.news": "Text messages", "news.title": "Text messages",
    "news.intro": "Hear how an order is going without opening the app. Tick the moments to get a text message for.",
    "news.me": "Myself", "news.for": "{name}", "news.choice.answer": "Order confirmed, or could not go ahead",
    "news.choice.on_the_way": "The rider has left the shop", "news.choice.late": "Running {n} minutes or more late",
    "news.choice.arrived": "The rider is at the door, or it is in the locker", "news.language": "Language of the messages",
    "news.phone": "Phone (empty: the resident's or the order's phone)", "news.save": "Save", "news.saved": "Saved",
    "news.helper_note": "As a helper you get the messages about the orders of those you help (by your own choices).",
  },
});

const CHOICES = ["answer", "on_the_way", "late", "arrived"];

function form(person, title, prefs) {
  const id = (s) => `news-${person}-${s}`;
  const boxes = CHOICES.map((c) => h("input", { type: "checkbox", id: id(c), value: c, checked: prefs.choices.includes(c) }));
  const language = h("select", { id: id("lang") },
    h("option", { value: "zh", selected: prefs.language === "zh" }, "中文"),
    h("option", { value: "en", selected: prefs.language === "en" }, "English"));
  const phone = h("input", { type: "tel", id: id("phone"), value: prefs.phone || "", autocomplete: "tel" });
  const save = h("button", { type: "submit", class: "primary" }, t("news.save"));
  const el = h("form", { class: "card news", "data-person": person }, h("h3", {}, title),
    ...CHOICES.map((c, i) => h("label", { class: "check", for: id(c) }, boxes[i], t(`news.choice.${c}`, { n: prefs.late_after_min }))),
    h("label", { for: id("lang") }, t("news.language")), language,
    h("label", { for: id("phone") }, t("news.phone")), phone, save);
  el.addEventListener("submit", (e) => {
    e.preventDefault();
    act(save, async () => {
      await api("orders", `/news/preferences/${encodeURIComponent(person)}`, { method: "PUT", body: {
        choices: boxes.filter((b) => b.checked).map((b) => b.value), language: language.value,
        phone: phone.value.trim() || null } });
      toast(t("news.saved"));
    });
  });
  return el;
}

/** The settings page: the caller's own choices, and a helper's residents' below them. */
export async function showNews(view, me) {
  const mine = await act(null, () => api("orders", `/news/preferences/${encodeURIComponent(me.subject)}`));
  if (!mine) return;
  const parts = [h("h2", {}, t("news.title")), h("p", { class: "muted" }, t("news.intro")), form(me.subject, t("news.me"), mine)];
  if (me.role === "helper") {
    parts.push(h("p", { class: "muted" }, t("news.helper_note")));
    const residents = (await act(null, () => api("orders", "/residents"))) || [];
    for (const r of residents) {
      const prefs = await api("orders", `/news/preferences/${encodeURIComponent(r.resident_id)}`);
      parts.push(form(r.resident_id, t("news.for", { name: r.name }), prefs));
    }
  }
  view.replaceChildren(...parts);
}
