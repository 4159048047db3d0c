"""Text-message rules: who is texted about what, opt-outs, who may choose, lateness, templates, backoff."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from services.orders.adapters.messages import backoff_s
from services.orders.domain.news import (
    Choice,
    Listener,
    Moment,
    NewsPreferences,
    Relation,
    is_late,
    may_choose_for,
    message_id,
    recipients,
)
from services.orders.domain.news_templates import Facts, order_number, render
from shared.errors import Invalid
from shared.vocabulary.roles import Role

T0 = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)  # 10:00 in Asia/Shanghai
ORDER = "3f2a9c1e-0000-4000-8000-000000000001"


def listener(person: str, relation: Relation, *choices: Choice, phone: str | None = None, **kw: str) -> Listener:
    return Listener(person, relation, NewsPreferences(person, frozenset(choices), phone=phone), **kw)


def test_the_resident_and_their_helper_each_get_the_moments_they_chose_and_nobody_else() -> None:
    resident = listener("res-1", Relation.SELF, Choice.ANSWER, Choice.ARRIVED, resident_phone="+86 139 1111 2222")
    helper = listener("helper-zhao", Relation.HELPER, Choice.LATE, Choice.ANSWER, phone="+86 137 0000 0001")
    chosen = {m: [r.person for r in recipients([resident, helper], m, None)] for m in Moment}
    assert chosen == {
        Moment.CONFIRMED: ["res-1", "helper-zhao"],
        Moment.REJECTED: ["res-1", "helper-zhao"],
        Moment.LEFT_SHOP: [],
        Moment.LATE: ["helper-zhao"],
        Moment.AT_DOOR: ["res-1"],
        Moment.IN_LOCKER: ["res-1"],
    }


def test_phones_fall_back_for_the_person_ordered_for_never_for_a_helper() -> None:
    own = listener("grandma", Relation.SELF, Choice.ANSWER)
    helper_without_phone = listener("daughter", Relation.HELPER, Choice.ANSWER)
    [only] = recipients([own, helper_without_phone], Moment.CONFIRMED, "+86 138 0000 0000")
    assert (only.person, only.phone) == ("grandma", "+86 138 0000 0000")
    assert recipients([own], Moment.CONFIRMED, None) == []  # no phone anywhere: nothing to send
    with_own = listener("grandma", Relation.SELF, Choice.ANSWER, phone="+86 135 5555 5555")
    assert recipients([with_own], Moment.CONFIRMED, "+86 138 0000 0000")[0].phone == "+86 135 5555 5555"


def test_nothing_is_chosen_until_chosen_and_a_person_is_texted_once() -> None:
    assert not NewsPreferences("x").wants(Moment.CONFIRMED)
    twice = listener("h", Relation.HELPER, Choice.ANSWER, phone="123456")
    assert len(recipients([twice, twice], Moment.CONFIRMED, None)) == 1


def test_choices_language_and_phone_are_checked() -> None:
    prefs = NewsPreferences("p").changed(choices=["answer", "late"], language="en", phone=" +86 138-0000-0000 ")
    assert prefs == NewsPreferences("p", frozenset({Choice.ANSWER, Choice.LATE}), "en", "+86 138-0000-0000")
    assert prefs.changed(phone=None).phone is None
    assert prefs.changed(language="zh").choices == prefs.choices  # only what is sent changes
    for bad in ({"choices": ["sms_everything"]}, {"language": "fr"}, {"phone": "call me"}, {"phone": "12"}):
        with pytest.raises(Invalid):
            prefs.changed(**bad)


def test_only_the_person_or_the_helper_who_registered_a_resident_may_choose() -> None:
    assert may_choose_for(Role.SHOPPER, "grandma", "grandma", False)
    assert may_choose_for(Role.HELPER, "zhao", "res-1", True)
    assert not may_choose_for(Role.HELPER, "zhao", "res-2", False)
    assert not may_choose_for(Role.SHOPPER, "grandma", "res-1", True)  # only helpers help
    assert not may_choose_for(Role.ADMIN, "ops", "grandma", False)  # not even an admin
    assert not may_choose_for(Role.RIDER, "rider-1", "grandma", False)


def test_late_is_the_eta_past_the_promise_by_the_threshold() -> None:
    five = timedelta(minutes=5)
    assert not is_late(T0, T0 + timedelta(minutes=4, seconds=59), five)
    assert is_late(T0, T0 + five, five)
    assert not is_late(None, T0, five)
    assert not is_late(T0, None, five)
    assert not is_late(T0, T0 - timedelta(minutes=10), five)


def test_a_message_id_is_stable_per_event_recipient_and_moment() -> None:
    event = uuid.UUID(int=7)
    assert message_id(event, "res-1", Moment.CONFIRMED) == message_id(event, "res-1", Moment.CONFIRMED)
    others = {
        message_id(event, "res-1", Moment.REJECTED),
        message_id(event, "helper", Moment.CONFIRMED),
        message_id(uuid.UUID(int=8), "res-1", Moment.CONFIRMED),
    }
    assert message_id(event, "res-1", Moment.CONFIRMED) not in others
    assert len(others) == 3


def test_templates_say_each_moment_in_chinese_and_english_without_a_code() -> None:
    facts = Facts(order_id=ORDER, shop="小店", eta_door_at=T0 + timedelta(minutes=25), minutes_late=7)
    assert order_number(ORDER) == "3F2A9C1E"
    assert render(Moment.CONFIRMED, "zh", facts) == "【邻里】您在小店的订单3F2A9C1E已确认，店铺正在接单。"
    assert render(Moment.LATE, "en", Facts(**{**facts.__dict__, "shop": "Corner shop"})) == (
        "[Linli] Sorry: Your order 3F2A9C1E is running about 7 min late, now due about 10:25."
    )
    helper = Facts(**{**facts.__dict__, "for_name": "李奶奶"})
    assert render(Moment.AT_DOOR, "zh", helper) == "【邻里】骑手已到李奶奶门口，送来订单3F2A9C1E。"
    assert render(Moment.AT_DOOR, "en", Facts(**{**helper.__dict__, "for_name": "Li"})).startswith(
        "[Linli] The rider is at the door with Li's order"
    )
    rejected = Facts(order_id=ORDER, shop="Corner shop", reject_reason="out_of_stock")
    assert "something is out of stock" in render(Moment.REJECTED, "en", rejected)
    assert "有商品缺货" in render(Moment.REJECTED, "zh", rejected)
    locker = Facts(order_id=ORDER, shop="小店", locker="巷口自提柜", collect_by=T0 + timedelta(hours=24))
    assert render(Moment.IN_LOCKER, "zh", locker) == (
        "【邻里】您的订单3F2A9C1E已放入巷口自提柜，请在10:00前取件，取件码见订单。"
    )
    for moment in Moment:
        for lang in ("zh", "en"):
            text = render(moment, lang, facts)
            assert "{" not in text
            assert len(text) <= 160


def test_an_unknown_language_falls_back_to_chinese() -> None:
    facts = Facts(order_id=ORDER, shop="小店")
    assert render(Moment.LEFT_SHOP, "fr", facts) == render(Moment.LEFT_SHOP, "zh", facts)


def test_retries_back_off_doubling_up_to_the_cap() -> None:
    assert [backoff_s(n, 5.0, 60.0) for n in range(1, 7)] == [5.0, 10.0, 20.0, 40.0, 60.0, 60.0]
