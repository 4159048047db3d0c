"""The reports' arithmetic without I/O: the period in local days, buckets by local hour and day, the promise
kept or broken, medians and 90th percentiles, the fill rate, stars, helpers and the busiest products."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from services.orders.domain import reports as r
from shared.errors import Invalid

TZ = "Asia/Shanghai"  # UTC+8: 16:00 UTC is midnight there
WEEK = r.Period(date(2026, 12, 1), date(2026, 12, 3), TZ)
T0 = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)  # 09:00 on 1 December in Nanjing


def order(n: int, **extra: Any) -> r.OrderFact:
    values: dict[str, Any] = {"store_id": "shop", "mode": "delivery", "status": "DELIVERED", "placed_at": T0}
    return r.OrderFact(order_id=f"o{n}", **{**values, **extra})


def line(order_id: str, product: str, status: str, quantity: int = 1, **extra: Any) -> r.LineFact:
    values: dict[str, Any] = {"store_id": "market", "location_id": "fish", "name_zh": product, "name_en": product}
    values |= {"estimated_fen": 100 * quantity}
    return r.LineFact(order_id, product_id=product, status=status, quantity=quantity, **{**values, **extra})


def test_a_period_is_local_days_both_included_and_bad_ones_say_why() -> None:
    period = r.Period.parse("2026-12-01", "2026-12-03", TZ, today=date(2026, 12, 10))
    assert period.bounds() == (datetime(2026, 11, 30, 16, tzinfo=UTC), datetime(2026, 12, 3, 16, tzinfo=UTC))
    assert period.days() == [date(2026, 12, 1), date(2026, 12, 2), date(2026, 12, 3)]
    last_week = r.Period.parse(None, None, TZ, today=date(2026, 12, 10))
    assert (last_week.start, last_week.end) == (date(2026, 12, 4), date(2026, 12, 10))
    assert r.Period.parse(None, "2026-12-03", TZ, today=date(2026, 12, 10)).start == date(2026, 11, 27)
    with pytest.raises(Invalid, match="from 2026-12-05 is after to 2026-12-01"):
        r.Period.parse("2026-12-05", "2026-12-01", TZ, today=date(2026, 12, 10))
    with pytest.raises(Invalid, match="'2026-13-01' is not a date; give it as YYYY-MM-DD"):
        r.Period.parse("2026-13-01", None, TZ, today=date(2026, 12, 10))
    with pytest.raises(Invalid, match="a period of 93 days is too long: ask for at most 92"):
        r.Period.parse("2026-01-01", "2026-04-03", TZ, today=date(2026, 12, 10))


def test_quantiles_interpolate_between_ranks_as_postgresql_does() -> None:
    assert r.quantile([], 0.5) is None
    assert r.quantile([7.0], 0.9) == 7.0
    assert r.quantile([1, 2, 3, 4], 0.5) == 2.5
    assert r.quantile([10, 20, 30, 40, 50, 60, 70, 80, 90, 100], 0.9) == pytest.approx(91.0)
    assert r.quantile([3, 1, 2], 0.5) == 2  # the order given does not matter


def test_orders_fall_in_the_local_hour_and_day_they_were_placed() -> None:
    facts = [
        order(1),  # 09:00 local on the 1st
        order(2, placed_at=T0 + timedelta(minutes=30), mode="pickup"),  # 09:30
        order(3, placed_at=datetime(2026, 12, 1, 16, 30, tzinfo=UTC), store_id="market"),  # 00:30 on the 2nd
        order(4, placed_at=datetime(2026, 12, 3, 12, tzinfo=UTC), mode="locker"),  # 20:00 on the 3rd
    ]
    v = r.volume(WEEK, facts)
    assert v.total == 4
    assert [n for _, n in v.by_day] == [2, 1, 1]
    assert (v.by_hour[9], v.by_hour[0], v.by_hour[20], sum(v.by_hour)) == (2, 1, 1, 4)
    assert v.by_store == {"shop": 3, "market": 1}
    assert v.by_mode == {"delivery": 2, "pickup": 1, "locker": 1}
    assert v.table.rows[0] == ("2026-12-01", 9, "shop", "delivery", 1)
    assert ("2026-12-02", 0, "market", "delivery", 1) in v.table.rows
    assert sum(row[-1] for row in v.table.rows) == 4


def test_on_time_is_judged_against_the_promise_as_it_last_stood_and_the_first_beside_it() -> None:
    promised = T0 + timedelta(minutes=30)
    facts = [
        order(1, promised_at=promised, door_at=promised - timedelta(minutes=5)),  # early
        order(2, promised_at=promised, door_at=promised),  # on the minute: kept
        order(3, promised_at=promised, door_at=promised + timedelta(minutes=12)),  # 12 min late
        # dispatch moved the promise 20 minutes later and kept the new one: late against the first
        order(
            4,
            promised_at=promised + timedelta(minutes=20),
            first_promised_at=promised,
            door_at=promised + timedelta(minutes=15),
        ),
        order(5, promised_at=promised, failed_at=promised),  # failed at the door
        order(6, door_at=promised),  # no promise ever given
        order(7, promised_at=promised),  # not there yet
        order(8, mode="pickup", door_at=promised + timedelta(hours=1), promised_at=promised),  # not carried
    ]
    report = r.on_time(WEEK, facts).as_dict()
    assert (report["arrived"], report["on_time"], report["late"]) == (4, 3, 1)
    assert report["on_time_pct"] == 75.0
    assert report["on_time_first_promise"] == 2
    assert (report["failed"], report["no_promise"]) == (1, 1)
    assert report["late_median_min"] == 12.0
    assert [d["arrived"] for d in report["by_day"]] == [4, 0, 0]
    assert r.on_time(WEEK, facts).table.rows == [("2026-12-01", "shop", "delivery", 4, 3, 1, 2, 1, 1)]


def test_timings_take_the_median_and_p90_per_mode_and_per_shop() -> None:
    facts = [
        order(n, accepted_at=T0 + timedelta(minutes=n), door_at=T0 + timedelta(minutes=10 * n)) for n in range(1, 11)
    ] + [order(11, mode="pickup", accepted_at=T0 + timedelta(minutes=4), store_id="market")]
    t = r.timings(facts)
    delivery = t.by_mode["delivery"]
    assert delivery["to_acceptance"].as_dict() == {"orders": 10, "median_min": 5.5, "p90_min": 9.1}
    assert delivery["to_door"].as_dict() == {"orders": 10, "median_min": 55.0, "p90_min": 91.0}
    assert t.by_mode[r.ALL]["to_acceptance"].as_dict()["orders"] == 11
    assert t.by_mode["pickup"]["to_door"].as_dict() == {"orders": 0, "median_min": None, "p90_min": None}
    assert t.table.rows[0] == (r.ALL, r.ALL, "to_acceptance", 11, 5.0, 9.0)
    assert ("market", "pickup", "to_acceptance", 1, 4.0, 4.0) in t.table.rows
    shops_view = r.timings(facts, door=False)
    assert {row[2] for row in shops_view.table.rows} == {"to_acceptance"}
    assert "to_door" not in shops_view.as_dict()["by_mode"][0]


def test_fill_rate_counts_settled_lines_by_what_picking_made_of_them() -> None:
    lines = [
        line("o1", "carp", "picked"),
        line("o1", "perch", "picked"),
        line("o2", "carp", "substituted"),
        line("o2", "eel", "out_of_stock"),
        line("o3", "eel", "refunded", substitute_declined=True),
        line("o3", "tofu", "refunded", location_id="tofu"),  # the tofu stall refused its part
        line("o4", "carp", "reserved"),  # not picked yet: not counted
        line("o4", "perch", "awaiting_approval"),
    ]
    fill = r.fill_rate(lines).as_dict()
    assert fill["lines"] == 6
    assert (fill["picked"], fill["substituted"], fill["out_of_stock"]) == (2, 1, 1)
    assert (fill["substitute_declined"], fill["refused"]) == (1, 1)
    assert fill["picked_pct"] == 33.3
    assert fill["filled_pct"] == 50.0
    assert r.fill_rate(lines).table.rows == [
        ("market", "fish", 5, 2, 1, 1, 1, 0, 40.0, 60.0),
        ("market", "tofu", 1, 0, 0, 0, 0, 1, 0.0, 0.0),
    ]


def test_ratings_average_the_stars_given_and_a_shop_sees_no_riders_stars() -> None:
    facts = [
        r.RatingFact("shop", 5, 4),
        r.RatingFact("shop", 4, None),
        r.RatingFact("shop", None, 2),
        r.RatingFact("market", 1, None),
    ]
    report = r.ratings(facts).as_dict()
    assert report["ratings"] == 4
    assert report["shop"] == {"count": 3, "average": 3.33, "stars": {"1": 1, "2": 0, "3": 0, "4": 1, "5": 1}}
    assert (report["rider"]["count"], report["rider"]["average"]) == (2, 3.0)
    assert r.ratings(facts).table.rows == [
        ("market", 1, 1, 1.0, 1, 0, 0, 0, 0, 0, None),
        ("shop", 3, 2, 4.5, 0, 0, 0, 1, 1, 2, 3.0),
    ]
    shops_view = r.ratings(facts, rider=False)
    assert "rider" not in shops_view.as_dict()
    assert "rider_average" not in shops_view.table.columns


def test_care_counts_helpers_orders_and_call_before_deliveries_per_day() -> None:
    facts = [
        order(1, by_helper=True, for_resident=True, call_before=True, door_at=T0 + timedelta(minutes=30)),
        order(2, by_helper=True, call_before=True),  # flagged, not delivered yet
        order(3, placed_at=T0 + timedelta(days=1)),
        order(4, mode="pickup", call_before=True, placed_at=T0 + timedelta(days=1)),  # not a delivery
    ]
    care = r.care(WEEK, facts)
    assert (care.as_dict()["by_helper"], care.as_dict()["by_helper_pct"]) == (2, 50.0)
    assert care.as_dict()["for_residents"] == 1
    assert (care.total.deliveries, care.total.call_before, care.total.call_before_delivered) == (3, 2, 1)
    assert care.table.rows == [
        ("2026-12-01", 2, 2, 1, 2, 2, 1),
        ("2026-12-02", 2, 0, 0, 1, 0, 0),
        ("2026-12-03", 0, 0, 0, 0, 0, 0),
    ]


def test_the_busiest_products_rank_by_orders_then_pieces() -> None:
    lines = [
        line("o1", "carp", "picked", 2),
        line("o2", "carp", "out_of_stock", 1),
        line("o1", "eel", "picked", 5),
        line("o3", "perch", "picked", 1),
        line("o4", "perch", "picked", 1),
        line("o5", "tofu", "picked", 9),
    ]
    top = r.busiest_products(lines, limit=3)
    assert [(p.product_id, len(p.orders), p.pieces) for p in top.products] == [
        ("carp", 2, 3),
        ("perch", 2, 2),
        ("tofu", 1, 9),
    ]
    assert top.table.rows[0] == (1, "carp", "carp", "carp", "market", "fish", 2, 3, 300, 1)
    assert len(top.table.rows) == 3
