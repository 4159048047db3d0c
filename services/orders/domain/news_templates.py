"""The text of each message, in Chinese and English: short enough for one SMS, and never a code.

A text message may be read by anyone holding the phone, so no delivery or locker code goes in
one: the codes stay in the app (and with the helper). Times are the neighbourhood's local time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from services.orders.domain.news import Moment

SIGNATURE = {"zh": "【邻里】", "en": "[Linli] "}

REASONS = {
    "zh": {
        "out_of_stock": "有商品缺货",
        "shop_closed": "店铺已打烊",
        "shop_rejected": "店铺无法接单",
        "shop_timeout": "店铺未及时接单",
        "no_rider": "暂时没有骑手",
        "unknown_product": "有商品已下架",
    },
    "en": {
        "out_of_stock": "something is out of stock",
        "shop_closed": "the shop is closed",
        "shop_rejected": "the shop could not take it",
        "shop_timeout": "the shop did not answer in time",
        "no_rider": "no rider was free",
        "unknown_product": "something is no longer sold",
    },
}

TEMPLATES = {
    "zh": {
        Moment.CONFIRMED: "{who}在{shop}的订单{number}已确认，店铺正在接单。",
        Moment.REJECTED: "{who}在{shop}的订单{number}未能成功：{reason}。已付款项将退回余额。",
        Moment.LEFT_SHOP: "{who}的订单{number}已由骑手从{shop}取走，预计{eta}送到。",
        Moment.LATE: "抱歉，{who}的订单{number}会晚到约{minutes}分钟，预计{eta}送到。",
        Moment.AT_DOOR: "骑手已到{who}门口，送来订单{number}。",
        Moment.IN_LOCKER: "{who}的订单{number}已放入{locker}，请在{collect_by}前取件，取件码见订单。",
    },
    "en": {
        Moment.CONFIRMED: "{who} order {number} at {shop} is confirmed; the shop is taking it.",
        Moment.REJECTED: "{who} order {number} at {shop} could not go ahead: {reason}. Anything paid is refunded.",
        Moment.LEFT_SHOP: "{who} order {number} has left {shop} with the rider, due about {eta}.",
        Moment.LATE: "Sorry: {who} order {number} is running about {minutes} min late, now due about {eta}.",
        Moment.AT_DOOR: "The rider is at the door with {who} order {number}.",
        Moment.IN_LOCKER: "{who} order {number} is in {locker}; collect it by {collect_by}. The code is on the order.",
    },
}

# Whose order: the person's own, or the resident's name for their helper.
OWN = {"zh": "您", "en": "Your"}
OTHERS = {"zh": "{name}", "en": "{name}'s"}


@dataclass(frozen=True)
class Facts:
    """What a message may say about the order; names as the shop and the resident are known."""

    order_id: str
    shop: str
    for_name: str | None = None  # the person the order is for, when the message goes to their helper
    eta_door_at: datetime | None = None
    minutes_late: int | None = None
    reject_reason: str | None = None
    locker: str | None = None
    collect_by: datetime | None = None


def order_number(order_id: str) -> str:
    """The first eight characters of the order's id, as the apps and the counter show it."""
    return order_id.replace("-", "")[:8].upper()


def _time(at: datetime | None, timezone: str) -> str:
    return at.astimezone(ZoneInfo(timezone)).strftime("%H:%M") if at else "--:--"


def render(moment: Moment, language: str, facts: Facts, timezone: str = "Asia/Shanghai") -> str:
    """The message for `moment` in `language` ("zh" or "en"); an unknown language falls back to Chinese."""
    lang = language if language in TEMPLATES else "zh"
    who = OTHERS[lang].format(name=facts.for_name) if facts.for_name else OWN[lang]
    reason = facts.reject_reason or ""
    text = TEMPLATES[lang][moment].format(
        who=who,
        number=order_number(facts.order_id),
        shop=facts.shop,
        eta=_time(facts.eta_door_at, timezone),
        minutes=facts.minutes_late if facts.minutes_late is not None else "",
        reason=REASONS[lang].get(reason, reason or REASONS[lang]["shop_rejected"]),
        locker=facts.locker or ("自提柜" if lang == "zh" else "the locker"),
        collect_by=_time(facts.collect_by, timezone),
    )
    return SIGNATURE[lang] + text
