// What the counter prints: a pick list per order (or per stall's part) and a label per bag, on a
// 58 mm or 80 mm receipt printer or on A4. The preview is the sheet itself, at the paper's width;
// print.css hides everything else when printing and @page is set to the chosen paper.
import { h, named, t, timeOf } from "/app/common/linli.js";

export const PAPERS = ["58", "80", "a4"];
const PAGE = {
  // Receipt rolls have no page length: a long page, cut where the list ends.
  list: { 58: "size: 58mm 297mm; margin: 3mm 2mm", 80: "size: 80mm 297mm; margin: 3mm", a4: "size: A4; margin: 15mm" },
  // One label per page on a roll; on A4 a grid to cut out.
  labels: { 58: "size: 58mm 80mm; margin: 2mm", 80: "size: 80mm 60mm; margin: 3mm", a4: "size: A4; margin: 10mm" },
};

const paperNow = () => (PAPERS.includes(localStorage.getItem("linli.counter.paper")) ? localStorage.getItem("linli.counter.paper") : "80");

/** Show `sheet` in the print preview for `kind` ("list" or "labels"), with the paper switch and Print. */
export function preview(kind, title, sheet) {
  document.getElementById("print-preview")?.remove();
  const style = h("style", { id: "print-page" });
  const paper = h("select", { id: "print-paper" }, PAPERS.map((p) =>
    h("option", { value: p, selected: p === paperNow() }, t(`print.paper.${p}`))));
  const apply = () => {
    localStorage.setItem("linli.counter.paper", paper.value);
    sheet.className = `sheet ${kind} paper-${paper.value}`;
    style.textContent = `@page { ${PAGE[kind][paper.value]}; }`;
  };
  paper.addEventListener("change", apply);
  const go = h("button", { type: "button", class: "primary", id: "print-go" }, t("print.go"));
  go.addEventListener("click", async () => {
    // The QR images must be drawn before the page goes to the printer.
    await Promise.all([...sheet.querySelectorAll("img")].map((img) => img.decode().catch(() => {})));
    window.print();
  });
  const close = h("button", { type: "button", id: "print-close" }, t("print.close"));
  const box = h("section", { id: "print-preview", class: "print-preview", role: "dialog", "aria-modal": "true",
    "aria-labelledby": "print-title" },
  style,
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
  return box;
}

const marks = (fields) => [
  h("span", { class: "mark" }, t(`mode.${fields.fulfilment_mode}`)),
  ...["call_before_delivery", "pay_on_delivery"].filter((f) => (fields.flags || fields)[f])
    .map((f) => h("span", { class: `mark strong ${f}` }, t(`flag.${f}`))),
];

/**
 * A pick list: `only` a stall's part, or the whole order as this counter sees it.
 * names: {place(id) -> name, quantity(line) -> text, product(line) -> name, short(id) -> short id}
 */
export function pickListSheet(pick, only, names) {
  const stalls = pick.stalls.filter((s) => !only || s.location_id === only);
  return h("article", { "aria-label": t("print.list.title", { id: names.short(pick.order_id) }) },
    h("h1", {}, t("print.list.title", { id: names.short(pick.order_id) })),
    h("p", { class: "small" }, pick.order_id),
    h("p", { class: "marks" }, ...marks(pick)),
    pick.slot ? h("p", {}, t("slot", { start: timeOf(pick.slot.start), end: timeOf(pick.slot.end) })) : null,
    pick.note ? h("p", { class: "note" }, t("note", { note: pick.note })) : null,
    ...stalls.map((stall) => h("section", { class: "stall" },
      h("h2", {}, names.place(stall.location_id)),
      ...stall.categories.map((cat) => h("div", {},
        cat.category ? h("h3", {}, cat.category) : null,
        h("ul", { class: "to-pick" }, cat.lines.map((ln) => h("li", {},
          h("span", { class: "box", "aria-hidden": "true" }, "☐"), " ",
          h("strong", {}, `${ln.line_no}. ${names.product(ln)}`), ` · ${names.quantity(ln)}`,
          ln.substitution?.mode === "none" ? h("div", { class: "small" }, t("line.pref.none")) : null))))))),
    h("p", { class: "small" }, t("print.printed", { time: timeOf(new Date().toISOString()) })));
}

/** One label per bag: the order, the shop or stall, bag k of n, the code's QR where staff may read it, the marks. */
export function labelsSheet(answer, names) {
  const code = answer.qr_payload ? answer.qr_payload.split(":").pop() : null;
  return h("div", { "aria-label": t("print.labels.title", { id: names.short(answer.order_id) }) },
    ...answer.labels.map((label) => h("article", { class: "label" },
      h("div", { class: "label-text" },
        h("p", { class: "order-no" }, t("order", { id: names.short(answer.order_id) })),
        h("p", { class: "place" }, named(label)),
        h("p", { class: "bag" }, t("print.bag", { k: label.bag, n: label.bags })),
        h("p", { class: "marks" }, ...marks(answer)),
        code ? null : h("p", { class: "small" }, t(answer.fulfilment_mode === "pickup" ? "print.no_code.pickup" : "print.no_code.later"))),
      code ? h("div", { class: "label-code" }, h("img", { class: "qr", src: names.qr(answer.order_id), width: 96, height: 96,
        alt: t("print.qr", { code }) }), h("p", { class: "code" }, code)) : null)));
}

/** What a group buy's bag holds, as its label says it: pieces, the grams weighed, or not filled. */
export function dealItemText(item) {
  if (item.filled === false) return t("deal.item.not_filled", { n: item.pieces });
  if (item.unit === "g") {
    return item.quantity !== null ? t("deal.item.weighed", { n: item.pieces, g: item.quantity }) : t("deal.item.to_weigh", { n: item.pieces });
  }
  return t("deal.item.pieces", { n: item.pieces });
}

/** One label per participant's bag of a group buy: their number of how many, their name, what is in the bag. */
export function dealLabelsSheet(answer, names) {
  return h("div", { "aria-label": t("deal.labels.title", { id: names.short(answer.deal_id) }) },
    ...answer.labels.map((label) => h("article", { class: "label deal-label", "data-bag": String(label.number) },
      h("div", { class: "label-text" },
        h("p", { class: "bag" }, t("deal.label.number", { n: label.number, of: label.of })),
        h("p", { class: "order-no" }, label.name),
        label.helper ? h("p", { class: "small" }, t("deal.label.helper", { helper: label.helper })) : null,
        h("ul", { class: "to-pick" }, label.items.map((item) => h("li", {},
          h("strong", {}, named(item)), ` · ${dealItemText(item)}`))),
        h("p", { class: "small" }, t("deal.label.group", { id: names.short(answer.deal_id) })),
        label.note ? h("p", { class: "small" }, label.note) : null))));
}
