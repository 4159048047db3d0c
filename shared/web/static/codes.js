// Codes people show or type (pickup, delivery, locker): shown as a QR code the server draws, and
// scanned with the camera through the browser's BarcodeDetector where it exists. A scan only fills
// in the code: the page then sends it exactly as a typed one, to the same route.
import { addStrings, h, t, toast } from "/app/common/linli.js";

addStrings({
  zh: {
    "scan.button": "扫码", "scan.title": "扫描二维码", "scan.help": "将二维码对准取景框",
    "scan.cancel": "取消", "scan.unavailable": "无法使用摄像头（{msg}）：请手动输入代码",
    "scan.not_linli": "这不是邻里的代码", "scan.other_order": "这是订单 {order} 的代码，不是这个订单的",
    "scan.wrong_kind": "这是{kind}，这里需要{want}",
    "code.kind.pickup": "取货码", "code.kind.delivery": "收货码", "code.kind.locker": "开柜码",
    "code.qr": "{kind} {code} 的二维码",
  },
  en: {
    "scan.button": "Scan", "scan.title": "Scan a QR code", "scan.help": "Hold the QR code inside the frame",
    "scan.cancel": "Cancel", "scan.unavailable": "The camera is not available ({msg}): type the code instead",
    "scan.not_linli": "That is not a Linli code", "scan.other_order": "That code is for order {order}, not this one",
    "scan.wrong_kind": "That is a {kind}; this needs a {want}",
    "code.kind.pickup": "pickup code", "code.kind.delivery": "delivery code", "code.kind.locker": "locker code",
    "code.qr": "QR code of the {kind} {code}",
  },
});

const PAYLOAD = /^linli:(pickup|delivery|locker):([^:\s]+):([^:\s]+)$/;

/** `linli:<kind>:<order>:<code>` -> {kind, order, code}; a bare code of digits -> {kind: null, order: null, code}. */
export function parseCode(text) {
  const value = String(text || "").trim();
  const m = PAYLOAD.exec(value);
  if (m) return { kind: m[1], order: m[2], code: m[3] };
  if (/^\d{4,20}$/.test(value)) return { kind: null, order: null, code: value };
  return null;
}

/** The camera needs BarcodeDetector and getUserMedia, which browsers offer only over HTTPS or on localhost. */
export function canScan() {
  return "BarcodeDetector" in window && Boolean(navigator.mediaDevices && navigator.mediaDevices.getUserMedia);
}

/** A QR image of a code, drawn by the service at `url` (which shows it only to whoever may see the code). */
export function qrImage(url, kind, code, size = 168) {
  return h("img", { class: "qr", src: url, width: size, height: size, alt: t("code.qr", { kind: t(`code.kind.${kind}`), code }) });
}

/** Open the camera until a QR code is seen; resolves with its text, or null if cancelled or unavailable. */
export async function scanCode() {
  const video = h("video", { class: "scan-video", muted: true, playsinline: true, autoplay: true });
  const cancel = h("button", { type: "button", class: "wide", id: "scan-cancel" }, t("scan.cancel"));
  const box = h("div", { class: "scan", role: "dialog", "aria-modal": "true", "aria-labelledby": "scan-title", id: "scanner" },
    h("div", { class: "scan-card card" }, h("h2", { id: "scan-title" }, t("scan.title")),
      h("p", { class: "muted" }, t("scan.help")), h("div", { class: "scan-frame" }, video), cancel));
  let camera = null;
  let open = true;
  const closed = new Promise((resolve) => {
    cancel.addEventListener("click", () => resolve(null));
    box.addEventListener("keydown", (e) => { if (e.key === "Escape") resolve(null); });
  });
  document.body.append(box);
  cancel.focus();
  try {
    camera = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false });
    video.srcObject = camera;
    await video.play().catch(() => {});
    const detector = new window.BarcodeDetector({ formats: ["qr_code"] });
    const seen = (async () => {
      while (open) {
        try {
          const found = await detector.detect(video);
          if (found.length) return found[0].rawValue;
        } catch { /* a frame not ready yet */ }
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      return null;
    })();
    return await Promise.race([seen, closed]);
  } catch (e) {
    toast(t("scan.unavailable", { msg: e.message || e.name || String(e) }), "error");
    return null;
  } finally {
    open = false;
    if (camera) for (const track of camera.getTracks()) track.stop();
    box.remove();
  }
}

/**
 * A "Scan" button (null where the camera cannot be used: typing is the way then). It calls
 * onCode({kind, order, code}) for a Linli code that fits: of `order` when given, of a kind in `kinds`.
 */
export function scanButton({ id, order = null, kinds = null, onCode, label = null }) {
  if (!canScan()) return null;
  const button = h("button", { type: "button", class: "scan-button", id }, label || t("scan.button"));
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      const text = await scanCode();
      if (text === null) return;
      const found = parseCode(text);
      if (!found) { toast(t("scan.not_linli"), "error"); return; }
      if (order && found.order && found.order !== order) { toast(t("scan.other_order", { order: found.order }), "error"); return; }
      if (kinds && found.kind && !kinds.includes(found.kind)) {
        toast(t("scan.wrong_kind", { kind: t(`code.kind.${found.kind}`), want: t(`code.kind.${kinds[0]}`) }), "error");
        return;
      }
      await onCode(found);
    } finally { button.disabled = false; }
  });
  return button;
}
